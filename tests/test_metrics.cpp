// SPDX-License-Identifier: MIT
// Tests of gfd/metrics.hpp: naive references, population values, invariances, bad input.
#include "catch.hpp"

#include <gfd/metrics.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <vector>

#include <Eigen/Core>

namespace {

using Eigen::Index;
using Eigen::MatrixXd;

/// d x n cloud of N(mean, I) points.
MatrixXd gaussian_cloud(Index d, Index n, std::uint64_t seed, const Eigen::VectorXd& mean) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  MatrixXd c(d, n);
  for (Index j = 0; j < n; ++j)
    for (Index k = 0; k < d; ++k) c(k, j) = mean(k) + normal(rng);
  return c;
}

MatrixXd gaussian_cloud(Index d, Index n, std::uint64_t seed) {
  return gaussian_cloud(d, n, seed, Eigen::VectorXd::Zero(d));
}

double sq_dist(const MatrixXd& a, Index i, const MatrixXd& b, Index j) {
  double s = 0.0;
  for (Index k = 0; k < a.rows(); ++k) s += (a(k, i) - b(k, j)) * (a(k, i) - b(k, j));
  return s;
}

/// Mean of f(|a_i - b_j|^2) over all pairs, or over i != j when a and b are the same cloud.
template <class F>
double naive_mean(const MatrixXd& a, const MatrixXd& b, bool exclude_diagonal, F f) {
  double s = 0.0;
  for (Index i = 0; i < a.cols(); ++i)
    for (Index j = 0; j < b.cols(); ++j)
      if (!(exclude_diagonal && i == j)) s += f(sq_dist(a, i, b, j));
  const double pairs = static_cast<double>(a.cols()) * static_cast<double>(b.cols()) -
                       (exclude_diagonal ? static_cast<double>(a.cols()) : 0.0);
  return s / pairs;
}

double naive_mmd2(const MatrixXd& x, const MatrixXd& y, double h, bool unbiased) {
  auto k = [h](double d2) { return std::exp(-d2 / (2 * h * h)); };
  return naive_mean(x, x, unbiased, k) + naive_mean(y, y, unbiased, k) -
         2 * naive_mean(x, y, false, k);
}

double naive_energy(const MatrixXd& x, const MatrixXd& y) {
  auto dist = [](double d2) { return std::sqrt(d2); };
  return 2 * naive_mean(x, y, false, dist) - naive_mean(x, x, true, dist) -
         naive_mean(y, y, true, dist);
}

struct mean_se {
  double mean, se;
};

mean_se summarize(const std::vector<double>& v) {
  const double n = static_cast<double>(v.size());
  double m = 0.0;
  for (double a : v) m += a;
  m /= n;
  double var = 0.0;
  for (double a : v) var += (a - m) * (a - m);
  var /= (n - 1.0);
  return {m, std::sqrt(var / n)};
}

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::numbers::sqrt2); }

}  // namespace

// ----------------------------------------------------------------------------------------------
// MMD

TEST_CASE("mmd2 matches a naive double loop", "[metrics][mmd]") {
  const MatrixXd x = gaussian_cloud(3, 40, 1);
  const MatrixXd y = gaussian_cloud(3, 55, 2, Eigen::Vector3d(1.2, -0.6, 0.3));
  for (double h : {0.5, 1.0, 2.5}) {
    CAPTURE(h);
    const double ref_u = naive_mmd2(x, y, h, true);
    const double ref_b = naive_mmd2(x, y, h, false);
    REQUIRE(ref_u > 0.01);  // a clear signal, so a relative comparison is meaningful
    CHECK(gfd::mmd2_unbiased(x, y, h) == Approx(ref_u).epsilon(1e-12));
    CHECK(gfd::mmd2_biased(x, y, h) == Approx(ref_b).epsilon(1e-12));
  }
  // More points than one 256-wide block, so the blocked loop crosses block boundaries.
  const MatrixXd xl = gaussian_cloud(2, 300, 3);
  const MatrixXd yl = gaussian_cloud(2, 520, 4, Eigen::Vector2d(1.0, 0.0));
  CHECK(gfd::mmd2_unbiased(xl, yl, 0.7) == Approx(naive_mmd2(xl, yl, 0.7, true)).epsilon(1e-12));
}

TEST_CASE("mmd2 is symmetric and accepts any Eigen type", "[metrics][mmd]") {
  const MatrixXd x = gaussian_cloud(2, 70, 5);
  const MatrixXd y = gaussian_cloud(2, 90, 6, Eigen::Vector2d(0.5, 0.5));
  const double xy = gfd::mmd2_unbiased(x, y, 0.8);
  CHECK(gfd::mmd2_unbiased(y, x, 0.8) == Approx(xy).epsilon(1e-13));
  CHECK(gfd::mmd2_biased(y, x, 0.8) == Approx(gfd::mmd2_biased(x, y, 0.8)).epsilon(1e-13));

  // Fixed-size rows, a block expression and float storage: all computed in double.
  const Eigen::Matrix<double, 2, Eigen::Dynamic> xf = x;
  CHECK(gfd::mmd2_unbiased(xf, y, 0.8) == xy);
  CHECK(gfd::mmd2_unbiased(x.leftCols(70), y.block(0, 0, 2, 90), 0.8) == xy);
  const Eigen::MatrixXf xs = x.cast<float>();
  const Eigen::MatrixXf ys = y.cast<float>();
  CHECK(gfd::mmd2_unbiased(xs, ys, 0.8) ==
        gfd::mmd2_unbiased(xs.cast<double>(), ys.cast<double>(), 0.8));
  CHECK(gfd::mmd2_unbiased(xs, ys, 0.8) == Approx(xy).epsilon(1e-5));
}

TEST_CASE("biased mmd2 is zero between identical clouds and nonnegative", "[metrics][mmd]") {
  const MatrixXd x = gaussian_cloud(2, 50, 7);
  CHECK(gfd::mmd2_biased(x, x, 1.0) == Approx(0.0).margin(1e-13));
  for (std::uint64_t s = 0; s < 10; ++s)
    CHECK(gfd::mmd2_biased(gaussian_cloud(2, 30, 100 + s), gaussian_cloud(2, 40, 200 + s), 1.0) >
          -1e-14);
}

TEST_CASE("unbiased mmd2 estimates the population MMD^2 without bias", "[metrics][mmd]") {
  // X ~ N(0, I_d), Y ~ N(mu, I_d), Gaussian kernel of bandwidth h:
  //   E k(X, X') = (h^2 / (h^2 + 2))^{d/2},  E k(X, Y) = E k(X, X') exp(-|mu|^2 / (2 (h^2 + 2))),
  //   MMD^2 = 2 (h^2 / (h^2 + 2))^{d/2} (1 - exp(-|mu|^2 / (2 (h^2 + 2)))).
  const Index d = 2, n = 200, m = 150;
  const double h = 1.0;
  const Eigen::Vector2d mu(0.6, 0.0);
  std::vector<double> same, shifted;
  for (std::uint64_t s = 0; s < 20; ++s) {
    const MatrixXd x = gaussian_cloud(d, n, 1000 + s);
    same.push_back(gfd::mmd2_unbiased(x, gaussian_cloud(d, m, 2000 + s), h));
    shifted.push_back(gfd::mmd2_unbiased(x, gaussian_cloud(d, m, 3000 + s, mu), h));
  }
  const auto a = summarize(same);
  CAPTURE(a.mean, a.se);
  CHECK(std::abs(a.mean) < 3 * a.se);

  const double ratio = h * h / (h * h + 2);
  const double population =
      2 * std::pow(ratio, d / 2.0) * (1 - std::exp(-mu.squaredNorm() / (2 * (h * h + 2))));
  const auto b = summarize(shifted);
  CAPTURE(b.mean, b.se, population);
  CHECK(b.mean > 10 * b.se);
  CHECK(std::abs(b.mean - population) < 3 * b.se);
  CHECK(*std::min_element(shifted.begin(), shifted.end()) > 0.0);
}

// ----------------------------------------------------------------------------------------------
// Energy distance

TEST_CASE("energy distance matches the naive formula", "[metrics][energy]") {
  const MatrixXd x = gaussian_cloud(3, 45, 11);
  const MatrixXd y = gaussian_cloud(3, 280, 12, Eigen::Vector3d(0.5, 0.0, -1.0));
  const double ref = naive_energy(x, y);
  REQUIRE(ref > 0.1);
  CHECK(gfd::energy_distance(x, y) == Approx(ref).epsilon(1e-12));
  CHECK(gfd::energy_distance(y, x) == Approx(ref).epsilon(1e-12));
}

TEST_CASE("energy distance is invariant under translation and rotation", "[metrics][energy]") {
  const MatrixXd x = gaussian_cloud(2, 80, 13);
  const MatrixXd y = gaussian_cloud(2, 60, 14, Eigen::Vector2d(1.0, 0.5));
  const double e = gfd::energy_distance(x, y);
  const Eigen::Vector2d c(3.0, -7.0);
  CHECK(gfd::energy_distance(x.colwise() + c, y.colwise() + c) == Approx(e).epsilon(1e-10));
  const double a = 0.7;
  Eigen::Matrix2d r;
  r << std::cos(a), -std::sin(a), std::sin(a), std::cos(a);
  CHECK(gfd::energy_distance(r * x, r * y) == Approx(e).epsilon(1e-10));
}

TEST_CASE("energy distance: zero mean for equal laws, the 1D population value when shifted",
          "[metrics][energy]") {
  // 1D, X ~ N(0,1), Y ~ N(mu,1): X - Y ~ N(-mu, 2), X - X' ~ N(0, 2), and for Z ~ N(m, s^2)
  // E|Z| = s sqrt(2/pi) exp(-m^2 / (2 s^2)) + m (1 - 2 Phi(-m/s)). Hence
  //   E = 2 (2/sqrt(pi) exp(-mu^2/4) + mu (1 - 2 Phi(-mu/sqrt2))) - 2 * 2/sqrt(pi).
  const double mu = 1.0;
  const double two_over_sqrt_pi = 2.0 / std::sqrt(std::numbers::pi);
  const double population = 2 * (two_over_sqrt_pi * std::exp(-mu * mu / 4) +
                                 mu * (1 - 2 * normal_cdf(-mu / std::sqrt(2.0)))) -
                            2 * two_over_sqrt_pi;
  std::vector<double> same, shifted;
  for (std::uint64_t s = 0; s < 20; ++s) {
    const MatrixXd x = gaussian_cloud(1, 300, 4000 + s);
    same.push_back(gfd::energy_distance(x, gaussian_cloud(1, 400, 5000 + s)));
    shifted.push_back(gfd::energy_distance(
        x, gaussian_cloud(1, 400, 6000 + s, Eigen::VectorXd::Constant(1, mu))));
  }
  const auto a = summarize(same);
  CAPTURE(a.mean, a.se);
  CHECK(std::abs(a.mean) < 3 * a.se);
  const auto b = summarize(shifted);
  CAPTURE(b.mean, b.se, population);
  CHECK(b.mean > 10 * b.se);
  CHECK(std::abs(b.mean - population) < 3 * b.se);
}

// ----------------------------------------------------------------------------------------------
// Sliced Wasserstein-2

TEST_CASE("random_directions are unit, reproducible and seed-dependent", "[metrics][sliced]") {
  const MatrixXd a = gfd::random_directions(5, 64, 3);
  CHECK(a.rows() == 5);
  CHECK(a.cols() == 64);
  CHECK((a.colwise().norm().array() - 1.0).abs().maxCoeff() < 1e-15);
  CHECK(a == gfd::random_directions(5, 64, 3));
  CHECK(a != gfd::random_directions(5, 64, 4));
  // Uniform on the sphere: E theta theta^T = I/d.
  const MatrixXd b = gfd::random_directions(3, 20000, 9);
  const MatrixXd second_moment = b * b.transpose() / 20000.0;
  CHECK((second_moment - Eigen::Matrix3d::Identity() / 3.0).cwiseAbs().maxCoeff() < 0.02);
}

TEST_CASE("sliced W2 of a cloud with itself is exactly zero, and permutation invariant",
          "[metrics][sliced]") {
  const MatrixXd x = gaussian_cloud(3, 123, 21);
  const MatrixXd y = gaussian_cloud(3, 77, 22, Eigen::Vector3d(0.3, 0.0, 0.0));
  CHECK(gfd::sliced_wasserstein2(x, x, 64, 5) == 0.0);
  CHECK(gfd::sliced_wasserstein2_squared(x, x, 64, 5) == 0.0);

  std::vector<Index> perm(static_cast<std::size_t>(x.cols()));
  for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<Index>(i);
  std::shuffle(perm.begin(), perm.end(), std::mt19937_64(1));
  MatrixXd xp(x.rows(), x.cols());
  for (Index j = 0; j < x.cols(); ++j) xp.col(j) = x.col(perm[static_cast<std::size_t>(j)]);
  CHECK(gfd::sliced_wasserstein2(xp, y, 64, 5) == gfd::sliced_wasserstein2(x, y, 64, 5));

  // Same seed -> same value; distance and square agree.
  const double sw = gfd::sliced_wasserstein2(x, y, 32, 8);
  CHECK(sw == gfd::sliced_wasserstein2(x, y, 32, 8));
  CHECK(sw * sw == Approx(gfd::sliced_wasserstein2_squared(x, y, 32, 8)).epsilon(1e-14));
  CHECK(gfd::sliced_wasserstein2(x, y, 32, 8) ==
        Approx(gfd::sliced_wasserstein2(y, x, 32, 8)).epsilon(1e-14));
}

TEST_CASE("sliced W2 of translated clouds", "[metrics][sliced]") {
  // y = x + mu: every projection is shifted by theta.mu, so W2^2 = (theta.mu)^2 per direction and
  // SW2^2 = mean_p (theta_p . mu)^2, whose expectation over the sphere is |mu|^2 / d.
  const Index d = 3;
  const MatrixXd x = gaussian_cloud(d, 200, 31);
  const Eigen::Vector3d mu(1.0, -2.0, 0.5);
  const MatrixXd y = x.colwise() + mu;
  const int p = 2000;
  const MatrixXd dirs = gfd::random_directions(d, p, 17);
  const double expected = (dirs.transpose() * mu).squaredNorm() / p;
  const double sw2 = gfd::sliced_wasserstein2_squared(x, y, p, 17);
  CHECK(sw2 == Approx(expected).epsilon(1e-10));
  CHECK(gfd::sliced_wasserstein2_squared(x, y, dirs) == Approx(expected).epsilon(1e-10));
  CHECK(sw2 == Approx(mu.squaredNorm() / d).epsilon(0.1));
}

TEST_CASE("sliced W2 in 1D is the exact W2 between empirical measures", "[metrics][sliced]") {
  const MatrixXd x = gaussian_cloud(1, 100, 41);
  const MatrixXd y = gaussian_cloud(1, 100, 42, Eigen::VectorXd::Constant(1, 0.4));
  std::vector<double> a(x.data(), x.data() + 100), b(y.data(), y.data() + 100);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  double ref = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) ref += (a[i] - b[i]) * (a[i] - b[i]);
  ref /= 100.0;
  // One random projection in 1D is +1 or -1; either gives the same W2.
  for (std::uint64_t seed = 0; seed < 4; ++seed)
    CHECK(gfd::sliced_wasserstein2_squared(x, y, 1, seed) == Approx(ref).epsilon(1e-14));
  CHECK(gfd::sliced_wasserstein2(x, y, 1) == Approx(std::sqrt(ref)).epsilon(1e-14));
  CHECK(gfd::sliced_wasserstein2_squared(x, y, Eigen::Matrix<double, 1, 1>(-2.0)) ==
        Approx(ref).epsilon(1e-14));
}

TEST_CASE("sliced W2 with unequal sizes merges the quantile functions exactly",
          "[metrics][sliced]") {
  const Eigen::Matrix<double, 1, 1> e1(1.0);
  // N = 3, M = 5: both quantile functions are constant on the 15 intervals (k/15, (k+1)/15], so
  // evaluating them at the midpoints integrates (F^-1 - G^-1)^2 exactly.
  Eigen::RowVectorXd x(3), y(5);
  x << 0.2, -1.0, 3.0;
  y << 0.0, 5.0, -2.0, 1.0, 0.5;
  std::vector<double> a(x.data(), x.data() + 3), b(y.data(), y.data() + 5);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  double ref = 0.0;
  for (int k = 0; k < 15; ++k) {
    const double t = (k + 0.5) / 15.0;
    const double diff = a[static_cast<std::size_t>(t * 3)] - b[static_cast<std::size_t>(t * 5)];
    ref += diff * diff / 15.0;
  }
  CHECK(gfd::sliced_wasserstein2_squared(x, y, e1) == Approx(ref).epsilon(1e-14));
  CHECK(gfd::sliced_wasserstein2_squared(y, x, e1) == Approx(ref).epsilon(1e-14));

  // A cloud against itself repeated twice is the same empirical measure: exactly 0.
  const MatrixXd z = gaussian_cloud(2, 50, 43);
  MatrixXd zz(2, 100);
  zz << z, z;
  CHECK(gfd::sliced_wasserstein2(z, zz, 16) == 0.0);

  // N = 300 vs M = 500 from the same law: small next to a unit shift.
  const MatrixXd u = gaussian_cloud(2, 300, 44);
  const MatrixXd v = gaussian_cloud(2, 500, 45);
  const MatrixXd w = gaussian_cloud(2, 500, 46, Eigen::Vector2d(1.0, 0.0));
  const double same = gfd::sliced_wasserstein2(u, v, 128, 1);
  const double shifted = gfd::sliced_wasserstein2(u, w, 128, 1);
  CAPTURE(same, shifted);
  CHECK(same < 0.15);
  CHECK(shifted == Approx(std::sqrt(0.5)).epsilon(0.2));  // |mu| / sqrt(d) plus sampling noise
  CHECK(same < 0.25 * shifted);
}

// ----------------------------------------------------------------------------------------------
// Mode coverage

namespace {
MatrixXd ring_centres(int k, double radius) {
  MatrixXd c(2, k);
  for (int i = 0; i < k; ++i) {
    const double a = 2 * std::numbers::pi * i / k;
    c.col(i) << radius * std::cos(a), radius * std::sin(a);
  }
  return c;
}
}  // namespace

TEST_CASE("mode_coverage counts the modes that particles sit on", "[metrics][coverage]") {
  const MatrixXd centres = ring_centres(8, 2.0);
  const double sd = 0.05;

  SECTION("points exactly at 3 of 8 centres") {
    MatrixXd x(2, 30);
    for (int j = 0; j < 30; ++j) x.col(j) = centres.col((j % 3) * 2);  // centres 0, 2, 4
    const auto c = gfd::mode_coverage(x, centres, sd);
    CHECK(c.modes == 8);
    CHECK(c.modes_covered == 3);
    CHECK(c.fraction_near == 1.0);
    CHECK(gfd::mode_coverage(x, centres, sd, 10).modes_covered == 3);
    CHECK(gfd::mode_coverage(x, centres, sd, 11).modes_covered == 0);
  }
  SECTION("all particles near: every mode covered, fraction 1") {
    const MatrixXd noise = gaussian_cloud(2, 800, 51) * sd;  // |noise| <= 3 sd for ~99% of points
    MatrixXd x(2, 800);
    for (int j = 0; j < 800; ++j)
      x.col(j) = centres.col(j % 8) + noise.col(j).cwiseMax(-2.0 * sd).cwiseMin(2.0 * sd);
    const auto c = gfd::mode_coverage(x, centres, sd);
    CHECK(c.modes_covered == 8);
    CHECK(c.fraction_near == 1.0);
  }
  SECTION("far particles: nothing covered, fraction 0") {
    const MatrixXd x = gaussian_cloud(2, 100, 52) * 0.1;  // at the ring's centre, 2 away from all
    const auto c = gfd::mode_coverage(x, centres, sd);
    CHECK(c.modes_covered == 0);
    CHECK(c.fraction_near == 0.0);
  }
  SECTION("a particle counts only for its nearest centre; partial fraction") {
    MatrixXd close(2, 2);
    close << 0.0, 0.1, 0.0, 0.0;  // two centres 0.1 apart, 3 sd = 0.15 covers both
    MatrixXd x(2, 4);
    x << 0.02, 0.03, 5.0, 6.0, 0.0, 0.0, 0.0, 0.0;
    const auto c = gfd::mode_coverage(x, close, sd);
    CHECK(c.modes == 2);
    CHECK(c.modes_covered == 1);
    CHECK(c.fraction_near == 0.5);
  }
  SECTION("default threshold is max(1, ceil(1% of N/K))") {
    // N = 1600, K = 8: fair share 200, threshold 2. One particle on mode 0 is not enough.
    MatrixXd x = MatrixXd::Constant(2, 1600, 100.0);
    x.col(0) = centres.col(0);
    CHECK(gfd::mode_coverage(x, centres, sd).modes_covered == 0);
    x.col(1) = centres.col(0);
    CHECK(gfd::mode_coverage(x, centres, sd).modes_covered == 1);
  }
}

// ----------------------------------------------------------------------------------------------
// Median bandwidth and the combined report

TEST_CASE("pooled_median_distance is the median pairwise distance of the pooled sample",
          "[metrics][bandwidth]") {
  Eigen::RowVectorXd x(3), y(2);
  x << 0.0, 1.0, 3.0;
  y << 7.0, 10.0;
  // Pooled {0, 1, 3, 7, 10}: 10 distances 1 2 3 3 4 6 7 7 9 10, median (4 + 6) / 2 = 5.
  CHECK(gfd::pooled_median_distance(x, y) == 5.0);
  // Sampled pairs (max_pairs well below the 1.1e6 pairs): close to the exact median.
  const MatrixXd a = gaussian_cloud(2, 800, 61);
  const MatrixXd b = gaussian_cloud(2, 700, 62);
  // For N(0, I_2), |X - X'|^2 / 2 ~ Exp(1/2) ... median of |X - X'| = sqrt(2 * 2 ln 2).
  const double exact = std::sqrt(4.0 * std::log(2.0));
  CHECK(gfd::pooled_median_distance(a, b, 4096, 3) == Approx(exact).epsilon(0.05));
  CHECK(gfd::pooled_median_distance(a, b, 4096, 3) == gfd::pooled_median_distance(a, b, 4096, 3));
  CHECK_THROWS_WITH(gfd::pooled_median_distance(MatrixXd::Zero(2, 5), MatrixXd::Zero(2, 5)),
                    gfd_test::contains_substring("gfd::pooled_median_distance"));
}

TEST_CASE("two_sample_report agrees with the individual functions", "[metrics]") {
  const MatrixXd x = gaussian_cloud(2, 60, 71);
  const MatrixXd y = gaussian_cloud(2, 80, 72, Eigen::Vector2d(0.5, 0.0));
  const auto r = gfd::two_sample_report(x, y, 0.9, 32, 4);
  CHECK(r.bandwidth == 0.9);
  CHECK(r.mmd2_unbiased == gfd::mmd2_unbiased(x, y, 0.9));
  CHECK(r.energy_distance == gfd::energy_distance(x, y));
  CHECK(r.sliced_w2 == gfd::sliced_wasserstein2(x, y, 32, 4));
  const auto m = gfd::two_sample_report(x, y);
  CHECK(m.bandwidth == gfd::pooled_median_distance(x, y));
  CHECK(m.mmd2_unbiased == gfd::mmd2_unbiased(x, y, m.bandwidth));
}

// ----------------------------------------------------------------------------------------------
// Bad input

TEST_CASE("metrics reject bad input with the function name in the message", "[metrics][errors]") {
  using gfd_test::contains_substring;
  const MatrixXd x = gaussian_cloud(2, 10, 81);
  const MatrixXd y = gaussian_cloud(2, 12, 82);
  const MatrixXd empty(2, 0);
  const MatrixXd three_d = gaussian_cloud(3, 12, 83);
  MatrixXd bad = y;
  bad(1, 7) = std::nan("");

  CHECK_THROWS_AS(gfd::mmd2_unbiased(x, empty, 1.0), gfd::invalid_argument);
  CHECK_THROWS_WITH(gfd::mmd2_unbiased(x, empty, 1.0),
                    contains_substring("gfd::mmd2_unbiased") && contains_substring("y is empty"));
  CHECK_THROWS_WITH(gfd::mmd2_unbiased(x.leftCols(1), y, 1.0),
                    contains_substring("gfd::mmd2_unbiased") && contains_substring("at least 2"));
  CHECK_THROWS_WITH(gfd::mmd2_unbiased(x, three_d, 1.0),
                    contains_substring("gfd::mmd2_unbiased") && contains_substring("dimension"));
  CHECK_THROWS_WITH(gfd::mmd2_unbiased(x, bad, 1.0), contains_substring("gfd::mmd2_unbiased") &&
                                                         contains_substring("cloud y") &&
                                                         contains_substring("column 7"));
  for (double h : {0.0, -1.0, std::nan(""), HUGE_VAL})
    CHECK_THROWS_WITH(gfd::mmd2_unbiased(x, y, h),
                      contains_substring("gfd::mmd2_unbiased") && contains_substring("bandwidth"));
  CHECK_THROWS_WITH(gfd::mmd2_biased(empty, y, 1.0),
                    contains_substring("gfd::mmd2_biased") && contains_substring("x is empty"));
  CHECK_THROWS_WITH(gfd::mmd2_biased(x, y, -2.0), contains_substring("gfd::mmd2_biased"));

  CHECK_THROWS_WITH(gfd::energy_distance(bad, x), contains_substring("gfd::energy_distance") &&
                                                      contains_substring("cloud x") &&
                                                      contains_substring("column 7"));
  CHECK_THROWS_WITH(gfd::energy_distance(x, three_d), contains_substring("gfd::energy_distance"));
  CHECK_THROWS_WITH(gfd::energy_distance(empty, y), contains_substring("gfd::energy_distance"));

  CHECK_THROWS_WITH(
      gfd::sliced_wasserstein2(x, bad),
      contains_substring("gfd::sliced_wasserstein2") && contains_substring("column 7"));
  CHECK_THROWS_WITH(gfd::sliced_wasserstein2(x, y, 0), contains_substring("n_projections"));
  CHECK_THROWS_WITH(gfd::sliced_wasserstein2_squared(x, three_d),
                    contains_substring("gfd::sliced_wasserstein2_squared"));
  CHECK_THROWS_WITH(gfd::sliced_wasserstein2_squared(x, y, Eigen::Vector2d::Zero()),
                    contains_substring("column 0"));
  CHECK_THROWS_WITH(gfd::sliced_wasserstein2_squared(x, y, Eigen::Vector3d(1, 0, 0)),
                    contains_substring("directions"));

  const MatrixXd centres = ring_centres(4, 1.0);
  CHECK_THROWS_WITH(gfd::mode_coverage(x, centres, 0.0),
                    contains_substring("gfd::mode_coverage") && contains_substring("stddev"));
  CHECK_THROWS_WITH(gfd::mode_coverage(x, three_d, 0.1), contains_substring("gfd::mode_coverage"));
  CHECK_THROWS_WITH(gfd::mode_coverage(x, empty, 0.1), contains_substring("centres is empty"));
  CHECK_THROWS_WITH(gfd::mode_coverage(x, centres, 0.1, 0), contains_substring("min_count"));
  CHECK_THROWS_WITH(gfd::two_sample_report(x, bad, 1.0),
                    contains_substring("gfd::two_sample_report") && contains_substring("column 7"));
  CHECK_THROWS_WITH(gfd::random_directions(0, 3), contains_substring("gfd::random_directions"));
}
