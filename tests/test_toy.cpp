// SPDX-License-Identifier: MIT
// Tests of include/gfd/toy.hpp: shapes, determinism, mixture statistics, registry errors.
#include <gfd/toy.hpp>

#include "catch.hpp"

#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <string>
#include <vector>

namespace {

/// Index of the column of `centres` nearest to point x.
Eigen::Index nearest(const Eigen::MatrixXd& centres, const Eigen::Vector2d& x) {
  Eigen::Index best = 0;
  (centres.colwise() - x).colwise().squaredNorm().minCoeff(&best);
  return best;
}

/// Binomial tolerance: |count - n p| <= 5 sd.
bool within_binomial(Eigen::Index count, Eigen::Index n, double p) {
  const double mean = static_cast<double>(n) * p;
  const double sd = std::sqrt(static_cast<double>(n) * p * (1.0 - p));
  return std::abs(static_cast<double>(count) - mean) <= 5.0 * sd;
}

}  // namespace

TEST_CASE("toy registry lists the eight toys", "[toy]") {
  const std::vector<std::string> expected{"8gaussians", "25gaussians", "moons",  "swissroll",
                                          "checkerboard", "rings",     "pinwheel", "spirals"};
  CHECK(gfd::toy::names() == expected);
  for (const auto& name : expected) CHECK(gfd::toy::exists(name));
  CHECK_FALSE(gfd::toy::exists("9gaussians"));
  CHECK_FALSE(gfd::toy::exists(""));
  CHECK(gfd::toy::mixture_of("8gaussians").has_value());
  CHECK(gfd::toy::mixture_of("25gaussians").has_value());
  CHECK_FALSE(gfd::toy::mixture_of("moons").has_value());
  CHECK_FALSE(gfd::toy::mixture_of("nope").has_value());
}

TEST_CASE("every toy: shape, finite, scale, deterministic per seed", "[toy]") {
  for (const auto& name : gfd::toy::names()) {
    CAPTURE(name);
    for (const Eigen::Index n : {Eigen::Index{1}, Eigen::Index{7}, Eigen::Index{2000}}) {
      CAPTURE(n);
      const Eigen::MatrixXd a = gfd::toy::sample(name, n, 42);
      REQUIRE(a.rows() == 2);
      REQUIRE(a.cols() == n);
      CHECK(a.allFinite());
      CHECK(a.cwiseAbs().maxCoeff() < 5.5);  // the common [-4, 4]^2 scale, plus noise tails
      CHECK(a == gfd::toy::sample(name, n, 42));
      if (n > 1) CHECK(a != gfd::toy::sample(name, n, 43));
    }
  }
}

TEST_CASE("seed overload == rng overload == sample(name); float is the rounded double", "[toy]") {
  const Eigen::Index n = 300;
  std::mt19937_64 rng(7);
  const Eigen::MatrixXd via_rng = gfd::toy::moons(n, rng);
  CHECK(via_rng == gfd::toy::moons(n, std::uint64_t{7}));
  CHECK(via_rng == gfd::toy::sample("moons", n, 7));
  CHECK(gfd::toy::moons<float>(n, std::uint64_t{7}) == via_rng.cast<float>());
  CHECK(gfd::toy::spirals<float>(n, std::uint64_t{7}) ==
        gfd::toy::spirals(n, std::uint64_t{7}).cast<float>());

  // A shared generator advances: two consecutive draws differ.
  std::mt19937_64 shared(1);
  const Eigen::MatrixXd first = gfd::toy::rings(n, shared);
  CHECK(first != gfd::toy::rings(n, shared));
  CHECK(gfd::toy::eight_gaussians(0, std::uint64_t{1}).cols() == 0);
}

TEST_CASE("Gaussian mixtures: points near a centre, every centre equally used", "[toy]") {
  const Eigen::Index n = 20000;
  for (const std::string name : {"8gaussians", "25gaussians"}) {
    CAPTURE(name);
    const auto m = gfd::toy::mixture_of(name);
    REQUIRE(m.has_value());
    const Eigen::Index k = m->centres.cols();
    CHECK(m->centres.rows() == 2);
    CHECK(k == (name == "8gaussians" ? 8 : 25));
    CHECK(m->stddev > 0.0);
    CHECK(m->centres.cwiseAbs().maxCoeff() + 3.0 * m->stddev < 4.0);

    const Eigen::MatrixXd x = gfd::toy::sample(name, n, 2024);
    std::vector<Eigen::Index> counts(static_cast<std::size_t>(k), 0);
    Eigen::Index close = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
      const Eigen::Index c = nearest(m->centres, x.col(i));
      ++counts[static_cast<std::size_t>(c)];
      // Within 3 stddev per coordinate: probability 0.9973^2 = 0.9946. (The Euclidean 3-stddev
      // disc holds only 1 - exp(-4.5) = 0.9889 of a 2D Gaussian.)
      if ((x.col(i) - m->centres.col(c)).cwiseAbs().maxCoeff() < 3.0 * m->stddev) ++close;
    }
    CHECK(static_cast<double>(close) / static_cast<double>(n) > 0.99);
    for (Eigen::Index c = 0; c < k; ++c) {
      CAPTURE(c, counts[static_cast<std::size_t>(c)]);
      CHECK(within_binomial(counts[static_cast<std::size_t>(c)], n, 1.0 / static_cast<double>(k)));
    }
    // The empirical per-coordinate spread around the centres matches stddev.
    double sum_sq = 0.0;
    for (Eigen::Index i = 0; i < n; ++i)
      sum_sq += (x.col(i) - m->centres.col(nearest(m->centres, x.col(i)))).squaredNorm();
    CHECK(std::sqrt(sum_sq / (2.0 * static_cast<double>(n))) ==
          Approx(m->stddev).epsilon(0.03));
  }
}

TEST_CASE("moons: two components of equal size", "[toy]") {
  // The noise-free moon curves, as documented in toy.hpp.
  const int m = 2000;
  Eigen::MatrixXd curve0(2, m), curve1(2, m);
  for (int j = 0; j < m; ++j) {
    const double t = std::numbers::pi * j / (m - 1);
    curve0.col(j) << 2.0 * std::cos(t) - 1.0, 2.0 * std::sin(t) - 0.5;
    curve1.col(j) << 2.0 * (1.0 - std::cos(t)) - 1.0, 2.0 * (0.5 - std::sin(t)) - 0.5;
  }
  const Eigen::Index n = 2001;
  const Eigen::MatrixXd x = gfd::toy::sample("moons", n, 5);
  Eigen::Index on0 = 0, agree = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    const double d0 = (curve0.colwise() - x.col(i)).colwise().squaredNorm().minCoeff();
    const double d1 = (curve1.colwise() - x.col(i)).colwise().squaredNorm().minCoeff();
    const int moon = d0 < d1 ? 0 : 1;
    on0 += moon == 0;
    agree += moon == i % 2;  // point i is generated on moon i mod 2
  }
  CHECK(static_cast<double>(agree) / static_cast<double>(n) > 0.99);
  CHECK(within_binomial(on0, n, 0.5));
  CHECK(std::abs(static_cast<double>(on0) - static_cast<double>(n - on0)) < 0.1 * n);
}

TEST_CASE("checkerboard and rings have their documented support", "[toy]") {
  const Eigen::MatrixXd board = gfd::toy::sample("checkerboard", 5000, 3);
  for (Eigen::Index i = 0; i < board.cols(); ++i) {
    const int a = static_cast<int>(std::floor((board(0, i) + 4.0) / 2.0));
    const int b = static_cast<int>(std::floor((board(1, i) + 4.0) / 2.0));
    REQUIRE(a >= 0);
    REQUIRE(a < 4);
    REQUIRE(b >= 0);
    REQUIRE(b < 4);
    REQUIRE((a + b) % 2 == 0);
  }
  const Eigen::MatrixXd ring = gfd::toy::sample("rings", 4000, 3);
  for (Eigen::Index i = 0; i < ring.cols(); ++i) {
    const double radius = 0.75 * static_cast<double>(i % 4 + 1);
    REQUIRE(std::abs(ring.col(i).norm() - radius) < 0.5);  // noise sd 0.08: > 6 sd
  }
}

TEST_CASE("gaussian and uniform_box helpers", "[toy]") {
  const Eigen::MatrixXd g = gfd::toy::gaussian(3, 20000, std::uint64_t{11}, 2.0);
  REQUIRE(g.rows() == 3);
  REQUIRE(g.cols() == 20000);
  CHECK(g.allFinite());
  const Eigen::VectorXd mean = g.rowwise().mean();
  CHECK(mean.cwiseAbs().maxCoeff() < 5.0 * 2.0 / std::sqrt(20000.0));
  const Eigen::MatrixXd centred = g.colwise() - mean;
  const Eigen::MatrixXd cov = centred * centred.transpose() / 19999.0;
  CHECK((cov - 4.0 * Eigen::MatrixXd::Identity(3, 3)).cwiseAbs().maxCoeff() < 0.15);
  CHECK(g == gfd::toy::gaussian(3, 20000, std::uint64_t{11}, 2.0));

  const Eigen::MatrixXd u = gfd::toy::uniform_box(4, 10000, std::uint64_t{5}, -2.0, 3.0);
  REQUIRE(u.rows() == 4);
  REQUIRE(u.cols() == 10000);
  CHECK(u.minCoeff() >= -2.0);
  CHECK(u.maxCoeff() < 3.0);
  CHECK(u.mean() == Approx(0.5).margin(0.05));
  CHECK(gfd::toy::uniform_box<float>(2, 10, std::uint64_t{5}).cast<double>().cwiseAbs().maxCoeff() <=
        1.0);

  using gfd_test::contains_substring;
  CHECK_THROWS_WITH(gfd::toy::gaussian(0, 10, std::uint64_t{1}),
                    contains_substring("gfd::toy::gaussian") && contains_substring("dimension"));
  CHECK_THROWS_WITH(gfd::toy::gaussian(2, 10, std::uint64_t{1}, -1.0),
                    contains_substring("scale"));
  CHECK_THROWS_WITH(gfd::toy::uniform_box(2, 10, std::uint64_t{1}, 1.0, 1.0),
                    contains_substring("gfd::toy::uniform_box") && contains_substring("lo < hi"));
  CHECK_THROWS_AS(gfd::toy::moons(-1, std::uint64_t{1}), gfd::invalid_argument);
}

TEST_CASE("sample rejects unknown names and n <= 0", "[toy]") {
  using gfd_test::contains_substring;
  CHECK_THROWS_AS(gfd::toy::sample("9gaussians", 10, 1), gfd::invalid_argument);
  CHECK_THROWS_WITH(gfd::toy::sample("9gaussians", 10, 1),
                    contains_substring("gfd::toy::sample") && contains_substring("'9gaussians'") &&
                        contains_substring("8gaussians") && contains_substring("spirals"));
  CHECK_THROWS_WITH(gfd::toy::sample("moons", 0, 1),
                    contains_substring("gfd::toy::sample") && contains_substring("> 0"));
  CHECK_THROWS_AS(gfd::toy::sample("moons", -5, 1), gfd::invalid_argument);
}

TEST_CASE("sample_labels gives each point of sample() its class", "[toy]") {
  const Eigen::Index n = 4000;
  const std::uint64_t seed = 17;
  // Mixtures: the labelled component is the nearest centre (the components are 10.8 and 15 sd
  // apart, so a point nearer another centre would be a wrong label, not chance), and every
  // component is used about equally.
  for (const char* name : {"8gaussians", "25gaussians"}) {
    INFO(name);
    const Eigen::MatrixXd x = gfd::toy::sample(name, n, seed);
    const std::vector<int> lab = gfd::toy::sample_labels(name, n, seed);
    const auto mix = *gfd::toy::mixture_of(name);
    const int k = gfd::toy::class_count(name);
    REQUIRE(k == mix.centres.cols());
    REQUIRE(lab.size() == static_cast<std::size_t>(n));
    std::vector<Eigen::Index> count(static_cast<std::size_t>(k), 0);
    Eigen::Index wrong = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
      const int c = lab[static_cast<std::size_t>(i)];
      REQUIRE((c >= 0 && c < k));
      ++count[static_cast<std::size_t>(c)];
      wrong += nearest(mix.centres, x.col(i)) != c ? 1 : 0;
    }
    CHECK(wrong == 0);
    for (Eigen::Index c : count) CHECK(within_binomial(c, n, 1.0 / k));
  }
  // Checkerboard: each point lies in its labelled dark cell (cell = a + 4 (b / 2)).
  {
    const Eigen::MatrixXd x = gfd::toy::sample("checkerboard", n, seed);
    const std::vector<int> lab = gfd::toy::sample_labels("checkerboard", n, seed);
    Eigen::Index wrong = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
      const int a = static_cast<int>(std::floor((x(0, i) + 4.0) / 2.0));
      const int b = static_cast<int>(std::floor((x(1, i) + 4.0) / 2.0));
      wrong += (a + 4 * (b / 2)) != lab[static_cast<std::size_t>(i)] ? 1 : 0;
    }
    CHECK(wrong == 0);
  }
  // Rings: the labelled ring is the nearest radius (0.75 apart, noise sd 0.08).
  {
    const Eigen::MatrixXd x = gfd::toy::sample("rings", n, seed);
    const std::vector<int> lab = gfd::toy::sample_labels("rings", n, seed);
    Eigen::Index wrong = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
      const double ring = std::round(x.col(i).norm() / 0.75) - 1;
      wrong += static_cast<int>(ring) != lab[static_cast<std::size_t>(i)] ? 1 : 0;
    }
    CHECK(wrong == 0);
  }
  // Moons: the upper moon (label 0) lies above the lower one on average.
  {
    const Eigen::MatrixXd x = gfd::toy::sample("moons", n, seed);
    const std::vector<int> lab = gfd::toy::sample_labels("moons", n, seed);
    double up = 0, down = 0;
    for (Eigen::Index i = 0; i < n; ++i) (lab[static_cast<std::size_t>(i)] == 0 ? up : down) += x(1, i);
    CHECK(up / (n / 2) > down / (n / 2) + 1.0);
  }
  // The same seed gives the same labels; sampling the labels leaves the points as they were.
  CHECK(gfd::toy::sample_labels("8gaussians", 100, 3) == gfd::toy::sample_labels("8gaussians", 100, 3));
  CHECK(gfd::toy::sample_labels("8gaussians", 100, 3) != gfd::toy::sample_labels("8gaussians", 100, 4));
  CHECK(gfd::toy::class_count("swissroll") == 0);
  CHECK_THROWS_WITH(gfd::toy::sample_labels("swissroll", 10, 0),
                    gfd_test::contains_substring("gfd::toy::sample_labels") && gfd_test::contains_substring("no classes"));
  CHECK_THROWS_WITH(gfd::toy::sample_labels("nope", 10, 0), gfd_test::contains_substring("unknown toy 'nope'"));
  CHECK_THROWS_WITH(gfd::toy::sample_labels("moons", 0, 0), gfd_test::contains_substring("must be > 0, got 0"));
}
