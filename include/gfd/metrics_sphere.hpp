// SPDX-License-Identifier: MIT
/// @file metrics_sphere.hpp
/// @brief Two-sample metrics on the unit sphere S^{d-1}: MMD with the vMF or geodesic Gaussian
///        kernel, geodesic mode coverage, mean resultant length.
///
/// Same conventions as metrics.hpp (d x N clouds of any scalar type, computed in double, results
/// bitwise independent of the number of threads), plus every point checked to lie on the sphere.
/// Thread-safety: all functions are pure and may be called concurrently.
#pragma once

#include <Eigen/Core>

#include <cmath>
#include <numbers>
#include <optional>
#include <string_view>

#include "detail/fixed_product.hpp"
#include "error.hpp"
#include "manifolds.hpp"
#include "metrics.hpp"

namespace gfd::sphere {

/// Kernels for sphere::mmd2_unbiased.
enum class mmd_kernel {
  /// exp(kappa (<x, y> - 1)) = exp(-|x - y|^2 / (2 h^2)), kappa = 1/h^2: positive definite and
  /// characteristic on the sphere (the default).
  vmf,
  /// exp(-theta^2 / (2 h^2)), theta the geodesic distance. Not positive definite on the sphere
  /// for every h (Feragen, Lauze & Hauberg, CVPR 2015): a population MMD^2 can then be < 0.
  geodesic_gaussian,
};

namespace detail {
/// Geodesic Gaussian kernel summed over a block of squared chords.
/// Like gfd::detail::gaussian_block_sum, it switches to exp(-(theta / h)^2 / 2) when 1 / (2 h^2)
/// overflows, so coincident points count 1, not NaN.
struct geodesic_gaussian_block_sum {
  double h;
  template <class A>
  double operator()(const A& d2) const {
    const Eigen::ArrayXd theta = 2.0 * (0.5 * d2.sqrt()).min(1.0).asin();
    const double minus_inv_two_h2 = -1.0 / (2.0 * h * h);
    if (std::isfinite(minus_inv_two_h2)) return (theta.square() * minus_inv_two_h2).exp().sum();
    return ((theta / h).square() * -0.5).exp().sum();
  }
};

template <class Derived>
Eigen::MatrixXd sphere_metric_points(std::string_view where, std::string_view name,
                                     const Eigen::MatrixBase<Derived>& c, Eigen::Index min_points,
                                     double tolerance) {
  Eigen::MatrixXd t = gfd::detail::metric_points(where, name, c, min_points);
  unit_sphere{tolerance}.validate(where, name, c.template cast<double>());
  return t;
}

/// The geodesic distance of sphere::mode_coverage as a gfd::detail::mode_coverage_impl policy:
/// the key of centre c is -<x_i, c> (the nearest centre in angle has the largest cosine; the
/// cosines come from one N x K matrix product), and the nearest centre is near when the angle
/// unit_sphere::distance(x_i, c) is <= radius. O(N K d) to build, O(N K) memory. The product is
/// gfd::detail::fixed_product: the same bits (hence the same assignments) for any thread count.
struct geodesic_coverage_distance {
  geodesic_coverage_distance(const Eigen::MatrixXd& x, const Eigen::MatrixXd& c, double r)
      : xt(x), ct(c), dots(x.rows(), c.rows()), radius(r) {
    gfd::detail::fixed_product(dots, x, c.transpose());
  }
  const Eigen::MatrixXd& xt;  ///< N x d particles
  const Eigen::MatrixXd& ct;  ///< K x d centres
  Eigen::MatrixXd dots;       ///< N x K cosines
  double radius;
  void keys(Eigen::Index c, Eigen::ArrayXd& out) const { out = -dots.col(c).array(); }
  [[nodiscard]] bool near(Eigen::Index i, Eigen::Index c, double) const {
    return unit_sphere{}.distance(xt.row(i).transpose(), ct.row(c).transpose()) <= radius;
  }
};
}  // namespace detail

/// Unbiased squared MMD between two clouds on the sphere (Gretton et al. 2012, JMLR 13,
/// Lemma 6), with the vMF kernel exp(kappa (<x, y> - 1)), kappa = 1/h^2 (default), or the
/// geodesic Gaussian exp(-theta^2 / (2 h^2)) (see mmd_kernel). Both have k(x, x) = 1. With the
/// vMF kernel it equals gfd::mmd2_unbiased(x, y, h) on the ambient coordinates. Same estimator,
/// cost (O((N + M)^2 d)) and determinism as gfd::mmd2_unbiased.
/// @throws gfd::invalid_argument if a cloud has fewer than 2 points, the dimensions differ or
///         are < 2, a coordinate is not finite, a point is off the unit sphere by more than
///         `tolerance` (naming it and its norm), or h is not finite and > 0.
template <class DerivedX, class DerivedY>
[[nodiscard]] double mmd2_unbiased(const Eigen::MatrixBase<DerivedX>& x,
                                   const Eigen::MatrixBase<DerivedY>& y, double h,
                                   mmd_kernel kernel = mmd_kernel::vmf, double tolerance = 1e-6) {
  constexpr std::string_view where = "gfd::sphere::mmd2_unbiased";
  gfd::detail::require_positive(where, "bandwidth h", h);
  const Eigen::MatrixXd xt = detail::sphere_metric_points(where, "x", x, 2, tolerance);
  const Eigen::MatrixXd yt = detail::sphere_metric_points(where, "y", y, 2, tolerance);
  gfd::detail::require_same_dim(where, x, "x", y, "y");
  if (kernel == mmd_kernel::vmf) return gfd::detail::mmd2_unbiased_impl(xt, yt, h);
  const detail::geodesic_gaussian_block_sum g{h};
  const double n = static_cast<double>(xt.rows()), m = static_cast<double>(yt.rows());
  const double xx = gfd::detail::metric_upper_sum(xt, g), yy = gfd::detail::metric_upper_sum(yt, g);
  const double xy = gfd::detail::metric_cross_sum(xt, yt, g);
  return 2.0 * xx / (n * (n - 1.0)) + 2.0 * yy / (m * (m - 1.0)) - 2.0 * xy / (n * m);
}

/// Geodesic mode coverage, gfd::mode_coverage with the geodesic distance (one implementation,
/// detail::mode_coverage_impl): each particle is assigned to its nearest centre in geodesic
/// distance (largest <x, c>; ties go to the lower index) and is "near" when that angle is <= radius; a
/// mode is covered when at least `min_count` near particles are assigned to it (default
/// max(1, ceil(N / (100 K))), as gfd::mode_coverage). fraction_near is the fraction of near
/// particles. For a vMF mixture on S^2, radius = 3 / sqrt(kappa) holds ~99% of a component's mass
/// once kappa >~ 10. O(N K d).
/// @throws gfd::invalid_argument on an empty cloud, differing dimensions, points off the sphere,
///         radius not in (0, pi], or min_count < 1.
template <class DerivedX, class DerivedC>
[[nodiscard]] coverage mode_coverage(const Eigen::MatrixBase<DerivedX>& x,
                                     const Eigen::MatrixBase<DerivedC>& centres, double radius,
                                     std::optional<int> min_count = std::nullopt,
                                     double tolerance = 1e-6) {
  constexpr std::string_view where = "gfd::sphere::mode_coverage";
  if (!(radius > 0 && radius <= std::numbers::pi))
    gfd::detail::fail(where, "radius must be in (0, pi], got ", radius);
  const Eigen::MatrixXd xt = detail::sphere_metric_points(where, "x", x, 1, tolerance);
  const Eigen::MatrixXd ct = detail::sphere_metric_points(where, "centres", centres, 1, tolerance);
  gfd::detail::require_same_dim(where, x, "x", centres, "centres");
  return gfd::detail::mode_coverage_impl(where, xt, ct, min_count,
                                         detail::geodesic_coverage_distance(xt, ct, radius));
}

/// The mean resultant length |(1/N) sum_i x_i| of a cloud on the sphere: 1 for a point mass,
/// A_d(kappa) (vmf_mean_cosine) for a large vMF sample, and for N uniform points about
/// 1/sqrt(N) (E |mean|^2 = 1/N exactly). O(N d). @throws gfd::invalid_argument on an empty or
/// non-finite cloud (points are not required to be unit).
template <class Derived>
[[nodiscard]] double mean_resultant_length(const Eigen::MatrixBase<Derived>& x) {
  const Eigen::MatrixXd xt = gfd::detail::metric_points("gfd::sphere::mean_resultant_length", "x", x, 1);
  return xt.colwise().mean().norm();
}

}  // namespace gfd::sphere
