// SPDX-License-Identifier: MIT
/// @file sphere.hpp
/// @brief The unit sphere S^{d-1} as a home for flows: explicit normalisation, uniform and von
///        Mises-Fisher sampling (Wood 1994), vMF mixtures, a sphere-normalised KDE, geodesic MMD
///        and mode coverage.
///
/// Points are d x N column-major matrices with unit columns, d >= 2, as everywhere in gfd. Flows
/// on the sphere are gfd::flow<Kernel, Scalar, Dim, Evaluator, gfd::unit_sphere>; with
/// gfd::gaussian they use the von Mises-Fisher kernel exp(kappa <x, y>), kappa = 1 / h^2 (see
/// sphere_kernels.hpp).
///
/// Determinism: samplers draw from std::mt19937_64 through gfd's portable uniform and
/// Box-Muller transforms (toy.hpp), so a seed gives the same points with every standard library.
/// Thread-safety: functions are reentrant; kde's const members may be called concurrently.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <optional>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include "error.hpp"
#include "evaluators/exact.hpp"
#include "kernels.hpp"
#include "manifolds.hpp"
#include "metrics.hpp"
#include "particles.hpp"
#include "sphere_kernels.hpp"
#include "toy.hpp"

namespace gfd::sphere {

// ---------------------------------------------------------------------------------------------
// Normalisation (only when asked for: flows reject points off the sphere)
// ---------------------------------------------------------------------------------------------

/// x with every column divided by its norm: the nearest points of the unit sphere. The explicit
/// way to put data on the sphere (gfd::flow and gfd::sphere::kde reject points whose norm is off
/// 1 by more than unit_sphere::tolerance instead of silently moving them). O(N d).
/// @throws gfd::invalid_argument if x has fewer than 2 rows, or naming the first column whose
///         norm is zero or not finite.
template <class Derived>
[[nodiscard]] positions<typename Derived::Scalar, Derived::RowsAtCompileTime> normalise(
    const Eigen::MatrixBase<Derived>& x) {
  constexpr std::string_view where = "gfd::sphere::normalise";
  if (x.rows() < 2) detail::fail(where, "the unit sphere S^{d-1} needs d >= 2, got d = ", x.rows());
  positions<typename Derived::Scalar, Derived::RowsAtCompileTime> out = x;
  for (Eigen::Index i = 0; i < out.cols(); ++i) {
    const auto r = out.col(i).norm();
    if (!(std::isfinite(static_cast<double>(r)) && r > 0))
      detail::fail(where, "particle ", i, " has norm ", r, " and cannot be normalised");
    out.col(i) /= r;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Sampling
// ---------------------------------------------------------------------------------------------

namespace detail {
using gfd::detail::fail;

inline void check_sphere_dim(std::string_view where, Eigen::Index d) {
  if (d < 2) fail(where, "the unit sphere S^{d-1} needs d >= 2, got d = ", d);
}

/// A standard normal vector of R^d divided by its norm (uniform on S^{d-1}).
inline void uniform_direction(toy::detail::normal_source& normal, Eigen::Ref<Eigen::VectorXd> out) {
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
    b_ = m1 / (2.0 * kappa + std::sqrt(4.0 * kappa * kappa + m1 * m1));
    x0_ = (1.0 - b_) / (1.0 + b_);
    one_minus_x0_ = 2.0 * b_ / (1.0 + b_);
    log_one_minus_x0_sq_ = std::log(4.0 * b_) - 2.0 * std::log1p(b_);
  }

  /// Returns (W, 1 - W).
  std::pair<double, double> operator()(std::mt19937_64& rng, toy::detail::normal_source& normal,
                                       Eigen::Ref<Eigen::VectorXd> scratch) const {
    const double m1 = static_cast<double>(d_ - 1);
    for (;;) {
      // Z ~ Beta((d-1)/2, (d-1)/2): (1 + u_1) / 2 for u uniform on S^{d-1}.
      uniform_direction(normal, scratch);
      const double z = 0.5 * (1.0 + scratch(0));
      const double one_minus_w = 2.0 * b_ * z / (1.0 - (1.0 - b_) * z);
      const double w = 1.0 - one_minus_w;
      const double u = 1.0 - toy::detail::uniform01(rng);  // (0, 1]: finite log
      // kappa W + (d-1) log(1 - x0 W) - c >= log U, c = kappa x0 + (d-1) log(1 - x0^2).
      const double lhs = kappa_ * (one_minus_x0_ - one_minus_w) +
                         m1 * (std::log(one_minus_x0_ + x0_ * one_minus_w) - log_one_minus_x0_sq_);
      if (lhs >= std::log(u)) return {w, one_minus_w};
    }
  }

private:
  Eigen::Index d_;
  double kappa_, b_, x0_, one_minus_x0_, log_one_minus_x0_sq_;
};

/// One vMF(mu, kappa) point into `out` (mu a unit d-vector).
inline void vmf_point(const Eigen::Ref<const Eigen::VectorXd>& mu, const wood_sampler& wood,
                      std::mt19937_64& rng, toy::detail::normal_source& normal,
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
[[nodiscard]] toy::points<Scalar> uniform(Eigen::Index d, Eigen::Index n, std::mt19937_64& rng) {
  constexpr std::string_view where = "gfd::sphere::uniform";
  detail::check_sphere_dim(where, d);
  toy::detail::check_count(where, n);
  toy::detail::normal_source normal(rng);
  Eigen::MatrixXd out(d, n);
  for (Eigen::Index i = 0; i < n; ++i) detail::uniform_direction(normal, out.col(i));
  return out.template cast<Scalar>();
}

/// uniform with a fresh std::mt19937_64(seed).
template <class Scalar = double>
[[nodiscard]] toy::points<Scalar> uniform(Eigen::Index d, Eigen::Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return uniform<Scalar>(d, n, rng);
}

/// n exact samples of the von Mises-Fisher distribution vMF(mu, kappa) on S^{d-1}, density
/// C_d(kappa) exp(kappa <mu, x>) (vmf_log_normaliser), by Wood's algorithm (A. T. A. Wood,
/// "Simulation of the von Mises Fisher distribution", Commun. Stat. Simul. Comput. 23(1), 1994):
/// the cosine W = <x, mu> by rejection from a Beta((d-1)/2, (d-1)/2) proposal (acceptance rate
/// above ~0.6 for every d and kappa), then x = W mu + sqrt(1 - W^2) v, v uniform among unit
/// vectors orthogonal to mu. kappa = 0 gives the uniform distribution. Expected O(n d).
/// @param mu unit mean direction (d >= 2), checked to 1e-6.
/// @throws gfd::invalid_argument if mu is not a unit vector of dimension >= 2, kappa < 0 or not
///         finite, or n < 0.
template <class Scalar = double, class Derived>
[[nodiscard]] toy::points<Scalar> vmf(const Eigen::MatrixBase<Derived>& mu, double kappa,
                                      Eigen::Index n, std::mt19937_64& rng) {
  constexpr std::string_view where = "gfd::sphere::vmf";
  const Eigen::VectorXd m = detail::unit_mean_direction(where, mu);
  detail::check_kappa(where, kappa);
  toy::detail::check_count(where, n);
  const detail::wood_sampler wood(m.size(), kappa);
  toy::detail::normal_source normal(rng);
  Eigen::VectorXd scratch(m.size());
  Eigen::MatrixXd out(m.size(), n);
  for (Eigen::Index i = 0; i < n; ++i) detail::vmf_point(m, wood, rng, normal, scratch, out.col(i));
  return out.template cast<Scalar>();
}

/// vmf with a fresh std::mt19937_64(seed).
template <class Scalar = double, class Derived>
[[nodiscard]] toy::points<Scalar> vmf(const Eigen::MatrixBase<Derived>& mu, double kappa,
                                      Eigen::Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
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
/// the centres, sphere::kde<gaussian>(centres, bandwidth_of(kappa)).log_density(x).
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
                                                    std::mt19937_64& rng) {
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
                                         std::mt19937_64& rng) {
  constexpr std::string_view where = "gfd::sphere::sample";
  detail::check_sphere_dim(where, mix.centres.rows());
  if (mix.centres.cols() < 1) detail::fail(where, "the mixture has no centres");
  unit_sphere{}.validate(where, "centres", mix.centres);
  detail::check_kappa(where, mix.kappa);
  toy::detail::check_count(where, n);
  const Eigen::Index d = mix.centres.rows(), k = mix.centres.cols();
  const Eigen::MatrixXd centres = normalise(mix.centres);
  const detail::wood_sampler wood(d, mix.kappa);
  toy::detail::normal_source normal(rng);
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
/// std::mt19937_64(seed) (centres drawn first). E.g. vmf_mixture(3, 6, 50, 1000, 1) on S^2, or
/// vmf_mixture(128, 10, 200, 2000, 1) for normalised 128-d embeddings. O(n d + k d).
/// @throws gfd::invalid_argument if d < 2, k < 1, kappa < 0 or not finite, or n < 0.
[[nodiscard]] inline vmf_mixture_sample vmf_mixture(Eigen::Index d, Eigen::Index k, double kappa,
                                                    Eigen::Index n, std::uint64_t seed) {
  detail::check_kappa("gfd::sphere::vmf_mixture", kappa);
  std::mt19937_64 rng(seed);
  vmf_mixture_sample s;
  s.mixture.centres = spread_centres(d, k, rng);
  s.mixture.kappa = kappa;
  s.points = sample(s.mixture, n, rng);
  return s;
}

// ---------------------------------------------------------------------------------------------
// KDE normalised on the sphere
// ---------------------------------------------------------------------------------------------

/// The KDE p(x) = sum_j w_j k_h(x - y_j) / Z of a weighted cloud on S^{d-1}, a probability
/// density with respect to the area measure of the sphere: Z = sphere::log_normaliser(kernel,
/// d, h) replaces the h^d Z_d of R^d. With gfd::gaussian this is a mixture of von Mises-Fisher
/// densities C_d(kappa) exp(kappa <x, y_j>), kappa = 1/h^2; with gfd::geodesic_gaussian the
/// kernel is bound to h (bind_bandwidth).
///
/// score() is the Riemannian gradient of log p: the ambient KDE score projected on T_x S^{d-1}
/// (for the vMF kernel, kappa P_x (m(x)) with m(x) the softmax mean of the sources). Everything
/// is in the log domain as in gfd::kde; one evaluator pass per batched call, O(n m d) for the
/// exact evaluator; the normaliser is computed once, at construction.
///
/// Sources are viewed (cloud_view): they must outlive the KDE. Thread-safety: const calls are safe.
/// @throws gfd::invalid_argument on an invalid cloud, a bandwidth not finite and > 0, sources or
///         queries off the unit sphere (naming the point and its norm) or of another dimension.
template <Kernel K = gaussian, class Scalar = double, int Dim = Eigen::Dynamic,
          Evaluator E = exact_evaluator>
class kde {
public:
  using view_type = cloud_view<Scalar, Dim>;
  using matrix_type = positions<Scalar, Dim>;
  using point_type = Eigen::Matrix<Scalar, Dim, 1>;
  using queries_ref = Eigen::Ref<const matrix_type>;

  kde(view_type sources, Scalar bandwidth, K kernel = {}, E evaluator = {}, unit_sphere sphere = {})
      : src_(std::move(sources)), h_(checked_bandwidth(bandwidth)),
        kernel_(bind_bandwidth(kernel, static_cast<double>(bandwidth))),
        eval_(std::move(evaluator)), sphere_(sphere) {
    src_.validate("gfd::sphere::kde", "sources");
    sphere_.validate("gfd::sphere::kde", "sources", src_.points());
    log_w_ = src_.normalised_log_weights();
    log_z_ = static_cast<Scalar>(
        gfd::sphere::log_normaliser(kernel_, static_cast<int>(src_.dim()), static_cast<double>(h_)));
  }

  [[nodiscard]] Scalar bandwidth() const noexcept { return h_; }
  /// kappa = 1 / h^2: the vMF concentration when the kernel is gfd::gaussian.
  [[nodiscard]] double kappa() const noexcept { return 1.0 / (static_cast<double>(h_) * h_); }
  [[nodiscard]] const K& kernel() const noexcept { return kernel_; }
  [[nodiscard]] const view_type& sources() const noexcept { return src_; }
  [[nodiscard]] Eigen::Index dim() const noexcept { return src_.dim(); }
  /// log Z, the integral of one kernel over the sphere.
  [[nodiscard]] Scalar log_normaliser() const noexcept { return log_z_; }

  /// log p at each query.
  [[nodiscard]] vector<Scalar> log_density(const queries_ref& queries) const {
    auto s = sums("gfd::sphere::kde::log_density", queries);
    return (s.log_sum.array() - log_z_).matrix();
  }
  /// p at each query (may underflow far from the sources; use log_density there).
  [[nodiscard]] vector<Scalar> density(const queries_ref& queries) const {
    return log_density(queries).array().exp().matrix();
  }
  /// Riemannian gradient of log p at each query (d x n), tangent to the sphere.
  [[nodiscard]] matrix_type score(const queries_ref& queries) const {
    auto s = sums("gfd::sphere::kde::score", queries);
    for (Eigen::Index i = 0; i < queries.cols(); ++i)
      s.field.col(i) = sphere_.project(queries.col(i), s.field.col(i));
    return std::move(s.field);
  }

  [[nodiscard]] Scalar log_density_at(const point_type& x) const { return log_density(x)(0); }
  [[nodiscard]] Scalar density_at(const point_type& x) const { return density(x)(0); }
  [[nodiscard]] point_type score_at(const point_type& x) const { return score(x).col(0); }

private:
  static Scalar checked_bandwidth(Scalar h) {
    gfd::detail::require_positive("gfd::sphere::kde", "bandwidth", h);
    return h;
  }
  kernel_sums<Scalar, Dim> sums(const char* where, const queries_ref& q) const {
    gfd::detail::require_same_dim(where, q, "queries", src_.points(), "sources");
    view_type(q).validate(where, "queries");
    sphere_.validate(where, "queries", q);
    kernel_sums<Scalar, Dim> out;
    eval_.sums(q, src_.points(), log_w_, kernel_, h_, sum_options{}, out);
    return out;
  }

  view_type src_;
  Scalar h_;
  K kernel_;
  E eval_;
  unit_sphere sphere_;
  vector<Scalar> log_w_;
  Scalar log_z_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Two-sample metrics on the sphere
// ---------------------------------------------------------------------------------------------

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
struct geodesic_gaussian_block_sum {
  double minus_inv_two_h2;
  template <class A>
  double operator()(const A& d2) const {
    const Eigen::ArrayXd theta = 2.0 * (0.5 * d2.sqrt()).min(1.0).asin();
    return (theta.square() * minus_inv_two_h2).exp().sum();
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
  gfd::detail::require_same_dimension(where, "x", x, "y", y);
  if (kernel == mmd_kernel::vmf) return gfd::detail::mmd2_unbiased_impl(xt, yt, h);
  const detail::geodesic_gaussian_block_sum g{-1.0 / (2.0 * h * h)};
  const double n = static_cast<double>(xt.rows()), m = static_cast<double>(yt.rows());
  const double xx = gfd::detail::metric_upper_sum(xt, g), yy = gfd::detail::metric_upper_sum(yt, g);
  const double xy = gfd::detail::metric_cross_sum(xt, yt, g);
  return 2.0 * xx / (n * (n - 1.0)) + 2.0 * yy / (m * (m - 1.0)) - 2.0 * xy / (n * m);
}

/// Geodesic mode coverage: each particle is assigned to its nearest centre in geodesic distance
/// (largest <x, c>; ties go to the lower index) and is "near" when that angle is <= radius; a
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
  gfd::detail::require_same_dimension(where, "x", x, "centres", centres);
  const Eigen::Index n = xt.rows(), k = ct.rows();
  const Eigen::Index threshold =
      min_count ? *min_count
                : std::max<Eigen::Index>(1, static_cast<Eigen::Index>(std::ceil(
                                                static_cast<double>(n) / (100.0 * static_cast<double>(k)))));
  if (threshold < 1) gfd::detail::fail(where, "min_count must be >= 1, got ", threshold);
  const Eigen::MatrixXd dots = xt * ct.transpose();  // n x k cosines
  const unit_sphere s;
  std::vector<Eigen::Index> counts(static_cast<std::size_t>(k), 0);
  Eigen::Index near = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    Eigen::Index c = 0;
    dots.row(i).maxCoeff(&c);
    if (s.distance(xt.row(i).transpose(), ct.row(c).transpose()) <= radius) {
      ++near;
      ++counts[static_cast<std::size_t>(c)];
    }
  }
  coverage result;
  result.modes = static_cast<int>(k);
  result.modes_covered = static_cast<int>(
      std::count_if(counts.begin(), counts.end(), [threshold](Eigen::Index c) { return c >= threshold; }));
  result.fraction_near = static_cast<double>(near) / static_cast<double>(n);
  return result;
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
