// SPDX-License-Identifier: MIT
/// @file median.hpp
/// @brief The median, and the median pairwise distance of a point set (exact or over seeded
///        random pairs): the one median heuristic behind gfd::median_distance and
///        gfd::pooled_median_distance.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "error.hpp"
#include "random.hpp"

namespace gfd {

/// The sample median of `values`: with x_(1) <= ... <= x_(n) the sorted values,
///
///   median = x_((n+1)/2)                      for odd n,
///   median = (x_(n/2) + x_(n/2+1)) / 2        for even n (the mean of the two middle values),
///
/// the usual definition (e.g. numpy.median, R's median). O(n) expected (std::nth_element plus a
/// scan of the lower half), the vector is taken by value and reordered. Values must not be NaN.
/// @throws gfd::invalid_argument if `values` is empty.
[[nodiscard]] inline double median(std::vector<double> values) {
  if (values.empty()) detail::fail("gfd::median", "needs at least one value, got none");
  const std::size_t mid = values.size() / 2;
  const auto mid_it = values.begin() + static_cast<std::ptrdiff_t>(mid);
  std::nth_element(values.begin(), mid_it, values.end());
  const double upper = *mid_it;
  if (values.size() % 2 == 1) return upper;
  // After nth_element every value left of mid is <= upper: the largest of them is x_(n/2).
  const double lower = *std::max_element(values.begin(), mid_it);
  return 0.5 * (lower + upper);
}

namespace detail {

/// The median heuristic's statistic: gfd::median of the distances distance(p, q) between two
/// distinct points p, q of a set of n >= 2 points indexed 0..n-1.
///
/// Exact over all n (n - 1) / 2 unordered pairs when there are at most max_pairs of them;
/// otherwise over max_pairs ordered pairs drawn with replacement from rng_engine(seed): p =
/// uniform_index(n), then q = uniform_index(n - 1), incremented when q >= p, so (p, q) is uniform
/// over the pairs with p != q. The pairs depend only on n, max_pairs and seed, with every
/// standard library. O(min(max_pairs, n^2)) distance calls and memory.
/// Preconditions (checked by the public callers): n >= 2, max_pairs >= 1.
template <class Distance>
[[nodiscard]] double median_pair_distance(std::uint64_t n, const Distance& distance,
                                          std::uint64_t max_pairs, std::uint64_t seed) {
  std::vector<double> ds;
  const std::uint64_t all_pairs = n * (n - 1) / 2;
  if (all_pairs <= max_pairs) {
    ds.reserve(static_cast<std::size_t>(all_pairs));
    for (std::uint64_t p = 0; p < n; ++p)
      for (std::uint64_t q = p + 1; q < n; ++q) ds.push_back(distance(p, q));
  } else {
    rng_engine rng(seed);
    ds.reserve(static_cast<std::size_t>(max_pairs));
    for (std::uint64_t s = 0; s < max_pairs; ++s) {
      const std::uint64_t p = uniform_index(rng, n);
      std::uint64_t q = uniform_index(rng, n - 1);
      if (q >= p) ++q;  // uniform over q != p
      ds.push_back(distance(p, q));
    }
  }
  return median(std::move(ds));
}

}  // namespace detail
}  // namespace gfd
