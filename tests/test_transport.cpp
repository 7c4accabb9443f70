// SPDX-License-Identifier: MIT
// Transport flows: the Sinkhorn divergence (zero on equal clouds, non-negative, its gradient
// against finite differences, W2^2/2 in the limit eps -> 0, the same on every evaluator), mass
// moved between far modes in the targets' proportions where KDE flows and Alg. 2 leave it, the
// Sinkhorn drift against a dense Sinkhorn-Knopp reference, the sliced and energy flows against
// finite differences of their functionals, and bad input.
#include <gfd/divergences.hpp>
#include <gfd/evaluators/grid.hpp>
#include <gfd/evaluators/tree.hpp>
#include <gfd/flow.hpp>
#include <gfd/metrics.hpp>
#include <gfd/registry.hpp>
#include <gfd/toy.hpp>
#include <gfd/transport.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "catch.hpp"
#include "util.hpp"

namespace {

using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;
using gfd_test::random_cloud;

Vec uniform_log(Eigen::Index n) { return Vec::Constant(n, -std::log(static_cast<double>(n))); }

Vec random_log_weights(Eigen::Index m, std::uint64_t seed) {
  Vec w = (random_cloud(1, m, seed).array().abs() + 0.1).matrix().transpose();
  return (w / w.sum()).array().log().matrix();
}

// Converged settings: the value and the potentials to round-off.
gfd::sinkhorn_options tight(double eps) {
  return {.epsilon = eps, .scaling = 0.9, .tolerance = 1e-13, .max_iterations = 100000, .debias = true};
}

double sinkhorn_value(const Mat& x, const Vec& a, const Mat& y, const Vec& b, double eps) {
  return gfd::sinkhorn_solve<gfd::exact_evaluator, double, Eigen::Dynamic>(gfd::exact_evaluator{}, x, a, y, b,
                                                                         tight(eps))
      .value;
}

// Share of the particles with first coordinate > 0.
double right_share(const Mat& x) {
  return static_cast<double>((x.row(0).array() > 0).count()) / static_cast<double>(x.cols());
}

}  // namespace

TEST_CASE("Sinkhorn divergence: zero on equal clouds, positive otherwise", "[sinkhorn]") {
  const Mat x = random_cloud(2, 40, 1);
  const Vec a = uniform_log(40);
  for (double eps : {0.05, 0.5, 5.0}) {
    INFO("eps " << eps);
    CHECK(std::abs(sinkhorn_value(x, a, x, a, eps)) <= 1e-12);
    for (std::uint64_t seed : {2, 3, 4}) {
      const Mat y = random_cloud(2, 30, seed, 1.2, 0.3 * static_cast<double>(seed - 2));
      const double s = sinkhorn_value(x, a, y, random_log_weights(30, seed + 10), eps);
      CHECK(s > 0);
    }
  }
  // Symmetric in its arguments.
  const Mat y = random_cloud(2, 25, 7, 0.8, 0.5);
  const Vec b = random_log_weights(25, 8);
  CHECK(sinkhorn_value(x, a, y, b, 0.3) == Approx(sinkhorn_value(y, b, x, a, 0.3)).epsilon(1e-10));
  // A translation by c costs |c|^2 / 2 exactly, whatever eps and the weights: the cost's linear
  // part -c . (x - x') integrates to c . (mean - mean) = 0 under any coupling with these
  // marginals, and OT_eps(b, b) is translation invariant.
  Mat shifted = y;
  shifted.row(0).array() += 0.3;
  shifted.row(1).array() -= 0.4;
  for (double eps : {0.05, 1.0})
    CHECK(sinkhorn_value(y, b, shifted, b, eps) == Approx(0.125).epsilon(1e-9));
}

TEST_CASE("Sinkhorn divergence: the velocity is -1/a_i times the gradient (finite differences)",
          "[sinkhorn]") {
  const Mat x = random_cloud(2, 12, 21, 1.0, -0.3);
  const Mat y = random_cloud(2, 9, 22, 0.7, 0.6);
  const Vec a = uniform_log(12), b = random_log_weights(9, 23);
  for (double eps : {0.1, 1.0}) {
    INFO("eps " << eps);
    const auto r = gfd::sinkhorn_solve<gfd::exact_evaluator, double, Eigen::Dynamic>(gfd::exact_evaluator{}, x, a, y, b,
                                                                                    tight(eps));
    REQUIRE(r.converged);
    const Mat v = r.shift_ab - r.shift_aa;  // = -(1/a_i) dS/dx_i
    const double step = 1e-5;
    for (Eigen::Index i : {0, 5, 11})
      for (Eigen::Index k = 0; k < 2; ++k) {
        Mat xp = x, xm = x;
        xp(k, i) += step;
        xm(k, i) -= step;
        const double fd = (sinkhorn_value(xp, a, y, b, eps) - sinkhorn_value(xm, a, y, b, eps)) / (2 * step);
        CHECK(-12.0 * fd == Approx(v(k, i)).margin(1e-7));
      }
  }
}

TEST_CASE("Sinkhorn divergence tends to W2^2/2 of the sorted matching as eps -> 0 (1-D)", "[sinkhorn]") {
  const Mat x = random_cloud(1, 30, 31);
  const Mat y = random_cloud(1, 30, 32, 1.5, 1.0);
  std::vector<double> xs(x.data(), x.data() + 30), ys(y.data(), y.data() + 30);
  std::sort(xs.begin(), xs.end());
  std::sort(ys.begin(), ys.end());
  double w2 = 0;
  for (int i = 0; i < 30; ++i) w2 += (xs[i] - ys[i]) * (xs[i] - ys[i]) / 30;
  double previous_error = 1e300;
  for (double eps : {1e-1, 1e-2, 1e-3}) {
    const double s = sinkhorn_value(x, uniform_log(30), y, uniform_log(30), eps);
    const double error = std::abs(s - w2 / 2);
    INFO("eps " << eps << ": S = " << s << ", W2^2/2 = " << w2 / 2);
    CHECK(error < previous_error);
    previous_error = error;
  }
  CHECK(previous_error <= 1e-3 * w2);
  // The metric function agrees with the solver.
  CHECK(gfd::sinkhorn_divergence(x, y, 1e-2) == Approx(sinkhorn_value(x, uniform_log(30), y, uniform_log(30), 1e-2)).epsilon(1e-6));
}

TEST_CASE("Sinkhorn: the tree and grid evaluators give the exact evaluator's value", "[sinkhorn]") {
  const Mat x = random_cloud(2, 300, 41);
  const Mat y = random_cloud(2, 200, 42, 1.3, 0.7);
  const Vec a = uniform_log(300), b = uniform_log(200);
  gfd::sinkhorn_options o{.epsilon = 0.05};
  const double exact = gfd::sinkhorn_solve<gfd::exact_evaluator, double, Eigen::Dynamic>(gfd::exact_evaluator{}, x, a, y, b, o).value;
  const double tree = gfd::sinkhorn_solve<gfd::tree_evaluator, double, Eigen::Dynamic>(gfd::tree_evaluator(1e-6), x, a, y, b, o).value;
  const double grid = gfd::sinkhorn_solve<gfd::grid_evaluator, double, Eigen::Dynamic>(gfd::grid_evaluator(1e-6), x, a, y, b, o).value;
  CHECK(tree == Approx(exact).epsilon(1e-4));
  CHECK(grid == Approx(exact).epsilon(1e-4));
}

TEST_CASE("Sinkhorn flow moves mass between far modes in the targets' proportions", "[sinkhorn][flow]") {
  // Targets: 70 % at (-4, 0), 30 % at (4, 0), sd 0.3. Particles: all in the left mode.
  const Mat left = random_cloud(2, 700, 51, 0.3);
  Mat right = random_cloud(2, 300, 52, 0.3);
  right.row(0).array() += 8;
  Mat y(2, 1000);
  y << left, right;
  y.row(0).array() -= 4;
  Mat start = random_cloud(2, 400, 53, 0.3);
  start.row(0).array() -= 4;

  gfd::flow_options o;
  o.bandwidth = gfd::bandwidth_schedule::fixed(0.3);
  o.max_steps = 100;
  o.dt = 0.5;
  o.max_displacement = 2;  // 0.6 per step: far modes are reached in tens of steps
  Mat x = start;
  gfd::flow<>(y, o).run(x, gfd::sinkhorn_flow({.epsilon = 0.25}));
  INFO("Sinkhorn: share in the right mode " << right_share(x));
  CHECK(std::abs(right_share(x) - 0.3) <= 0.03);

  // The KDE flow with a small bandwidth and Alg. 2 (Deng et al.'s settings) leave the mass
  // where it started: the far mode is beyond every kernel's reach.
  Mat xk = start;
  gfd::flow<>(y, o).run(xk, gfd::kl());
  INFO("KL(q||p), h = 0.3: share in the right mode " << right_share(xk));
  CHECK(right_share(xk) <= 0.05);
  Mat xd = start;
  gfd::flow<gfd::laplacian>(y, o).run(xd, gfd::drifting_field(gfd::deng_drifting_options()));
  INFO("drifting-deng: share in the right mode " << right_share(xd));
  CHECK(right_share(xd) <= 0.05);
}

TEST_CASE("Sinkhorn drift equals the barycentric targets of dense Sinkhorn-Knopp couplings", "[sinkhorn][drifting]") {
  const Mat x = random_cloud(2, 30, 61);
  const Mat y = random_cloud(2, 40, 62, 1.2, 0.4);
  const Vec lw = random_log_weights(40, 63);
  const gfd::laplacian k{};
  const gfd::exact_evaluator ev{};
  const double h = 0.7;
  for (bool mask : {false, true}) {
    INFO("self-mask " << mask);
    gfd::drifting_options o;
    o.norm = gfd::drifting_options::normalisation::sinkhorn;
    o.self_mask = mask;
    o.sinkhorn_iterations = 5000;
    o.sinkhorn_tolerance = 1e-14;
    const gfd::flow_problem<double, Eigen::Dynamic, gfd::laplacian, gfd::exact_evaluator> pb{x, y, lw, k, ev, h, 0.0};
    const Mat v = gfd::drifting_field(o).field(pb);
    // Dense reference: multiplicative Sinkhorn-Knopp on the kernel matrices.
    auto kernel = [&](const auto& p, const auto& q) { return std::exp(-(p - q).norm() / h); };
    Mat kxy(30, 40), kxx(30, 30);
    for (int i = 0; i < 30; ++i) {
      for (int j = 0; j < 40; ++j) kxy(i, j) = kernel(x.col(i), y.col(j));
      for (int j = 0; j < 30; ++j) kxx(i, j) = (mask && i == j) ? 0.0 : kernel(x.col(i), x.col(j));
    }
    const Vec b = lw.array().exp().matrix();
    const Vec a = Vec::Constant(30, 1.0 / 30);
    auto scale = [](const Mat& kmat, const Vec& rows, const Vec& cols) {
      Vec u = Vec::Ones(kmat.rows()), w = Vec::Ones(kmat.cols());
      for (int it = 0; it < 20000; ++it) {
        u = rows.cwiseQuotient(kmat * w);
        w = cols.cwiseQuotient(kmat.transpose() * u);
      }
      return Mat(u.asDiagonal() * kmat * w.asDiagonal());
    };
    const Mat pxy = scale(kxy, a, b), pxx = scale(kxx, a, a);
    CHECK((pxy.rowwise().sum() - a).cwiseAbs().maxCoeff() <= 1e-12);
    Mat ref(2, 30);
    for (int i = 0; i < 30; ++i) {
      Vec att = Vec::Zero(2), rep = Vec::Zero(2);
      for (int j = 0; j < 40; ++j) att += pxy(i, j) * (y.col(j) - x.col(i));
      for (int j = 0; j < 30; ++j) rep += pxx(i, j) * (x.col(j) - x.col(i));
      ref.col(i) = (att - rep) / a(i);
    }
    CHECK((v - ref).cwiseAbs().maxCoeff() <= 1e-8 * (1 + ref.cwiseAbs().maxCoeff()));
  }
}

TEST_CASE("Sliced flow: -N times the gradient of (1/2L) sum W2^2 along fixed directions", "[sliced]") {
  const Mat x = random_cloud(3, 15, 71);
  const Mat y = random_cloud(3, 11, 72, 1.4, 0.3);
  const Vec b = random_log_weights(11, 73).array().exp().matrix();
  const Mat dirs = gfd::random_directions(3, 7, 74);
  Mat v;
  const double f = gfd::sliced_wasserstein_flow::along(x, y, b, dirs, v);
  CHECK(f > 0);
  const double step = 1e-6;
  Mat dummy;
  for (Eigen::Index i : {0, 7, 14})
    for (Eigen::Index k = 0; k < 3; ++k) {
      Mat xp = x, xm = x;
      xp(k, i) += step;
      xm(k, i) -= step;
      const double fd = (gfd::sliced_wasserstein_flow::along(xp, y, b, dirs, dummy) -
                         gfd::sliced_wasserstein_flow::along(xm, y, b, dirs, dummy)) / (2 * step);
      CHECK(-15.0 * fd == Approx(v(k, i)).margin(1e-6));
    }
  // Uniform weights, equal sizes, one direction: each particle moves to the target of its rank;
  // the value matches the metric's sliced W2^2 / 2.
  const Mat y15 = random_cloud(3, 15, 75);
  const Mat e1 = Mat::Identity(3, 1);
  gfd::sliced_wasserstein_flow::along(x, y15, Vec::Constant(15, 1.0 / 15), e1, v);
  std::vector<Eigen::Index> ox(15), oy(15);
  for (Eigen::Index i = 0; i < 15; ++i) ox[i] = oy[i] = i;
  std::sort(ox.begin(), ox.end(), [&](auto i, auto j) { return x(0, i) < x(0, j); });
  std::sort(oy.begin(), oy.end(), [&](auto i, auto j) { return y15(0, i) < y15(0, j); });
  for (int r = 0; r < 15; ++r) CHECK(v(0, ox[r]) == Approx(y15(0, oy[r]) - x(0, ox[r])).margin(1e-12));
  CHECK(v.bottomRows(2).cwiseAbs().maxCoeff() == 0.0);
  const double f128 = gfd::sliced_wasserstein_flow::along(x, y15, Vec::Constant(15, 1.0 / 15), gfd::random_directions(3, 128, 5), v);
  CHECK(f128 == Approx(0.5 * gfd::sliced_wasserstein2_squared(x, y15, 128, 5)).epsilon(1e-10));
}

TEST_CASE("Energy flow: -N times the gradient of the energy distance", "[energy]") {
  const Mat x = random_cloud(2, 14, 81);
  const Mat y = random_cloud(2, 10, 82, 1.3, 0.5);
  const Vec b = random_log_weights(10, 83).array().exp().matrix();
  Mat v, dummy;
  gfd::energy_flow::unscaled(x, y, b, v);
  auto energy = [&](const Mat& p) { return gfd::energy_flow::unscaled(p, y, b, dummy); };
  const double step = 1e-6;
  for (Eigen::Index i : {0, 6, 13})
    for (Eigen::Index k = 0; k < 2; ++k) {
      Mat xp = x, xm = x;
      xp(k, i) += step;
      xm(k, i) -= step;
      CHECK(-14.0 * (energy(xp) - energy(xm)) / (2 * step) == Approx(v(k, i)).margin(1e-6));
    }
  // The estimate plus E|Y - Y'| is the V-statistic of the energy distance, summed here directly.
  double xy = 0, xx = 0, yy = 0;
  for (int i = 0; i < 14; ++i) {
    for (int j = 0; j < 10; ++j) xy += b(j) * (x.col(i) - y.col(j)).norm() / 14;
    for (int l = 0; l < 14; ++l) xx += (x.col(i) - x.col(l)).norm() / (14 * 14);
  }
  for (int j = 0; j < 10; ++j)
    for (int l = 0; l < 10; ++l) yy += b(j) * b(l) * (y.col(j) - y.col(l)).norm();
  CHECK(energy(x) - yy == Approx(2 * xy - xx - yy).epsilon(1e-12));
}

TEST_CASE("Sliced, energy and Sinkhorn flows bring noise to a mixture", "[flow][sliced][energy][sinkhorn]") {
  const Mat y = gfd::toy::sample("8gaussians", 600, 91);
  const Mat held = gfd::toy::sample("8gaussians", 600, 92);
  const double floor = gfd::sliced_wasserstein2(y, held);
  const Mat start = gfd::toy::gaussian(2, 600, 93);
  const double start_sw = gfd::sliced_wasserstein2(start, held);
  gfd::flow_options o;
  o.max_steps = 200;
  auto check = [&](const auto& div, double factor) {
    Mat x = start;
    const auto rep = gfd::flow<>(y, o).run(x, div);
    const double sw = gfd::sliced_wasserstein2(x, held);
    INFO(div.name() << ": " << rep.steps << " steps, sliced W2 " << sw << " (start " << start_sw
                    << ", floor " << floor << ")");
    CHECK(x.allFinite());
    CHECK(sw <= factor * floor);
  };
  check(gfd::sinkhorn_flow{}, 2.0);
  check(gfd::sliced_wasserstein_flow{}, 2.0);
  check(gfd::energy_flow{}, 2.0);
}

TEST_CASE("Transport flows: the registry builds them, bad options are refused", "[registry][errors]") {
  gfd::registry::divergence_parameters p;
  p.epsilon = 0.2;
  p.projections = 9;
  const auto s = gfd::registry::make_divergence("sinkhorn", p);
  CHECK(std::get<gfd::sinkhorn_flow>(s).options().epsilon == 0.2);
  CHECK(std::get<gfd::sliced_wasserstein_flow>(gfd::registry::make_divergence("sliced", p)).options().projections == 9);
  CHECK(std::get<gfd::drifting_field>(gfd::registry::make_divergence("sinkhorn-drift", p)).options().norm ==
        gfd::drifting_options::normalisation::sinkhorn);
  CHECK(std::holds_alternative<gfd::energy_flow>(gfd::registry::make_divergence("energy", p)));
  CHECK_THROWS_AS(gfd::sinkhorn_flow({.epsilon = -1}), gfd::invalid_argument);
  CHECK_THROWS_AS(gfd::sinkhorn_flow({.scaling = 1.0}), gfd::invalid_argument);
  CHECK_THROWS_AS(gfd::sliced_wasserstein_flow({.projections = 0}), gfd::invalid_argument);
  gfd::drifting_options d;
  d.sinkhorn_iterations = 0;
  CHECK_THROWS_AS(gfd::drifting_field(d), gfd::invalid_argument);
  const Mat x = random_cloud(2, 5, 1);
  CHECK_THROWS_AS(gfd::sinkhorn_divergence(x, x, 0.0), gfd::invalid_argument);
  CHECK_THROWS_AS(gfd::sinkhorn_divergence(x, Mat(2, 0), 1.0), gfd::invalid_argument);
  CHECK_THROWS_AS(gfd::sinkhorn_divergence(x, random_cloud(3, 5, 2), 1.0), gfd::invalid_argument);
  Mat bad = x;
  bad(0, 2) = std::nan("");
  CHECK_THROWS_AS(gfd::sinkhorn_divergence(bad, x, 1.0), gfd::invalid_argument);
  static_assert(!gfd::uses_flow_kernel<gfd::sinkhorn_flow>() && gfd::uses_evaluator<gfd::sinkhorn_flow>());
  static_assert(!gfd::uses_evaluator<gfd::energy_flow>() && gfd::uses_flow_kernel<gfd::f_divergence>());
}
