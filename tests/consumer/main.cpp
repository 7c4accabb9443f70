// SPDX-License-Identifier: MIT
// Downstream smoke test: the installed or vendored headers compile, link and evaluate a KDE.
#include <gfd/gfd.hpp>

#include <cstdio>
#include <stdexcept>

// MSVC keeps __cplusplus at 199711L unless /Zc:__cplusplus; _MSVC_LANG tells the truth.
#ifdef _MSVC_LANG
static_assert(_MSVC_LANG >= 202002L, "gfd::gfd must bring C++20 to its consumers");
#else
static_assert(__cplusplus >= 202002L, "gfd::gfd must bring C++20 to its consumers");
#endif

int main() {
  // A Gaussian KDE score at its own source is zero; a bad bandwidth is a catchable std error.
  const Eigen::MatrixXd y = Eigen::MatrixXd::Zero(2, 1);
  const gfd::kde<> p(y, 1.0);
  if (p.score(y).norm() != 0.0) {
    std::printf("gfd consumer: unexpected score\n");
    return 1;
  }
  try {
    gfd::kde<> bad(y, -1.0);
  } catch (const std::invalid_argument& e) {
    std::printf("gfd consumer ok: %s\n", e.what());
    return 0;
  }
  std::printf("gfd consumer: a negative bandwidth was accepted\n");
  return 1;
}
