// SPDX-License-Identifier: MIT
/// @file bench_scale.cpp
/// @brief Full flow steps at scale: N particles and M targets in 2D (default N = M = 1e6) with the
///        grid and the tree evaluators and a small bandwidth; prints the time of each step, the share of it
///        spent building the particle tree, and the peak memory of the process.
///
///     bench_scale [N] [steps] [divisor] [tree|grid|both] [noise|near]
///
/// With `both` (the default) the grid evaluator (issue 15) and the tree evaluator run the same
/// flow from the same start in the same process, so their times compare; at N = 1e7 run `grid`
/// alone (the tree takes minutes per step there).
///
/// Targets: the moons toy; particles: N(0, I) (`noise`, the default: the first steps of a flow
/// from noise, where many particles are far from every target) or a fresh sample of the moons
/// (`near`, seed 3: what every step costs once the particles have arrived); bandwidth: Scott's rule on the targets / divisor
/// (default 4, fixed);
/// KL(q||p) flow, Euler, tolerance 1e-3, one run of `steps` steps timed step by step by an
/// observer. One step is two tree passes (particles against the targets, particles against
/// themselves) plus the update. The target tree is prepared once, in the first step (the
/// velocity system keeps it; the time of preparing it alone is printed first); the particle tree
/// is rebuilt every step, since the particles move. nanoflann has no refit, so the build time is
/// reported beside the step time: it bounds what refitting a tree (keeping its structure,
/// updating bounding boxes) could save.
///
/// The serial-looking parts of a step are timed alone after the run: the particle tree build
/// and the query partition (grouping the particles into blocks of nearby queries).
///
/// Peak memory is the process's maximum resident set size (getrusage), against the size of the
/// two clouds themselves; an N x M buffer of doubles would be N M 8 bytes (8 TB at 1e6).
/// Not a Google Benchmark binary: one run of a few steps is the measurement.

#include <gfd/evaluators/grid.hpp>
#include <gfd/evaluators/tree.hpp>
#include <gfd/flow.hpp>
#include <gfd/memory.hpp>
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

/// One flow run of `steps` steps with evaluator `ev`, timed step by step; then the time of
/// preparing the moved particles alone (what every step pays once).
template <class E>
void run_flow(const char* name, const E& ev, const Eigen::MatrixXd& y, const Eigen::MatrixXd& x0,
              double h, long steps, double data_mib) {
  using flow_type = gfd::flow<gfd::gaussian, double, Eigen::Dynamic, E>;
  const Eigen::Index n = x0.cols();
  Eigen::MatrixXd x = x0;
  const Eigen::VectorXd lw = Eigen::VectorXd::Constant(n, -std::log(static_cast<double>(n)));
  const gfd::bound_kernel<gfd::gaussian> bk(gfd::gaussian{}, h);
  std::printf("-- %s evaluator (tolerance 1e-3)\n", name);
  auto t0 = std::chrono::steady_clock::now();
  { const auto prepared_targets = ev.prepare(y, lw, bk); }
  std::printf("%s: target preparation %.3f s (once per flow)\n", name, seconds_since(t0));

  gfd::flow_options o;
  o.max_steps = steps;
  o.observe_every = 1;
  o.bandwidth = gfd::bandwidth_schedule::fixed(h);
  const flow_type f(y, o, gfd::gaussian{}, ev);
  auto last = std::chrono::steady_clock::now();
  const auto start = last;
  f.run(x, gfd::kl(), [&](const gfd::flow_state<double, Eigen::Dynamic>& st) {
    std::printf("%s: step %ld: %.3f s  (mean |dx| / h %.3g, peak RSS %.1f MiB)\n", name, st.step,
                seconds_since(last), st.mean_displacement, peak_rss_mib());
    last = std::chrono::steady_clock::now();
  });
  std::printf("%s: %.3f s per step on average (the first includes the target preparation)\n", name,
              seconds_since(start) / static_cast<double>(steps));
  t0 = std::chrono::steady_clock::now();
  { const auto prepared_particles = ev.prepare(x, lw, bk); }
  std::printf("%s: particle preparation %.3f s (every step)\n", name, seconds_since(t0));
  std::printf("%s: peak RSS so far %.1f MiB: %.1f x the two clouds\n", name, peak_rss_mib(),
              peak_rss_mib() / data_mib);
}

}  // namespace

int main(int argc, char** argv) {
  // As the gfd tool does (gfd/memory.hpp): without it, at N = 1e7 the steps' page faults on
  // freshly mapped buffers cost more than their sums. GFD_MALLOC_DEFAULT=1 measures without.
  const char* plain = std::getenv("GFD_MALLOC_DEFAULT");
  const bool reused = (plain == nullptr || std::string(plain) != "1") && gfd::reuse_large_allocations();
  const long n = argc > 1 ? parse_count(argv[1], "N", 2) : 1000000;
  const long steps = argc > 2 ? parse_count(argv[2], "steps", 1) : 3;
  const long divisor = argc > 3 ? parse_count(argv[3], "divisor", 1) : 4;
  const std::string which = argc > 4 ? argv[4] : "both";
  const std::string start = argc > 5 ? argv[5] : "noise";
  if (start != "noise" && start != "near") {
    std::fprintf(stderr, "bench_scale: start must be noise or near, got '%s'\n", start.c_str());
    return 2;
  }
  if (which != "tree" && which != "grid" && which != "both") {
    std::fprintf(stderr, "bench_scale: evaluator must be tree, grid or both, got '%s'\n", which.c_str());
    return 2;
  }

  const double rss0 = peak_rss_mib();
  const Eigen::MatrixXd y = gfd::toy::sample("moons", n, 1);
  const Eigen::MatrixXd x =
      start == "near" ? gfd::toy::sample("moons", n, 3) : gfd::toy::gaussian(2, n, 2);
  const double h = gfd::scott_bandwidth(gfd::cloud_view<double>(y)) / static_cast<double>(divisor);
  const double data_mib = 2.0 * static_cast<double>(y.size()) * 8 / (1024.0 * 1024.0);
  const double rss_data = peak_rss_mib();
#ifdef _OPENMP
  const int threads = omp_get_max_threads();
#else
  const int threads = 1;
#endif
  std::printf("N = M = %ld, d = 2, bandwidth %.4g (Scott / %ld), KL(q||p) Euler flow, %d thread(s), "
              "start: %s, large allocations %s\n",
              n, h, divisor, threads,
              start == "near" ? "a fresh sample of the targets" : "N(0, I)",
              reused ? "reused (gfd::reuse_large_allocations)" : "the C library's default");
  std::printf("clouds: %.1f MiB; peak RSS before %.1f MiB, with the clouds %.1f MiB\n", data_mib,
              rss0, rss_data);
  // The grid first: its peak memory is then its own (the tree's index comes after it).
  if (which != "tree") run_flow("grid", gfd::grid_evaluator(1e-3), y, x, h, steps, data_mib);
  if (which != "grid") run_flow("tree", gfd::tree_evaluator(1e-3), y, x, h, steps, data_mib);
  if (which != "grid") {
    // The tree's query partition alone (blocks of <= 64 nearby particles; each tree pass makes
    // one), with the first search radius of the passes at tolerance 1e-3 (6 h).
    const auto t0 = std::chrono::steady_clock::now();
    const auto blocks = gfd::detail::partition_points(x, 64, 6.0 * h);
    std::printf("tree: query partition %.3f s (twice every step; %zu blocks)\n", seconds_since(t0),
                blocks.begin.size() - 1);
  }
  return 0;
}
