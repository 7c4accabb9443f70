// SPDX-License-Identifier: MIT
// Downstream smoke test: the installed or vendored headers compile, link and run.
#if __has_include(<gfd/gfd.hpp>)
#include <gfd/gfd.hpp>
#endif
#include <gfd/error.hpp>

#include <cstdio>
#include <stdexcept>

// MSVC keeps __cplusplus at 199711L unless /Zc:__cplusplus; _MSVC_LANG tells the truth.
#ifdef _MSVC_LANG
static_assert(_MSVC_LANG >= 202002L, "gfd::gfd must bring C++20 to its consumers");
#else
static_assert(__cplusplus >= 202002L, "gfd::gfd must bring C++20 to its consumers");
#endif

int main() {
  try {
    gfd::detail::require_positive("gfd_consumer", "h", -1.0);
  } catch (const std::invalid_argument& e) {  // gfd's errors are catchable as std ones
    std::printf("gfd consumer ok: %s\n", e.what());
    return 0;
  }
  std::printf("gfd consumer: require_positive accepted -1\n");
  return 1;
}
