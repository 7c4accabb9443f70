// SPDX-License-Identifier: MIT
/// @file detail/special_functions.hpp
/// @brief log I_nu, the logarithm of the modified Bessel function of the first kind, by series,
///        Hankel and Debye expansions (for the von Mises-Fisher normalisers on the sphere).
///
/// An implementation header: include gfd/sphere_kernels.hpp (or gfd/sphere.hpp). The public
/// names gfd::log_bessel_i and gfd::log_bessel_i_scaled live in namespace gfd as before.
#pragma once

#include <cmath>
#include <limits>
#include <numbers>
#include <string_view>

#include "../error.hpp"

namespace gfd {

namespace detail {

/// log I_nu(x) - x by the power series I_nu(x) = (x/2)^nu sum_k (x^2/4)^k / (k! Gamma(nu + k + 1))
/// (DLMF 10.25.2): positive terms, no cancellation; O(x) terms, rescaled to avoid overflow.
inline double log_bessel_i_scaled_series(double nu, double x) {
  const double q = 0.25 * x * x;
  double term = 1.0, sum = 1.0, log_scale = 0.0;
  for (int k = 1; k < 1000000; ++k) {
    const double ratio = q / (static_cast<double>(k) * (static_cast<double>(k) + nu));
    term *= ratio;
    sum += term;
    if (sum > 1e280) {
      term *= 1e-280;
      sum *= 1e-280;
      log_scale += 280.0 * std::numbers::ln10;
    }
    if (ratio < 1.0 && term <= 1e-17 * sum) break;
  }
  return nu * std::log(0.5 * x) - std::lgamma(nu + 1.0) + std::log(sum) + log_scale - x;
}

/// log I_nu(x) - x by Hankel's expansion I_nu(x) ~ e^x / sqrt(2 pi x) sum_k (-1)^k a_k(nu) / x^k
/// (DLMF 10.40.1), summed until the terms stop decreasing; for 4 nu^2 <= x and x > 500 the
/// terms shrink at least 8-fold each and the sum is exact to round-off.
inline double log_bessel_i_scaled_hankel(double nu, double x) {
  const double mu = 4.0 * nu * nu;
  double term = 1.0, sum = 1.0;
  for (int k = 1; k < 200; ++k) {
    const double odd = 2.0 * k - 1.0;
    const double next = -term * (mu - odd * odd) / (8.0 * k * x);
    if (std::abs(next) >= std::abs(term)) break;  // asymptotic series: stop at the smallest term
    term = next;
    sum += term;
    if (std::abs(term) <= 1e-17 * std::abs(sum)) break;
  }
  return -0.5 * std::log(2.0 * std::numbers::pi * x) + std::log(sum);
}

/// log I_nu(x) - x by Debye's uniform expansion I_nu(nu z) ~ e^{nu eta} / (sqrt(2 pi nu)
/// (1 + z^2)^{1/4}) sum_k U_k(p) / nu^k, p = (1 + z^2)^{-1/2},
/// eta = sqrt(1 + z^2) - asinh(1/z) (DLMF 10.41.3, 10.41.7, U_1..U_4 from 10.41.10). nu eta - x
/// is formed as nu / (sqrt(1 + z^2) + z) - nu asinh(1/z), free of cancellation. Used for
/// x > 500, nu > sqrt(x)/2: the first omitted term U_5(p)/nu^5 is below 1e-13 there.
inline double log_bessel_i_scaled_debye(double nu, double x) {
  const double z = x / nu;
  const double s = std::sqrt(1.0 + z * z);
  const double p = 1.0 / s, p2 = p * p;
  const double u1 = p * (3.0 - 5.0 * p2) / 24.0;
  const double u2 = p2 * (81.0 + p2 * (-462.0 + p2 * 385.0)) / 1152.0;
  const double u3 = p * p2 * (30375.0 + p2 * (-369603.0 + p2 * (765765.0 - p2 * 425425.0))) / 414720.0;
  const double u4 = p2 * p2 *
      (4465125.0 + p2 * (-94121676.0 + p2 * (349922430.0 + p2 * (-446185740.0 + p2 * 185910725.0)))) /
      39813120.0;
  const double series = 1.0 + (u1 + (u2 + (u3 + u4 / nu) / nu) / nu) / nu;
  return nu / (s + z) - nu * std::asinh(1.0 / z) - 0.5 * std::log(2.0 * std::numbers::pi * nu) +
         0.5 * std::log(p) + std::log(series);
}

}  // namespace detail

/// log(I_nu(x) e^{-x}), the exponentially scaled modified Bessel function of the first kind, for
/// nu >= 0 and x >= 0, accurate to ~1e-13 relative for every such pair (no overflow or
/// underflow: I_nu(1e6) or I_100(1e-5) are fine). Power series (DLMF 10.25.2) for x <= 500,
/// beyond it Hankel's expansion (DLMF 10.40.1) when 4 nu^2 <= x, else Debye's uniform expansion
/// (DLMF 10.41.3). Portable: does not use std::cyl_bessel_i (absent from some standard
/// libraries, and overflowing beyond x ~ 700). Cost O(min(x, 500)) flops.
/// @throws gfd::invalid_argument if nu < 0, x < 0 or either is not finite.
[[nodiscard]] inline double log_bessel_i_scaled(double nu, double x) {
  constexpr std::string_view where = "gfd::log_bessel_i_scaled";
  if (!(std::isfinite(nu) && nu >= 0.0)) detail::fail(where, "order nu must be finite and >= 0, got ", nu);
  if (!(std::isfinite(x) && x >= 0.0)) detail::fail(where, "argument x must be finite and >= 0, got ", x);
  if (x == 0.0) return nu == 0.0 ? 0.0 : -std::numeric_limits<double>::infinity();
  if (x <= 500.0) return detail::log_bessel_i_scaled_series(nu, x);
  if (4.0 * nu * nu <= x) return detail::log_bessel_i_scaled_hankel(nu, x);
  return detail::log_bessel_i_scaled_debye(nu, x);
}

/// log I_nu(x) = log_bessel_i_scaled(nu, x) + x. @throws as log_bessel_i_scaled.
[[nodiscard]] inline double log_bessel_i(double nu, double x) {
  const double scaled = log_bessel_i_scaled(nu, x);
  return scaled + x;
}

}  // namespace gfd
