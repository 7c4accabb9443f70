// SPDX-License-Identifier: MIT
// The integrator: convergence order of the steppers, observers and stop rules, extreme starts,
// non-finite detection, bad options.
#include <gfd/flow.hpp>
#include <gfd/toy.hpp>

#include <cmath>
#include <random>

#include "catch.hpp"
#include "util.hpp"

namespace {
using Mat = Eigen::MatrixXd;

using gfd_test::random_cloud;

// Error after integrating to time T with `steps` steps of `method`, against a reference.
double error_at(gfd::stepper method, int steps, const Mat& x0, const Mat& y, const Mat& reference,
                double T) {
  gfd::flow_options o;
  o.method = method;
  o.dt = T / steps;
  o.dt_in_bandwidth_units = false;
  o.max_steps = steps;
  o.max_displacement = 0;  // the cap would change the flow being integrated
  o.bandwidth = gfd::bandwidth_schedule::fixed(0.8);
  const gfd::flow<> f(y, o);
  auto [x, rep] = f.run_from(x0, gfd::kl());
  REQUIRE(rep.time == Approx(T));
  return (x - reference).cwiseAbs().maxCoeff();
}
}  // namespace

TEST_CASE("Euler is first order and Heun second order in dt", "[flow][order]") {
  // Gaussian to Gaussian: 40 particles from N(0, I) toward a sample of N((1, -1), diag(2, 0.5)).
  const Mat x0 = random_cloud(2, 40, 1);
  Mat y = random_cloud(2, 60, 2);
  y.row(0) = y.row(0) * std::sqrt(2.0);
  y.row(1) = y.row(1) * std::sqrt(0.5);
  y.row(0).array() += 1;
  y.row(1).array() -= 1;
  const double T = 0.5;
  // Reference: Heun with a step 16 times smaller than the finest tested.
  gfd::flow_options o;
  o.method = gfd::stepper::heun;
  o.dt = T / 1280;
  o.dt_in_bandwidth_units = false;
  o.max_steps = 1280;
  o.max_displacement = 0;
  o.bandwidth = gfd::bandwidth_schedule::fixed(0.8);
  const Mat ref = gfd::flow<>(y, o).run_from(x0, gfd::kl()).first;

  const double e1 = error_at(gfd::stepper::euler, 20, x0, y, ref, T);
  const double e2 = error_at(gfd::stepper::euler, 40, x0, y, ref, T);
  const double e3 = error_at(gfd::stepper::euler, 80, x0, y, ref, T);
  CHECK(std::log2(e1 / e2) == Approx(1.0).margin(0.15));
  CHECK(std::log2(e2 / e3) == Approx(1.0).margin(0.15));
  const double h1 = error_at(gfd::stepper::heun, 20, x0, y, ref, T);
  const double h2 = error_at(gfd::stepper::heun, 40, x0, y, ref, T);
  const double h3 = error_at(gfd::stepper::heun, 80, x0, y, ref, T);
  CHECK(std::log2(h1 / h2) == Approx(2.0).margin(0.25));
  CHECK(std::log2(h2 / h3) == Approx(2.0).margin(0.25));
  CHECK(h3 < e3 / 10);
}

TEST_CASE("the adaptive stepper meets its tolerance and adapts dt", "[flow]") {
  const Mat x0 = random_cloud(2, 50, 3, 0.5, 2.0);
  const Mat y = random_cloud(2, 80, 4);
  gfd::flow_options o;
  o.method = gfd::stepper::adaptive;
  o.dt = 5.0;  // far too large: must be rejected and reduced
  o.tolerance = 0.01;
  o.max_steps = 60;
  o.max_displacement = 0;
  o.bandwidth = gfd::bandwidth_schedule::fixed(0.5);
  std::vector<double> dts;
  auto [x, rep] = gfd::flow<>(y, o).run_from(x0, gfd::kl(), [&](const auto& s) { dts.push_back(s.dt); });
  CHECK(rep.rejected_steps > 0);
  CHECK(x.allFinite());
  // Same end time with fixed small Heun steps gives nearly the same particles.
  gfd::flow_options h = o;
  h.method = gfd::stepper::heun;
  h.dt_in_bandwidth_units = true;
  h.dt = rep.time / (0.25 * 2000);
  h.max_steps = 2000;
  const Mat xr = gfd::flow<>(y, h).run_from(x0, gfd::kl()).first;
  CHECK((x - xr).cwiseAbs().maxCoeff() < 0.1 * 0.5);
  CHECK(*std::max_element(dts.begin(), dts.end()) > *std::min_element(dts.begin(), dts.end()));
}

TEST_CASE("observers see every k-th step, can stop the run, and the report says why", "[flow]") {
  const Mat y = random_cloud(2, 100, 5);
  const Mat x0 = random_cloud(2, 60, 6, 1.0, 1.0);
  gfd::flow_options o;
  o.max_steps = 45;
  o.observe_every = 10;
  o.bandwidth = gfd::bandwidth_schedule::fixed(0.5);
  std::vector<long> seen;
  std::vector<double> estimates;
  auto [x, rep] = gfd::flow<>(y, o).run_from(x0, gfd::kl(), [&](const auto& s) {
    seen.push_back(s.step);
    estimates.push_back(s.estimate);
  });
  CHECK(seen == std::vector<long>{10, 20, 30, 40, 45});
  CHECK(rep.steps == 45);
  CHECK(rep.stop_reason == "max steps");
  CHECK_FALSE(rep.converged);
  CHECK(estimates.front() > estimates.back());  // KL(q||p) decreases along its own flow
  CHECK(rep.estimate == estimates.back());

  auto [x2, rep2] = gfd::flow<>(y, o).run_from(x0, gfd::kl(), [](const auto& s) { return s.step < 20; });
  CHECK(rep2.steps == 20);
  CHECK(rep2.stop_reason == "observer");

  gfd::flow_options tol = o;
  tol.max_steps = 5000;
  tol.speed_tolerance = 1e-3;
  auto [x3, rep3] = gfd::flow<>(y, tol).run_from(x0, gfd::kl());
  CHECK(rep3.converged);
  CHECK(rep3.stop_reason == "speed tolerance");
  CHECK(rep3.steps < 5000);
  CHECK(rep3.mean_displacement < 1e-3);
}

TEST_CASE("the bandwidth schedule anneals from the cloud scale to the target rule", "[flow]") {
  const Mat y = random_cloud(2, 500, 7);
  const Mat x0 = random_cloud(2, 100, 8, 0.1, 5.0);
  gfd::flow_options o;
  o.max_steps = 100;
  o.observe_every = 1;
  std::vector<double> hs;
  gfd::flow<>(y, o).run_from(x0, gfd::kl(), [&](const auto& s) { hs.push_back(s.bandwidth); });
  const double h_end = 0.5 * gfd::silverman_bandwidth(gfd::cloud_view<double>(y));
  CHECK(hs.back() == Approx(h_end));
  CHECK(hs.front() > 5 * h_end);
  for (std::size_t i = 1; i < hs.size(); ++i) CHECK(hs[i] <= hs[i - 1] * (1 + 1e-12));
  // Geometric: constant ratio during the first 60 steps.
  CHECK(hs[10] / hs[9] == Approx(hs[40] / hs[39]).epsilon(1e-9));
}

namespace {
// A velocity field that goes wrong on purpose at its third call.
struct poisoned {
  mutable int calls = 0;
  template <class Problem, class V>
  double velocity(const Problem& pb, V& v, bool) const {
    v.setZero(pb.particles.rows(), pb.particles.cols());
    if (++calls == 3) v(1, 4) = std::numeric_limits<double>::quiet_NaN();
    return 0;
  }
};
}  // namespace

TEST_CASE("a non-finite velocity stops the run with step, time and particle", "[flow][errors]") {
  const Mat y = random_cloud(2, 20, 13);
  Mat x = random_cloud(2, 10, 14);
  gfd::flow_options o;
  o.bandwidth = gfd::bandwidth_schedule::fixed(0.5);
  o.dt_in_bandwidth_units = false;
  o.dt = 0.1;
  REQUIRE_THROWS_AS(gfd::flow<>(y, o).run(x, poisoned{}), gfd::numerical_error);
  Mat x2 = random_cloud(2, 10, 14);
  REQUIRE_THROWS_WITH(gfd::flow<>(y, o).run(x2, poisoned{}),
                      gfd_test::contains_substring("velocity 4 is not finite at step 3, time 0.2"));
}

TEST_CASE("bad options and clouds are rejected with clear messages", "[flow][errors]") {
  using gfd_test::contains_substring;
  const Mat y = random_cloud(2, 20, 15);
  gfd::flow_options o;
  o.dt = 0;
  REQUIRE_THROWS_WITH(gfd::flow<>(y, o), contains_substring("gfd::flow: dt must be finite and > 0, got 0"));
  o.dt = -1;
  REQUIRE_THROWS_WITH(gfd::flow<>(y, o), contains_substring("got -1"));
  o = {};
  o.bandwidth = gfd::bandwidth_schedule::fixed(-0.1);
  REQUIRE_THROWS_WITH(gfd::flow<>(y, o), contains_substring("bandwidth must be finite and > 0, got -0.1"));
  o = {};
  o.bandwidth.multipliers = {1.0, 0.0};
  REQUIRE_THROWS_WITH(gfd::flow<>(y, o), contains_substring("multiplier"));
  o = {};
  o.max_steps = -3;
  REQUIRE_THROWS_WITH(gfd::flow<>(y, o), contains_substring("max_steps"));
  Mat x = random_cloud(3, 10, 16);
  REQUIRE_THROWS_WITH(gfd::flow<>(y).run(x, gfd::kl()),
                      contains_substring("dimension mismatch: particles has dimension 3, targets has dimension 2"));
  Eigen::VectorXd w = Eigen::VectorXd::Ones(20);
  w(2) = -1;
  REQUIRE_THROWS_WITH(gfd::flow<>(gfd::cloud_view<double>(y, w)), contains_substring("invalid weight -1 at particle 2"));
  REQUIRE_THROWS_WITH(gfd::flow<>(Mat(2, 0)), contains_substring("targets is empty"));
  Mat bad = random_cloud(2, 10, 17);
  bad(0, 6) = std::nan("");
  REQUIRE_THROWS_WITH(gfd::flow<>(y).run(bad, gfd::kl()), contains_substring("particles has a non-finite coordinate"));
}
