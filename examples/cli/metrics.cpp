// SPDX-License-Identifier: MIT
/// @file metrics.cpp
/// @brief `gfd metrics`: two-sample distances between two point-cloud files, and mode coverage.

#include "common.hpp"

#include <gfd/metrics.hpp>
#include <gfd/toy.hpp>
#include <gfd/transport.hpp>

#include <iostream>
#include <memory>

namespace gfd_cli {
namespace {

struct metrics_args {
  std::string a, b;
  std::string bandwidth;
  int projections = 128;
  std::uint64_t seed = 0;
  std::string modes;
  int threads = 0;
  double epsilon = 0;  // > 0: also the Sinkhorn divergence
};

int cmd_metrics(const metrics_args& a) {
  set_threads(a.threads);
  // Options first, so that a usage error costs nothing.
  std::optional<gfd::toy::mixture> mix;
  if (!a.modes.empty()) {
    mix = gfd::toy::mixture_of(a.modes);
    if (!mix)
      throw usage_error("--modes " + a.modes +
                        ": not a Gaussian-mixture toy (8gaussians, 25gaussians)");
  }
  const double h =
      a.bandwidth.empty() ? 0.0 : positive_number(a.bandwidth, "--bandwidth");  // 0: median
  const Eigen::MatrixXd x = read_cloud(a.a).points;
  const Eigen::MatrixXd y = read_cloud(a.b, x.rows()).points;
  if (x.cols() < 2 || y.cols() < 2) throw usage_error("metrics: each file needs at least 2 points");
  if (mix && x.rows() != mix->centres.rows())
    throw usage_error("--modes " + a.modes + ": the files are not 2-D");
  gfd::two_sample_distances r;
  std::string h_note = "median heuristic";
  if (h == 0) {
    r = gfd::two_sample_report(x, y);
  } else {
    r = gfd::two_sample_report(x, y, h, a.projections, a.seed);
    h_note = "given";
  }
  if (a.bandwidth.empty() && (a.projections != 128 || a.seed != 0)) {
    r.sliced_w2 = gfd::sliced_wasserstein2(x, y, a.projections, a.seed);
  }
  std::cout << "gfd metrics: " << a.a << " (" << x.cols() << " points) vs " << a.b << " ("
            << y.cols() << " points), d = " << x.rows() << "\n";
  std::printf(
      "  %-60s %s\n",
      ("MMD^2 unbiased (Gaussian kernel, h = " + num(r.bandwidth) + ", " + h_note + ")").c_str(),
      fmt("%.6e", r.mmd2_unbiased).c_str());
  std::printf("  %-60s %s\n", "energy distance", fmt("%.6e", r.energy_distance).c_str());
  std::printf("  %-60s %s\n",
              ("sliced W2 (" + std::to_string(a.projections) + " projections, seed " +
               std::to_string(a.seed) + ")")
                  .c_str(),
              fmt("%.6g", r.sliced_w2).c_str());
  if (a.epsilon > 0) {
    const double s = gfd::sinkhorn_divergence(x, y, a.epsilon);
    std::printf("  %-60s %s\n",
                ("Sinkhorn divergence (eps = " + num(a.epsilon) + ", cost |x-y|^2/2, debiased)").c_str(),
                fmt("%.6e", s).c_str());
  }
  if (mix) {
    const auto c = gfd::mode_coverage(x, mix->centres, mix->stddev);
    std::printf("  %-60s %d/%d (%.1f%% of the first cloud within 3 sd of a mode)\n",
                ("modes of " + a.modes + " covered by the first cloud").c_str(), c.modes_covered,
                c.modes, 100 * c.fraction_near);
  }
  return exit_ok;
}

}  // namespace

command add_metrics_command(CLI::App& app) {
  auto args = std::make_shared<metrics_args>();
  metrics_args& a = *args;
  metrics_args ma;
  auto* metrics =
      app.add_subcommand("metrics", "Two-sample distances between two point-cloud files");
  metrics->add_option("a", a.a, "First cloud (.csv or .npy)")->required();
  metrics->add_option("b", a.b, "Second cloud (.csv or .npy)")->required();
  metrics->add_option("--bandwidth", a.bandwidth,
                      "Gaussian bandwidth of the MMD (default: median heuristic)");
  metrics->add_option("--projections", a.projections, "Directions of the sliced W2")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  metrics->add_option("--seed", a.seed, "Seed of the directions")->check(seed_check())
      ->capture_default_str();
  metrics->add_option(
      "--modes", a.modes,
      "Also report the modes of this toy (8gaussians, 25gaussians) covered by the first cloud");
  metrics->add_option("--epsilon", a.epsilon,
                      "Also print the debiased Sinkhorn divergence S_eps for the cost |x-y|^2/2 "
                      "(-> W2^2/2 as eps -> 0; O(N M) per iteration)")
      ->check(CLI::Range(1e-300, 1e300));
  metrics->add_option("--threads", a.threads, "OpenMP threads (default: all)")
      ->check(threads_check());

  return {metrics, [args] { return cmd_metrics(*args); }};
}

}  // namespace gfd_cli
