// SPDX-License-Identifier: MIT
/// @file metrics.hpp
/// @brief Two-sample distances between point clouds: MMD, energy distance, sliced Wasserstein-2,
///        mode coverage.
///
/// Every function takes clouds as d x N column-major Eigen matrices (one point per column) of any
/// scalar type, computes in double and returns double. Memory is O((N + M) d): pair sums stream
/// over blocks of points and never build an N x M matrix. With OpenMP the pair loops run in
/// parallel over rows and the sliced distances over directions; partial results are combined in
/// a fixed order, so every result is bitwise the same with or without OpenMP and for any thread
/// count.
///
/// Thread-safety: all functions are pure (no shared state) and may be called concurrently.
/// Errors: bad input throws gfd::invalid_argument whose message starts with the function name
/// ("gfd::mmd2_unbiased: ...") and names the offending cloud, column or value.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numbers>
#include <optional>
#include <random>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "error.hpp"
#include "median.hpp"
#include "random.hpp"

namespace gfd {

/// Result of mode_coverage().
struct coverage {
  int modes_covered = 0;  ///< centres with at least `min_count` near particles assigned to them
  int modes = 0;          ///< number of centres K
  double fraction_near = 0.0;  ///< fraction of particles within 3 stddev of their nearest centre
};

/// Result of two_sample_report(): the three distances of this header on one pair of clouds.
struct two_sample_distances {
  double bandwidth = 0.0;        ///< Gaussian bandwidth h used for the MMD
  double mmd2_unbiased = 0.0;    ///< mmd2_unbiased(x, y, bandwidth)
  double energy_distance = 0.0;  ///< energy_distance(x, y)
  double sliced_w2 = 0.0;        ///< sliced_wasserstein2(x, y, n_projections, seed) (not squared)
};

namespace detail {

/// Checks a d x N cloud and evaluates it to an N x d double matrix, one point per row. The
/// transposed layout keeps each coordinate contiguous, so the pair loops stream over points.
template <class Derived>
[[nodiscard]] Eigen::MatrixXd metric_points(std::string_view where, std::string_view name,
                                            const Eigen::MatrixBase<Derived>& c,
                                            Eigen::Index min_points) {
  if (c.cols() == 0) fail(where, "cloud ", name, " is empty (", c.rows(), " x 0)");
  if (c.rows() < 1)
    fail(where, "cloud ", name, " has dimension 0 (a d x N cloud needs d >= 1 rows)");
  if (c.cols() < min_points)
    fail(where, "cloud ", name, " has ", c.cols(), " point(s), needs at least ", min_points);
  Eigen::MatrixXd t = c.transpose().template cast<double>();
  if (!t.allFinite()) {
    for (Eigen::Index j = 0; j < t.rows(); ++j)
      for (Eigen::Index k = 0; k < t.cols(); ++k)
        if (!std::isfinite(t(j, k)))
          fail(where, "cloud ", name, " has a non-finite coordinate in column ", j, " (row ", k,
               ", value ", t(j, k), ")");
  }
  return t;
}

/// Divides both clouds by one power of two 2^e, the binary exponent of their largest |coordinate|,
/// when that coordinate lies outside [2^-400, 2^400], and returns 2^e (1 otherwise: most data is
/// left untouched, bit for bit). The distances of this header are scale-equivariant (energy
/// distance and SW2 scale with the coordinates, the MMD is invariant when h scales with them), so
/// they are computed on the rescaled clouds and scaled back: squared distances then neither
/// overflow (coordinates from about 1e154 on) nor underflow (below about 1e-154). Dividing by a
/// power of two is exact, except for coordinates that become subnormal, i.e. below 2^-1022 of the
/// largest one, which no result of this header can resolve anyway. O((N + M) d).
[[nodiscard]] inline double rescale_to_unit(Eigen::MatrixXd& at, Eigen::MatrixXd& bt) {
  const double m = std::max(at.cwiseAbs().maxCoeff(), bt.cwiseAbs().maxCoeff());
  int e = 0;
  (void)std::frexp(m, &e);  // m = f 2^e, f in [1/2, 1)
  if (m == 0.0 || (e > -400 && e < 400)) return 1.0;
  const double s = std::ldexp(1.0, e);
  at /= s;
  bt /= s;
  return s;
}

/// s * s * v, refusing a result beyond the largest double (a squared distance of clouds whose
/// coordinates are near 1e154 or more): gfd::numerical_error naming `where`.
[[nodiscard]] inline double scaled_square(std::string_view where, double s, double v) {
  const double r = s * (s * v);
  if (!std::isfinite(r))
    throw numerical_error(std::string(where) + ": the squared distance, " + short_number(v) +
                          " x " + short_number(s) + "^2, is beyond the largest double; use the "
                          "distance itself (sliced_wasserstein2) or rescale the clouds");
  return r;
}

/// sum_{j0 <= j < M} g(|a_i - b_j|^2) for one row i of `at` (N x d) against rows of `bt` (M x d).
/// `g` maps an Eigen array of squared distances to the sum of its values; it sees blocks of at
/// most 256 distances, so Eigen's vectorised exp/sqrt/sum apply and memory stays O(1).
template <class G>
[[nodiscard]] double metric_row_sum(const Eigen::MatrixXd& at, Eigen::Index i,
                                    const Eigen::MatrixXd& bt, Eigen::Index j0, const G& g) {
  constexpr Eigen::Index block = 256;
  double buffer[block];
  const Eigen::Index m = bt.rows();
  const Eigen::Index d = bt.cols();
  double acc = 0.0;
  for (Eigen::Index jb = j0; jb < m; jb += block) {
    const Eigen::Index len = std::min(block, m - jb);
    Eigen::Map<Eigen::ArrayXd> d2(buffer, len);
    d2 = (bt.col(0).segment(jb, len).array() - at(i, 0)).square();
    for (Eigen::Index k = 1; k < d; ++k)
      d2 += (bt.col(k).segment(jb, len).array() - at(i, k)).square();
    acc += g(d2);
  }
  return acc;
}

/// Sums the per-row values row(i), i < n, computed in parallel when OpenMP is on. Each row's
/// value lands in its own slot and the slots are added serially, so the result is bitwise the
/// same for any number of threads (an OpenMP reduction would not be). O(n) memory.
template <class Row>
[[nodiscard]] double metric_sum_rows(Eigen::Index n, const Row& row) {
  std::vector<double> partial(static_cast<std::size_t>(n));
  // Row lengths may differ (triangular sums): dynamic scheduling balances them.
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 16)
#endif
  for (Eigen::Index i = 0; i < n; ++i) partial[static_cast<std::size_t>(i)] = row(i);
  double total = 0.0;
  for (const double v : partial) total += v;
  return total;
}

/// sum_{i < N, j < M} g(|a_i - b_j|^2). O(N M d) time, O(N) extra memory.
template <class G>
[[nodiscard]] double metric_cross_sum(const Eigen::MatrixXd& at, const Eigen::MatrixXd& bt,
                                      const G& g) {
  return metric_sum_rows(at.rows(),
                         [&](Eigen::Index i) { return metric_row_sum(at, i, bt, 0, g); });
}

/// sum_{i < j < N} g(|a_i - a_j|^2): each unordered pair once, the diagonal excluded.
template <class G>
[[nodiscard]] double metric_upper_sum(const Eigen::MatrixXd& at, const G& g) {
  return metric_sum_rows(at.rows(),
                         [&](Eigen::Index i) { return metric_row_sum(at, i, at, i + 1, g); });
}

/// Gaussian kernel summed over a block: sum exp(-d2 / (2 h^2)). When 1 / (2 h^2) overflows
/// (h below about 1e-154) it uses exp(-(|u| / h)^2 / 2) instead, so coincident points still count
/// exp(0) = 1 (not 0 x inf = NaN) and distinct ones exp(-inf) = 0.
struct gaussian_block_sum {
  double h;
  template <class A>
  double operator()(const A& d2) const {
    const double minus_inv_two_h2 = -1.0 / (2.0 * h * h);
    if (std::isfinite(minus_inv_two_h2)) return (d2 * minus_inv_two_h2).exp().sum();
    return ((d2.sqrt() / h).square() * -0.5).exp().sum();
  }
};

/// Euclidean distance summed over a block: sum sqrt(d2).
struct distance_block_sum {
  template <class A>
  double operator()(const A& d2) const {
    return d2.sqrt().sum();
  }
};

/// The three Gaussian kernel sums of the MMD: off-diagonal pairs within x and within y (each
/// unordered pair once) and all cross pairs.
struct mmd_sums {
  double xx_upper, yy_upper, xy;
};

[[nodiscard]] inline mmd_sums mmd_kernel_sums(const Eigen::MatrixXd& xt, const Eigen::MatrixXd& yt,
                                              double h) {
  const gaussian_block_sum g{h};
  return {metric_upper_sum(xt, g), metric_upper_sum(yt, g), metric_cross_sum(xt, yt, g)};
}

[[nodiscard]] inline double mmd2_unbiased_impl(const Eigen::MatrixXd& xt, const Eigen::MatrixXd& yt,
                                               double h) {
  const auto s = mmd_kernel_sums(xt, yt, h);
  const double n = static_cast<double>(xt.rows());
  const double m = static_cast<double>(yt.rows());
  return 2.0 * s.xx_upper / (n * (n - 1.0)) + 2.0 * s.yy_upper / (m * (m - 1.0)) -
         2.0 * s.xy / (n * m);
}

[[nodiscard]] inline double energy_distance_impl(const Eigen::MatrixXd& xt,
                                                 const Eigen::MatrixXd& yt) {
  const distance_block_sum g{};
  const double n = static_cast<double>(xt.rows());
  const double m = static_cast<double>(yt.rows());
  const double xy = metric_cross_sum(xt, yt, g);
  const double xx = metric_upper_sum(xt, g);
  const double yy = metric_upper_sum(yt, g);
  return 2.0 * xy / (n * m) - 2.0 * xx / (n * (n - 1.0)) - 2.0 * yy / (m * (m - 1.0));
}

/// Exact W2^2 between the empirical measures (1/n) sum delta_{a_i} and (1/m) sum delta_{b_j},
/// a and b sorted ascending: the integral over t in (0, 1) of (F_a^{-1}(t) - F_b^{-1}(t))^2.
/// Both quantile functions are step functions with jumps at i/n and j/m; the merge walks the
/// union of the jumps in integer units of 1/(n m), so no breakpoint comparison is rounded.
/// O(n + m).
[[nodiscard]] inline double w2_squared_sorted(const double* a, Eigen::Index n, const double* b,
                                              Eigen::Index m) {
  double acc = 0.0;
  if (n == m) {
    for (Eigen::Index i = 0; i < n; ++i) acc += (a[i] - b[i]) * (a[i] - b[i]);
    return acc / static_cast<double>(n);
  }
  const auto un = static_cast<std::uint64_t>(n);
  const auto um = static_cast<std::uint64_t>(m);
  std::uint64_t i = 0, j = 0, t = 0;
  while (i < un && j < um) {
    const std::uint64_t end_a = (i + 1) * um;  // a[i] is the quantile on (i m, (i+1) m]
    const std::uint64_t end_b = (j + 1) * un;  // b[j] is the quantile on (j n, (j+1) n]
    const std::uint64_t end = std::min(end_a, end_b);
    const double diff = a[i] - b[j];
    acc += static_cast<double>(end - t) * diff * diff;
    t = end;
    if (end_a == end) ++i;
    if (end_b == end) ++j;
  }
  return acc / (static_cast<double>(n) * static_cast<double>(m));
}

/// Mean over the columns theta of `dirs` (unit vectors) of W2^2(theta.x, theta.y).
[[nodiscard]] inline double sliced_w2_squared_impl(const Eigen::MatrixXd& xt,
                                                   const Eigen::MatrixXd& yt,
                                                   const Eigen::MatrixXd& dirs) {
  const Eigen::Index n = xt.rows();
  const Eigen::Index m = yt.rows();
  const Eigen::Index count = dirs.cols();
  // Per-direction results summed serially afterwards: the value does not depend on threads.
  std::vector<double> per(static_cast<std::size_t>(count));
#ifdef _OPENMP
#pragma omp parallel
#endif
  {
    Eigen::VectorXd px(n), py(m);
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (Eigen::Index p = 0; p < count; ++p) {
      px.noalias() = xt * dirs.col(p);
      py.noalias() = yt * dirs.col(p);
      std::sort(px.data(), px.data() + n);
      std::sort(py.data(), py.data() + m);
      per[static_cast<std::size_t>(p)] = w2_squared_sorted(px.data(), n, py.data(), m);
    }
  }
  double sum = 0.0;
  for (const double v : per) sum += v;
  return sum / static_cast<double>(count);
}

/// The median pairwise distance over the pooled points (rows of xt, then rows of yt): the one
/// median heuristic (median.hpp) on the pooled set. @throws gfd::invalid_argument naming `where`
/// if the median is 0.
[[nodiscard]] inline double pooled_median_impl(std::string_view where, const Eigen::MatrixXd& xt,
                                               const Eigen::MatrixXd& yt, std::int64_t max_pairs,
                                               std::uint64_t seed) {
  const Eigen::Index n = xt.rows();
  const Eigen::Index total = n + yt.rows();
  const Eigen::Index d = xt.cols();
  auto point = [&](Eigen::Index p, Eigen::Index k) { return p < n ? xt(p, k) : yt(p - n, k); };
  auto dist = [&](std::uint64_t up, std::uint64_t uq) {
    const auto p = static_cast<Eigen::Index>(up), q = static_cast<Eigen::Index>(uq);
    double s = 0.0;
    for (Eigen::Index k = 0; k < d; ++k) {
      const double t = point(p, k) - point(q, k);
      s += t * t;
    }
    return std::sqrt(s);
  };
  const auto pairs = static_cast<std::uint64_t>(max_pairs);
  const double med = median_pair_distance(static_cast<std::uint64_t>(total), dist, pairs, seed);
  if (!(med > 0.0)) {
    const auto all = static_cast<std::uint64_t>(total) * static_cast<std::uint64_t>(total - 1) / 2;
    fail(where, "the median pairwise distance is 0 (", std::min(all, pairs),
         " pairs examined; most points coincide): choose a bandwidth explicitly");
  }
  return med;
}

}  // namespace detail

/// Unit directions for sliced distances: `count` columns of length 1 in R^d, each a standard
/// normal vector divided by its norm, i.e. uniform on the sphere S^{d-1}. The normals come from
/// Box-Muller on the raw output of std::mt19937_64(seed), not from std::normal_distribution, so
/// the directions do not depend on the standard library (only on libm's last-bit rounding).
/// This is exactly the direction set sliced_wasserstein2(x, y, count, seed) uses.
/// O(d count) time and memory.
/// @throws gfd::invalid_argument if d < 1 or count < 1.
[[nodiscard]] inline Eigen::MatrixXd random_directions(Eigen::Index d, Eigen::Index count,
                                                       std::uint64_t seed = 0) {
  constexpr std::string_view where = "gfd::random_directions";
  if (d < 1) detail::fail(where, "dimension must be >= 1, got ", d);
  if (count < 1) detail::fail(where, "count must be >= 1, got ", count);
  rng_engine rng(seed);
  normal_source normal(rng);
  Eigen::MatrixXd dirs(d, count);
  for (Eigen::Index p = 0; p < count; ++p) {
    double norm = 0.0;
    do {  // a zero vector has probability 0 for d >= 1 but would divide by zero
      for (Eigen::Index k = 0; k < d; ++k) dirs(k, p) = normal();
      norm = dirs.col(p).norm();
    } while (!(norm > 0.0));
    dirs.col(p) /= norm;
  }
  return dirs;
}

/// Unbiased squared maximum mean discrepancy with the Gaussian kernel
/// k(u, v) = exp(-|u - v|^2 / (2 h^2)) (Gretton et al. 2012, JMLR 13, Lemma 6):
///
///   MMD_u^2 = 1/(N(N-1)) sum_{i != i'} k(x_i, x_i') + 1/(M(M-1)) sum_{j != j'} k(y_j, y_j')
///             - 2/(N M) sum_{i, j} k(x_i, y_j).
///
/// A U-statistic: its expectation is the population MMD^2, so it can be negative when the two
/// distributions are equal. Symmetric in x and y up to round-off.
/// O((N + M)^2 d) time, O((N + M) d) memory.
/// @param x d x N cloud, @param y d x M cloud (any scalar type; computed in double).
/// @param h bandwidth (standard deviation of the kernel).
/// @throws gfd::invalid_argument if a cloud has fewer than 2 points or no rows, the dimensions
///         differ, a coordinate is not finite (names the cloud and column), or h is not > 0.
template <class DerivedX, class DerivedY>
[[nodiscard]] double mmd2_unbiased(const Eigen::MatrixBase<DerivedX>& x,
                                   const Eigen::MatrixBase<DerivedY>& y, double h) {
  constexpr std::string_view where = "gfd::mmd2_unbiased";
  detail::require_positive(where, "bandwidth h", h);
  Eigen::MatrixXd xt = detail::metric_points(where, "x", x, 2);
  Eigen::MatrixXd yt = detail::metric_points(where, "y", y, 2);
  detail::require_same_dim(where, x, "x", y, "y");
  const double s = detail::rescale_to_unit(xt, yt);
  return detail::mmd2_unbiased_impl(xt, yt, h / s);
}

/// Biased (V-statistic) squared MMD with the Gaussian kernel exp(-|u - v|^2 / (2 h^2)):
/// the squared RKHS distance between the kernel mean embeddings of the two empirical measures,
///
///   MMD_b^2 = 1/N^2 sum_{i, i'} k(x_i, x_i') + 1/M^2 sum_{j, j'} k(y_j, y_j')
///             - 2/(N M) sum_{i, j} k(x_i, y_j)   (diagonal included, k(u, u) = 1),
///
/// which is >= 0 (up to round-off) and 0 iff the two empirical measures coincide.
/// O((N + M)^2 d) time, O((N + M) d) memory.
/// @throws gfd::invalid_argument on an empty cloud, differing dimensions, a non-finite
///         coordinate (names the cloud and column), or h not > 0.
template <class DerivedX, class DerivedY>
[[nodiscard]] double mmd2_biased(const Eigen::MatrixBase<DerivedX>& x,
                                 const Eigen::MatrixBase<DerivedY>& y, double h) {
  constexpr std::string_view where = "gfd::mmd2_biased";
  detail::require_positive(where, "bandwidth h", h);
  Eigen::MatrixXd xt = detail::metric_points(where, "x", x, 1);
  Eigen::MatrixXd yt = detail::metric_points(where, "y", y, 1);
  detail::require_same_dim(where, x, "x", y, "y");
  const double scale = detail::rescale_to_unit(xt, yt);
  const auto s = detail::mmd_kernel_sums(xt, yt, h / scale);
  const double n = static_cast<double>(xt.rows());
  const double m = static_cast<double>(yt.rows());
  return (n + 2.0 * s.xx_upper) / (n * n) + (m + 2.0 * s.yy_upper) / (m * m) - 2.0 * s.xy / (n * m);
}

/// Median heuristic bandwidth: the median Euclidean distance between two distinct points of the
/// pooled sample x ∪ y (gfd::median: the average of the two middle values for an even count; the
/// same heuristic as gfd::median_distance, median.hpp). All (N+M)(N+M-1)/2 pairs are used when
/// there are at most `max_pairs`; otherwise `max_pairs` pairs drawn uniformly (with replacement)
/// with gfd::uniform_index from rng_engine(seed), so the choice of pairs is the same with every
/// standard library.
/// Returns the distance itself, meant as h in exp(-|u|^2 / (2 h^2)).
/// O(min(max_pairs, (N+M)^2) d) time and O(min(max_pairs, (N+M)^2)) memory.
/// @throws gfd::invalid_argument on an empty cloud, differing dimensions, a non-finite
///         coordinate, max_pairs < 1, or a median of 0 (most points coincide).
template <class DerivedX, class DerivedY>
[[nodiscard]] double pooled_median_distance(const Eigen::MatrixBase<DerivedX>& x,
                                      const Eigen::MatrixBase<DerivedY>& y,
                                      std::int64_t max_pairs = 4096, std::uint64_t seed = 0) {
  constexpr std::string_view where = "gfd::pooled_median_distance";
  if (max_pairs < 1) detail::fail(where, "max_pairs must be >= 1, got ", max_pairs);
  Eigen::MatrixXd xt = detail::metric_points(where, "x", x, 1);
  Eigen::MatrixXd yt = detail::metric_points(where, "y", y, 1);
  detail::require_same_dim(where, x, "x", y, "y");
  const double s = detail::rescale_to_unit(xt, yt);
  return s * detail::pooled_median_impl(where, xt, yt, max_pairs, seed);
}

/// Energy distance (Székely & Rizzo 2013, J. Stat. Plan. Inference 143) estimated with
/// U-statistics within the samples:
///
///   E = 2/(N M) sum_{i, j} |x_i - y_j| - 1/(N(N-1)) sum_{i != i'} |x_i - x_i'|
///       - 1/(M(M-1)) sum_{j != j'} |y_j - y_j'|.
///
/// Its expectation is the population energy distance 2E|X-Y| - E|X-X'| - E|Y-Y'|, which is >= 0
/// and 0 iff the distributions agree; a single estimate can be slightly negative. Invariant under
/// translations and rotations of both clouds, symmetric in x and y up to round-off.
/// O((N + M)^2 d) time, O((N + M) d) memory.
/// @throws gfd::invalid_argument if a cloud has fewer than 2 points or no rows, the dimensions
///         differ, or a coordinate is not finite (names the cloud and column).
template <class DerivedX, class DerivedY>
[[nodiscard]] double energy_distance(const Eigen::MatrixBase<DerivedX>& x,
                                     const Eigen::MatrixBase<DerivedY>& y) {
  constexpr std::string_view where = "gfd::energy_distance";
  Eigen::MatrixXd xt = detail::metric_points(where, "x", x, 2);
  Eigen::MatrixXd yt = detail::metric_points(where, "y", y, 2);
  detail::require_same_dim(where, x, "x", y, "y");
  const double s = detail::rescale_to_unit(xt, yt);
  return s * detail::energy_distance_impl(xt, yt);
}

/// Squared sliced Wasserstein-2 distance along given directions (Bonneel et al. 2015,
/// J. Math. Imaging Vis. 51, with a Monte Carlo mean over directions):
///
///   SW2^2 = 1/P sum_p W2^2(theta_p . x, theta_p . y),
///
/// where theta_p is column p of `directions` normalised to unit length and W2^2 between the two
/// projected empirical measures (weights 1/N and 1/M) is computed exactly by merging their
/// quantile functions: integral_0^1 (F_x^{-1}(t) - F_y^{-1}(t))^2 dt (for N = M, the mean
/// squared difference of the sorted projections). Invariant under permutations of either cloud.
/// O(P ((N + M) d + N log N + M log M)) time, O(N + M) memory per thread.
/// @param x d x N cloud
/// @param y d x M cloud
/// @param directions d x P matrix of nonzero finite directions.
/// @throws gfd::invalid_argument on an empty cloud, differing dimensions, a non-finite
///         coordinate, or a zero or non-finite direction (names its column).
template <class DerivedX, class DerivedY, class DerivedD>
[[nodiscard]] double sliced_wasserstein2_squared(const Eigen::MatrixBase<DerivedX>& x,
                                                 const Eigen::MatrixBase<DerivedY>& y,
                                                 const Eigen::MatrixBase<DerivedD>& directions) {
  constexpr std::string_view where = "gfd::sliced_wasserstein2_squared";
  Eigen::MatrixXd xt = detail::metric_points(where, "x", x, 1);
  Eigen::MatrixXd yt = detail::metric_points(where, "y", y, 1);
  detail::require_same_dim(where, x, "x", y, "y");
  detail::require_same_dim(where, x, "x", directions, "directions");
  if (directions.cols() < 1) detail::fail(where, "directions has no columns");
  Eigen::MatrixXd dirs = directions.template cast<double>();
  for (Eigen::Index p = 0; p < dirs.cols(); ++p) {
    const double norm = dirs.col(p).norm();
    if (!(std::isfinite(norm) && norm > 0.0))
      detail::fail(where, "direction in column ", p, " must be finite and nonzero, norm ", norm);
    dirs.col(p) /= norm;
  }
  const double s = detail::rescale_to_unit(xt, yt);
  return detail::scaled_square(where, s, detail::sliced_w2_squared_impl(xt, yt, dirs));
}

/// Squared sliced Wasserstein-2 distance over `n_projections` random directions
/// random_directions(d, n_projections, seed): see the overload with explicit directions for the
/// formula. Deterministic for a given seed (and independent of the number of threads).
/// As n_projections grows it tends to the integral over the unit sphere; for two clouds that are
/// translates by mu it equals the mean of (theta_p . mu)^2 -> |mu|^2 / d.
/// O(n_projections ((N + M) d + N log N + M log M)) time, O(N + M + d n_projections) memory.
/// @throws gfd::invalid_argument on an empty cloud, differing dimensions, a non-finite
///         coordinate (names the cloud and column), or n_projections < 1.
template <class DerivedX, class DerivedY>
[[nodiscard]] double sliced_wasserstein2_squared(const Eigen::MatrixBase<DerivedX>& x,
                                                 const Eigen::MatrixBase<DerivedY>& y,
                                                 int n_projections = 128, std::uint64_t seed = 0) {
  constexpr std::string_view where = "gfd::sliced_wasserstein2_squared";
  if (n_projections < 1) detail::fail(where, "n_projections must be >= 1, got ", n_projections);
  Eigen::MatrixXd xt = detail::metric_points(where, "x", x, 1);
  Eigen::MatrixXd yt = detail::metric_points(where, "y", y, 1);
  detail::require_same_dim(where, x, "x", y, "y");
  const double s = detail::rescale_to_unit(xt, yt);
  return detail::scaled_square(
      where, s, detail::sliced_w2_squared_impl(xt, yt, random_directions(xt.cols(), n_projections, seed)));
}

/// Sliced Wasserstein-2 distance: the square root of sliced_wasserstein2_squared(x, y,
/// n_projections, seed), i.e. SW2 = (1/P sum_p W2^2(theta_p . x, theta_p . y))^{1/2}. Returns the
/// distance (units of the coordinates), not its square. SW2(x, x) = 0 exactly.
/// Same complexity as the squared version.
/// @throws gfd::invalid_argument on an empty cloud, differing dimensions, a non-finite
///         coordinate (names the cloud and column), or n_projections < 1.
template <class DerivedX, class DerivedY>
[[nodiscard]] double sliced_wasserstein2(const Eigen::MatrixBase<DerivedX>& x,
                                         const Eigen::MatrixBase<DerivedY>& y,
                                         int n_projections = 128, std::uint64_t seed = 0) {
  constexpr std::string_view where = "gfd::sliced_wasserstein2";
  if (n_projections < 1) detail::fail(where, "n_projections must be >= 1, got ", n_projections);
  Eigen::MatrixXd xt = detail::metric_points(where, "x", x, 1);
  Eigen::MatrixXd yt = detail::metric_points(where, "y", y, 1);
  detail::require_same_dim(where, x, "x", y, "y");
  const double s = detail::rescale_to_unit(xt, yt);
  return s * std::sqrt(
      detail::sliced_w2_squared_impl(xt, yt, random_directions(xt.cols(), n_projections, seed)));
}

namespace detail {

/// The Euclidean distance of gfd::mode_coverage as a mode_coverage_impl policy: the key of
/// centre c is the squared distance |x_i - c|^2 (formed coordinate by coordinate, vectorised over
/// the particles), and the nearest centre is near when that is <= radius2 = (3 stddev)^2.
struct euclidean_coverage_distance {
  const Eigen::MatrixXd& xt;  ///< N x d particles
  const Eigen::MatrixXd& ct;  ///< K x d centres
  double radius2;
  void keys(Eigen::Index c, Eigen::ArrayXd& out) const {
    out = (xt.col(0).array() - ct(c, 0)).square();
    for (Eigen::Index k = 1; k < xt.cols(); ++k) out += (xt.col(k).array() - ct(c, k)).square();
  }
  [[nodiscard]] bool near(Eigen::Index, Eigen::Index, double key) const { return key <= radius2; }
};

/// The one mode-coverage computation, for any distance: gfd::mode_coverage (Euclidean) and
/// gfd::sphere::mode_coverage (geodesic) are thin calls of it.
///
/// `dist` is a policy with
///   - `dist.keys(c, out)`: fills the N-array `out` with a key of (x_i, centre c) that is
///     increasing in the distance (the distance itself, its square, minus a cosine, ...);
///   - `dist.near(i, c, key)`: whether particle i, whose nearest centre is c with that key,
///     counts as near.
/// Each particle goes to the centre of smallest key (strict <: ties go to the lower index). A
/// mode is covered when at least min_count near particles are assigned to it, min_count
/// defaulting to max(1, ceil(N / (100 K))). xt is N x d, ct is K x d (both non-empty).
/// O(N K) key evaluations, O(N + K) memory besides the policy's.
/// @throws gfd::invalid_argument naming `where` if min_count < 1.
template <class Distance>
[[nodiscard]] coverage mode_coverage_impl(std::string_view where, const Eigen::MatrixXd& xt,
                                          const Eigen::MatrixXd& ct, std::optional<int> min_count,
                                          const Distance& dist) {
  const Eigen::Index n = xt.rows();
  const Eigen::Index k_count = ct.rows();
  const Eigen::Index threshold =
      min_count ? *min_count
                : std::max<Eigen::Index>(
                      1, static_cast<Eigen::Index>(std::ceil(
                             static_cast<double>(n) / (100.0 * static_cast<double>(k_count)))));
  if (threshold < 1) fail(where, "min_count must be >= 1, got ", threshold);

  Eigen::ArrayXd best = Eigen::ArrayXd::Constant(n, std::numeric_limits<double>::infinity());
  Eigen::ArrayXd key(n);
  std::vector<Eigen::Index> nearest(static_cast<std::size_t>(n), 0);
  for (Eigen::Index c = 0; c < k_count; ++c) {
    dist.keys(c, key);
    for (Eigen::Index i = 0; i < n; ++i)
      if (key(i) < best(i)) {
        best(i) = key(i);
        nearest[static_cast<std::size_t>(i)] = c;
      }
  }
  std::vector<Eigen::Index> counts(static_cast<std::size_t>(k_count), 0);
  Eigen::Index near = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    const Eigen::Index c = nearest[static_cast<std::size_t>(i)];
    if (dist.near(i, c, best(i))) {
      ++near;
      ++counts[static_cast<std::size_t>(c)];
    }
  }
  coverage result;
  result.modes = static_cast<int>(k_count);
  result.modes_covered = static_cast<int>(std::count_if(
      counts.begin(), counts.end(), [threshold](Eigen::Index c) { return c >= threshold; }));
  result.fraction_near = static_cast<double>(near) / static_cast<double>(n);
  return result;
}

}  // namespace detail

/// Mode coverage of a particle cloud against known mode centres: the mixture-of-Gaussians
/// benchmark of the GAN literature, where a sample within 3 standard deviations of a mode counts
/// as a good sample of it (Srivastava et al. 2017, "VEEGAN"; Metz et al. 2017, "Unrolled GANs").
///
/// Each particle is assigned to its nearest centre (ties go to the lower index) and is "near" when
/// that distance is <= 3 stddev. A mode is covered when at least `min_count` near particles are
/// assigned to it. The default min_count = max(1, ceil(N / (100 K))), 1% of a mode's fair share
/// N/K, is deliberately lenient (a mode counts as found once a few particles sit on it); pass a
/// larger value, e.g. N / (10 K), to demand a sizeable share.
///
///   fraction_near = #{i : min_k |x_i - c_k| <= 3 stddev} / N.
///
/// O(N K d) time, O(N + K) memory.
/// @param x d x N particles
/// @param centres d x K mode centres
/// @param stddev mode scale (> 0)
/// @param min_count a mode counts as covered with at least this many particles near it
/// @throws gfd::invalid_argument on an empty cloud, differing dimensions, a non-finite coordinate
///         (names the cloud and column), stddev not > 0, or min_count < 1.
template <class DerivedX, class DerivedC>
[[nodiscard]] coverage mode_coverage(const Eigen::MatrixBase<DerivedX>& x,
                                     const Eigen::MatrixBase<DerivedC>& centres, double stddev,
                                     std::optional<int> min_count = std::nullopt) {
  constexpr std::string_view where = "gfd::mode_coverage";
  detail::require_positive(where, "stddev", stddev);
  Eigen::MatrixXd xt = detail::metric_points(where, "x", x, 1);
  Eigen::MatrixXd ct = detail::metric_points(where, "centres", centres, 1);
  detail::require_same_dim(where, x, "x", centres, "centres");
  const double r = 3.0 * stddev / detail::rescale_to_unit(xt, ct);
  return detail::mode_coverage_impl(where, xt, ct, min_count,
                                    detail::euclidean_coverage_distance{xt, ct, r * r});
}

namespace detail {

/// The three distances on clouds already divided by rescale_to_unit's s, with h in the
/// original units; the results are in the original units.
[[nodiscard]] inline two_sample_distances two_sample_impl(const Eigen::MatrixXd& xt,
                                                          const Eigen::MatrixXd& yt, double h,
                                                          double s, int n_projections,
                                                          std::uint64_t seed) {
  two_sample_distances r;
  r.bandwidth = h;
  r.mmd2_unbiased = mmd2_unbiased_impl(xt, yt, h / s);
  r.energy_distance = s * energy_distance_impl(xt, yt);
  r.sliced_w2 = s * std::sqrt(sliced_w2_squared_impl(
                        xt, yt, random_directions(xt.cols(), n_projections, seed)));
  return r;
}

}  // namespace detail

/// All three distances of this header on one pair of clouds, with a given Gaussian bandwidth h:
/// mmd2_unbiased(x, y, h), energy_distance(x, y), sliced_wasserstein2(x, y, n_projections, seed).
/// O((N + M)^2 d + n_projections (N + M) log(N + M)) time, O((N + M) d) memory.
/// @throws gfd::invalid_argument (message starting "gfd::two_sample_report") if a cloud has fewer
///         than 2 points or no rows, the dimensions differ, a coordinate is not finite, h is not
///         > 0, or n_projections < 1.
template <class DerivedX, class DerivedY>
[[nodiscard]] two_sample_distances two_sample_report(const Eigen::MatrixBase<DerivedX>& x,
                                                     const Eigen::MatrixBase<DerivedY>& y, double h,
                                                     int n_projections = 128,
                                                     std::uint64_t seed = 0) {
  constexpr std::string_view where = "gfd::two_sample_report";
  detail::require_positive(where, "bandwidth h", h);
  if (n_projections < 1) detail::fail(where, "n_projections must be >= 1, got ", n_projections);
  Eigen::MatrixXd xt = detail::metric_points(where, "x", x, 2);
  Eigen::MatrixXd yt = detail::metric_points(where, "y", y, 2);
  detail::require_same_dim(where, x, "x", y, "y");
  const double s = detail::rescale_to_unit(xt, yt);
  return detail::two_sample_impl(xt, yt, h, s, n_projections, seed);
}

/// two_sample_report with the median-heuristic bandwidth pooled_median_distance(x, y, 4096, 0), 128
/// projections, seed 0.
/// @throws as the other overload, and if the median pairwise distance is 0.
template <class DerivedX, class DerivedY>
[[nodiscard]] two_sample_distances two_sample_report(const Eigen::MatrixBase<DerivedX>& x,
                                                     const Eigen::MatrixBase<DerivedY>& y) {
  constexpr std::string_view where = "gfd::two_sample_report";
  Eigen::MatrixXd xt = detail::metric_points(where, "x", x, 2);
  Eigen::MatrixXd yt = detail::metric_points(where, "y", y, 2);
  detail::require_same_dim(where, x, "x", y, "y");
  const double s = detail::rescale_to_unit(xt, yt);
  return detail::two_sample_impl(xt, yt, s * detail::pooled_median_impl(where, xt, yt, 4096, 0), s,
                                 128, 0);
}

}  // namespace gfd
