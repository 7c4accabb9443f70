// SPDX-License-Identifier: MIT
/// @file bandwidth.hpp
/// @brief Bandwidth rules for isotropic kernels: Scott, Silverman, median heuristic.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include "error.hpp"
#include "median.hpp"
#include "particles.hpp"

namespace gfd {

/// A rule that picks a bandwidth from a cloud.
enum class bandwidth_rule { scott, silverman, median };

/// Parses "scott", "silverman" or "median"; throws gfd::invalid_argument otherwise.
inline bandwidth_rule parse_bandwidth_rule(std::string_view name) {
  if (name == "scott") return bandwidth_rule::scott;
  if (name == "silverman") return bandwidth_rule::silverman;
  if (name == "median") return bandwidth_rule::median;
  detail::fail("gfd::parse_bandwidth_rule", "unknown bandwidth rule '", name,
               "' (expected scott, silverman or median)");
}

namespace detail {
/// A power of two 2^e with max |x| = f 2^e, f in [1/2, 1), when that maximum lies outside
/// [2^-400, 2^400]; 1 otherwise (and for x = 0). The rules below divide by it (exactly) before
/// squaring coordinates, so clouds at 1e300 or 1e-300 get their bandwidth instead of an overflow
/// or a spurious "no spread". O(N d).
template <class Derived>
double unit_scale(const Eigen::MatrixBase<Derived>& x) {
  const double m = static_cast<double>(x.cwiseAbs().maxCoeff());
  int e = 0;
  (void)std::frexp(m, &e);
  if (!(m > 0.0) || !std::isfinite(m) || (e > -400 && e < 400)) return 1.0;
  return std::ldexp(1.0, e);
}

/// Effective sample size (sum w)^2 / sum w^2 and the pooled standard deviation
/// sqrt(mean over coordinates of the weighted variance) of a cloud.
template <class Scalar, int Dim>
std::pair<double, double> size_and_spread(const cloud_view<Scalar, Dim>& c) {
  const auto& x = c.points();
  const Eigen::Index n = x.cols();
  Eigen::VectorXd w = c.weighted() ? Eigen::VectorXd(c.weights().template cast<double>())
                                   : Eigen::VectorXd::Ones(n);
  w /= w.sum();
  const double n_eff = 1.0 / w.squaredNorm();
  const double unit = unit_scale(x);
  Eigen::MatrixXd xd = x.template cast<double>();
  if (unit != 1.0) xd /= unit;
  const Eigen::VectorXd mean = xd * w;
  const double var = ((xd.colwise() - mean).array().square().rowwise() * w.transpose().array())
                         .sum() / static_cast<double>(x.rows());
  // Unbiased-style correction as in scipy.stats.gaussian_kde (uniform weights: n / (n - 1)).
  const double corr = n_eff > 1.0 ? n_eff / (n_eff - 1.0) : 1.0;
  // Coincident points leave a variance of pure round-off, relative to their magnitude: report
  // it as exactly zero. (Relative, so a cloud keeps its spread at any scale.)
  const double sigma = std::sqrt(var * corr);
  return {n_eff, sigma <= 1e-12 * xd.cwiseAbs().maxCoeff() ? 0.0 : sigma * unit};
}

inline double checked_bandwidth(std::string_view where, double h) {
  if (h == 0.0)
    fail(where, "the cloud has no spread: the rule gives bandwidth 0 (all particles coincide?); "
         "pass a bandwidth explicitly");
  if (!(std::isfinite(h) && h > 0.0))
    fail(where, "the rule gives bandwidth ", short_number(h), "; pass a bandwidth explicitly");
  return h;
}
}  // namespace detail

/// Scott's rule for an isotropic kernel: h = sigma n_eff^{-1/(d+4)}, sigma the pooled standard
/// deviation, n_eff the effective sample size of the weights. O(N d).
/// @throws gfd::invalid_argument on an invalid cloud or zero spread.
template <class Scalar, int Dim>
double scott_bandwidth(const cloud_view<Scalar, Dim>& c) {
  c.validate("gfd::scott_bandwidth");
  const auto [n, sigma] = detail::size_and_spread(c);
  const double d = static_cast<double>(c.dim());
  return detail::checked_bandwidth("gfd::scott_bandwidth", sigma * std::pow(n, -1.0 / (d + 4.0)));
}

/// Silverman's rule: h = sigma (n_eff (d + 2) / 4)^{-1/(d+4)}. O(N d).
/// @throws gfd::invalid_argument on an invalid cloud or zero spread.
template <class Scalar, int Dim>
double silverman_bandwidth(const cloud_view<Scalar, Dim>& c) {
  c.validate("gfd::silverman_bandwidth");
  const auto [n, sigma] = detail::size_and_spread(c);
  const double d = static_cast<double>(c.dim());
  return detail::checked_bandwidth("gfd::silverman_bandwidth",
                                   sigma * std::pow(n * (d + 2.0) / 4.0, -1.0 / (d + 4.0)));
}

/// Median of the pairwise Euclidean distances |x_i - x_j|, i != j (gfd::median: the mean of the
/// two middle values for an even count). Exact over all N (N - 1) / 2 pairs when there are at
/// most `max_pairs` of them, otherwise over `max_pairs` random pairs drawn with gfd::uniform_index
/// from rng_engine(seed) (deterministic, the same with every standard library). The same
/// heuristic as gfd::pooled_median_distance (median.hpp, detail::median_pair_distance).
/// Weights are ignored. O(min(N^2, max_pairs) d) time, O(min(N^2, max_pairs)) memory.
/// @throws gfd::invalid_argument on an invalid cloud or fewer than 2 particles (returns 0, it
///         does not throw, when most particles coincide; median_bandwidth then throws).
template <class Scalar, int Dim>
double median_distance(const cloud_view<Scalar, Dim>& c, std::size_t max_pairs = 20000,
                       std::uint64_t seed = 0) {
  c.validate("gfd::median_distance");
  const auto& x = c.points();
  const auto n = static_cast<std::size_t>(x.cols());
  if (n < 2) detail::fail("gfd::median_distance", "needs at least 2 particles, got ", n);
  if (max_pairs < 1) detail::fail("gfd::median_distance", "max_pairs must be >= 1, got ", max_pairs);
  auto pair_distance = [&](std::uint64_t i, std::uint64_t j) {
    // In double whatever Scalar is: float squares overflow from |x| ~ 1e19.
    return std::sqrt((x.col(static_cast<Eigen::Index>(i)).template cast<double>() -
                      x.col(static_cast<Eigen::Index>(j)).template cast<double>())
                         .squaredNorm());
  };
  const double unit = detail::unit_scale(x);
  if (unit == 1.0) return detail::median_pair_distance(n, pair_distance, max_pairs, seed);
  // Beyond 2^400 (or below 2^-400) squared distances would overflow (underflow): the same
  // median, computed on x / 2^e in double and scaled back.
  const Eigen::MatrixXd xs = x.template cast<double>() / unit;
  auto scaled_distance = [&](std::uint64_t i, std::uint64_t j) {
    return (xs.col(static_cast<Eigen::Index>(i)) - xs.col(static_cast<Eigen::Index>(j))).norm();
  };
  return unit * detail::median_pair_distance(n, scaled_distance, max_pairs, seed);
}

/// Median heuristic of Liu & Wang (SVGD, 2016) in our parametrisation k = exp(-|u|^2 / 2h^2):
/// h = med / sqrt(2 log(N + 1)), med the median pairwise distance (sampled, see
/// median_distance). @throws gfd::invalid_argument on an invalid cloud or zero spread.
template <class Scalar, int Dim>
double median_bandwidth(const cloud_view<Scalar, Dim>& c, std::size_t max_pairs = 20000,
                        std::uint64_t seed = 0) {
  const double med = median_distance(c, max_pairs, seed);
  const double n = static_cast<double>(c.size());
  return detail::checked_bandwidth("gfd::median_bandwidth", med / std::sqrt(2.0 * std::log(n + 1.0)));
}

/// Applies `rule` to the cloud.
template <class Scalar, int Dim>
double choose_bandwidth(bandwidth_rule rule, const cloud_view<Scalar, Dim>& c) {
  switch (rule) {
    case bandwidth_rule::scott: return scott_bandwidth(c);
    case bandwidth_rule::silverman: return silverman_bandwidth(c);
    case bandwidth_rule::median: return median_bandwidth(c);
  }
  detail::fail("gfd::choose_bandwidth", "unknown rule ", static_cast<int>(rule));
}

}  // namespace gfd
