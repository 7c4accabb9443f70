// SPDX-License-Identifier: MIT
/// @file smoothed.hpp
/// @brief The exact W2 velocity of a smoothed f-divergence D_f(k*q || k*p) (DESIGN 1.7),
///        v = -grad (k * f'(q~/p~)), by Monte Carlo over kernel draws (any d, Gaussian kernel)
///        or by lattice quadrature (d <= 3, any kernel), beside the plug-in fields of
///        divergences.hpp.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/bound_kernel.hpp"
#include "core/evaluator.hpp"
#include "core/sums.hpp"
#include "divergences.hpp"
#include "error.hpp"
#include "kernels.hpp"
#include "particles.hpp"
#include "random.hpp"

namespace gfd {

/// Options of gfd::smoothed_f_divergence: which estimator of grad (k * g)(x), g = f'(q~/p~),
/// and its parameters.
struct smoothed_options {
  enum class estimator {
    /// The lattice when d <= 3 and the lattice over the particles and targets has at most
    /// max_lattice_points points, else Monte Carlo (which needs the Gaussian kernel).
    automatic,
    /// Antithetic (optionally orthogonal) Gaussian draws around each particle: any d, Gaussian
    /// kernel only, unbiased, random (seeded).
    monte_carlo,
    /// Trapezoid rule on a regular lattice: d <= 3, any kernel of R^d, deterministic.
    lattice,
  };
  estimator method = estimator::automatic;
  /// Monte Carlo: draws xi per particle (each used as +xi and -xi, so g is evaluated at
  /// 2 samples points per particle), >= 1. The standard error falls as 1/sqrt(samples).
  int samples = 32;
  /// Monte Carlo: which unbiased form of grad (k * g)(x) = E[...] over z = x + h xi.
  /// true (pathwise, the default): E[grad g(z)], grad g = phi(r~) (s_q - s_p) from the fields of
  /// the same two passes (v is the plug-in velocity averaged over the kernel); 5-15 times smaller
  /// standard error than the score-function form on smooth g (measured, see
  /// smoothed_f_divergence). false (score function, Stein's identity): E[xi g(z)] / h, which
  /// needs g alone.
  bool pathwise = true;
  /// Monte Carlo: the draws of a particle come in blocks of min(d, samples) mutually orthogonal
  /// directions with independent chi_d lengths (each draw still N(0, I), so the estimator stays
  /// unbiased); in d dimensions this divides the variance of the part of g linear over a
  /// bandwidth by about (d + 1) / 2. false: independent draws.
  bool orthogonal = true;
  /// Monte Carlo: the user's seed; a call draws from (seed, flow time t, bandwidth h), so the same
  /// call gives the same velocity (whatever the thread count) and successive steps fresh draws.
  std::uint64_t seed = 0;
  /// Lattice: spacing in units of the bandwidth h, finite and > 0. The trapezoid rule is
  /// spectrally accurate for smooth kernels: with the Gaussian the velocity's relative error at
  /// the default 1/3 is about 1e-10 for KL and 3e-8 for chi^2 (measured against spacing 1/6 on
  /// the 2-D cloud of tests/test_smoothed.cpp). Kernels with a cusp converge only to first order:
  /// the Laplacian in 1-D is off by about 1.6 spacing relative (20 % at 0.2, 2 % at 0.0125,
  /// measured), so take a small spacing there. The cost grows as spacing^-d.
  double lattice_spacing = 1.0 / 3;
  /// Lattice: the largest lattice (points over the particles' and targets' bounding box padded
  /// by the kernel's reach) it is used on, >= 1. Beyond it `automatic` takes Monte Carlo and
  /// `lattice` throws. 4e6 points hold 4e6 (d + 1) scalars of lattice sources at most.
  std::size_t max_lattice_points = 4'000'000;
};

namespace detail::smoothing {

inline constexpr const char* where = "gfd::smoothed_f_divergence";
/// Queries per evaluator pass (lattice points or Monte Carlo points): bounds the memory of the
/// query matrix and the sums to a few MB whatever N and the lattice size.
inline constexpr Eigen::Index chunk_points = Eigen::Index(1) << 16;
/// The lattice covers everything within this log-profile drop of a point (exp(-30) ~ 1e-13):
/// 7.75 h for the Gaussian, 30 h for the Laplacian; heavy tails are cut at max_reach.
inline constexpr double reach_log_drop = 30.0;
inline constexpr double max_reach = 32.0;

/// splitmix64's finaliser: a bijection of 64-bit words that mixes every input bit into every
/// output bit.
inline std::uint64_t mix(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// The seed of particle i's draws in the call at flow time t with bandwidth h. h is hashed
/// rounded to float, so that a float flow (whose h is the rounded double) draws as a double one.
inline std::uint64_t particle_seed(std::uint64_t seed, double t, double h, std::uint64_t i) {
  const std::uint64_t hb = std::bit_cast<std::uint32_t>(static_cast<float>(h));
  const std::uint64_t call = mix(mix(mix(seed) ^ std::bit_cast<std::uint64_t>(t)) ^ hb);
  return mix(call ^ mix(i + 0x632be59bd9b4e019ULL));
}

/// The generator of an f-divergence as the smoothed flow needs it, from its weight
/// phi(r) = r f''(r) alone, as functions of u = log r:
///
/// - g(u) = f'(e^u) - f'(1) = int_0^u phi(e^s) ds (the first variation, up to a constant);
/// - m(u) = f(e^u) / e^u + b (1 - e^-u), f normalised by f(1) = f'(1) = 0 and b = f(0) (the
///   integrand of the Monte Carlo estimate E_q~[f(r) / r]: adding b (r - 1) to f changes no
///   divergence between probability densities and keeps f / r bounded as r -> 0, where samples
///   of q~ are rare and 1/r is huge; KL: m = log r);
///
/// with phi frozen at phi(e^{+-B}) beyond the ratio clamp |u| <= B (the weight the plug-in
/// field uses there, f_divergence::weights), so g and m continue linearly in u instead of
/// stopping: f'' = phi(e^B) / r beyond e^B. Inside, g and R(u) = e^-u (S(u) + b), with
/// S(u) = int_0^u e^s phi(e^s) ds, sit on a uniform grid (0 a node, 128 nodes per unit of u); R
/// is an average of phi, so m = g + b - R has no cancellation. g by 5-point Gauss-Legendre on
/// each cell outward from g(0) = 0; R by R(u + du) = e^-du R(u) + int e^{s - u - du} phi(e^s) ds
/// from R(-B) = phi(e^-B) (stable: R' = phi - R decays); b = R(0). Read back by cubic Hermite
/// interpolation with the exact derivatives g' = phi, R' = phi - R at the nodes (error about
/// du^4 / 384 times the fourth derivative, du = 1/128: 1e-11 relative for chi^2).
class generator_table {
public:
  generator_table() = default;
  generator_table(const f_divergence& f, double bound) : bound_(bound) {
    const double cells_per_unit = 128.0;
    half_ = static_cast<Eigen::Index>(std::clamp(std::ceil(bound * cells_per_unit), 16.0, 131072.0));
    du_ = bound / static_cast<double>(half_);
    const Eigen::Index n = 2 * half_ + 1;
    g_.assign(static_cast<std::size_t>(n), 0.0);
    rr_ = dg_ = dr_ = g_;
    for (Eigen::Index k = 0; k < n; ++k) at(dg_, k) = f.weight(std::exp(node(k)));
    phi_lo_ = at(dg_, 0);
    phi_hi_ = at(dg_, n - 1);
    // g outward from u = 0, where it is 0 exactly.
    for (Eigen::Index k = half_; k + 1 < n; ++k)
      at(g_, k + 1) = at(g_, k) + cell_integral(f, node(k), node(k + 1), false);
    for (Eigen::Index k = half_; k > 0; --k)
      at(g_, k - 1) = at(g_, k) - cell_integral(f, node(k - 1), node(k), false);
    at(rr_, 0) = phi_lo_;
    for (Eigen::Index k = 0; k + 1 < n; ++k)
      at(rr_, k + 1) = std::exp(-du_) * at(rr_, k) + cell_integral(f, node(k), node(k + 1), true);
    for (Eigen::Index k = 0; k < n; ++k) at(dr_, k) = at(dg_, k) - at(rr_, k);
    b_ = at(rr_, half_);
    for (Eigen::Index k = 0; k < n; ++k)
      if (!(std::isfinite(at(g_, k)) && std::isfinite(at(rr_, k)) && std::isfinite(at(dg_, k))))
        fail(where, "f'(r) of '", f.name(), "' is not finite at log r = ", short_number(node(k)),
             " (its weight r f''(r) is ", short_number(at(dg_, k)),
             "); lower ratio_policy.max_log_ratio (", short_number(bound), ") or change f");
  }

  [[nodiscard]] double bound() const noexcept { return bound_; }
  /// phi(e^u) at the clamp, -B and +B.
  [[nodiscard]] double phi_low() const noexcept { return phi_lo_; }
  [[nodiscard]] double phi_high() const noexcept { return phi_hi_; }
  /// b = f(0) of the normalised f (phi frozen below e^-B).
  [[nodiscard]] double f_at_zero() const noexcept { return b_; }

  /// g(u) = f'(e^u) - f'(1), continued linearly beyond the clamp. u finite.
  [[nodiscard]] double f_prime(double u) const {
    if (u > bound_) return g_.back() + phi_hi_ * (u - bound_);
    if (u < -bound_) return g_.front() + phi_lo_ * (u + bound_);
    return hermite(g_, dg_, u);
  }
  /// m(u) = f(e^u) / e^u + b (1 - e^-u) (see the class comment). u finite.
  [[nodiscard]] double f_over_r_shifted(double u) const {
    if (u > bound_) {
      const double e = std::exp(bound_ - u);
      return g_.back() + b_ + phi_hi_ * (u - bound_ - 1.0 + e) - e * rr_.back();
    }
    if (u < -bound_) return g_.front() + phi_lo_ * (u + bound_ - 1.0) + b_;
    return hermite(g_, dg_, u) + b_ - hermite(rr_, dr_, u);
  }
  /// The normalised f(e^u) (f(1) = f'(1) = 0), continued beyond the clamp: e^u (m - b) + b.
  [[nodiscard]] double f_value(double u) const { return std::exp(u) * (f_over_r_shifted(u) - b_) + b_; }

private:
  [[nodiscard]] double node(Eigen::Index k) const { return static_cast<double>(k - half_) * du_; }
  static double& at(std::vector<double>& a, Eigen::Index k) { return a[static_cast<std::size_t>(k)]; }
  static double at(const std::vector<double>& a, Eigen::Index k) { return a[static_cast<std::size_t>(k)]; }

  // int_a^b phi(e^s) ds, or with `decay` int_a^b e^{s - b} phi(e^s) ds: 5-point Gauss-Legendre.
  static double cell_integral(const f_divergence& f, double a, double b, bool decay) {
    static constexpr std::array<double, 5> x{0.0, -0.5384693101056831, 0.5384693101056831,
                                             -0.9061798459386640, 0.9061798459386640};
    static constexpr std::array<double, 5> w{0.5688888888888889, 0.4786286704993665, 0.4786286704993665,
                                             0.2369268850561891, 0.2369268850561891};
    const double mid = 0.5 * (a + b), half = 0.5 * (b - a);
    double sum = 0;
    for (std::size_t k = 0; k < 5; ++k) {
      const double s = mid + half * x[k], phi = f.weight(std::exp(s));
      sum += w[k] * (decay ? std::exp(s - b) * phi : phi);
    }
    return sum * half;
  }

  double hermite(const std::vector<double>& y, const std::vector<double>& dy, double u) const {
    const double pos = u / du_ + static_cast<double>(half_);
    const auto k = std::clamp(static_cast<Eigen::Index>(std::floor(pos)), Eigen::Index(0), 2 * half_ - 1);
    const double t = pos - static_cast<double>(k), t2 = t * t, t3 = t2 * t;
    const double h00 = 2 * t3 - 3 * t2 + 1, h10 = t3 - 2 * t2 + t, h01 = -2 * t3 + 3 * t2,
                 h11 = t3 - t2;
    return h00 * at(y, k) + h10 * du_ * at(dy, k) + h01 * at(y, k + 1) + h11 * du_ * at(dy, k + 1);
  }

  double bound_ = 0, du_ = 1, phi_lo_ = 0, phi_hi_ = 0, b_ = 0;
  Eigen::Index half_ = 0;
  std::vector<double> g_, rr_, dg_, dr_;  // g and R with their derivatives at the nodes
};

/// log q~ - log p~ from two log-sums: 0 where both are -inf (outside every support of a compact
/// kernel: no preference, as detail::clamped_log_ratio), else the plain difference, +-inf where
/// one KDE is exactly zero.
inline double log_ratio(double log_q, double log_p) {
  if (std::isinf(log_q) && std::isinf(log_p)) return 0.0;
  return log_q - log_p;
}

/// The radius (units of h) beyond which kernel k is negligible for the lattice: its support
/// radius when compact, else where its log-profile has dropped by reach_log_drop below phi(0)
/// (bisection), at most max_reach.
template <Kernel K>
double kernel_reach(const K& k) {
  const double support = k.support_radius();
  if (std::isfinite(support)) return support;
  const double floor = k.log_profile(0.0) - reach_log_drop;
  if (!(k.log_profile(max_reach * max_reach) <= floor)) return max_reach;
  double lo = 0, hi = max_reach;
  for (int it = 0; it < 60; ++it) {
    const double mid = 0.5 * (lo + hi);
    (k.log_profile(mid * mid) <= floor ? hi : lo) = mid;
  }
  return hi;
}

/// A regular lattice of spacing delta over the particles' and targets' bounding box padded by
/// the kernel's reach R, its points at integer multiples of delta (so the part near the
/// particles is the same points whether or not the targets' box is included).
struct lattice {
  int dim = 0;
  double spacing = 0;
  std::array<double, 3> origin{};           ///< coordinates of index (0, 0, 0)
  std::array<Eigen::Index, 3> count{1, 1, 1};   ///< points per axis
  std::array<Eigen::Index, 3> near_lo{}, near_hi{};  ///< indices within R of the particles' box
  double points = 0;                        ///< total count (double: checked before any use)
};

template <class P, class T>
lattice make_lattice(const P& particles, const T& targets, double spacing, double reach) {
  lattice l;
  l.dim = static_cast<int>(particles.rows());
  l.spacing = spacing;
  l.points = 1;
  for (int k = 0; k < l.dim; ++k) {
    const double pmin = static_cast<double>(particles.row(k).minCoeff());
    const double pmax = static_cast<double>(particles.row(k).maxCoeff());
    const double tmin = static_cast<double>(targets.row(k).minCoeff());
    const double tmax = static_cast<double>(targets.row(k).maxCoeff());
    const double lo = std::floor((std::min(pmin, tmin) - reach) / spacing);
    const double hi = std::ceil((std::max(pmax, tmax) + reach) / spacing);
    const double n = hi - lo + 1;
    if (!(std::isfinite(lo) && std::isfinite(n) && n <= 1e15)) {
      l.points = std::numeric_limits<double>::infinity();
      return l;
    }
    l.points *= n;
    l.origin[static_cast<std::size_t>(k)] = lo * spacing;
    l.count[static_cast<std::size_t>(k)] = static_cast<Eigen::Index>(n);
    const double a = std::floor((pmin - reach) / spacing) - lo, b = std::ceil((pmax + reach) / spacing) - lo;
    l.near_lo[static_cast<std::size_t>(k)] = static_cast<Eigen::Index>(std::max(a, 0.0));
    l.near_hi[static_cast<std::size_t>(k)] = static_cast<Eigen::Index>(std::min(b, n - 1));
  }
  return l;
}

/// Fills `out` (d x samples) with N(0, I) draws: in blocks of min(d, remaining) orthonormalised
/// (modified Gram-Schmidt) Gaussian directions, each scaled by the length of its Gaussian before
/// orthonormalisation (chi_d, independent of the direction), so every column is N(0, I) and the
/// columns of a block are orthogonal; or independent draws.
inline void draw_directions(rng_engine& rng, bool orthogonal, Eigen::MatrixXd& out) {
  normal_source normal(rng);
  for (Eigen::Index i = 0; i < out.size(); ++i) out.data()[i] = normal();
  if (!orthogonal) return;
  const Eigen::Index d = out.rows();
  for (Eigen::Index s0 = 0; s0 < out.cols(); s0 += d) {
    const Eigen::Index b = std::min(d, out.cols() - s0);
    Eigen::VectorXd len(b);
    for (Eigen::Index k = 0; k < b; ++k) {
      auto col = out.col(s0 + k);
      len(k) = col.norm();
      const Eigen::VectorXd raw = col;
      for (Eigen::Index j = 0; j < k; ++j) col -= out.col(s0 + j).dot(col) * out.col(s0 + j);
      const double nrm = col.norm();
      if (nrm > 1e-10 * len(k))
        col /= nrm;
      else
        col = raw / len(k);  // (probability 0) a degenerate block: keep the raw direction
    }
    for (Eigen::Index k = 0; k < b; ++k) out.col(s0 + k) *= len(k);
  }
}

}  // namespace detail::smoothing

/// The exact W2 velocity of the smoothed f-divergence (DESIGN 1.7)
///
///     F(q) = D_f(q~ || p~) = integral of p~ f(q~ / p~),   p~ = k_h * p,  q~ = k_h * q,
///
/// the f-divergence between the two KDEs as a functional of the particles' measure
/// q = (1/N) sum_i delta_{x_i}, k_h the normalised kernel. Its first variation is
/// dF/dq = k_h * f'(r~), r~ = q~ / p~ (k_h symmetric), so the velocity is
///
///     v(x) = -grad_x (k_h * g)(x),   g = f'(r~),   v(x_i) = -N dF/dx_i
///
/// (Gretton et al., arXiv 2605.05118: the log ratio, for KL, is smoothed once more by the
/// kernel). The f_divergence fields of divergences.hpp are the plug-in velocity
/// r f''(r) (s_p - s_q) (for KL: s_p - s_q, the drifting field), the true-density flow with KDE
/// scores put in; this one is the gradient of the divergence the KDEs actually have. Same
/// units as every field of divergences.hpp (1/length; the flow steps by dt h^2 times it).
///
/// f' comes from the f-divergence's weight phi(r) = r f''(r) alone: g(e^u) = int_0^u phi(e^s) ds
/// (f'(1) = 0: a constant in f' does not move anything), tabulated once per object on u in
/// [-B, B]. The f-divergence's ratio_policy is kept: the weight phi is frozen at phi(e^{+-B})
/// beyond |log r~| = B, B = max_log_ratio, the weight f_divergence::weights uses there; this
/// replaces f by its extension with f'' = phi(e^{+-B}) / r beyond e^{+-B} (g continues linearly
/// in log r; nothing changes for KL, whose phi is 1), and v is exactly the velocity of that F.
/// Where a Gaussian KDE underflows, log r~ is taken at the clamp (flat: no gradient), so g stays
/// finite: no NaN or Inf for finite input.
///
/// Two estimators of grad (k_h * g)(x), both through the problem's evaluator (so the exact, tree
/// and grid evaluators serve it; g is needed at new points, so each costs two kernel passes
/// with those points as queries, log q~ and log p~ there):
///
/// - **Monte Carlo** (Gaussian kernel, any d): with z = x + h xi, xi ~ N(0, I),
///   grad (k_h * g)(x) = E[xi g(x + h xi)] / h (Stein's identity); antithetic pairs,
///   (xi / 2h)(g(x + h xi) - g(x - h xi)), remove g(x) and every even order of g around x.
///   `samples` S draws per particle, 2 S points: cost 2 N S (N + M) kernel evaluations
///   (N = M = 1000, d = 2, S = 32: 1.3e8, about 0.1 s on two cores with the exact evaluator).
///   Variance of the score-function form: where g is nearly linear over a bandwidth, the squared
///   error of v_i is about (d + 1) |grad g|^2 / S with independent draws, 2 |grad g|^2 / S with
///   orthogonal blocks (`orthogonal`); the pathwise form (default) has no error from the linear
///   part of g at all. Measured at S = 32 on the 1-D and 2-D clouds of tests/test_smoothed.cpp
///   (N = 6, M = 8, h = 0.5), the standard error of one call relative to max |v| is 1.3-2 % on
///   average over the particles (1.6-4.6 % at the worst one) pathwise, 9-10 % (20-24 %) with
///   the score function; orthogonal blocks divide the variance by about 1.5 in 2-D (no effect
///   in 1-D). It falls as 1 / sqrt(S). Particle i draws from its own engine
///   seeded by (seed, t, h, i): the velocity does not depend on the thread count, the same call
///   repeats it, the next step draws afresh.
///   The estimate is mean over the 2 N S points z (samples of q~) of f(r~(z)) / r~(z).
/// - **Lattice** (d <= 3, any kernel of R^d): the trapezoid rule on the lattice z of spacing
///   delta = lattice_spacing h over the particles' and targets' bounding box padded by the
///   kernel's reach R (7.75 h for the Gaussian, its support for a compact kernel, 30 h for the
///   Laplacian, at most 32 h for heavy tails):
///   grad (k_h * g)(x_i) = delta^d sum_z g(z) grad_x k_h(x_i - z), k_h(u) =
///   exp(phi(|u|^2 / h^2)) / (h^d Z_d). g is split by sign and each part summed by one score pass
///   with the lattice points as sources and log-weights log |g| (sum_z w_z grad k = e^log_sum
///   field); only the points within R of the particles' box are sources. Cost: L (N + M) + N L'
///   kernel evaluations, L the lattice's points, L' <= L those near the particles (L = 6e4 for
///   the 2-D toys at h = 0.2; at h = 0.1, 2.5e5). Deterministic; spectrally accurate for the
///   Gaussian (error well below 1e-6 at the default spacing), first or second order in delta
///   for kernels with a cusp or an edge (Laplacian, Epanechnikov): in 1-D the jump of
///   grad k_h(x_i - z) at z = x_i makes the Laplacian's error first order, about 1.6 delta / h
///   relative (see lattice_spacing).
///   The estimate is delta^d sum_z p~(z) f(r~(z)) (with the normalised f).
///
/// `automatic` takes the lattice when d <= 3 and it has at most max_lattice_points points (and,
/// with the Gaussian kernel, at most 8 times Monte Carlo's 2 S N points), else Monte Carlo; the choice depends on the clouds, never on want_estimate, and
/// chosen_estimator() reports it.
///
/// Thread-safety: const; `velocity` may be called concurrently. Not defined on a manifold:
/// `euclidean_only` makes gfd::velocity_system refuse it there.
class smoothed_f_divergence {
public:
  using estimator = smoothed_options::estimator;
  /// velocity_system refuses this divergence on a non-Euclidean manifold.
  static constexpr bool euclidean_only = true;

  /// @param f   the f-divergence (its f'' and ratio_policy; its closed-form f is not used)
  /// @param o   the estimator and its options
  /// @throws gfd::invalid_argument naming gfd::smoothed_f_divergence and the value when
  ///         samples < 1, lattice_spacing is not finite and > 0, max_lattice_points is 0, the
  ///         method is not one of the three, f's ratio_policy normalises the weights (a rescaling
  ///         of the plug-in weights with no exact counterpart), or f' is not finite on
  ///         [e^-B, e^B].
  explicit smoothed_f_divergence(f_divergence f, smoothed_options o = {})
      : f_(std::move(f)), o_(o), name_(f_.name() + "-exact") {
    using detail::smoothing::where;
    if (o_.samples < 1) detail::fail(where, "samples must be >= 1, got ", o_.samples);
    if (o_.samples > (1 << 20)) detail::fail(where, "samples must be <= 1048576, got ", o_.samples);
    detail::require_positive(where, "lattice_spacing", o_.lattice_spacing);
    if (o_.max_lattice_points < 1) detail::fail(where, "max_lattice_points must be >= 1, got 0");
    if (o_.method != estimator::automatic && o_.method != estimator::monte_carlo &&
        o_.method != estimator::lattice)
      detail::fail(where, "unknown estimator ", static_cast<int>(o_.method));
    if (f_.ratio().normalise)
      detail::fail(where, "ratio_policy.normalise of '", f_.name(), "' rescales the plug-in weights "
                   "by their mean, which has no exact counterpart; use normalise = false");
    table_ = detail::smoothing::generator_table(f_, f_.ratio().max_log_ratio);
  }

  /// The f-divergence's name + "-exact" ("kl-exact").
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] const f_divergence& base() const noexcept { return f_; }
  [[nodiscard]] const smoothed_options& options() const noexcept { return o_; }
  [[nodiscard]] const ratio_policy& ratio() const noexcept { return f_.ratio(); }

  /// g = f'(r) - f'(1) at log r, from the table (phi frozen beyond |log r| = B, see the class
  /// comment): log r for KL.
  [[nodiscard]] double f_prime(double log_r) const { return table_.f_prime(log_r); }
  /// The normalised f(r) = integral_1^r (r - s) f''(s) ds at log r (with the same extension
  /// beyond B): r log r - r + 1 for KL.
  [[nodiscard]] double f_normalised(double log_r) const { return table_.f_value(log_r); }

  /// The estimator a call of velocity() with this problem uses (monte_carlo or lattice).
  /// O((N + M) d).
  /// @throws gfd::invalid_argument when none applies (see velocity()).
  template <class Problem>
  [[nodiscard]] estimator chosen_estimator(const Problem& pb) const {
    return plan(pb).method;
  }

  /// Writes v (d x N) at every particle and returns the estimate of F (NaN unless wanted).
  /// Cost: see the class comment. Kernel sums through pb's evaluator only.
  /// @throws gfd::invalid_argument for Monte Carlo with another kernel than gfd::gaussian, the
  ///         lattice in d > 3 or above max_lattice_points (both naming the values and the
  ///         other estimator), and from the evaluator.
  template <class Problem, class V>
  double velocity(const Problem& pb, V& v, bool want_estimate) const {
    const auto p = plan(pb);
    const double est = p.method == estimator::lattice ? lattice_velocity(pb, p.grid, v, want_estimate)
                                                      : monte_carlo_velocity(pb, v, want_estimate);
    return want_estimate ? est : std::numeric_limits<double>::quiet_NaN();
  }

private:
  // `automatic` with the Gaussian kernel prefers the lattice up to this many times the Monte
  // Carlo points: exact to 1e-7 instead of a 1-5 % standard error (pathwise) at the default 32
  // samples, which Monte Carlo would need 100 times the samples to divide by 10.
  static constexpr double lattice_cost_ratio = 8.0;

  struct plan_type {
    estimator method = estimator::monte_carlo;
    detail::smoothing::lattice grid{};
  };

  template <class Problem>
  plan_type plan(const Problem& pb) const {
    using detail::smoothing::where;
    using K = typename Problem::kernel_type;
    using Scalar = typename Problem::scalar_type;
    constexpr bool gaussian_kernel = std::is_same_v<K, gaussian>;
    const Eigen::Index d = pb.particles.rows();
    auto lattice_of = [&] {
      const bound_kernel<K, Scalar> bk(pb.kernel, pb.h, where);
      const double h = static_cast<double>(pb.h);
      return detail::smoothing::make_lattice(pb.particles, pb.targets, o_.lattice_spacing * h,
                                             detail::smoothing::kernel_reach(bk.kernel) * h);
    };
    auto lattice_size = [&](const detail::smoothing::lattice& l) {
      std::string s = short_count(l.points) + " points (";
      for (int k = 0; k < l.dim; ++k)
        s += (k ? " x " : "") + std::to_string(l.count[static_cast<std::size_t>(k)]);
      return s + " at spacing " + detail::short_number(o_.lattice_spacing) + " h)";
    };
    const double max_points = static_cast<double>(o_.max_lattice_points);
    switch (o_.method) {
      case estimator::monte_carlo:
        if constexpr (!gaussian_kernel)
          detail::fail(where, "the Monte Carlo estimator draws z ~ N(x, h^2 I) and needs the kernel "
                       "'gaussian', got '", K::name, "'; use smoothed_options::estimator::lattice "
                       "(d <= 3)");
        return {estimator::monte_carlo, {}};
      case estimator::lattice: {
        if (d > 3)
          detail::fail(where, "the lattice estimator needs d <= 3, got d = ", d,
                       "; use smoothed_options::estimator::monte_carlo (Gaussian kernel)");
        auto l = lattice_of();
        if (!(l.points <= max_points))
          detail::fail(where, "the lattice has ", lattice_size(l), ", more than max_lattice_points = ",
                       o_.max_lattice_points, "; raise lattice_spacing or max_lattice_points, or use "
                       "smoothed_options::estimator::monte_carlo (Gaussian kernel)");
        return {estimator::lattice, l};
      }
      case estimator::automatic: {
        std::string why;
        if (d <= 3) {
          auto l = lattice_of();
          // With the Gaussian kernel, Monte Carlo is the alternative: the lattice while it costs
          // at most lattice_cost_ratio times as much (its points against Monte Carlo's 2 S N).
          const double mc_points = 2.0 * o_.samples * static_cast<double>(pb.particles.cols());
          const bool affordable = !gaussian_kernel || l.points <= lattice_cost_ratio * mc_points;
          if (l.points <= max_points && affordable) return {estimator::lattice, l};
          why = "the lattice has " + lattice_size(l) + ", more than max_lattice_points = " +
                std::to_string(o_.max_lattice_points);
        } else {
          why = "d = " + std::to_string(d) + " > 3 rules out the lattice";
        }
        if constexpr (gaussian_kernel) {
          return {estimator::monte_carlo, {}};
        } else {
          detail::fail(where, why, ", and the Monte Carlo estimator needs the kernel 'gaussian', got '",
                       K::name, "'; raise max_lattice_points or lattice_spacing, or use gfd::gaussian");
        }
      }
    }
    detail::fail(where, "unknown estimator ", static_cast<int>(o_.method));
  }

  static std::string short_count(double n) {
    return n < 1e15 ? std::to_string(static_cast<long long>(n)) : detail::short_number(n);
  }

  // The log ratios u = log q~ - log p~ at `queries` (clamped_log_ratio's rule where both KDEs
  // vanish, else unclamped: g continues linearly beyond the clamp), with log p~ and log q~.
  template <class PT, class PP, class Q, class Sums>
  static void log_densities(const PT& targets, const PP& particles, const Q& queries, Sums& sp,
                            Sums& sq, std::vector<double>& u) {
    const sum_options opt{.field = field_kind::score, .exclude_self = false};
    targets.sums(queries, opt, sp);
    particles.sums(queries, opt, sq);
    u.resize(static_cast<std::size_t>(queries.cols()));
    for (Eigen::Index j = 0; j < queries.cols(); ++j)
      u[static_cast<std::size_t>(j)] = detail::smoothing::log_ratio(static_cast<double>(sq.log_sum(j)),
                                                                    static_cast<double>(sp.log_sum(j)));
  }

  template <class Problem, class V>
  double lattice_velocity(const Problem& pb, const detail::smoothing::lattice& grid, V& v,
                          bool want_estimate) const {
    using Scalar = typename Problem::scalar_type;
    using K = typename Problem::kernel_type;
    constexpr int Dim = Problem::dim_at_compile_time;
    using detail::smoothing::where;
    constexpr double inf = std::numeric_limits<double>::infinity();
    const Eigen::Index d = pb.particles.rows(), n = pb.particles.cols();
    const double h = static_cast<double>(pb.h), delta = grid.spacing;
    const bound_kernel<K, Scalar> bk(pb.kernel, pb.h, where);
    // log(delta^d / (h^d Z_d)): the lattice cell over the kernel's normaliser.
    const double log_cell = static_cast<double>(d) * (std::log(delta) - std::log(h)) -
                            bk.kernel.log_normaliser(static_cast<int>(d));
    const auto targets = pb.targets_at(pb.h);
    const auto particles = pb.particles_at(pb.h, pb.uniform_particle_weights());

    // The box to visit: the whole lattice for the estimate, else the part near the particles.
    std::array<Eigen::Index, 3> lo{0, 0, 0}, extent{1, 1, 1};
    Eigen::Index total = 1;
    for (int k = 0; k < grid.dim; ++k) {
      const auto ks = static_cast<std::size_t>(k);
      lo[ks] = want_estimate ? 0 : grid.near_lo[ks];
      extent[ks] = want_estimate ? grid.count[ks] : grid.near_hi[ks] - grid.near_lo[ks] + 1;
      total *= extent[ks];
    }
    // Sources of the two score passes (points near the particles, split by the sign of u, which
    // is the sign of g), with their u; g needs the largest finite |u| first (below).
    std::array<std::vector<Scalar>, 2> pos;
    std::array<std::vector<double>, 2> us;
    double largest = table_.bound();  // the largest finite |u| near the particles, at least B
    // The estimate delta^d sum_z p~ f(r~) = delta^d sum_z [q~ m(u) - b (q~ - p~)]; where p~ = 0
    // (compact kernels), m(u) waits for the cap: q_where_p_vanishes collects those q~.
    const double b = table_.f_at_zero();
    double estimate = 0, q_where_p_vanishes = 0;
    positions<Scalar, Dim> q;
    kernel_sums<Scalar, Dim> sp, sq;
    std::vector<double> u;
    std::array<Eigen::Index, 3> idx{};
    for (Eigen::Index start = 0; start < total; start += detail::smoothing::chunk_points) {
      const Eigen::Index c = std::min(detail::smoothing::chunk_points, total - start);
      q.resize(d, c);
      std::vector<char> near(static_cast<std::size_t>(c));
      for (Eigen::Index j = 0; j < c; ++j) {
        Eigen::Index rest = start + j;
        bool inside = true;
        for (int k = 0; k < grid.dim; ++k) {
          const auto ks = static_cast<std::size_t>(k);
          idx[ks] = lo[ks] + rest % extent[ks];
          rest /= extent[ks];
          inside = inside && idx[ks] >= grid.near_lo[ks] && idx[ks] <= grid.near_hi[ks];
          q(k, j) = static_cast<Scalar>(grid.origin[ks] + static_cast<double>(idx[ks]) * delta);
        }
        near[static_cast<std::size_t>(j)] = inside;
      }
      log_densities(targets, particles, q, sp, sq, u);
      for (Eigen::Index j = 0; j < c; ++j) {
        const auto js = static_cast<std::size_t>(j);
        const double uj = u[js];
        // Over the points near the particles only, which every call visits: the velocity must
        // not depend on want_estimate.
        if (near[js] && std::isfinite(uj)) largest = std::max(largest, std::abs(uj));
        if (want_estimate) {
          const double lq = static_cast<double>(sq.log_sum(j)), lp = static_cast<double>(sp.log_sum(j));
          const double qd = std::exp(lq + log_cell), pd = std::exp(lp + log_cell);
          if (std::isfinite(uj))
            estimate += qd * table_.f_over_r_shifted(uj) - b * (qd - pd);
          else if (uj < 0)
            estimate += b * pd;  // q~ = 0: p~ f(0)
          else
            q_where_p_vanishes += qd;
        }
        if (!near[js] || uj == 0) continue;
        const std::size_t side = uj > 0 ? 0 : 1;
        for (Eigen::Index k = 0; k < d; ++k) pos[side].push_back(q(k, j));
        us[side].push_back(uj);
      }
    }
    // Where one KDE vanishes (compact kernels only), u is taken at the largest finite |u| near
    // the particles, so g stays monotone across the edge of a support.
    estimate += q_where_p_vanishes * (table_.f_over_r_shifted(largest) - b);

    // delta^d sum_z g_z grad_x k_h(x - z), each sign by one score pass:
    // sum_z |g_z| grad_x kappa(x - z) = exp(log_sum) * score.
    v.setZero(d, n);
    const sum_options score{.field = field_kind::score, .exclude_self = false};
    for (std::size_t side = 0; side < 2; ++side) {
      if (us[side].empty()) continue;
      const auto m = static_cast<Eigen::Index>(us[side].size());
      vector<Scalar> lw(m);
      for (Eigen::Index j = 0; j < m; ++j) {
        const double uj = us[side][static_cast<std::size_t>(j)];
        const double g = table_.f_prime(std::isfinite(uj) ? uj : (uj > 0 ? largest : -largest));
        lw(j) = static_cast<Scalar>(std::log(std::abs(g)));
      }
      const Eigen::Map<const positions<Scalar>> src(pos[side].data(), d, m);
      pb.evaluator.prepare(src, lw, bk).sums(pb.particles, score, sp);
      const double sign = side == 0 ? 1.0 : -1.0;
      for (Eigen::Index i = 0; i < n; ++i) {
        const double a = static_cast<double>(sp.log_sum(i));
        if (a == -inf) continue;
        const double scale = -sign * std::exp(a + log_cell);
        for (Eigen::Index k = 0; k < d; ++k)
          v(k, i) += static_cast<Scalar>(scale * static_cast<double>(sp.field(k, i)));
      }
    }
    return estimate;
  }

  template <class Problem, class V>
  double monte_carlo_velocity(const Problem& pb, V& v, bool want_estimate) const {
    using Scalar = typename Problem::scalar_type;
    constexpr int Dim = Problem::dim_at_compile_time;
    const Eigen::Index d = pb.particles.rows(), n = pb.particles.cols();
    const Eigen::Index S = o_.samples;
    const double h = static_cast<double>(pb.h), bound = table_.bound();
    const auto targets = pb.targets_at(pb.h);
    const auto particles = pb.particles_at(pb.h, pb.uniform_particle_weights());
    const Eigen::Index per_chunk = std::max<Eigen::Index>(1, detail::smoothing::chunk_points / (2 * S));
    v.setZero(d, n);
    positions<Scalar, Dim> q;
    kernel_sums<Scalar, Dim> sp, sq;
    std::vector<double> u;
    Eigen::MatrixXd xi(d, S * per_chunk), block(d, S);
    double estimate = 0;
    for (Eigen::Index c0 = 0; c0 < n; c0 += per_chunk) {
      const Eigen::Index c = std::min(per_chunk, n - c0);
      q.resize(d, 2 * S * c);
      for (Eigen::Index i = 0; i < c; ++i) {
        rng_engine rng(detail::smoothing::particle_seed(o_.seed, pb.time, h,
                                                        static_cast<std::uint64_t>(c0 + i)));
        detail::smoothing::draw_directions(rng, o_.orthogonal, block);
        xi.middleCols(i * S, S) = block;
        const Eigen::VectorXd x = pb.particles.col(c0 + i).template cast<double>();
        for (Eigen::Index s = 0; s < S; ++s) {
          q.col(2 * (i * S + s)) = (x + h * block.col(s)).template cast<Scalar>();
          q.col(2 * (i * S + s) + 1) = (x - h * block.col(s)).template cast<Scalar>();
        }
      }
      log_densities(targets, particles, q, sp, sq, u);
      // A Gaussian KDE never vanishes in the log domain; were one to (u infinite), that point
      // counts as clamped, flat: g = f'(e^{+-B}), no gradient.
      for (double& uj : u)
        if (!std::isfinite(uj)) uj = std::clamp(uj, -bound, bound);
      // grad g = g'(u) grad log r = phi(r_c) (s_q - s_p), r_c the clamped ratio.
      auto grad_g = [&](Eigen::Index j) -> Eigen::VectorXd {
        const double uj = u[static_cast<std::size_t>(j)];
        if (std::abs(uj) == bound) return Eigen::VectorXd::Zero(d);
        return f_.weight(std::exp(std::clamp(uj, -bound, bound))) *
               (sq.field.col(j) - sp.field.col(j)).template cast<double>();
      };
      for (Eigen::Index i = 0; i < c; ++i) {
        Eigen::VectorXd acc = Eigen::VectorXd::Zero(d);  // sum over pairs of 2 grad (k * g)
        for (Eigen::Index s = 0; s < S; ++s) {
          const Eigen::Index j = 2 * (i * S + s);
          const double up = u[static_cast<std::size_t>(j)], um = u[static_cast<std::size_t>(j + 1)];
          if (o_.pathwise)
            acc += grad_g(j) + grad_g(j + 1);
          else
            acc += ((table_.f_prime(up) - table_.f_prime(um)) / h) * xi.col(i * S + s);
          if (want_estimate) estimate += table_.f_over_r_shifted(up) + table_.f_over_r_shifted(um);
        }
        v.col(c0 + i) = (acc * (-0.5 / static_cast<double>(S))).template cast<Scalar>();
      }
    }
    return estimate / (2.0 * static_cast<double>(S) * static_cast<double>(n));
  }

  f_divergence f_;
  smoothed_options o_;
  std::string name_;
  detail::smoothing::generator_table table_;
};

/// The exact velocity of KL(k*q || k*p), v = -grad (k * log(q~ / p~)) ("kl-exact"), beside the
/// plug-in gfd::kl(), v = s_p - s_q.
/// @throws gfd::invalid_argument as smoothed_f_divergence.
inline smoothed_f_divergence kl_exact(smoothed_options o = {}) { return smoothed_f_divergence(kl(), o); }

}  // namespace gfd
