// SPDX-License-Identifier: MIT
/// @file bandwidth.hpp
/// @brief Bandwidth rules for isotropic kernels: Scott, Silverman, median heuristic.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "error.hpp"
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
  const Eigen::MatrixXd xd = x.template cast<double>();
  const Eigen::VectorXd mean = xd * w;
  const double var = ((xd.colwise() - mean).array().square().rowwise() * w.transpose().array())
                         .sum() / static_cast<double>(x.rows());
  // Unbiased-style correction as in scipy.stats.gaussian_kde (uniform weights: n / (n - 1)).
  const double corr = n_eff > 1.0 ? n_eff / (n_eff - 1.0) : 1.0;
  // Coincident points leave a variance of pure round-off: report it as exactly zero.
  const double scale = 1.0 + xd.cwiseAbs().maxCoeff();
  const double sigma = std::sqrt(var * corr);
  return {n_eff, sigma <= 1e-12 * scale ? 0.0 : sigma};
}

inline double checked_bandwidth(std::string_view where, double h) {
  if (!(std::isfinite(h) && h > 0.0))
    fail(where, "the cloud has no spread: the rule gives bandwidth ", h,
         " (all particles coincide?); pass a bandwidth explicitly");
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

/// Median of the pairwise Euclidean distances. Exact over all pairs when there are at most
/// `max_pairs` of them, otherwise over `max_pairs` random pairs (seeded, deterministic).
/// Weights are ignored. O(min(N^2, max_pairs) d).
template <class Scalar, int Dim>
double median_distance(const cloud_view<Scalar, Dim>& c, std::size_t max_pairs = 20000,
                       std::uint64_t seed = 0) {
  c.validate("gfd::median_distance");
  const auto& x = c.points();
  const auto n = static_cast<std::size_t>(x.cols());
  if (n < 2) detail::fail("gfd::median_distance", "needs at least 2 particles, got ", n);
  std::vector<double> dist;
  const std::size_t all = n * (n - 1) / 2;
  auto pair_distance = [&](std::size_t i, std::size_t j) {
    return std::sqrt(static_cast<double>(
        (x.col(static_cast<Eigen::Index>(i)) - x.col(static_cast<Eigen::Index>(j))).squaredNorm()));
  };
  if (all <= max_pairs) {
    dist.reserve(all);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = i + 1; j < n; ++j) dist.push_back(pair_distance(i, j));
  } else {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::size_t> pick(0, n - 1);
    dist.reserve(max_pairs);
    while (dist.size() < max_pairs) {
      const std::size_t i = pick(rng), j = pick(rng);
      if (i != j) dist.push_back(pair_distance(i, j));
    }
  }
  auto mid = dist.begin() + static_cast<std::ptrdiff_t>(dist.size() / 2);
  std::nth_element(dist.begin(), mid, dist.end());
  return *mid;
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
