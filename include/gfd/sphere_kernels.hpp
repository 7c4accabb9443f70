// SPDX-License-Identifier: MIT
/// @file sphere_kernels.hpp
/// @brief Kernels on the unit sphere S^{d-1}: von Mises-Fisher, the Gaussian in geodesic
///        distance, bandwidth binding and normalising constants on the sphere (log I_nu is in
///        detail/special_functions.hpp, the quadrature in detail/quadrature.hpp).
///
/// Every gfd kernel is radial, k_h(x - y) = exp(phi(|x - y|^2 / h^2)), and on the unit sphere the
/// chord and the angle theta = d(x, y) determine each other: |x - y|^2 = 2 - 2 <x, y> =
/// 4 sin^2(theta / 2). Hence
///
/// - von Mises-Fisher: exp(kappa <x, y>) = e^kappa exp(-kappa |x - y|^2 / 2) is EXACTLY the
///   Gaussian kernel gfd::gaussian with h = 1 / sqrt(kappa), up to a constant that cancels in
///   scores and ratios. The vMF KDE score is the Euclidean Gaussian KDE score projected on the
///   tangent space, and every evaluator works unchanged: use gfd::gaussian on the sphere, with
///   kappa_of(h) / bandwidth_of(kappa) to convert, and gfd::sphere::vmf_log_normaliser for the
///   density's constant.
/// - the geodesic Gaussian exp(-theta^2 / (2 h^2)) is radial in the chord too, but its profile
///   in t = |x - y|^2 / h^2 depends on h (theta = 2 asin(h sqrt(t) / 2)). geodesic_gaussian
///   carries its bandwidth and is re-bound to the bandwidth of every kernel sum by
///   bind_bandwidth() (gfd::flow and gfd::kde do it).
///
/// Normalising constants on S^{d-1} differ from those on R^d: sphere::log_normaliser gives
/// log of the integral over the sphere of k_h(x - y) dy, in closed form for the vMF kernel and by
/// adaptive Gauss-Kronrod quadrature for any other kernel.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <limits>
#include <numbers>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/bound_kernel.hpp"
#include "detail/quadrature.hpp"
#include "detail/special_functions.hpp"
#include "error.hpp"
#include "kernels.hpp"

namespace gfd {

/// The Gaussian kernel in geodesic distance on the unit sphere, exp(-theta^2 / (2 h^2)) with
/// theta = 2 asin(|x - y| / 2) the angle between x and y.
///
/// As a radial kernel of t = |x - y|^2 / h^2 (the evaluators' variable): with the chord
/// c = h sqrt(t) and theta = 2 asin(min(1, c / 2)),
///
///   phi(t) = -theta^2 / (2 h^2),      phi'(t) = -theta / (2 sin theta)   (-1/2 at t = 0).
///
/// (dtheta/dt = h^2 / (2 c cos(theta / 2)) and c cos(theta / 2) = sin theta.) For small h it
/// tends to gfd::gaussian. The profile needs h, so the kernel carries `bandwidth` and is
/// BandwidthBoundKernel: gfd::flow and gfd::kde re-bind it to every bandwidth they use.
/// Used with another bandwidth than its own it computes a different (still radial) kernel.
///
/// The geodesic distance is not differentiable at the antipode (theta = pi, the cut locus), where
/// phi' diverges like 1 / sin theta. The slope uses max(sin theta, sqrt(eps)): finite everywhere,
/// exact except within ~sqrt(eps) radians of the antipode, where the tangential gradient goes
/// continuously to 0 (a valid choice at a point where no gradient exists).
///
/// Not normalisable on R^d (the profile is constant beyond the chord 2): log_normaliser(d)
/// throws; use gfd::sphere::log_normaliser. Not positive definite on the sphere for every h
/// (Feragen, Lauze & Hauberg, CVPR 2015): prefer the vMF kernel for MMD.
struct geodesic_gaussian {
  static constexpr std::string_view name = "geodesic-gaussian";
  static constexpr bool constant_slope = false;
  double bandwidth = 1.0;  ///< the h this kernel is bound to

  geodesic_gaussian() = default;
  /// @throws gfd::invalid_argument unless h is finite and > 0.
  explicit geodesic_gaussian(double h) : bandwidth(h) {
    detail::require_positive("gfd::geodesic_gaussian", "bandwidth", h);
  }
  [[nodiscard]] geodesic_gaussian with_bandwidth(double h) const { return geodesic_gaussian(h); }

  /// theta(t) = 2 asin(min(1, h sqrt(t) / 2)), the angle for the scaled squared chord t.
  template <std::floating_point S>
  [[nodiscard]] S angle(S t) const {
    return S(2) * std::asin(std::min(S(1), static_cast<S>(0.5 * bandwidth) * std::sqrt(t)));
  }
  template <std::floating_point S>
  [[nodiscard]] S log_profile(S t) const {
    const S a = angle(t) / static_cast<S>(bandwidth);
    return S(-0.5) * a * a;
  }
  template <std::floating_point S>
  [[nodiscard]] S slope(S t) const {
    const S theta = angle(t);
    if (!(theta > S(0))) return S(-0.5);
    return S(-0.5) * theta / std::max(std::sin(theta), sin_floor<S>());
  }
  template <class A>
  [[nodiscard]] typename A::PlainObject log_profile_array(const Eigen::ArrayBase<A>& t) const {
    using S = typename A::Scalar;
    const typename A::PlainObject a = angle_array(t) * static_cast<S>(1.0 / bandwidth);
    return S(-0.5) * a.square();
  }
  template <class A>
  [[nodiscard]] typename A::PlainObject slope_array(const Eigen::ArrayBase<A>& t) const {
    using S = typename A::Scalar;
    const typename A::PlainObject theta = angle_array(t);
    return (theta > S(0)).select(S(-0.5) * theta / theta.sin().max(sin_floor<S>()), S(-0.5));
  }
  [[nodiscard]] double support_radius() const { return std::numeric_limits<double>::infinity(); }
  /// @throws gfd::invalid_argument always: the kernel lives on the sphere, not on R^d.
  [[nodiscard]] double log_normaliser(int d) const {
    detail::fail("gfd::geodesic_gaussian::log_normaliser", "a kernel on the unit sphere has no "
                 "normaliser on R^", d, "; use gfd::sphere::log_normaliser(kernel, d, h)");
  }

private:
  template <class S>
  static S sin_floor() {
    return std::sqrt(std::numeric_limits<S>::epsilon());
  }
  template <class A>
  typename A::PlainObject angle_array(const Eigen::ArrayBase<A>& t) const {
    using S = typename A::Scalar;
    return S(2) * (t.derived().sqrt() * static_cast<S>(0.5 * bandwidth)).min(S(1)).asin();
  }
};

static_assert(BandwidthBoundKernel<geodesic_gaussian> && !BandwidthBoundKernel<gaussian>);

// ---------------------------------------------------------------------------------------------
// Normalising constants on the sphere
// ---------------------------------------------------------------------------------------------

namespace sphere {

/// The von Mises-Fisher concentration of the Gaussian kernel with bandwidth h on the unit
/// sphere: exp(-|x - y|^2 / (2 h^2)) = e^{-kappa} exp(kappa <x, y>) with kappa = 1 / h^2.
[[nodiscard]] inline double kappa_of(double h) {
  gfd::detail::require_positive("gfd::sphere::kappa_of", "bandwidth", h);
  return 1.0 / (h * h);
}

/// The Gaussian bandwidth h = 1 / sqrt(kappa) whose kernel on the unit sphere is the vMF kernel
/// exp(kappa <x, y>) up to the constant e^kappa. @throws unless kappa is finite and > 0.
[[nodiscard]] inline double bandwidth_of(double kappa) {
  gfd::detail::require_positive("gfd::sphere::bandwidth_of", "kappa", kappa);
  return 1.0 / std::sqrt(kappa);
}

/// log C_d(kappa), the normalising constant of the von Mises-Fisher density
/// f(x) = C_d(kappa) exp(kappa <mu, x>) on S^{d-1} (Mardia & Jupp, "Directional Statistics",
/// 2000, Sec. 9.3.2):
///
///   C_d(kappa) = kappa^{d/2 - 1} / ((2 pi)^{d/2} I_{d/2-1}(kappa)),   C_d(0) = 1 / |S^{d-1}|,
///
/// computed with log_bessel_i, so any kappa >= 0 and d >= 2 are fine (kappa = 1e8 in d = 1000).
/// On S^1: 1 / (2 pi I_0(kappa)); on S^2: kappa / (4 pi sinh kappa). O(min(kappa, 500)).
/// @throws gfd::invalid_argument if d < 2 or kappa is negative or not finite.
[[nodiscard]] inline double vmf_log_normaliser(int d, double kappa) {
  constexpr std::string_view where = "gfd::sphere::vmf_log_normaliser";
  if (d < 2) gfd::detail::fail(where, "the sphere S^{d-1} needs d >= 2, got ", d);
  if (!(std::isfinite(kappa) && kappa >= 0.0))
    gfd::detail::fail(where, "kappa must be finite and >= 0, got ", kappa);
  if (kappa == 0.0) return -gfd::detail::log_sphere_area(d);
  const double nu = 0.5 * d - 1.0;
  return nu * std::log(kappa) - 0.5 * d * std::log(2.0 * std::numbers::pi) -
         log_bessel_i(nu, kappa);
}

}  // namespace sphere

namespace detail {

/// log of the integral over S^{d-1} of exp(phi(|x - y|^2 / h^2)) dy for a kernel already bound
/// to h, by quadrature in the angle theta = d(x, y):
///
///   |S^{d-2}| * integral_0^pi exp(phi(4 sin^2(theta/2) / h^2)) sin^{d-2}(theta) d theta,
///
/// with break points at h 2^j (the kernel's scale and, for heavy tails, its geometric decay) and
/// at the edge of a compact support. Cost: a few thousand profile evaluations.
template <Kernel K>
double sphere_log_normaliser_quadrature(const K& kernel, int d, double h) {
  const double pi = std::numbers::pi;
  const double dm2 = static_cast<double>(d - 2);
  auto g = [&](double theta) {
    const double c = 2.0 * std::sin(0.5 * theta) / h;
    const double lp = kernel.log_profile(c * c);
    return d == 2 ? lp : lp + dm2 * std::log(std::sin(theta));
  };
  std::vector<double> breaks{0.0, pi};
  for (double b = h * 0x1p-10; b < pi; b *= 2.0) breaks.push_back(b);
  const double r = kernel.support_radius();
  if (std::isfinite(r) && r * h < 2.0) breaks.push_back(2.0 * std::asin(0.5 * r * h));
  // |S^{d-2}|, the area of the unit sphere of R^{d-1}: 2 for d = 2 (two points).
  const double log_area = log_sphere_area(d - 1);
  return log_area + log_integrate(g, std::move(breaks));
}

}  // namespace detail

namespace sphere {

/// log Z, Z = integral over the unit sphere S^{d-1} of k_h(x - y) dy (independent of x), the
/// normaliser that makes p(x) = sum_j w_j k_h(x - y_j) / Z a probability density on the sphere
/// (replacing h^d Z_d of R^d). For gfd::gaussian, i.e. the vMF kernel with kappa = 1 / h^2, in
/// closed form (see vmf_log_normaliser):
///
///   log Z = -kappa - log C_d(kappa) = (d/2) log(2 pi) - (d/2 - 1) log kappa + log(I_{d/2-1}(kappa) e^{-kappa}),
///
/// evaluated with the scaled Bessel function, so no e^{kappa} is ever formed. Any other kernel
/// (bound to h with bind_bandwidth) by adaptive quadrature in the angle, to ~1e-12 relative;
/// kernel profiles are assumed non-increasing in the distance, as all gfd kernels are.
/// @throws gfd::invalid_argument if d < 2 or h is not finite and > 0.
template <Kernel K>
[[nodiscard]] double log_normaliser(const K& kernel, int d, double h) {
  constexpr std::string_view where = "gfd::sphere::log_normaliser";
  if (d < 2) gfd::detail::fail(where, "the sphere S^{d-1} needs d >= 2, got ", d);
  gfd::detail::require_positive(where, "bandwidth", h);
  if constexpr (std::is_same_v<K, gaussian>) {
    const double kappa = 1.0 / (h * h);
    const double nu = 0.5 * d - 1.0;
    return 0.5 * d * std::log(2.0 * std::numbers::pi) - nu * std::log(kappa) +
           log_bessel_i_scaled(nu, kappa);
  } else {
    return gfd::detail::sphere_log_normaliser_quadrature(bind_bandwidth(kernel, h), d, h);
  }
}

}  // namespace sphere

}  // namespace gfd
