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
/// KL(q||p) flow, Euler, tolerance 1e-3, one run of `steps` steps timed step by step by an
/// observer. One step is two tree passes (particles against the targets, particles against
/// themselves) plus the update. The target tree is prepared once, in the first step (the
/// velocity system keeps it; the time of preparing it alone is printed first); the particle tree
/// is rebuilt every step, since the particles move. nanoflann has no refit, so the build time is
/// reported beside the step time: it bounds what refitting a tree (keeping its structure,
/// updating bounding boxes) could save.
///
/// Peak memory is the process's maximum resident set size (getrusage), against the size of the
/// two clouds themselves; an N x M buffer of doubles would be N M 8 bytes (8 TB at 1e6).
/// Not a Google Benchmark binary: one run of a few steps is the measurement.

#include <gfd/evaluators/tree.hpp>
#include <gfd/flow.hpp>
#include <gfd/toy.hpp>

#include <chrono>
#include <cmath>
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

  // Preparing the targets alone (what the first step of the flow does once).
  const gfd::tree_evaluator ev(1e-3);
  const Eigen::VectorXd lw = Eigen::VectorXd::Constant(n, -std::log(static_cast<double>(n)));
  const gfd::bound_kernel<gfd::gaussian> bk(gfd::gaussian{}, h);
  auto t0 = std::chrono::steady_clock::now();
  { const auto prepared_targets = ev.prepare(y, lw, bk); }
  std::printf("target tree build: %.3f s (once per flow)\n", seconds_since(t0));

  gfd::flow_options o;
  o.max_steps = steps;
  o.observe_every = 1;
  o.bandwidth = gfd::bandwidth_schedule::fixed(h);
  const flow_type f(y, o, gfd::gaussian{}, ev);
  auto last = std::chrono::steady_clock::now();
  f.run(x, gfd::kl(), [&](const gfd::flow_state<double, Eigen::Dynamic>& st) {
    std::printf("step %ld: %.3f s  (mean |dx| / h %.3g, peak RSS %.1f MiB)\n", st.step,
                seconds_since(last), st.mean_displacement, peak_rss_mib());
    last = std::chrono::steady_clock::now();
  });

  // Building a tree over the moved particles, alone: what every step pays once.
  t0 = std::chrono::steady_clock::now();
  { const auto prepared_particles = ev.prepare(x, lw, bk); }
  std::printf("particle tree build: %.3f s (every step)\n", seconds_since(t0));
  std::printf("peak RSS %.1f MiB: %.1f x the two clouds\n", peak_rss_mib(),
              peak_rss_mib() / data_mib);
  return 0;
}
