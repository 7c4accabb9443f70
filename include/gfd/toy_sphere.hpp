// SPDX-License-Identifier: MIT
/// @file toy_sphere.hpp
/// @brief Seeded samplers on the unit sphere S^{d-1}: uniform, von Mises-Fisher (Wood 1994), vMF
///        mixtures with well-spread centres.
///
/// Points are d x N column-major matrices with unit columns, d >= 2, as everywhere in gfd.
/// Determinism: samplers draw from rng_engine (std::mt19937_64) through gfd's portable uniform
/// and Box-Muller transforms (random.hpp), so a seed gives the same points with every standard
/// library. Thread-safety: functions are reentrant.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string_view>
#include <utility>

#include "detail/special_functions.hpp"
#include "error.hpp"
#include "manifolds.hpp"
#include "random.hpp"
#include "toy.hpp"

namespace gfd::sphere {

namespace detail {
using gfd::detail::fail;

inline void check_sphere_dim(std::string_view where, Eigen::Index d) {
  if (d < 2) fail(where, "the unit sphere S^{d-1} needs d >= 2, got d = ", d);
}

/// A standard normal vector of R^d divided by its norm (uniform on S^{d-1}).
inline void uniform_direction(normal_source& normal, Eigen::Ref<Eigen::VectorXd> out) {
  double r = 0;
  do {  // the zero vector has probability 0 but would divide by zero
    for (Eigen::Index k = 0; k < out.size(); ++k) out(k) = normal();
    r = out.norm();
  } while (!(r > 0));
  out /= r;
}

/// Wood's (1994) rejection sampler for the cosine W = <x, mu> of x ~ vMF(mu, kappa) on S^{d-1}.
/// Constants in the cancellation-free forms b = (d-1) / (2 kappa + sqrt(4 kappa^2 + (d-1)^2)),
/// x0 = (1 - b) / (1 + b), and 1 - x0, 1 - x0^2, 1 - W kept explicitly, so kappa = 1e8 is fine.
class wood_sampler {
public:
  wood_sampler(Eigen::Index d, double kappa) : d_(d), kappa_(kappa) {
    const double m1 = static_cast<double>(d - 1);
    // b = r / (1 + sqrt(1 + r^2)) with r = (d-1) / (2 kappa): the same number as
    // (d-1) / (2 kappa + sqrt(4 kappa^2 + (d-1)^2)), but 4 kappa^2 never forms, so any finite
    // kappa works (4 kappa^2 overflows from kappa ~ 6.7e153 and left b = 0: no draw accepted).
    if (kappa > 0) {
      const double r = 0.5 * m1 / kappa;
      b_ = r / (1.0 + std::hypot(1.0, r));
    } else {
      b_ = 1.0;  // kappa = 0: uniform; x0 = 0
    }
    x0_ = (1.0 - b_) / (1.0 + b_);
    one_minus_x0_ = 2.0 * b_ / (1.0 + b_);
    log_one_minus_x0_sq_ = std::log(4.0 * b_) - 2.0 * std::log1p(b_);
  }

  /// Returns (W, 1 - W).
  std::pair<double, double> operator()(rng_engine& rng, normal_source& normal,
                                       Eigen::Ref<Eigen::VectorXd> scratch) const {
    const double m1 = static_cast<double>(d_ - 1);
    // The acceptance rate is above 1/2 for every d and kappa (Wood 1994), so 200 rejections in
    // a row (probability < 1e-60) means a non-finite constant: fail instead of spinning.
    for (int attempt = 0; attempt < 200; ++attempt) {
      // Z ~ Beta((d-1)/2, (d-1)/2): (1 + u_1) / 2 for u uniform on S^{d-1}.
      uniform_direction(normal, scratch);
      const double z = 0.5 * (1.0 + scratch(0));
      const double one_minus_w = 2.0 * b_ * z / (1.0 - (1.0 - b_) * z);
      const double w = 1.0 - one_minus_w;
      const double u = 1.0 - uniform01(rng);  // (0, 1]: finite log
      // kappa W + (d-1) log(1 - x0 W) - c >= log U, c = kappa x0 + (d-1) log(1 - x0^2).
      const double lhs = kappa_ * (one_minus_x0_ - one_minus_w) +
                         m1 * (std::log(one_minus_x0_ + x0_ * one_minus_w) - log_one_minus_x0_sq_);
      if (lhs >= std::log(u)) return {w, one_minus_w};
    }
    throw numerical_error("gfd::sphere::vmf: Wood's sampler rejected 200 draws in a row at kappa = " +
                          gfd::detail::short_number(kappa_) + ", d = " + std::to_string(d_));
  }

private:
  Eigen::Index d_;
  double kappa_, b_, x0_, one_minus_x0_, log_one_minus_x0_sq_;
};

/// One vMF(mu, kappa) point into `out` (mu a unit d-vector).
inline void vmf_point(const Eigen::Ref<const Eigen::VectorXd>& mu, const wood_sampler& wood,
                      rng_engine& rng, normal_source& normal,
                      Eigen::Ref<Eigen::VectorXd> scratch, Eigen::Ref<Eigen::VectorXd> out) {
  const auto [w, one_minus_w] = wood(rng, normal, scratch);
  // A unit tangent direction at mu, uniform on the great sphere orthogonal to mu.
  double r = 0;
  do {
    uniform_direction(normal, scratch);
    scratch -= scratch.dot(mu) * mu;
    r = scratch.norm();
  } while (!(r > 1e-8));
  const double s = std::sqrt(one_minus_w * (2.0 - one_minus_w));  // sqrt(1 - W^2)
  out = w * mu + (s / r) * scratch;
  out /= out.norm();
}

template <class Derived>
Eigen::VectorXd unit_mean_direction(std::string_view where, const Eigen::MatrixBase<Derived>& mu) {
  Eigen::VectorXd m = mu.template cast<double>();
  check_sphere_dim(where, m.size());
  if (!m.allFinite() || std::abs(m.norm() - 1.0) > 1e-6)
    fail(where, "mean direction mu must be a unit vector, got norm ", m.norm());
  return m / m.norm();
}

inline void check_kappa(std::string_view where, double kappa) {
  if (!(std::isfinite(kappa) && kappa >= 0))
    fail(where, "kappa must be finite and >= 0, got ", kappa);
}
}  // namespace detail

/// n points uniform on S^{d-1} (normal vectors divided by their norm), d x n. O(n d).
/// @throws gfd::invalid_argument if d < 2 or n < 0.
template <class Scalar = double>
[[nodiscard]] toy::points<Scalar> uniform(Eigen::Index d, Eigen::Index n, rng_engine& rng) {
  constexpr std::string_view where = "gfd::sphere::uniform";
  detail::check_sphere_dim(where, d);
  toy::detail::check_count(where, n);
  normal_source normal(rng);
  Eigen::MatrixXd out(d, n);
  for (Eigen::Index i = 0; i < n; ++i) detail::uniform_direction(normal, out.col(i));
  return out.template cast<Scalar>();
}

/// uniform with a fresh rng_engine(seed) (std::mt19937_64).
template <class Scalar = double>
[[nodiscard]] toy::points<Scalar> uniform(Eigen::Index d, Eigen::Index n, std::uint64_t seed) {
  rng_engine rng(seed);
  return uniform<Scalar>(d, n, rng);
}

/// n exact samples of the von Mises-Fisher distribution vMF(mu, kappa) on S^{d-1}, density
/// C_d(kappa) exp(kappa <mu, x>) (vmf_log_normaliser), by Wood's algorithm (A. T. A. Wood,
/// "Simulation of the von Mises Fisher distribution", Commun. Stat. Simul. Comput. 23(1), 1994):
/// the cosine W = <x, mu> by rejection from a Beta((d-1)/2, (d-1)/2) proposal (acceptance rate
/// above ~0.6 for every d and kappa), then x = W mu + sqrt(1 - W^2) v, v uniform among unit
/// vectors orthogonal to mu. kappa = 0 gives the uniform distribution. Expected O(n d).
/// @param mu unit mean direction (d >= 2), checked to 1e-6.
/// @param kappa concentration (>= 0)
/// @param n number of samples
/// @param rng the seeded engine the samples are drawn from
/// @throws gfd::invalid_argument if mu is not a unit vector of dimension >= 2, kappa < 0 or not
///         finite, or n < 0.
template <class Scalar = double, class Derived>
[[nodiscard]] toy::points<Scalar> vmf(const Eigen::MatrixBase<Derived>& mu, double kappa,
                                      Eigen::Index n, rng_engine& rng) {
  constexpr std::string_view where = "gfd::sphere::vmf";
  const Eigen::VectorXd m = detail::unit_mean_direction(where, mu);
  detail::check_kappa(where, kappa);
  toy::detail::check_count(where, n);
  const detail::wood_sampler wood(m.size(), kappa);
  normal_source normal(rng);
  Eigen::VectorXd scratch(m.size());
  Eigen::MatrixXd out(m.size(), n);
  for (Eigen::Index i = 0; i < n; ++i) detail::vmf_point(m, wood, rng, normal, scratch, out.col(i));
  return out.template cast<Scalar>();
}

/// vmf with a fresh rng_engine(seed).
template <class Scalar = double, class Derived>
[[nodiscard]] toy::points<Scalar> vmf(const Eigen::MatrixBase<Derived>& mu, double kappa,
                                      Eigen::Index n, std::uint64_t seed) {
  rng_engine rng(seed);
  return vmf<Scalar>(mu, kappa, n, rng);
}

/// E <x, mu> = A_d(kappa) = I_{d/2}(kappa) / I_{d/2-1}(kappa) under vMF(mu, kappa) on S^{d-1}, the
/// mean resultant length of the distribution (Mardia & Jupp 2000, Sec. 9.3.2); on S^2
/// coth(kappa) - 1/kappa. O(min(kappa, 500)). @throws if d < 2 or kappa < 0.
[[nodiscard]] inline double vmf_mean_cosine(int d, double kappa) {
  constexpr std::string_view where = "gfd::sphere::vmf_mean_cosine";
  detail::check_sphere_dim(where, d);
  detail::check_kappa(where, kappa);
  if (kappa == 0) return 0;
  return std::exp(log_bessel_i_scaled(0.5 * d, kappa) - log_bessel_i_scaled(0.5 * d - 1.0, kappa));
}

/// An equal-weight mixture of von Mises-Fisher distributions with a common concentration:
/// component c is vMF(centres.col(c), kappa). Its exact log-density is that of the vMF KDE of
/// the centres, gfd::kde<gaussian, double, Eigen::Dynamic, exact_evaluator, unit_sphere>(centres,
/// bandwidth_of(kappa)).log_density(x).
struct vmf_mixture_params {
  Eigen::MatrixXd centres;  ///< d x k unit mean directions
  double kappa = 1.0;       ///< common concentration
  /// 1 / sqrt(kappa): the angular spread of a component (the angle from its centre is about
  /// sqrt((d-1) / kappa) for large kappa); a natural mode_coverage radius is 3 / sqrt(kappa)
  /// on S^2.
  [[nodiscard]] double angular_scale() const { return 1.0 / std::sqrt(kappa); }
  /// acos(A_d(kappa)), the angle whose cosine is the mean cosine E <x, c> of a component
  /// (vmf_mean_cosine). In high dimension the angle to the centre concentrates there (about
  /// sqrt((d - 1) / kappa) for kappa >> d): 1.5 typical_angle() is a good mode_coverage radius
  /// for d >= 16, 2 typical_angle() on S^2.
  [[nodiscard]] double typical_angle() const;
};

inline double vmf_mixture_params::typical_angle() const {
  return std::acos(vmf_mean_cosine(static_cast<int>(centres.rows()), kappa));
}

/// k well-spread unit centres in R^d: d = 2, angles 2 pi c / k; d = 3, the Fibonacci lattice
/// z_c = 1 - (2c + 1) / k, longitude c pi (3 - sqrt 5) (Gonzalez 2010, Math. Geosci. 42); d >= 4,
/// uniform random directions from `rng` (nearly orthogonal in high dimension). O(k d).
/// @throws gfd::invalid_argument if d < 2 or k < 1.
[[nodiscard]] inline Eigen::MatrixXd spread_centres(Eigen::Index d, Eigen::Index k,
                                                    rng_engine& rng) {
  constexpr std::string_view where = "gfd::sphere::spread_centres";
  detail::check_sphere_dim(where, d);
  if (k < 1) detail::fail(where, "number of centres must be >= 1, got ", k);
  Eigen::MatrixXd c(d, k);
  if (d == 2) {
    for (Eigen::Index j = 0; j < k; ++j) {
      const double a = 2.0 * std::numbers::pi * static_cast<double>(j) / static_cast<double>(k);
      c.col(j) << std::cos(a), std::sin(a);
    }
  } else if (d == 3) {
    const double golden = std::numbers::pi * (3.0 - std::sqrt(5.0));
    for (Eigen::Index j = 0; j < k; ++j) {
      const double z = 1.0 - (2.0 * static_cast<double>(j) + 1.0) / static_cast<double>(k);
      const double r = std::sqrt(std::max(0.0, 1.0 - z * z));
      const double a = golden * static_cast<double>(j);
      c.col(j) << r * std::cos(a), r * std::sin(a), z;
    }
  } else {
    c = uniform<double>(d, k, rng);
  }
  return c;
}

/// n points of a vMF mixture, d x n, point i from component i mod k (every component gets
/// floor(n/k) or ceil(n/k) points, and every prefix of the sample is balanced). Expected O(n d).
/// @throws gfd::invalid_argument if the centres are not unit vectors (d >= 2), kappa < 0, or n < 0.
template <class Scalar = double>
[[nodiscard]] toy::points<Scalar> sample(const vmf_mixture_params& mix, Eigen::Index n,
                                         rng_engine& rng) {
  constexpr std::string_view where = "gfd::sphere::sample";
  detail::check_sphere_dim(where, mix.centres.rows());
  if (mix.centres.cols() < 1) detail::fail(where, "the mixture has no centres");
  unit_sphere{}.validate(where, "centres", mix.centres);
  detail::check_kappa(where, mix.kappa);
  toy::detail::check_count(where, n);
  const Eigen::Index d = mix.centres.rows(), k = mix.centres.cols();
  const Eigen::MatrixXd centres = normalise(mix.centres);
  const detail::wood_sampler wood(d, mix.kappa);
  normal_source normal(rng);
  Eigen::VectorXd scratch(d);
  Eigen::MatrixXd out(d, n);
  for (Eigen::Index i = 0; i < n; ++i)
    detail::vmf_point(centres.col(i % k), wood, rng, normal, scratch, out.col(i));
  return out.template cast<Scalar>();
}

/// A vMF mixture and a sample of it (what vmf_mixture() returns).
struct vmf_mixture_sample {
  vmf_mixture_params mixture;
  Eigen::MatrixXd points;  ///< d x n
};

/// The sphere toy in any dimension: k components vMF(c_j, kappa) on S^{d-1} with
/// spread_centres(d, k) and n points (point i from component i mod k), all from
/// rng_engine(seed) (centres drawn first). E.g. vmf_mixture(3, 6, 50, 1000, 1) on S^2, or
/// vmf_mixture(128, 10, 200, 2000, 1) for normalised 128-d embeddings. O(n d + k d).
/// @throws gfd::invalid_argument if d < 2, k < 1, kappa < 0 or not finite, or n < 0.
[[nodiscard]] inline vmf_mixture_sample vmf_mixture(Eigen::Index d, Eigen::Index k, double kappa,
                                                    Eigen::Index n, std::uint64_t seed) {
  detail::check_kappa("gfd::sphere::vmf_mixture", kappa);
  rng_engine rng(seed);
  vmf_mixture_sample s;
  s.mixture.centres = spread_centres(d, k, rng);
  s.mixture.kappa = kappa;
  s.points = sample(s.mixture, n, rng);
  return s;
}

}  // namespace gfd::sphere
