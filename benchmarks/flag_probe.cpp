// SPDX-License-Identifier: MIT
/// @file flag_probe.cpp
/// @brief The exact evaluator's Gaussian score sums, compiled the way a consumer of the headers
///        compiles them: benchmarks/consumer_flags.sh builds this one file with several sets of
///        compiler flags and prints what each set buys.
///
///     flag_probe [repetitions=3]
///
/// Cases: d = 2, N = M = 16384 (the 2D toys' pass) and d = 512, N = M = 4096 (embeddings: the
/// large-d pass, two matrix products), double and float, standard normal clouds, h = 1 at d = 2
/// and sqrt(d) at d = 512. Best of the repetitions after one warm-up call. Prints one line per
/// case, `case seconds checksum`: the checksum (sum of the log-sums and of the first field
/// component's magnitudes) lets the script check that every build computes the same sums.

#include <gfd/evaluators/exact.hpp>
#include <gfd/random.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace {

template <class S>
using mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

template <class S>
mat<S> cloud(Eigen::Index d, Eigen::Index n, std::uint64_t seed) {
  gfd::rng_engine rng(seed);
  gfd::normal_source normal(rng);
  mat<S> x(d, n);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<S>(normal());
  return x;
}

template <class S>
void probe(const char* name, Eigen::Index d, Eigen::Index n, double h, int reps) {
  const mat<S> y = cloud<S>(d, n, 20 + static_cast<std::uint64_t>(d)), x = cloud<S>(d, n, 21);
  const Eigen::Matrix<S, Eigen::Dynamic, 1> lw =
      Eigen::Matrix<S, Eigen::Dynamic, 1>::Constant(n, static_cast<S>(-std::log(static_cast<double>(n))));
  const auto prepared =
      gfd::exact_evaluator{}.prepare(y, lw, gfd::bound_kernel<gfd::gaussian, S>(gfd::gaussian{}, static_cast<S>(h)));
  gfd::kernel_sums<S> out;
  prepared.sums(x, {}, out);  // warm-up: thread pool, page faults
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    prepared.sums(x, {}, out);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  const double checksum = static_cast<double>(out.log_sum.sum()) + static_cast<double>(out.field.row(0).cwiseAbs().sum());
  std::printf("%s %.6f %.17g\n", name, best, checksum);
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  probe<double>("d2_double", 2, 16384, 1.0, reps);
  probe<float>("d2_float", 2, 16384, 1.0, reps);
  probe<double>("d512_double", 512, 4096, std::sqrt(512.0), reps);
  probe<float>("d512_float", 512, 4096, std::sqrt(512.0), reps);
  return 0;
}
