// SPDX-License-Identifier: MIT
// Tests of include/gfd/median.hpp: gfd::median follows its definition on odd and even counts,
// and both median heuristics (bandwidth.hpp, metrics.hpp) are the one median of the pair distances.
#include <gfd/bandwidth.hpp>
#include <gfd/median.hpp>
#include <gfd/metrics.hpp>

#include "catch.hpp"
#include "util.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace {
/// The definition: sort, take the middle value (odd n) or the mean of the two middle ones (even n).
double median_by_sorting(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
}  // namespace

TEST_CASE("gfd::median is the middle value for odd counts, the mean of the two middle for even",
          "[median]") {
  CHECK(gfd::median({5.0}) == 5.0);
  CHECK(gfd::median({3.0, 1.0, 2.0}) == 2.0);
  CHECK(gfd::median({4.0, 1.0, 3.0, 2.0}) == 2.5);
  CHECK(gfd::median({1.0, 1.0, 7.0, 9.0}) == 4.0);
  CHECK(gfd::median({-1.0, 10.0}) == 4.5);
  gfd::rng_engine rng(3);
  for (int n = 1; n <= 40; ++n) {
    std::vector<double> v(static_cast<std::size_t>(n));
    // Values with ties (multiples of 1/8 in [0, 4)) and without.
    for (auto& x : v) x = static_cast<double>(gfd::uniform_index(rng, 32)) / 8.0;
    CHECK(gfd::median(v) == median_by_sorting(v));
    for (auto& x : v) x = gfd::uniform01(rng);
    CHECK(gfd::median(v) == median_by_sorting(v));
  }
  CHECK_THROWS_AS(gfd::median({}), gfd::invalid_argument);
}

TEST_CASE("median_distance and pooled_median_distance are the median of the pair distances",
          "[median][bandwidth][metrics]") {
  // 5 points: 10 pairs (even count), and 6 points: 15 pairs (odd count).
  for (const Eigen::Index n : {5, 6}) {
    const Eigen::MatrixXd x = gfd_test::random_cloud(2, n, 40 + static_cast<std::uint64_t>(n));
    std::vector<double> d;
    for (Eigen::Index i = 0; i < n; ++i)
      for (Eigen::Index j = i + 1; j < n; ++j) d.push_back((x.col(i) - x.col(j)).norm());
    const double expected = median_by_sorting(d);
    CHECK(gfd::median_distance(gfd::cloud_view<double>(x)) == Approx(expected).epsilon(1e-14));
    // The pooled version on a split of the same points gives the same median.
    CHECK(gfd::pooled_median_distance(x.leftCols(2), x.rightCols(n - 2)) ==
          Approx(expected).epsilon(1e-14));
  }
  // Sampled pairs: deterministic in the seed, and the two heuristics draw the same pairs.
  const Eigen::MatrixXd y = gfd_test::random_cloud(3, 300, 5);
  const gfd::cloud_view<double> c(y);
  CHECK(gfd::median_distance(c, 1000, 9) == gfd::median_distance(c, 1000, 9));
  CHECK(gfd::median_distance(c, 1000, 9) ==
        Approx(gfd::pooled_median_distance(y.leftCols(100), y.rightCols(200), 1000, 9)).epsilon(1e-14));
  CHECK_THROWS_WITH(gfd::median_distance(c, 0), gfd_test::contains_substring("max_pairs"));
}
