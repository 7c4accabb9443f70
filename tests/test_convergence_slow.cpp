// SPDX-License-Identifier: MIT
// Convergence of the default flow on known distributions (N = 1000): moments of a Gaussian
// target, two-sample distances to held-out samples of three toys near their noise floor, and
// all 8 modes recovered from a start inside one mode. Labelled slow: skipped under sanitizers.
#include <gfd/flow.hpp>
#include <gfd/metrics.hpp>
#include <gfd/toy.hpp>

#include <cmath>

#include "catch.hpp"

namespace {
using Mat = Eigen::MatrixXd;

Mat covariance(const Mat& x) {
  const Mat c = x.colwise() - x.rowwise().mean();
  return c * c.transpose() / static_cast<double>(x.cols() - 1);
}
}  // namespace

TEST_CASE("from N(0, I) to N(mu, Sigma): mean and covariance converge", "[convergence]") {
  Mat y = gfd::toy::gaussian(2, 1000, 1);
  Eigen::Matrix2d a;
  a << 1.2, 0.0, 0.6, 0.5;  // Sigma = a a^T
  y = (a * y).colwise() + Eigen::Vector2d(3.0, -2.0);
  const Mat x0 = gfd::toy::gaussian(2, 1000, 2);
  auto [x, rep] = gfd::flow<>(y).run_from(x0, gfd::kl());
  INFO("mean " << x.rowwise().mean().transpose() << " cov\n" << covariance(x));
  CHECK((x.rowwise().mean() - y.rowwise().mean()).norm() < 0.02);
  CHECK((covariance(x) - covariance(y)).norm() < 0.05 * covariance(y).norm());
}

TEST_CASE("two-sample distances reach the noise floor on three toys", "[convergence]") {
  for (const char* name : {"8gaussians", "moons", "checkerboard"}) {
    INFO(name);
    const Mat y = gfd::toy::sample(name, 1000, 11);
    const Mat held = gfd::toy::sample(name, 1000, 12);
    const Mat x0 = gfd::toy::gaussian(2, 1000, 13);
    // Floor: the same distances between two independent target samples.
    const double sw_floor = gfd::sliced_wasserstein2(y, held, 128, 0);
    const double h = 0.2;
    const double mmd_floor = std::abs(gfd::mmd2_unbiased(y, held, h)) + 1e-4;
    const double sw0 = gfd::sliced_wasserstein2(x0, held, 128, 0);
    auto [x, rep] = gfd::flow<>(y).run_from(x0, gfd::kl());
    const double sw = gfd::sliced_wasserstein2(x, held, 128, 0);
    const double mmd = gfd::mmd2_unbiased(x, held, h);
    INFO("SW2 " << sw0 << " -> " << sw << " (floor " << sw_floor << "), MMD^2 " << mmd << " (floor "
                << mmd_floor << ")");
    CHECK(sw < 2.0 * sw_floor);
    CHECK(sw < 0.25 * sw0);
    CHECK(mmd < 3.0 * mmd_floor);
    if (auto m = gfd::toy::mixture_of(name)) {
      const auto c = gfd::mode_coverage(x, m->centres, m->stddev);
      CHECK(c.modes_covered == c.modes);
      CHECK(c.fraction_near > 0.95);
    }
  }
}

TEST_CASE("default settings recover all 8 modes from a start inside one mode", "[convergence]") {
  const auto mix = *gfd::toy::mixture_of("8gaussians");
  const Mat y = gfd::toy::sample("8gaussians", 1000, 21);
  const Mat x0 = (gfd::toy::gaussian(2, 1000, 22) * mix.stddev).colwise() + mix.centres.col(0);
  REQUIRE(gfd::mode_coverage(x0, mix.centres, mix.stddev).modes_covered == 1);
  auto [x, rep] = gfd::flow<>(y).run_from(x0, gfd::kl());
  const auto c = gfd::mode_coverage(x, mix.centres, mix.stddev, 1000 / 8 / 2);  // half a fair share each
  CHECK(c.modes_covered == 8);
  CHECK(c.fraction_near > 0.95);

  // The same flow with a fixed small bandwidth stays stuck around the starting mode.
  gfd::flow_options o;
  o.bandwidth = gfd::bandwidth_schedule::fixed(0.5 * gfd::silverman_bandwidth(gfd::cloud_view<double>(y)));
  auto [xs, reps] = gfd::flow<>(y, o).run_from(x0, gfd::kl());
  CHECK(gfd::mode_coverage(xs, mix.centres, mix.stddev, 1000 / 8 / 2).modes_covered < 8);
}
