// SPDX-License-Identifier: MIT
// Tests of include/gfd/random.hpp: uniform_index is unbiased and follows its construction,
// uniform01 and normal_source are deterministic functions of the raw engine output.
#include <gfd/random.hpp>

#include "catch.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

TEST_CASE("uniform_index returns r mod n of the raw draw, below n, the same stream per seed",
          "[random]") {
  for (const std::uint64_t n : {1ULL, 2ULL, 7ULL, 10ULL, 1000ULL, 0xFFFFFFFFULL}) {
    INFO("n = " << n);
    gfd::rng_engine a(42), b(42), c(42);
    const std::uint64_t threshold = (std::uint64_t{0} - n) % n;  // 2^64 mod n
    for (int i = 0; i < 1000; ++i) {
      const std::uint64_t r = b();
      const std::uint64_t v = gfd::uniform_index(a, n);
      CHECK(v < n);
      CHECK(v == gfd::uniform_index(c, n));
      // By construction: the first accepted raw draw, reduced mod n. For these n a draw is
      // rejected with probability < n / 2^64, i.e. never here.
      REQUIRE(r >= threshold);
      CHECK(v == r % n);
    }
  }
  gfd::rng_engine e(1);
  for (int i = 0; i < 100; ++i) CHECK(gfd::uniform_index(e, 1) == 0);
}

TEST_CASE("uniform_index is unbiased: chi-square over n = 7 and the bias test at n = 3 2^62",
          "[random]") {
  gfd::rng_engine rng(2024);
  constexpr std::uint64_t n = 7;
  constexpr int draws = 700000;
  std::vector<double> count(n, 0.0);
  for (int i = 0; i < draws; ++i) count[gfd::uniform_index(rng, n)] += 1.0;
  double chi2 = 0.0;
  const double expected = static_cast<double>(draws) / n;
  for (const double c : count) chi2 += (c - expected) * (c - expected) / expected;
  // 6 degrees of freedom: P(chi2 > 22.46) = 0.001 (and the seed is fixed).
  CHECK(chi2 < 22.46);

  // n = 3 2^62: a plain r mod n would put [0, 2^62) twice as likely as each other third
  // (probability 1/2 instead of 1/3); the rejection removes exactly that excess.
  const std::uint64_t big = 3ULL << 62;
  constexpr int m = 30000;
  int low = 0;
  for (int i = 0; i < m; ++i) {
    const std::uint64_t v = gfd::uniform_index(rng, big);
    CHECK(v < big);
    low += v < (1ULL << 62);
  }
  const double p = 1.0 / 3.0, sd = std::sqrt(m * p * (1 - p));
  CHECK(std::abs(low - m * p) < 5 * sd);
}

TEST_CASE("uniform01 is the top 53 bits of one draw; normal_source is Box-Muller on two",
          "[random]") {
  gfd::rng_engine a(7), b(7);
  for (int i = 0; i < 100; ++i) {
    const double u = gfd::uniform01(a);
    CHECK(u == static_cast<double>(b() >> 11) * 0x1.0p-53);
    CHECK(u >= 0.0);
    CHECK(u < 1.0);
  }
  gfd::rng_engine e(9), f(9);
  gfd::normal_source normal(e);
  for (int i = 0; i < 50; ++i) {
    const double u1 = 1.0 - gfd::uniform01(f), u2 = gfd::uniform01(f);
    const double r = std::sqrt(-2.0 * std::log(u1)), t = 2.0 * 3.141592653589793 * u2;
    CHECK(normal() == Approx(r * std::cos(t)).epsilon(1e-15));
    CHECK(normal() == Approx(r * std::sin(t)).epsilon(1e-15));
  }
  // Moments of 200000 deviates: mean 0 (sd 1/sqrt(n)), variance 1 (sd sqrt(2/n)).
  gfd::rng_engine g(11);
  gfd::normal_source z(g);
  constexpr int n = 200000;
  double s1 = 0, s2 = 0;
  for (int i = 0; i < n; ++i) {
    const double v = z();
    s1 += v;
    s2 += v * v;
  }
  CHECK(std::abs(s1 / n) < 5.0 / std::sqrt(n));
  CHECK(std::abs(s2 / n - 1.0) < 5.0 * std::sqrt(2.0 / n));
}
