// SPDX-License-Identifier: MIT
// KDE: scores against finite differences and naive sums, the Gaussian mean-shift identity,
// weights, permutations, far queries, both evaluator paths, bad input.
#include <gfd/bandwidth.hpp>
#include <gfd/kde.hpp>

#include <cmath>
#include <random>

#include "catch.hpp"
#include "util.hpp"

namespace {

using gfd_test::random_cloud;

// Naive log-sum-exp reference in long double: log sum_j w_j k(x - y_j) / (h^d Z) and its score.
template <class K>
std::pair<long double, Eigen::VectorXd> naive(const K& k, const Eigen::MatrixXd& y,
                                              const Eigen::VectorXd& w, double h,
                                              const Eigen::VectorXd& x, Eigen::Index skip = -1) {
  const Eigen::Index m = y.cols(), d = y.rows();
  std::vector<long double> l(static_cast<std::size_t>(m));
  long double mx = -INFINITY;
  for (Eigen::Index j = 0; j < m; ++j) {
    const long double t = (x - y.col(j)).squaredNorm() / (h * h);
    l[static_cast<std::size_t>(j)] =
        j == skip ? -INFINITY : std::log((long double)w(j) / w.sum()) + k.log_profile(static_cast<double>(t));
    mx = std::max(mx, l[static_cast<std::size_t>(j)]);
  }
  long double s = 0;
  Eigen::Matrix<long double, Eigen::Dynamic, 1> g = Eigen::Matrix<long double, Eigen::Dynamic, 1>::Zero(d);
  for (Eigen::Index j = 0; j < m; ++j) {
    const long double e = std::exp(l[static_cast<std::size_t>(j)] - mx);
    s += e;
    const double t = (x - y.col(j)).squaredNorm() / (h * h);
    g += e * 2 * (long double)k.slope(t) * (x - y.col(j)).cast<long double>() / (long double)(h * h);
  }
  return {mx + std::log(s) - d * std::log((long double)h) - k.log_normaliser(static_cast<int>(d)),
          (g / s).cast<double>()};
}

template <class K>
void check_against_naive(const K& k, Eigen::Index d, double h, bool weighted) {
  INFO("kernel " << K::name << ", d = " << d << ", weighted = " << weighted);
  const Eigen::MatrixXd y = random_cloud(d, 300, 1);
  const Eigen::MatrixXd x = random_cloud(d, 40, 2, 0.8);
  Eigen::VectorXd w = Eigen::VectorXd::Ones(300);
  if (weighted) w = (random_cloud(1, 300, 3).array().abs() + 0.1).matrix().transpose();
  const gfd::kde<K> p(weighted ? gfd::cloud_view<double>(y, w) : gfd::cloud_view<double>(y), h, k);
  const Eigen::VectorXd lp = p.log_density(x);
  const Eigen::MatrixXd sc = p.score(x);
  for (Eigen::Index i = 0; i < x.cols(); ++i) {
    const auto [ref_lp, ref_sc] = naive(k, y, w, h, x.col(i));
    CHECK(lp(i) == Approx(static_cast<double>(ref_lp)).epsilon(1e-10).margin(1e-10));
    CHECK((sc.col(i) - ref_sc).norm() <= 1e-9 * (1 + ref_sc.norm()));
  }
}

}  // namespace

TEST_CASE("KDE log-density and score match a naive long-double sum", "[kde]") {
  for (Eigen::Index d : {1, 2, 3, 20}) {  // d = 20 takes the matrix-product path
    for (bool weighted : {false, true}) {
      check_against_naive(gfd::gaussian{}, d, 0.6, weighted);
      check_against_naive(gfd::laplacian{}, d, 0.6, weighted);
      check_against_naive(gfd::epanechnikov{}, d, 3.0 + d, weighted);  // support covers queries
      check_against_naive(gfd::inverse_multiquadric{0.5 * static_cast<double>(d) + 1}, d, 0.6, weighted);
    }
  }
}

TEST_CASE("KDE score is the finite-difference gradient of the log-density", "[kde]") {
  const Eigen::MatrixXd y = random_cloud(2, 200, 5);
  const Eigen::MatrixXd x = random_cloud(2, 20, 6);
  auto check = [&](const auto& k, double h) {
    INFO("kernel " << std::decay_t<decltype(k)>::name);
    const gfd::kde<std::decay_t<decltype(k)>> p(y, h, k);
    const Eigen::MatrixXd sc = p.score(x);
    const Eigen::MatrixXd gr = p.gradient(x);
    const Eigen::VectorXd dens = p.density(x);
    for (Eigen::Index i = 0; i < x.cols(); ++i) {
      for (int c = 0; c < 2; ++c) {
        Eigen::MatrixXd xp = x.col(i), xm = x.col(i);
        const double e = 1e-5;
        xp(c) += e;
        xm(c) -= e;
        const double fd = (p.log_density(xp)(0) - p.log_density(xm)(0)) / (2 * e);
        CHECK(sc(c, i) == Approx(fd).epsilon(1e-5).margin(1e-6));
        const double fdp = (p.density(xp)(0) - p.density(xm)(0)) / (2 * e);
        CHECK(gr(c, i) == Approx(fdp).epsilon(1e-5).margin(1e-8));
      }
      CHECK(gr.col(i).isApprox(dens(i) * sc.col(i)));
    }
  };
  check(gfd::gaussian{}, 0.5);
  check(gfd::laplacian{}, 0.5);
  check(gfd::epanechnikov{}, 4.0);
  check(gfd::inverse_multiquadric{}, 0.5);
}

TEST_CASE("Gaussian score equals (m(x) - x) / h^2 with the mean-shift mean", "[kde]") {
  const Eigen::MatrixXd y = random_cloud(3, 500, 7);
  const Eigen::MatrixXd x = random_cloud(3, 30, 8, 2.0);
  Eigen::VectorXd w = (random_cloud(1, 500, 9).array().abs()).matrix().transpose();
  const double h = 0.4;
  const gfd::kde<> p(gfd::cloud_view<double>(y, w), h);
  const Eigen::MatrixXd sc = p.score(x);
  const Eigen::MatrixXd ms = p.mean_shift(x);
  for (Eigen::Index i = 0; i < x.cols(); ++i) {
    // m(x) = sum_j a_j y_j with a_j = softmax(log w_j - |x - y_j|^2 / 2h^2), computed directly.
    Eigen::VectorXd l(500);
    for (Eigen::Index j = 0; j < 500; ++j)
      l(j) = std::log(w(j)) - (x.col(i) - y.col(j)).squaredNorm() / (2 * h * h);
    const Eigen::VectorXd a = (l.array() - l.maxCoeff()).exp().matrix();
    const Eigen::VectorXd m = y * a / a.sum();
    CHECK((sc.col(i) - (m - x.col(i)) / (h * h)).norm() <= 1e-9 * (1 + sc.col(i).norm()));
    CHECK((ms.col(i) - (m - x.col(i))).norm() <= 1e-9 * (1 + ms.col(i).norm()));
  }
}

TEST_CASE("weights act as multiplicities and order does not matter", "[kde]") {
  const Eigen::MatrixXd y = random_cloud(2, 50, 10);
  Eigen::VectorXd w = Eigen::VectorXd::Ones(50);
  w(3) = 3.0;
  // The same cloud with point 3 repeated three times.
  Eigen::MatrixXd yrep(2, 52);
  yrep << y, y.col(3), y.col(3);
  const Eigen::MatrixXd x = random_cloud(2, 25, 11);
  const gfd::kde<> pw(gfd::cloud_view<double>(y, w), 0.3), prep(yrep, 0.3);
  CHECK(pw.log_density(x).isApprox(prep.log_density(x), 1e-12));
  CHECK(pw.score(x).isApprox(prep.score(x), 1e-12));
  // Permutation of the sources (a reversal) changes nothing beyond round-off.
  const Eigen::MatrixXd yrev = y.rowwise().reverse();
  const gfd::kde<> p(y, 0.3), prev(yrev, 0.3);
  CHECK(p.log_density(x).isApprox(prev.log_density(x), 1e-12));
  CHECK(p.score(x).isApprox(prev.score(x), 1e-12));
  // Translating queries and sources together changes nothing.
  const Eigen::Vector2d shift(1e3, -2e3);
  const Eigen::MatrixXd ys = y.colwise() + shift, xs = x.colwise() + shift;
  const gfd::kde<> pt(ys, 0.3);
  CHECK(pt.log_density(xs).isApprox(p.log_density(x), 1e-9));
  CHECK(pt.score(xs).isApprox(p.score(x), 1e-6));
}

TEMPLATE_TEST_CASE("far queries get a finite log-density and a score toward the nearest mass",
                   "[kde]", float, double) {
  using M = gfd::positions<TestType>;
  M y(2, 3);
  y << 0, 1, 0,  //
      0, 0, 1;
  const TestType h = 0.1;
  M x(2, 2);
  x << 100 * h, -1000 * h,  // 100 and 1000 bandwidths away
      0, -1000 * h;
  const gfd::kde<gfd::gaussian, TestType> p(y, h);
  const auto lp = p.log_density(x);
  const M sc = p.score(x);
  REQUIRE(lp.allFinite());
  REQUIRE(sc.allFinite());
  // Query 0 at (10, 0): the nearest source is (1, 0); log p is dominated by it.
  const double t0 = (10.0 - 1.0) * (10.0 - 1.0) / (0.01);
  CHECK(static_cast<double>(lp(0)) ==
        Approx(-0.5 * t0 + std::log(1.0 / 3) - 2 * std::log(0.1) - std::log(2 * M_PI)).epsilon(1e-5));
  const Eigen::Vector2d dir0 = sc.col(0).template cast<double>().normalized();
  CHECK(dir0.x() == Approx(-1).margin(1e-6));
  // Query 1 at (-100, -100): nearest is the origin; the score points at it.
  const Eigen::Vector2d dir1 = sc.col(1).template cast<double>().normalized();
  CHECK(dir1.dot(Eigen::Vector2d(1, 1).normalized()) > 0.999);

  // Laplacian and inverse multiquadric too, and Epanechnikov outside its support.
  const gfd::kde<gfd::laplacian, TestType> pl(y, h);
  REQUIRE(pl.log_density(x).allFinite());
  REQUIRE(pl.score(x).allFinite());
  const gfd::kde<gfd::epanechnikov, TestType> pe(y, h);
  const auto lpe = pe.log_density(x);
  CHECK(std::isinf(lpe(0)));  // the density really is zero there
  const M se = pe.score(x);
  REQUIRE(se.allFinite());
  CHECK(se.col(0).template cast<double>().normalized().x() == Approx(-1).margin(1e-6));
}

TEST_CASE("float and double KDEs agree to float precision", "[kde]") {
  const Eigen::MatrixXd y = random_cloud(2, 400, 12);
  const Eigen::MatrixXd x = random_cloud(2, 50, 13);
  const gfd::kde<> pd(y, 0.3);
  const Eigen::MatrixXf yf = y.cast<float>(), xf = x.cast<float>();
  const gfd::kde<gfd::gaussian, float> pf(yf, 0.3f);
  CHECK(pf.log_density(xf).cast<double>().isApprox(pd.log_density(x), 1e-5));
  CHECK((pf.score(xf).cast<double>() - pd.score(x)).norm() <= 1e-4 * pd.score(x).norm());
}

TEST_CASE("fixed-dimension clouds give the same result as dynamic ones", "[kde]") {
  const Eigen::MatrixXd y = random_cloud(2, 100, 14);
  const Eigen::MatrixXd x = random_cloud(2, 10, 15);
  const gfd::positions<double, 2> y2 = y, x2 = x;
  const gfd::kde<gfd::gaussian, double, 2> p2(y2, 0.5);
  const gfd::kde<> p(y, 0.5);
  CHECK(p2.score(x2).isApprox(p.score(x), 1e-13));
  CHECK(p2.log_density_at(x2.col(0)) == Approx(p.log_density_at(x.col(0))).epsilon(1e-13));
}

TEST_CASE("self-masked sums leave out each query's own source", "[kde]") {
  for (Eigen::Index d : {2, 24}) {
    const Eigen::MatrixXd y = random_cloud(d, 150, 16);
    const gfd::kde<> p(y, 0.7);
    const auto s = p.sums(y, {.field = gfd::field_kind::score, .exclude_self = true});
    const Eigen::VectorXd w = Eigen::VectorXd::Ones(150);
    for (Eigen::Index i = 0; i < 150; i += 7) {
      const auto [ref_lp, ref_sc] = naive(gfd::gaussian{}, y, w, 0.7, y.col(i), i);
      CHECK(s.log_sum(i) - p.log_normaliser() == Approx(static_cast<double>(ref_lp)).epsilon(1e-11));
      CHECK((s.field.col(i) - ref_sc).norm() <= 1e-9 * (1 + ref_sc.norm()));
    }
  }
}

TEST_CASE("bad input is rejected with the function and the offending value", "[kde][errors]") {
  using gfd_test::contains_substring;
  Eigen::MatrixXd y = random_cloud(2, 10, 17);
  REQUIRE_THROWS_WITH(gfd::kde<>(Eigen::MatrixXd(2, 0), 1.0), contains_substring("gfd::kde: sources is empty"));
  REQUIRE_THROWS_WITH(gfd::kde<>(y, 0.0), contains_substring("bandwidth must be finite and > 0, got 0"));
  REQUIRE_THROWS_WITH(gfd::kde<>(y, -1.0), contains_substring("got -1"));
  REQUIRE_THROWS_WITH(gfd::kde<>(y, std::nan("")), contains_substring("bandwidth"));
  Eigen::MatrixXd bad = y;
  bad(1, 3) = std::numeric_limits<double>::infinity();
  REQUIRE_THROWS_WITH(gfd::kde<>(bad, 1.0), contains_substring("at particle 3, coordinate 1"));
  Eigen::VectorXd w = Eigen::VectorXd::Ones(10);
  w(4) = -0.5;
  REQUIRE_THROWS_WITH(gfd::kde<>(gfd::cloud_view<double>(y, w), 1.0),
                      contains_substring("invalid weight -0.5 at particle 4"));
  REQUIRE_THROWS_WITH(gfd::kde<>(gfd::cloud_view<double>(y, Eigen::VectorXd::Zero(10)), 1.0),
                      contains_substring("sum to zero"));
  REQUIRE_THROWS_WITH(gfd::kde<>(gfd::cloud_view<double>(y, Eigen::VectorXd::Ones(9)), 1.0),
                      contains_substring("9 weights for 10 particles"));
  const gfd::kde<> p(y, 1.0);
  REQUIRE_THROWS_WITH(p.score(random_cloud(3, 4, 1)), contains_substring("dimension mismatch"));
  Eigen::MatrixXd q = random_cloud(2, 4, 1);
  q(0, 2) = std::nan("");
  REQUIRE_THROWS_WITH(p.log_density(q), contains_substring("queries has a non-finite coordinate"));
  REQUIRE_THROWS_AS(gfd::cloud<double>(Eigen::MatrixXd(3, 0)), gfd::invalid_argument);
}

TEST_CASE("bandwidth rules follow their formulas and reject degenerate clouds", "[bandwidth]") {
  const Eigen::MatrixXd x = random_cloud(2, 4000, 18, 2.0);
  const gfd::cloud_view<double> c(x);
  // sigma is about 2: Scott h = sigma n^{-1/6}, Silverman h = sigma (n (d + 2) / 4)^{-1/6}.
  CHECK(gfd::scott_bandwidth(c) == Approx(2.0 * std::pow(4000.0, -1.0 / 6)).epsilon(0.03));
  CHECK(gfd::silverman_bandwidth(c) == Approx(2.0 * std::pow(4000.0, -1.0 / 6)).epsilon(0.03));
  // Median distance of two independent N(0, 4 I) points: |X - Y| ~ 2 sqrt(2) Rayleigh, median
  // 2 sqrt(2) sqrt(2 ln 2).
  CHECK(gfd::median_distance(c) == Approx(2 * std::sqrt(2.0) * std::sqrt(2 * std::log(2.0))).epsilon(0.03));
  CHECK(gfd::median_bandwidth(c) ==
        Approx(gfd::median_distance(c) / std::sqrt(2 * std::log(4001.0))).epsilon(1e-12));
  CHECK(gfd::choose_bandwidth(gfd::parse_bandwidth_rule("silverman"), c) == gfd::silverman_bandwidth(c));
  const Eigen::MatrixXd same = Eigen::MatrixXd::Ones(2, 10);
  REQUIRE_THROWS_WITH(gfd::scott_bandwidth(gfd::cloud_view<double>(same)), gfd_test::contains_substring("no spread"));
  REQUIRE_THROWS_WITH(gfd::parse_bandwidth_rule("magic"), gfd_test::contains_substring("'magic'"));
}
