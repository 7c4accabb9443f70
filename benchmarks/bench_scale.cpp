// SPDX-License-Identifier: MIT
/// @file bench_scale.cpp
/// @brief Full flow steps at scale: N particles and M targets in 2D (default N = M = 1e6) with the
///        tree evaluator and a small bandwidth; prints the time of each step, the share of it
///        spent building the particle tree, and the peak memory of the process.
///
///     bench_scale [N] [steps] [divisor]
///
/// Targets: the moons toy; particles: N(0, I); bandwidth: Scott's rule on the targets / divisor
/// (default 4, fixed);
/// KL(q||p) flow, Euler, tolerance 1e-3. One step is two tree passes (particles against the
/// targets, particles against themselves) plus the update. The target tree is built once (first
/// step); the particle tree is rebuilt every step, since the particles move. nanoflann has no
/// refit, so the build time is reported beside the step time: it bounds what refitting a tree
/// (keeping its structure, updating bounding boxes) could save.
///
/// Peak memory is the process's maximum resident set size (getrusage), against the size of the
/// two clouds themselves; an N x M buffer of doubles would be N M 8 bytes (8 TB at 1e6).
/// Not a Google Benchmark binary: one run of a few steps is the measurement.

#include <gfd/evaluators/tree.hpp>
#include <gfd/flow.hpp>
#include <gfd/toy.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/resource.h>
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

/// Peak resident set size of this process so far, in MiB (NaN where unknown).
double peak_rss_mib() {
#if defined(__unix__) || defined(__APPLE__)
  rusage u{};
  if (getrusage(RUSAGE_SELF, &u) != 0) return std::nan("");
#ifdef __APPLE__
  return static_cast<double>(u.ru_maxrss) / (1024.0 * 1024.0);  // bytes
#else
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // KiB
#endif
#else
  return std::nan("");
#endif
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

long parse_count(const char* s, const char* what, long min) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || !(v >= static_cast<double>(min)) || v > 1e9) {
    std::fprintf(stderr, "bench_scale: %s must be a number >= %ld, got '%s'\n", what, min, s);
    std::exit(2);
  }
  return static_cast<long>(v);
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? parse_count(argv[1], "N", 2) : 1000000;
  const long steps = argc > 2 ? parse_count(argv[2], "steps", 1) : 3;
  const long divisor = argc > 3 ? parse_count(argv[3], "divisor", 1) : 4;
  using flow_type = gfd::flow<gfd::gaussian, double, Eigen::Dynamic, gfd::tree_evaluator>;

  const double rss0 = peak_rss_mib();
  const Eigen::MatrixXd y = gfd::toy::sample("moons", n, 1);
  Eigen::MatrixXd x = gfd::toy::gaussian(2, n, 2);
  const double h = gfd::scott_bandwidth(gfd::cloud_view<double>(y)) / static_cast<double>(divisor);
  const double data_mib = 2.0 * static_cast<double>(y.size()) * 8 / (1024.0 * 1024.0);
  const double rss_data = peak_rss_mib();
#ifdef _OPENMP
  const int threads = omp_get_max_threads();
#else
  const int threads = 1;
#endif
  std::printf("N = M = %ld, d = 2, bandwidth %.4g (Scott / %ld), tree evaluator (tolerance 1e-3), "
              "%d thread(s)\n",
              n, h, divisor, threads);
  std::printf("clouds: %.1f MiB; peak RSS before %.1f MiB, with the clouds %.1f MiB\n", data_mib,
              rss0, rss_data);

  gfd::flow_options o;
  o.max_steps = 1;
  o.observe_every = 0;
  o.bandwidth = gfd::bandwidth_schedule::fixed(h);
  const flow_type f(y, o, gfd::gaussian{}, gfd::tree_evaluator(1e-3));
  for (long s = 1; s <= steps; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    const gfd::flow_report r = f.run(x, gfd::kl());
    const double step_s = seconds_since(t0);
    std::printf("step %ld: %.3f s  (mean |dx| / h %.3g, peak RSS %.1f MiB)\n", s, step_s,
                r.mean_displacement, peak_rss_mib());
  }

  // Building a tree over the moved particles, alone: a 1-query sum on a fresh copy (the
  // evaluator caches trees by content, so the copy is shifted to force a new one).
  const gfd::tree_evaluator ev(1e-3);
  const Eigen::MatrixXd xs = x.array() + 1e-9;
  const Eigen::VectorXd lw = Eigen::VectorXd::Constant(n, 0.0);
  gfd::kernel_sums<double> out;
  const auto t0 = std::chrono::steady_clock::now();
  ev.sums(xs.leftCols(1), xs, lw, gfd::gaussian{}, h, {}, out);
  const double build_s = seconds_since(t0);
  std::printf("particle tree build (plus one query): %.3f s\n", build_s);
  std::printf("peak RSS %.1f MiB: %.1f x the two clouds\n", peak_rss_mib(),
              peak_rss_mib() / data_mib);
  return 0;
}
