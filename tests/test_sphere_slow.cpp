// SPDX-License-Identifier: MIT
// Convergence of flows on the sphere (N = 1000): a vMF mixture on S^2 recovered from a uniform
// start and (with the retraction) from a start inside one mode (all modes covered, geodesic MMD near its noise floor),
// a uniform target that stays uniform, and a mixture on S^15. Labelled slow: skipped under
// sanitizers.
#include <gfd/flow.hpp>
#include <gfd/sphere.hpp>

#include <cmath>
#include <random>

#include "catch.hpp"

namespace {
using Mat = Eigen::MatrixXd;
using sphere_flow =
    gfd::flow<gfd::gaussian, double, Eigen::Dynamic, gfd::exact_evaluator, gfd::unit_sphere>;
// S^2 with the dimension fixed at compile time (the evaluator's unrolled path).
using s2_flow = gfd::flow<gfd::gaussian, double, 3, gfd::exact_evaluator, gfd::unit_sphere>;
using Mat3 = Eigen::Matrix<double, 3, Eigen::Dynamic>;

double max_norm_error(const Mat& x) { return (x.colwise().norm().array() - 1).abs().maxCoeff(); }
}  // namespace

TEST_CASE("S^2: a six-mode vMF mixture is recovered from a uniform start", "[convergence][sphere]") {
  const auto mix = gfd::sphere::vmf_mixture(3, 6, 50.0, 1000, 1);
  std::mt19937_64 rng(2);
  const Mat held = gfd::sphere::sample(mix.mixture, 1000, rng);
  const Mat3 y = mix.points, x0 = gfd::sphere::uniform(3, 1000, std::uint64_t(3));
  const double h = 0.2, radius = 3 * mix.mixture.angular_scale();
  // Floor: the MMD between two independent samples of the target.
  const double floor = std::abs(gfd::sphere::mmd2_unbiased(mix.points, held, h)) + 1e-4;
  const double mmd0 = gfd::sphere::mmd2_unbiased(x0, held, h);
  auto [x, rep] = s2_flow(y).run_from(x0, gfd::kl());
  const double mmd = gfd::sphere::mmd2_unbiased(x, held, h);
  const double geo = gfd::sphere::mmd2_unbiased(x, held, h, gfd::sphere::mmd_kernel::geodesic_gaussian);
  const double geo_floor =
      std::abs(gfd::sphere::mmd2_unbiased(mix.points, held, h, gfd::sphere::mmd_kernel::geodesic_gaussian)) + 1e-4;
  const auto c = gfd::sphere::mode_coverage(x, mix.mixture.centres, radius, 1000 / 6 / 2);
  INFO("MMD^2 " << mmd0 << " -> " << mmd << " (floor " << floor << "), geodesic " << geo
                << " (floor " << geo_floor << "), modes " << c.modes_covered << ", near "
                << c.fraction_near);
  CHECK(max_norm_error(x) < 1e-12);
  CHECK(c.modes_covered == 6);
  CHECK(c.fraction_near > 0.95);
  CHECK(mmd < 3 * floor);
  CHECK(mmd < 0.05 * mmd0);
  CHECK(geo < 3 * geo_floor);
}

TEST_CASE("S^2: all modes are found from a start inside one mode, stepping with the retraction",
          "[convergence][sphere]") {
  const auto mix = gfd::sphere::vmf_mixture(3, 6, 50.0, 1000, 11);
  const Mat3 y = mix.points;
  const Mat3 x0 = gfd::sphere::vmf(Eigen::VectorXd(mix.mixture.centres.col(0)), 50.0, 1000, std::uint64_t(12));
  const double radius = 3 * mix.mixture.angular_scale();
  REQUIRE(gfd::sphere::mode_coverage(x0, mix.mixture.centres, radius).modes_covered == 1);
  gfd::flow_options o;
  o.retraction = true;
  auto [x, rep] = s2_flow(y, o).run_from(x0, gfd::kl());
  const auto c = gfd::sphere::mode_coverage(x, mix.mixture.centres, radius, 1000 / 6 / 2);
  INFO("modes " << c.modes_covered << ", near " << c.fraction_near);
  CHECK(c.modes_covered == 6);
  CHECK(c.fraction_near > 0.95);
  CHECK(max_norm_error(x) < 1e-12);
}

TEST_CASE("S^2: a uniform target with a uniform start stays uniform", "[convergence][sphere]") {
  const Eigen::Index n = 1000;
  const Mat3 y = gfd::sphere::uniform(3, n, std::uint64_t(21));
  const Mat3 x0 = gfd::sphere::uniform(3, n, std::uint64_t(22));
  const Mat fresh = gfd::sphere::uniform(3, n, std::uint64_t(23));
  const Mat fresh2 = gfd::sphere::uniform(3, n, std::uint64_t(24));
  const double h = 0.3;
  const double floor = std::abs(gfd::sphere::mmd2_unbiased(fresh, fresh2, h)) + 1e-4;
  auto [x, rep] = s2_flow(y).run_from(x0, gfd::kl());
  const double r = gfd::sphere::mean_resultant_length(x);
  const double mmd = gfd::sphere::mmd2_unbiased(x, fresh, h);
  INFO("mean resultant length " << gfd::sphere::mean_resultant_length(x0) << " -> " << r
                                << " (1/sqrt(N) = " << 1 / std::sqrt(double(n)) << "), MMD^2 "
                                << mmd << " (floor " << floor << ")");
  CHECK(r < 3.0 / std::sqrt(double(n)));
  CHECK(mmd < 3 * floor);
  // Second moments stay isotropic: E x x^T = I / 3.
  CHECK(((x * x.transpose()) / double(n) - Mat::Identity(3, 3) / 3).cwiseAbs().maxCoeff() < 0.05);
  CHECK(max_norm_error(x) < 1e-12);
}

TEST_CASE("S^15: a four-mode vMF mixture is covered from a uniform start", "[convergence][sphere]") {
  const auto mix = gfd::sphere::vmf_mixture(16, 4, 200.0, 600, 31);
  const Mat x0 = gfd::sphere::uniform(16, 600, std::uint64_t(32));
  // In d = 16 the angle to the centre concentrates near sqrt((d - 1) / kappa) = 0.27.
  const double radius = 2 * std::sqrt(15.0 / 200.0);
  REQUIRE(gfd::sphere::mode_coverage(mix.points, mix.mixture.centres, radius).fraction_near > 0.99);
  auto [x, rep] = sphere_flow(mix.points).run_from(x0, gfd::kl());
  const auto c = gfd::sphere::mode_coverage(x, mix.mixture.centres, radius, 600 / 4 / 2);
  INFO("modes " << c.modes_covered << ", near " << c.fraction_near);
  CHECK(c.modes_covered == 4);
  CHECK(c.fraction_near > 0.9);
  CHECK(max_norm_error(x) < 1e-12);
}
