// SPDX-License-Identifier: MIT
/// @file kernels.hpp
/// @brief Radial kernels k(u) = exp(phi(|u|^2 / h^2)): log-profile, its derivative, support and
///        normalising constant in any dimension.
#pragma once

#include <Eigen/Core>

#include <cmath>
#include <concepts>
#include <limits>
#include <numbers>
#include <string_view>

#include "error.hpp"

namespace gfd {

/// A radial kernel, described by its log-profile phi(t) with t = |u|^2 / h^2, so that the
/// kernel with bandwidth h is k_h(u) = exp(phi(|u|^2 / h^2)) (unnormalised).
///
/// Notation: `K` a kernel type, `k` a `const K`, `t` a double or float (t >= 0), `a` an Eigen
/// array of t values, `d` an int dimension.
///
/// | expression               | semantics                                                         |
/// |--------------------------|-------------------------------------------------------------------|
/// | `K::name`                | a short name, e.g. "gaussian"                                     |
/// | `K::constant_slope`      | true when phi'(t) is a constant (the Gaussian): scores then reduce |
/// |                          | to a mean shift and evaluators skip a per-pair factor             |
/// | `k.log_profile(t)`       | phi(t); -inf outside a compact support                             |
/// | `k.slope(t)`             | phi'(t) = d phi / d t, finite everywhere (0 outside the support   |
/// |                          | and where phi is not differentiable, e.g. at 0 for the Laplacian)  |
/// | `k.log_profile_array(a)` | phi applied elementwise, as a vectorisable Eigen expression       |
/// | `k.slope_array(a)`       | phi' applied elementwise                                          |
/// | `k.support_radius()`     | radius of the support in units of h (+inf when unbounded)         |
/// | `k.log_normaliser(d)`    | log Z_d, Z_d = integral over R^d of exp(phi(|u|^2)) du (h = 1);    |
/// |                          | throws gfd::invalid_argument when the integral diverges           |
///
/// grad_x log k_h(x - y) = 2 phi'(t) (x - y) / h^2; a KDE with bandwidth h integrates to one when
/// divided by h^d Z_d.
template <class K>
concept Kernel = requires(const K k, double t, float tf, int d, const Eigen::ArrayXd& a) {
  { K::name } -> std::convertible_to<std::string_view>;
  { K::constant_slope } -> std::convertible_to<bool>;
  { k.log_profile(t) } -> std::same_as<double>;
  { k.log_profile(tf) } -> std::same_as<float>;
  { k.slope(t) } -> std::same_as<double>;
  { k.log_profile_array(a) };
  { k.slope_array(a) };
  { k.support_radius() } -> std::convertible_to<double>;
  { k.log_normaliser(d) } -> std::convertible_to<double>;
};

namespace detail {
/// log of the area of the unit sphere S^{d-1} in R^d: 2 pi^{d/2} / Gamma(d/2).
inline double log_sphere_area(int d) {
  return std::log(2.0) + 0.5 * d * std::log(std::numbers::pi) - std::lgamma(0.5 * d);
}
inline void require_dimension(std::string_view where, int d) {
  if (d < 1) fail(where, "dimension must be >= 1, got ", d);
}
}  // namespace detail

/// Gaussian kernel exp(-|u|^2 / (2 h^2)); Z_d = (2 pi)^{d/2}. Its score is the mean shift
/// (m(x) - x) / h^2 (DESIGN 1.1). Fourier transform positive: characteristic for MMD.
struct gaussian {
  static constexpr std::string_view name = "gaussian";
  static constexpr bool constant_slope = true;
  template <std::floating_point S> S log_profile(S t) const { return S(-0.5) * t; }
  template <std::floating_point S> S slope(S) const { return S(-0.5); }
  template <class A> auto log_profile_array(const Eigen::ArrayBase<A>& t) const {
    using S = typename A::Scalar;
    return S(-0.5) * t.derived();
  }
  template <class A> auto slope_array(const Eigen::ArrayBase<A>& t) const {
    using S = typename A::Scalar;
    return A::PlainObject::Constant(t.rows(), t.cols(), S(-0.5));
  }
  double support_radius() const { return std::numeric_limits<double>::infinity(); }
  double log_normaliser(int d) const {
    detail::require_dimension("gfd::gaussian::log_normaliser", d);
    return 0.5 * d * std::log(2.0 * std::numbers::pi);
  }
};

/// Laplacian kernel exp(-|u| / h) (Deng et al. 2026 use it for drifting);
/// Z_d = |S^{d-1}| Gamma(d). Not differentiable at u = 0, where its slope is taken as 0.
struct laplacian {
  static constexpr std::string_view name = "laplacian";
  static constexpr bool constant_slope = false;
  template <std::floating_point S> S log_profile(S t) const { return -std::sqrt(t); }
  template <std::floating_point S> S slope(S t) const {
    return t > S(0) ? S(-0.5) / std::sqrt(t) : S(0);
  }
  template <class A> auto log_profile_array(const Eigen::ArrayBase<A>& t) const {
    return -t.derived().sqrt();
  }
  template <class A> auto slope_array(const Eigen::ArrayBase<A>& t) const {
    using S = typename A::Scalar;
    // sqrt of the smallest normal keeps the division finite; the select zeroes t == 0 exactly.
    return (t.derived() > S(0))
        .select(S(-0.5) / t.derived().max(std::numeric_limits<S>::min()).sqrt(), S(0));
  }
  double support_radius() const { return std::numeric_limits<double>::infinity(); }
  double log_normaliser(int d) const {
    detail::require_dimension("gfd::laplacian::log_normaliser", d);
    return detail::log_sphere_area(d) + std::lgamma(static_cast<double>(d));
  }
};

/// Epanechnikov kernel max(0, 1 - |u|^2 / h^2): compact support of radius h;
/// Z_d = V_d * 2 / (d + 2) with V_d = pi^{d/2} / Gamma(d/2 + 1) the unit-ball volume.
/// Its score diverges at the edge of the support; outside the support the KDE is zero and
/// evaluators fall back to the nearest source (see evaluators/exact.hpp).
struct epanechnikov {
  static constexpr std::string_view name = "epanechnikov";
  static constexpr bool constant_slope = false;
  template <std::floating_point S> S log_profile(S t) const {
    return t < S(1) ? std::log1p(-t) : -std::numeric_limits<S>::infinity();
  }
  template <std::floating_point S> S slope(S t) const {
    return t < S(1) ? S(-1) / (S(1) - t) : S(0);
  }
  template <class A> auto log_profile_array(const Eigen::ArrayBase<A>& t) const {
    using S = typename A::Scalar;
    // log(0) = -inf outside the support, as intended.
    return (S(1) - t.derived()).max(S(0)).log();
  }
  template <class A> auto slope_array(const Eigen::ArrayBase<A>& t) const {
    using S = typename A::Scalar;
    return (t.derived() < S(1))
        .select(S(-1) / (S(1) - t.derived()).max(std::numeric_limits<S>::min()), S(0));
  }
  double support_radius() const { return 1.0; }
  double log_normaliser(int d) const {
    detail::require_dimension("gfd::epanechnikov::log_normaliser", d);
    const double log_ball = 0.5 * d * std::log(std::numbers::pi) - std::lgamma(0.5 * d + 1.0);
    return log_ball + std::log(2.0 / (d + 2.0));
  }
};

/// Heavy-tailed inverse multiquadric (generalised Cauchy) kernel (1 + |u|^2 / h^2)^{-beta}.
/// beta = 1 is the Cauchy profile. Normalisable in R^d only when beta > d/2, then
/// Z_d = pi^{d/2} Gamma(beta - d/2) / Gamma(beta); scores and ratios of KDEs sharing it need no
/// normalisation and work in every dimension.
struct inverse_multiquadric {
  static constexpr std::string_view name = "imq";
  static constexpr bool constant_slope = false;
  double beta = 1.5;

  inverse_multiquadric() = default;
  explicit inverse_multiquadric(double b) : beta(b) {
    detail::require_positive("gfd::inverse_multiquadric", "beta", b);
  }
  template <std::floating_point S> S log_profile(S t) const {
    return -static_cast<S>(beta) * std::log1p(t);
  }
  template <std::floating_point S> S slope(S t) const {
    return -static_cast<S>(beta) / (S(1) + t);
  }
  template <class A> auto log_profile_array(const Eigen::ArrayBase<A>& t) const {
    using S = typename A::Scalar;
    return -static_cast<S>(beta) * t.derived().log1p();
  }
  template <class A> auto slope_array(const Eigen::ArrayBase<A>& t) const {
    using S = typename A::Scalar;
    return -static_cast<S>(beta) / (S(1) + t.derived());
  }
  double support_radius() const { return std::numeric_limits<double>::infinity(); }
  double log_normaliser(int d) const {
    detail::require_dimension("gfd::inverse_multiquadric::log_normaliser", d);
    if (!(beta > 0.5 * d))
      detail::fail("gfd::inverse_multiquadric::log_normaliser", "kernel with beta = ", beta,
                   " is not normalisable in dimension ", d, " (needs beta > d/2)");
    return 0.5 * d * std::log(std::numbers::pi) + std::lgamma(beta - 0.5 * d) - std::lgamma(beta);
  }
};

static_assert(Kernel<gaussian> && Kernel<laplacian> && Kernel<epanechnikov> &&
              Kernel<inverse_multiquadric>);

}  // namespace gfd
