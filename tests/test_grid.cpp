// SPDX-License-Identifier: MIT
// Grid evaluator: the documented error bound against the exact evaluator for every kernel in
// d = 1, 2, 3 (random and toy clouds, weights, self-exclusion, both field kinds), far queries
// (the exact fallback), refused inputs, and a flow run with it.
#include <gfd/evaluators/exact.hpp>
#include <gfd/evaluators/grid.hpp>
#include <gfd/flow.hpp>
#include <gfd/toy.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "catch.hpp"
#include "util.hpp"

namespace {
using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;
using gfd_test::random_cloud;

struct errors {
  double density = 0;  // max |p_grid / p_exact - 1|
  double field = 0;    // max |f_grid - f_exact| / (|f_exact| + scale)
  double field_rms = 0;
};

// `near`: queries closer than this to a source are left out of the field error (the
// Laplacian's score jumps at every source, which a grid blurs over a cell).
template <class K>
errors measure(const K& k, const Mat& y, const Mat& x, const Vec& lw, double h, double tol,
               gfd::field_kind field, bool self, double near = 0) {
  const gfd::sum_options opt{.field = field, .exclude_self = self};
  gfd::kernel_sums<double> ex, gr;
  gfd::exact_evaluator{}.sums(x, y, lw, k, h, opt, ex);
  gfd::grid_evaluator(tol).sums(x, y, lw, k, h, opt, gr);
  REQUIRE(gr.log_sum.size() == x.cols());
  REQUIRE(gr.field.cols() == x.cols());
  REQUIRE(gr.field.allFinite());
  errors e;
  const double scale = field == gfd::field_kind::score ? 1.0 / h : h;
  for (Eigen::Index i = 0; i < x.cols(); ++i) {
    if (std::isinf(ex.log_sum(i)) || std::isinf(gr.log_sum(i))) {
      // -inf (outside a compact support) only where the exact sum is -inf too.
      CHECK(ex.log_sum(i) == gr.log_sum(i));
    } else {
      e.density = std::max(e.density, std::abs(std::expm1(gr.log_sum(i) - ex.log_sum(i))));
    }
    if (near > 0 && (y.colwise() - x.col(i)).colwise().norm().minCoeff() < near) continue;
    const double fe = (gr.field.col(i) - ex.field.col(i)).norm() / (ex.field.col(i).norm() + scale);
    e.field = std::max(e.field, fe);
    e.field_rms += fe * fe;
  }
  e.field_rms = std::sqrt(e.field_rms / static_cast<double>(x.cols()));
  return e;
}

Vec uniform(Eigen::Index m) { return Vec::Constant(m, -std::log(static_cast<double>(m))); }
Vec random_weights(Eigen::Index m, std::uint64_t seed) {
  return (random_cloud(1, m, seed).transpose().array() * 2.0).matrix();  // unnormalised, spread e^{+-6}
}
}  // namespace

TEST_CASE("Gaussian grid sums are within the tolerance in d = 1, 2, 3", "[grid]") {
  for (const double tol : {1e-2, 1e-3, 1e-6}) {
    for (const int d : {1, 2, 3}) {
      const double h = d == 3 ? 0.35 : 0.2;
      const Mat y = random_cloud(d, 1500, 1);
      const Mat x = random_cloud(d, 300, 2, 1.5);
      for (const bool weighted : {false, true})
        for (const auto field : {gfd::field_kind::score, gfd::field_kind::mean_shift}) {
          INFO("tol=" << tol << " d=" << d << " weighted=" << weighted << " field=" << static_cast<int>(field));
          const Vec lw = weighted ? random_weights(1500, 3) : uniform(1500);
          const errors e = measure(gfd::gaussian{}, y, x, lw, h, tol, field, false);
          CHECK(e.density <= tol);
          CHECK(e.field <= tol);
        }
      INFO("self-exclusion tol=" << tol << " d=" << d);
      const errors s = measure(gfd::gaussian{}, y, y, uniform(1500), h, tol, gfd::field_kind::score, true);
      CHECK(s.density <= tol);
      CHECK(s.field <= tol);
    }
  }
}

TEST_CASE("Gaussian grid sums are within the tolerance on the toys", "[grid]") {
  for (const std::string toy : {"moons", "8gaussians", "checkerboard", "spirals"}) {
    const Mat y = gfd::toy::sample(toy, 3000, 4);
    const Mat x = gfd::toy::sample(toy, 500, 5);
    // A tenth of the toy's spread: many bandwidths across the cloud, empty cells between modes.
    const double h = 0.1 * std::sqrt((y.colwise() - y.rowwise().mean()).squaredNorm() / 3000.0);
    for (const double tol : {1e-3, 1e-6}) {
      INFO(toy << " tol=" << tol);
      const errors e = measure(gfd::gaussian{}, y, x, uniform(3000), h, tol, gfd::field_kind::score, false);
      CHECK(e.density <= tol);
      CHECK(e.field <= tol);
      const errors s = measure(gfd::gaussian{}, y, y, uniform(3000), h, tol, gfd::field_kind::mean_shift, true);
      CHECK(s.density <= tol);
      CHECK(s.field <= tol);
    }
  }
}

TEST_CASE("linear-binning grid sums of the other kernels are within the tolerance", "[grid]") {
  // Smooth kernel (imq): densities and both fields within the tolerance. Laplacian: densities
  // and mean shifts within the tolerance; its score jumps at every source (the cusp), which a
  // grid blurs over a cell: the documented bound holds two cells away from every source.
  for (const int d : {1, 2, 3}) {
    const double tol = d == 3 ? 1e-1 : 1e-2;
    const double h = d == 3 ? 0.6 : 0.3;
    const double spread = d == 3 ? 0.6 : 1.0;
    const Mat y = random_cloud(d, 1200, 6, spread);
    const Mat x = random_cloud(d, 250, 7, 1.3 * spread);
    for (const bool weighted : {false, true}) {
      const Vec lw = weighted ? random_weights(1200, 8) : uniform(1200);
      for (const auto field : {gfd::field_kind::score, gfd::field_kind::mean_shift}) {
        INFO("d=" << d << " weighted=" << weighted << " field=" << static_cast<int>(field));
        const errors imq = measure(gfd::inverse_multiquadric{}, y, x, lw, h, tol, field, false);
        CHECK(imq.density <= tol);
        CHECK(imq.field <= tol);
        const errors lap = measure(gfd::laplacian{}, y, x, lw, h, tol, field, false);
        CHECK(lap.density <= tol);
        if (field == gfd::field_kind::mean_shift) {
          CHECK(lap.field <= tol);
        } else {
          const double delta = gfd::grid_evaluator(tol)
                                   .prepare(y, lw, gfd::bound_kernel<gfd::laplacian, double>({}, h))
                                   .geometry()
                                   .delta;
          const errors away = measure(gfd::laplacian{}, y, x, lw, h, tol, field, false, 2 * delta * std::sqrt(d));
          CHECK(away.field <= tol);
        }
      }
    }
    INFO("self-exclusion d=" << d);
    const errors s = measure(gfd::inverse_multiquadric{}, y, y, uniform(1200), h, tol, gfd::field_kind::score, true);
    CHECK(s.density <= tol);
    CHECK(s.field <= tol);
  }
}

TEST_CASE("Epanechnikov grid sums: within the tolerance inside the cloud, -inf outside", "[grid]") {
  for (const int d : {1, 2}) {
    const double tol = 1e-2, h = 0.8;
    const Mat y = random_cloud(d, 1500, 9);
    // Queries in the core of the cloud, where every query sees many sources: no support edge
    // holds a large share of the sum there.
    const Mat core = random_cloud(d, 300, 10, 0.5);
    for (const auto field : {gfd::field_kind::score, gfd::field_kind::mean_shift}) {
      INFO("d=" << d << " field=" << static_cast<int>(field));
      const errors e = measure(gfd::epanechnikov{}, y, core, uniform(1500), h, tol, field, false);
      CHECK(e.density <= tol);
      CHECK(e.field <= 5 * tol);  // score slope 1/(1 - t) amplifies the edge error a few times
    }
    // Queries at every distance: -inf exactly where the exact sum is -inf (measure checks it),
    // and the same nearest-source field there.
    const Mat all = random_cloud(d, 400, 11, 4.0);
    measure(gfd::epanechnikov{}, y, all, uniform(1500), h, tol, gfd::field_kind::score, false);
  }
}

TEMPLATE_TEST_CASE("far queries get the exact evaluator's sums from the grid evaluator", "[grid]", float, double) {
  using S = TestType;
  using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  using V = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  const M y = random_cloud(2, 500, 12).cast<S>();
  M x(2, 4);
  x << S(100), S(-80), S(3), S(0), S(0), S(50), S(-60), S(1e4);
  const V lw = V::Constant(500, -std::log(S(500)));
  const S h = S(0.1);
  for (const auto field : {gfd::field_kind::score, gfd::field_kind::mean_shift}) {
    const gfd::sum_options opt{.field = field};
    gfd::kernel_sums<S> ex, gr;
    gfd::exact_evaluator{}.sums(x, y, lw, gfd::gaussian{}, h, opt, ex);
    gfd::grid_evaluator(1e-3).sums(x, y, lw, gfd::gaussian{}, h, opt, gr);
    CHECK(gr.log_sum.allFinite());
    CHECK(gr.field.allFinite());
    CHECK((gr.log_sum - ex.log_sum).cwiseAbs().maxCoeff() <= S(1e-5) * ex.log_sum.cwiseAbs().maxCoeff());
    CHECK((gr.field - ex.field).cwiseAbs().maxCoeff() <= S(1e-4) * ex.field.cwiseAbs().maxCoeff());
    // The field points toward the mass (the cloud sits near the origin).
    for (Eigen::Index i = 0; i < 4; ++i) CHECK(gr.field.col(i).dot(-x.col(i)) > 0);
    // Compact kernel: -inf exactly as the exact evaluator, nearest source field.
    gfd::exact_evaluator{}.sums(x, y, lw, gfd::epanechnikov{}, h, opt, ex);
    gfd::grid_evaluator(1e-2).sums(x, y, lw, gfd::epanechnikov{}, h, opt, gr);
    CHECK(std::isinf(gr.log_sum(0)));
    CHECK((gr.field - ex.field).cwiseAbs().maxCoeff() <= S(1e-4) * ex.field.cwiseAbs().maxCoeff());
  }
}

TEST_CASE("many far queries go to the tree evaluator within the tolerance", "[grid]") {
  const Mat y = random_cloud(2, 400, 18);
  const Mat x = random_cloud(2, 300, 19, 30.0);  // mostly far off the grid
  const Vec lw = random_weights(400, 20);
  gfd::grid_evaluator g(1e-3);
  g.exact_fallback_pairs = 1000;  // every fallback large: the tree path
  for (const auto field : {gfd::field_kind::score, gfd::field_kind::mean_shift}) {
    const gfd::sum_options opt{.field = field};
    gfd::kernel_sums<double> ex, gr;
    gfd::exact_evaluator{}.sums(x, y, lw, gfd::gaussian{}, 0.2, opt, ex);
    const auto p = g.prepare(y, lw, gfd::bound_kernel<gfd::gaussian, double>({}, 0.2));
    p.sums(x, opt, gr);
    CHECK((gr.log_sum - ex.log_sum).array().expm1().abs().maxCoeff() <= 1e-3);
    const double scale = field == gfd::field_kind::score ? 1 / 0.2 : 0.2;
    CHECK(((gr.field - ex.field).colwise().norm().array() / (ex.field.colwise().norm().array() + scale)).maxCoeff() <= 2e-3);
    // A second call reuses the tree (same answer).
    gfd::kernel_sums<double> again;
    p.sums(x, opt, again);
    CHECK((again.log_sum - gr.log_sum).cwiseAbs().maxCoeff() == 0.0);
  }
}

TEST_CASE("an isolated source excluded from its own sum falls back to the exact sum", "[grid]") {
  // Two tight clusters and one lone point: without itself, the lone point's sum is tiny (its
  // neighbours are 40 bandwidths away), which the grid cannot resolve next to its own weight.
  Mat y(2, 401);
  y.leftCols(200) = random_cloud(2, 200, 13, 0.05);
  y.middleCols(200, 200) = random_cloud(2, 200, 14, 0.05, 2.0);
  y.col(400) << 4.0, 4.0;
  for (const auto k : {0, 1}) {
    const gfd::sum_options opt{.field = gfd::field_kind::score, .exclude_self = true};
    gfd::kernel_sums<double> ex, gr;
    if (k == 0) {
      gfd::exact_evaluator{}.sums(y, y, uniform(401), gfd::gaussian{}, 0.05, opt, ex);
      gfd::grid_evaluator(1e-3).sums(y, y, uniform(401), gfd::gaussian{}, 0.05, opt, gr);
    } else {
      gfd::exact_evaluator{}.sums(y, y, uniform(401), gfd::epanechnikov{}, 0.05, opt, ex);
      gfd::grid_evaluator(1e-2).sums(y, y, uniform(401), gfd::epanechnikov{}, 0.05, opt, gr);
    }
    INFO("kernel " << k);
    CHECK(gr.log_sum(400) == Approx(ex.log_sum(400)).epsilon(1e-9));
    CHECK((gr.field.col(400) - ex.field.col(400)).norm() <= 1e-9 * ex.field.col(400).norm());
    CHECK(gr.field.col(400).dot(Eigen::Vector2d(-1, -1)) > 0);  // toward the clusters
  }
}

TEST_CASE("a flow with the grid evaluator follows the exact flow", "[grid][flow]") {
  const Mat y = gfd::toy::sample("moons", 800, 6);
  const Mat x0 = gfd::toy::gaussian(2, 400, 7);
  gfd::flow_options o;
  o.max_steps = 50;
  const auto [xe, re] = gfd::flow<>(y, o).run_from(x0, gfd::kl());
  const auto [xg, rg] = gfd::flow<gfd::gaussian, double, Eigen::Dynamic, gfd::grid_evaluator>(
                            y, o, {}, gfd::grid_evaluator(1e-6))
                            .run_from(x0, gfd::kl());
  CHECK(rg.steps == 50);
  CHECK((xe - xg).cwiseAbs().maxCoeff() < 1e-3);
  // The particles moved: the comparison is not between two copies of the start.
  CHECK((xe - x0).cwiseAbs().maxCoeff() > 0.1);
}

TEST_CASE("the grid evaluator refuses bad settings and high dimensions", "[grid][errors]") {
  REQUIRE_THROWS_WITH(gfd::grid_evaluator(0.0), gfd_test::contains_substring("gfd::grid_evaluator: tolerance must be in (0, 1), got 0"));
  REQUIRE_THROWS_WITH(gfd::grid_evaluator(1.5), gfd_test::contains_substring("got 1.5"));
  REQUIRE_THROWS_WITH(gfd::grid_evaluator(std::numeric_limits<double>::quiet_NaN()), gfd_test::contains_substring("tolerance"));
  gfd::grid_evaluator bad;
  bad.tolerance = -1;
  gfd::kernel_sums<double> out;
  const Mat y2 = random_cloud(2, 10, 8);
  REQUIRE_THROWS_WITH(bad.sums(y2, y2, Vec::Zero(10), gfd::gaussian{}, 0.5, {}, out),
                      gfd_test::contains_substring("gfd::grid_evaluator::prepare: tolerance must be in (0, 1), got -1"));
  const Mat y4 = random_cloud(4, 10, 8);
  REQUIRE_THROWS_WITH(gfd::grid_evaluator{}.sums(y4, y4, Vec::Zero(10), gfd::gaussian{}, 0.5, {}, out),
                      gfd_test::contains_substring("gfd::grid_evaluator::prepare") &&
                          gfd_test::contains_substring("dimension 1, 2 or 3, got dimension 4"));
  REQUIRE_THROWS_WITH(gfd::grid_evaluator{}.sums(y2, y2, Vec::Zero(10), gfd::gaussian{}, -1.0, {}, out),
                      gfd_test::contains_substring("bandwidth must be finite and > 0"));
  // Sources spanning 1e6 bandwidths: the grid would not fit.
  Mat wide = random_cloud(2, 10, 8);
  wide(0, 0) = 1e5;
  REQUIRE_THROWS_WITH(gfd::grid_evaluator{}.sums(wide, wide, Vec::Zero(10), gfd::gaussian{}, 0.1, {}, out),
                      gfd_test::contains_substring("exceeds max_cells"));
  // A dimension mismatch between queries and sources.
  const Mat x3 = random_cloud(3, 5, 8);
  REQUIRE_THROWS_WITH(gfd::grid_evaluator{}.sums(x3, y2, Vec::Zero(10), gfd::gaussian{}, 0.5, {}, out),
                      gfd_test::contains_substring("dimension mismatch"));
}

TEST_CASE("rebound and reweighted grids equal freshly prepared ones", "[grid]") {
  const Mat y = random_cloud(2, 300, 15);
  const Mat x = random_cloud(2, 50, 16);
  const Vec lw = random_weights(300, 17);
  const gfd::grid_evaluator e(1e-4);
  const auto p = e.prepare(y, uniform(300), gfd::bound_kernel<gfd::gaussian, double>({}, 0.3));
  gfd::kernel_sums<double> a, b;
  p.rebound(0.2).reweighted(lw).sums(x, {}, a);
  e.prepare(y, lw, gfd::bound_kernel<gfd::gaussian, double>({}, 0.2)).sums(x, {}, b);
  CHECK(p.rebound(0.2).bandwidth() == 0.2);
  CHECK((a.log_sum - b.log_sum).cwiseAbs().maxCoeff() == 0.0);
  CHECK((a.field - b.field).cwiseAbs().maxCoeff() == 0.0);
}
