// SPDX-License-Identifier: MIT
/// @file bench_highd.cpp
/// @brief Exact Gaussian kernel sums in high dimension against the GEMM peak of the same build,
///        measured in the same run.
///
///     bench_highd [repetitions=3]
///
/// Cases: d = 512, N = M = 4096 and d = 2048, N = M = 2048 (standard normal clouds, h = sqrt(d),
/// the score field), in double and float: the exact evaluator's large-d pass, whose cost is two
/// matrix products, 4 d flops per pair. Baseline: the GEMM of this build on two 4096 x 4096
/// matrices (OpenBLAS's when the program is built with GFD_USE_OPENBLAS, as gfd's own targets
/// are when Debian's libopenblas-openmp-dev is installed, else Eigen's), all threads, best of the
/// repetitions. Prints seconds, GFLOP/s and the share of the peak of the same precision.
/// bench_highd_eigen is the same program without OpenBLAS (Eigen's products throughout), so the
/// two binaries side by side show what OpenBLAS buys. Not a Google Benchmark binary: each case
/// takes a second or so and the table is the result.

#include <gfd/evaluators/exact.hpp>
#include <gfd/random.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#ifdef _OPENMP
#include <omp.h>
#endif

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

template <class F>
double best_seconds(int reps, F&& f) {
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

/// GFLOP/s of C = A B, n x n, through the product backend of this build.
template <class S>
double gemm_peak(Eigen::Index n, int reps) {
  const mat<S> a = cloud<S>(n, n, 1), b = cloud<S>(n, n, 2);
  mat<S> c(n, n);
  auto product = [&] {
#ifdef GFD_USE_OPENBLAS
    if constexpr (std::is_same_v<S, double>)
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(n), static_cast<blasint>(n),
                  static_cast<blasint>(n), 1.0, a.data(), static_cast<blasint>(n), b.data(),
                  static_cast<blasint>(n), 0.0, c.data(), static_cast<blasint>(n));
    else
      cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(n), static_cast<blasint>(n),
                  static_cast<blasint>(n), 1.0f, a.data(), static_cast<blasint>(n), b.data(),
                  static_cast<blasint>(n), 0.0f, c.data(), static_cast<blasint>(n));
#else
    c.noalias() = a * b;
#endif
  };
  product();  // warm-up: thread pool, page faults
  return 2.0 * std::pow(static_cast<double>(n), 3) / best_seconds(reps, product) / 1e9;
}

template <class S>
void kernel_sums_case(Eigen::Index d, Eigen::Index n, int reps, double peak) {
  const mat<S> y = cloud<S>(d, n, 10 + static_cast<std::uint64_t>(d)), x = cloud<S>(d, n, 11);
  const Eigen::Matrix<S, Eigen::Dynamic, 1> lw =
      Eigen::Matrix<S, Eigen::Dynamic, 1>::Constant(n, static_cast<S>(-std::log(static_cast<double>(n))));
  const auto prepared = gfd::exact_evaluator{}.prepare(
      y, lw, gfd::bound_kernel<gfd::gaussian, S>(gfd::gaussian{}, static_cast<S>(std::sqrt(static_cast<double>(d)))));
  gfd::kernel_sums<S> out;
  prepared.sums(x, {}, out);  // warm-up
  const double s = best_seconds(reps, [&] { prepared.sums(x, {}, out); });
  const double rate = 4.0 * static_cast<double>(d) * static_cast<double>(n) * static_cast<double>(n) / s / 1e9;
  std::printf("| %-6s | %4ld | %4ld | %7.3f | %6.1f | %5.1f %% |\n", std::is_same_v<S, double> ? "double" : "float",
              static_cast<long>(d), static_cast<long>(n), s, rate, 100 * rate / peak);
  if (!out.log_sum.allFinite()) std::printf("  (non-finite log-sums!)\n");
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
#ifdef _OPENMP
  const int threads = omp_get_max_threads();
#else
  const int threads = 1;
#endif
#ifdef GFD_USE_OPENBLAS
  const char* backend = "OpenBLAS";
#else
  const char* backend = "Eigen";
#endif
  const double peak_d = gemm_peak<double>(4096, reps), peak_f = gemm_peak<float>(4096, reps);
  std::printf("products: %s, %d thread(s); GEMM peak (4096 x 4096, best of %d): double %.1f GFLOP/s, "
              "float %.1f GFLOP/s\n\n",
              backend, threads, reps, peak_d, peak_f);
  std::printf("| scalar | d | N = M | seconds | GFLOP/s (4 d flops per pair) | of the GEMM peak |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  for (const auto& [d, n] : {std::pair<Eigen::Index, Eigen::Index>{512, 4096}, {2048, 2048}}) {
    kernel_sums_case<double>(d, n, reps, peak_d);
    kernel_sums_case<float>(d, n, reps, peak_f);
  }
  return 0;
}
