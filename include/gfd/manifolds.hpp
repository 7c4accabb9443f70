// SPDX-License-Identifier: MIT
/// @file manifolds.hpp
/// @brief Riemannian manifolds for the flows: Euclidean space (the default) and the unit sphere
///        S^{d-1}, with tangent projection, exponential map, retraction, logarithm and distance.
///
/// A flow on a Riemannian submanifold M of R^d follows the Riemannian gradient: the Euclidean
/// velocity projected on the tangent space T_x M, integrated with the exponential map (or a
/// cheaper retraction) instead of x + v (DESIGN 1.5). Points and tangent vectors are columns of
/// R^d (the embedding), so every kernel, evaluator and divergence works unchanged on M.
///
/// References: P.-A. Absil, R. Mahony, R. Sepulchre, "Optimization Algorithms on Matrix
/// Manifolds", Princeton 2008 (AMS08): Sec. 3.6.1 (gradient on a Riemannian submanifold =
/// projected Euclidean gradient), Sec. 4.1 (retractions), Sec. 5.4 (exponential map).
/// N. Boumal, "An Introduction to Optimization on Smooth Manifolds", CUP 2023 (B23), Ch. 3 and
/// 10 (the sphere as a running example).
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <limits>
#include <sstream>
#include <string_view>

#include "error.hpp"
#include "kernels.hpp"
#include "particles.hpp"
#include "sphere_kernels.hpp"

namespace gfd {

/// A Riemannian manifold embedded in R^d, given by its operations on points and tangent vectors
/// stored as Eigen column vectors of the ambient space.
///
/// Notation: `M` a manifold type, `m` a `const M`, `x`, `y` points of M and `u` an ambient vector,
/// `v` a tangent vector at x (all Eigen column vectors of one scalar type S, double or float),
/// `X` a d x N matrix of points, `where`, `what` strings naming the caller and the cloud.
///
/// | expression               | semantics                                                        |
/// |--------------------------|------------------------------------------------------------------|
/// | `M::name`                | a short name, e.g. "sphere"                                      |
/// | `M::is_euclidean`        | true only for R^d itself: flows then skip projections at compile  |
/// |                          | time and keep the plain update x += v                             |
/// | `m.project(x, u)`        | P_x u, the orthogonal projection of u on T_x M                   |
/// | `m.exp(x, v)`            | Exp_x(v), the end point of the geodesic from x with velocity v   |
/// | `m.retract(x, v)`        | R_x(v): a retraction, R_x(v) = Exp_x(v) + O(|v|^2), cheaper       |
/// | `m.log(x, y)`            | Log_x(y), the tangent v of smallest norm with Exp_x(v) = y       |
/// | `m.distance(x, y)`       | geodesic distance d(x, y) = |Log_x(y)|, as S                     |
/// | `m.contains(x)`          | whether x lies on M (within the manifold's input tolerance)      |
/// | `m.validate(where, what, X)` | throws gfd::invalid_argument naming `where`, `what`, the first |
/// |                          | point off M and how far off it is (checked at every API entry)   |
/// | `m.log_normaliser(k, d, h)` | log of the integral over M of k_h(x - y) dy (M embedded in R^d, |
/// |                          | k any Kernel, h > 0), as double: what turns a kernel sum into a  |
/// |                          | probability density on M (gfd::kde)                             |
///
/// Point operations return plain column vectors (`typename X::PlainObject`), never expressions.
/// Laws every model satisfies (tests/test_manifolds.cpp runs them against every manifold):
/// exp and retract map into M; Exp_x(0) = x; Log_x(Exp_x(v)) = v inside the injectivity radius;
/// Exp_x(Log_x(y)) = y; d(x, y) = d(y, x) = |Log_x(y)|; P_x is an orthogonal projector
/// (idempotent, self-adjoint); R_x and Exp_x agree to first order at v = 0.
template <class M>
concept Manifold = requires(const M m, const Eigen::VectorXd& x, const Eigen::VectorXf& xf,
                            const Eigen::MatrixXd& X, std::string_view s) {
  { M::name } -> std::convertible_to<std::string_view>;
  { M::is_euclidean } -> std::convertible_to<bool>;
  { m.project(x, x) } -> std::same_as<Eigen::VectorXd>;
  { m.exp(x, x) } -> std::same_as<Eigen::VectorXd>;
  { m.retract(x, x) } -> std::same_as<Eigen::VectorXd>;
  { m.log(x, x) } -> std::same_as<Eigen::VectorXd>;
  { m.distance(x, x) } -> std::same_as<double>;
  { m.contains(x) } -> std::same_as<bool>;
  { m.exp(xf, xf) } -> std::same_as<Eigen::VectorXf>;
  m.validate(s, s, X);
  { m.log_normaliser(gaussian{}, 2, 1.0) } -> std::same_as<double>;
};

/// Euclidean space R^d with its flat metric: the default manifold of every flow.
///
/// P_x = I, Exp_x(v) = R_x(v) = x + v, Log_x(y) = y - x, d(x, y) = |x - y|. Every point with
/// finite coordinates lies on it (finiteness is checked by cloud_view::validate, so validate()
/// does nothing). gfd::flow never calls the point operations for R^d: it tests `is_euclidean` at
/// compile time and keeps its plain loop x += dt v, so the default costs nothing.
struct euclidean {
  static constexpr std::string_view name = "euclidean";
  static constexpr bool is_euclidean = true;

  template <class X, class U>
  [[nodiscard]] typename X::PlainObject project(const Eigen::MatrixBase<X>&,
                                                const Eigen::MatrixBase<U>& u) const {
    return u;
  }
  template <class X, class V>
  [[nodiscard]] typename X::PlainObject exp(const Eigen::MatrixBase<X>& x,
                                            const Eigen::MatrixBase<V>& v) const {
    return x + v;
  }
  template <class X, class V>
  [[nodiscard]] typename X::PlainObject retract(const Eigen::MatrixBase<X>& x,
                                                const Eigen::MatrixBase<V>& v) const {
    return x + v;
  }
  template <class X, class Y>
  [[nodiscard]] typename X::PlainObject log(const Eigen::MatrixBase<X>& x,
                                            const Eigen::MatrixBase<Y>& y) const {
    return y - x;
  }
  template <class X, class Y>
  [[nodiscard]] typename X::Scalar distance(const Eigen::MatrixBase<X>& x,
                                            const Eigen::MatrixBase<Y>& y) const {
    return (y - x).norm();
  }
  template <class X>
  [[nodiscard]] bool contains(const Eigen::MatrixBase<X>& x) const {
    return x.allFinite();
  }
  template <class X>
  void validate(std::string_view, std::string_view, const Eigen::MatrixBase<X>&) const {}

  /// log(h^d Z_d) = d log h + kernel.log_normaliser(d), Z_d the integral of the kernel's profile
  /// over R^d (kernels.hpp). O(1).
  /// @throws gfd::invalid_argument if the kernel is not normalisable in dimension d (e.g.
  ///         gfd::geodesic_gaussian, whose profile is constant beyond the chord 2).
  template <Kernel K>
  [[nodiscard]] double log_normaliser(const K& kernel, int d, double h) const {
    return static_cast<double>(d) * std::log(h) + kernel.log_normaliser(d);
  }
};

/// The unit sphere S^{d-1} = {x in R^d : |x| = 1}, d >= 2, with the metric induced by R^d
/// (geodesics are great circles, distances are angles in [0, pi]). Any dimension, fixed or
/// dynamic: the operations are templates over the Eigen column type.
///
/// Invariants: a point has |x| = 1 and a tangent vector v at x has <x, v> = 0. Input points must
/// satisfy | |x| - 1 | <= tolerance (validate() rejects the others, naming the point and its
/// norm; gfd::sphere::normalise projects a cloud on the sphere when the user asks for it).
/// exp() and retract() renormalise their result: cos^2 + sin^2 = 1 and <x, v> = 0 hold only to
/// round-off, and without the division the norm would random-walk away from 1 over many steps;
/// with it |x| = 1 to a few ulps after any number of steps.
///
/// Injectivity radius pi: Log_x is defined for y != -x; on the cut locus y = -x every unit
/// tangent direction gives a minimising geodesic and log() returns pi times a fixed one.
/// Thread-safety: all members are const and reentrant.
struct unit_sphere {
  static constexpr std::string_view name = "sphere";
  static constexpr bool is_euclidean = false;

  /// Accepted | |x| - 1 | of input points (never below 64 machine epsilons of the scalar type).
  double tolerance = 1e-6;

  /// P_x u = u - <x, u> x / |x|^2 (AMS08 Sec. 3.6.1: the Riemannian gradient on a submanifold is
  /// the projected Euclidean one). Dividing by |x|^2 (= 1 on the sphere) keeps P_x an exact
  /// projector for points within tolerance. O(d).
  template <class X, class U>
  [[nodiscard]] typename X::PlainObject project(const Eigen::MatrixBase<X>& x,
                                                const Eigen::MatrixBase<U>& u) const {
    return u - (x.dot(u) / x.squaredNorm()) * x;
  }

  /// Exp_x(v) = cos(|v|) x + sin(|v|) v / |v| (AMS08 Sec. 5.4: the great circle through x with
  /// initial velocity v), renormalised (see the class invariants). |v| may
  /// exceed pi: the great circle wraps around. O(d).
  template <class X, class V>
  [[nodiscard]] typename X::PlainObject exp(const Eigen::MatrixBase<X>& x,
                                            const Eigen::MatrixBase<V>& v) const {
    using S = typename X::Scalar;
    const S t = v.norm();
    // sin(t) / t is exact to round-off for every t > 0 (sin(t) = t in floating point for tiny t).
    typename X::PlainObject y = x;
    if (t > S(0)) y = std::cos(t) * x + (std::sin(t) / t) * v;
    y /= y.norm();
    return y;
  }

  /// The metric-projection retraction R_x(v) = (x + v) / |x + v| (AMS08 Sec. 4.1).
  /// It agrees with Exp_x to second order (|R_x(tv) - Exp_x(tv)| = O(t^3)) and costs one
  /// square root instead of cos, sin and two norms. O(d).
  template <class X, class V>
  [[nodiscard]] typename X::PlainObject retract(const Eigen::MatrixBase<X>& x,
                                                const Eigen::MatrixBase<V>& v) const {
    typename X::PlainObject y = x + v;
    y /= y.norm();  // |x + v|^2 = 1 + |v|^2 > 0 for tangent v
    return y;
  }

  /// Log_x(y) = theta u / |u| with u = P_x (y - x), theta = d(x, y) (the inverse of exp for
  /// y != -x). u is formed from the small difference y - x, not as y - <x, y> x, so nearby points
  /// keep full relative accuracy. O(d).
  template <class X, class Y>
  [[nodiscard]] typename X::PlainObject log(const Eigen::MatrixBase<X>& x,
                                            const Eigen::MatrixBase<Y>& y) const {
    using S = typename X::Scalar;
    using P = typename X::PlainObject;
    const P diff = y - x;
    const P u = diff - (x.dot(diff) / x.squaredNorm()) * x;
    const S theta = distance(x, y);
    const S su = u.norm();
    if (su > S(0)) return P((theta / su) * u);
    if (!(theta > S(1))) return P::Zero(x.rows());  // y == x
    // y == -x: the cut locus. Take the coordinate axis least aligned with x, projected.
    Eigen::Index k = 0;
    x.cwiseAbs().minCoeff(&k);
    P e = P::Zero(x.rows());
    e(k) = S(1);
    e = project(x, e);
    return P(theta / e.norm() * e);
  }

  /// Geodesic distance theta = 2 atan2(|x - y|, |x + y|) in [0, pi]: the angle between x and y.
  /// Accurate for every angle, unlike acos(<x, y>), which loses half the digits near 0 and pi.
  /// O(d).
  template <class X, class Y>
  [[nodiscard]] typename X::Scalar distance(const Eigen::MatrixBase<X>& x,
                                            const Eigen::MatrixBase<Y>& y) const {
    using S = typename X::Scalar;
    return S(2) * std::atan2((x - y).norm(), (x + y).norm());
  }

  /// Whether x has at least 2 coordinates, all finite, and | |x| - 1 | <= tolerance.
  template <class X>
  [[nodiscard]] bool contains(const Eigen::MatrixBase<X>& x) const {
    using S = typename X::Scalar;
    return x.rows() >= 2 && x.allFinite() &&
           std::abs(static_cast<double>(x.norm()) - 1.0) <= effective_tolerance<S>();
  }

  /// @throws gfd::invalid_argument "<where>: <what> ..." when X has fewer than 2 rows (S^0 is not
  ///         connected), or for the first column i off the sphere: "particle i has norm r, not on
  ///         the unit sphere S^{d-1} (tolerance tol)". O(N d).
  template <class X>
  void validate(std::string_view where, std::string_view what,
                const Eigen::MatrixBase<X>& points) const {
    using S = typename X::Scalar;
    if (points.rows() < 2)
      detail::fail(where, what, " has dimension ", points.rows(),
                   ": the unit sphere S^{d-1} needs d >= 2");
    const double tol = effective_tolerance<S>();
    for (Eigen::Index i = 0; i < points.cols(); ++i) {
      const double r = static_cast<double>(points.col(i).norm());
      if (!(std::abs(r - 1.0) <= tol)) {
        // 12 digits show a norm off by 1e-7 and print 1.1 as 1.1, not 1.1000000000000001.
        std::ostringstream os;
        os.precision(12);
        os << what << ": particle " << i << " has norm " << r << ", not on the unit sphere S^"
           << points.rows() - 1;
        os.precision(3);
        os << " (tolerance " << tol << "); project it explicitly with gfd::sphere::normalise";
        detail::fail(where, os.str());
      }
    }
  }

  /// The tolerance applied to scalar type S: max(tolerance, 64 eps_S).
  template <class S>
  [[nodiscard]] double effective_tolerance() const {
    return std::max(tolerance, 64.0 * static_cast<double>(std::numeric_limits<S>::epsilon()));
  }

  /// log Z, Z the integral over S^{d-1} of k_h(x - y) dy: gfd::sphere::log_normaliser(kernel, d,
  /// h) (sphere_kernels.hpp): closed form for gfd::gaussian (the vMF kernel), adaptive
  /// Gauss-Kronrod quadrature in the angle for any other kernel (bound to h with bind_bandwidth).
  /// O(min(1/h^2, 500)) for the vMF kernel, a few thousand profile evaluations otherwise.
  /// @throws gfd::invalid_argument if d < 2 or h is not finite and > 0.
  template <Kernel K>
  [[nodiscard]] double log_normaliser(const K& kernel, int d, double h) const {
    return sphere::log_normaliser(kernel, d, h);
  }
};

static_assert(Manifold<euclidean> && Manifold<unit_sphere>);

namespace sphere {

/// x with every column divided by its norm: the nearest points of the unit sphere. The explicit
/// way to put data on the sphere (gfd::flow and gfd::kde<..., unit_sphere> reject points whose
/// norm is off 1 by more than unit_sphere::tolerance instead of silently moving them). O(N d).
/// @throws gfd::invalid_argument if x has fewer than 2 rows, or naming the first column whose
///         norm is zero or not finite.
template <class Derived>
[[nodiscard]] positions<typename Derived::Scalar, Derived::RowsAtCompileTime> normalise(
    const Eigen::MatrixBase<Derived>& x) {
  constexpr std::string_view where = "gfd::sphere::normalise";
  if (x.rows() < 2)
    gfd::detail::fail(where, "the unit sphere S^{d-1} needs d >= 2, got d = ", x.rows());
  positions<typename Derived::Scalar, Derived::RowsAtCompileTime> out = x;
  for (Eigen::Index i = 0; i < out.cols(); ++i) {
    const auto r = out.col(i).norm();
    if (!(std::isfinite(static_cast<double>(r)) && r > 0))
      gfd::detail::fail(where, "particle ", i, " has norm ", r, " and cannot be normalised");
    out.col(i) /= r;
  }
  return out;
}

}  // namespace sphere
}  // namespace gfd
