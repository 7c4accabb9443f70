// SPDX-License-Identifier: MIT
/// @file flow/system.hpp
/// @brief The velocity system v(x, t, h) of a KDE gradient flow (divergence x kernel x evaluator
///        x bandwidth multipliers, projected on a manifold), and the particle update a stepper
///        applies (x <- Exp_x(step v) with a displacement cap).
#pragma once

#include <Eigen/Core>

#include <any>
#include <limits>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "../core/bound_kernel.hpp"
#include "../core/evaluator.hpp"
#include "../divergences.hpp"
#include "../evaluators/exact.hpp"
#include "../error.hpp"
#include "../kernels.hpp"
#include "../manifolds.hpp"
#include "../particles.hpp"

namespace gfd {

/// The velocity of the W2 gradient flow of divergence D toward a weighted target cloud, as a
/// system in the sense of Boost.Odeint: `sys(x, t, h, v, want_estimate)` writes
///
///     v(x, t; h) = P_x sum_m v_D(x; targets, kernel bound to h m, t)
///
/// (P_x the tangent projection of the manifold, identity in R^d; the sum over the schedule's
/// multipliers m) and returns the divergence estimate (summed over the multipliers; NaN unless
/// wanted). One time unit for every multiplier: a step of size `step` moves particles by
/// step * v, and the flow takes step = dt h^2 (h the base bandwidth) by default. The generator
/// uses the same system, its drift being h^2 v (the displacement of a unit step).
///
/// The targets are prepared once per bandwidth: the system keeps, for each multiplier, the
/// targets prepared at the last bandwidth it saw and re-binds them when h changes (the exact
/// evaluator re-lays out its copy, O(M d); the tree keeps its index). Nothing here names a
/// divergence: D only has to satisfy gfd::Divergence.
///
/// The bandwidths a flow in Scalar accepts, [1e-152, 1e152] in double and [1e-15, 1e15] in float:
/// h^2 scales the step (dt is in units of h^2) and 1/h^2 the velocity, and both must stay normal
/// numbers with room to spare for the clouds' spread. Outside the range, rescale the data: a flow
/// is equivariant under x -> s x, h -> s h (dt unchanged).
template <class Scalar>
[[nodiscard]] constexpr std::pair<double, double> flow_bandwidth_range() noexcept {
  if constexpr (sizeof(Scalar) >= sizeof(double)) return {1e-152, 1e152};
  return {1e-15, 1e15};
}

namespace detail {
/// Throws gfd::invalid_argument naming `where` unless h lies in flow_bandwidth_range<Scalar>().
template <class Scalar>
void check_flow_bandwidth(std::string_view where, double h) {
  const auto [lo, hi] = flow_bandwidth_range<Scalar>();
  if (!(h >= lo && h <= hi))
    fail(where, "bandwidth h = ", short_number(h), " is outside [", short_number(lo), ", ",
         short_number(hi), "], the range a flow supports (h^2 scales the step, 1/h^2 the "
         "velocity); rescale the data");
}
}  // namespace detail

/// The targets and log-weights are viewed (they must outlive the system) and assumed validated
/// by the caller (gfd::flow does it). Not thread-safe: one system per run (it caches).
template <class D, Kernel K, class Scalar = double, int Dim = Eigen::Dynamic, Evaluator E = exact_evaluator,
          Manifold M = euclidean>
class velocity_system {
public:
  using matrix_type = positions<Scalar, Dim>;
  using problem_type = flow_problem<Scalar, Dim, K, E>;
  using prepared_type = prepared_t<E, K, Scalar>;
  static_assert(Divergence<D, problem_type>,
                "a divergence needs velocity(problem, v, want_estimate) -> double");

  /// @throws gfd::invalid_argument on empty or non-positive multipliers, or a divergence that
  ///         declares `euclidean_only` on a non-Euclidean manifold.
  velocity_system(const D& divergence, Eigen::Ref<const matrix_type> targets,
                  Eigen::Ref<const vector<Scalar>> target_log_weights, const K& kernel,
                  const E& evaluator, const M& manifold = {}, std::vector<double> multipliers = {1.0})
      : div_(divergence), targets_(std::move(targets)), log_w_(std::move(target_log_weights)),
        kernel_(kernel), eval_(evaluator), manifold_(manifold), mult_(std::move(multipliers)),
        prepared_(mult_.size()), scratch_(mult_.size()) {
    if (mult_.empty()) detail::fail("gfd::velocity_system", "bandwidth multipliers are empty");
    for (double m : mult_) detail::require_positive("gfd::velocity_system", "bandwidth multiplier", m);
    if constexpr (!M::is_euclidean && euclidean_only<D>())
      detail::fail("gfd::velocity_system", "the divergence '", div_.name(), "' is defined on R^d only, "
                   "not on the manifold '", M::name, "'");
  }

  [[nodiscard]] const std::vector<double>& multipliers() const noexcept { return mult_; }
  [[nodiscard]] const M& manifold() const noexcept { return manifold_; }

  /// v at `particles` for base bandwidth h at flow time t; returns the estimate (NaN unless
  /// `want_estimate`). Cost: the divergence's per multiplier (two kernel passes,
  /// O(N (M + N) d), for local divergences) plus O(M d) when h changes (exact evaluator).
  double operator()(const Eigen::Ref<const matrix_type>& particles, double t, double h, matrix_type& v,
                    bool want_estimate = false) const {
    double est = 0;
    matrix_type vi;
    v.setZero(particles.rows(), particles.cols());
    for (std::size_t k = 0; k < mult_.size(); ++k) {
      detail::check_flow_bandwidth<Scalar>("gfd::velocity_system", h * mult_[k]);
      const auto hm = static_cast<Scalar>(h * mult_[k]);
      // A divergence that does not sum with the flow's kernel gets no prepared targets.
      const prepared_type* targets = nullptr;
      if constexpr (uses_flow_kernel<D>()) targets = &targets_at(k, hm);
      const problem_type pb{particles, targets_, log_w_, kernel_, eval_, hm, t, targets, &scratch_[k]};
      est += div_.velocity(pb, vi, want_estimate);
      v += vi;
    }
    if constexpr (!M::is_euclidean) project_on_tangents(particles, v);
    return want_estimate ? est : std::numeric_limits<double>::quiet_NaN();
  }

  /// v_i <- P_{x_i} v_i for every particle (the projection vector transport of Absil, Mahony &
  /// Sepulchre 2008, Sec. 8.1, when v was tangent at other points). No-op in R^d.
  void project_on_tangents(const Eigen::Ref<const matrix_type>& x, matrix_type& v) const {
    if constexpr (!M::is_euclidean)
      for (Eigen::Index i = 0; i < x.cols(); ++i) v.col(i) = manifold_.project(x.col(i), v.col(i));
  }

private:
  const prepared_type& targets_at(std::size_t k, Scalar hm) const {
    auto& slot = prepared_[k];
    if (!slot) {
      // Another multiplier's preparation shares its index (tree) when there is one.
      for (const auto& other : prepared_)
        if (other) {
          slot = other->rebound(hm);
          return *slot;
        }
      slot = eval_.prepare(targets_, log_w_, bound_kernel<K, Scalar>(kernel_, hm, "gfd::velocity_system"));
    } else if (slot->bandwidth() != hm) {
      slot = slot->rebound(hm);
    }
    return *slot;
  }

  const D& div_;
  Eigen::Ref<const matrix_type> targets_;
  Eigen::Ref<const vector<Scalar>> log_w_;
  const K& kernel_;
  const E& eval_;
  [[no_unique_address]] M manifold_;
  std::vector<double> mult_;
  mutable std::vector<std::optional<prepared_type>> prepared_;  // per multiplier, last bandwidth
  mutable std::vector<std::any> scratch_;  // per multiplier, the divergence's (flow_problem::scratch)
};

/// How a stepper moves particles: x <- Exp_x(step v) on the manifold (x += step v in R^d, with
/// nothing else compiled in), or the retraction R_x(step v), with a per-particle cap on the
/// displacement |step v| of `max_displacement` h (0 = none; the flow is stiff where density
/// ratios are large, and the cap only binds there).
template <class Scalar = double, int Dim = Eigen::Dynamic, Manifold M = euclidean>
struct particle_update {
  using matrix_type = positions<Scalar, Dim>;
  [[no_unique_address]] M manifold{};
  double max_displacement = 0.5;
  bool retraction = false;

  /// Moves x by step v; returns the mean |dx| / h. O(N d).
  double operator()(matrix_type& x, const matrix_type& v, double step, double h) const {
    const double cap = max_displacement * h;
    double total = 0;
    for (Eigen::Index i = 0; i < x.cols(); ++i) {
      // |dx| = step |v| without forming step * v first: a huge step (or |v|^2 beyond the largest
      // Scalar) would overflow the norm to inf, and the cap would then scale dx by cap / inf = 0,
      // a silent no-op. stableNorm only when the plain norm overflows; the cap is applied as
      // v * (cap / |v|), which is finite whenever v is.
      double speed = static_cast<double>(v.col(i).norm());
      if (!std::isfinite(speed)) speed = static_cast<double>(v.col(i).stableNorm());
      double len = step * speed;
      Eigen::Matrix<Scalar, Dim, 1> dx;
      if (cap > 0 && len > cap) {
        dx = static_cast<Scalar>(cap / speed) * v.col(i);
        len = cap;
      } else {
        dx = static_cast<Scalar>(step) * v.col(i);
      }
      if constexpr (M::is_euclidean)
        x.col(i) += dx;  // Exp_x(v) = x + v: the plain update
      else
        x.col(i) = retraction ? manifold.retract(x.col(i), dx) : manifold.exp(x.col(i), dx);
      total += len;
    }
    return total / (static_cast<double>(x.cols()) * h);
  }
};

namespace detail {
/// Throws gfd::numerical_error naming `where`, `what`, the first non-finite column, the step
/// (1-based) and the time, unless every entry of m is finite.
template <class Mat>
void check_finite_columns(const char* where, const Mat& m, const char* what, long step, double t) {
  if (m.allFinite()) return;
  for (Eigen::Index i = 0; i < m.cols(); ++i)
    if (!m.col(i).allFinite()) {
      std::ostringstream os;
      os.precision(17);
      os << where << ": " << what << " " << i << " is not finite at step " << step + 1 << ", time " << t
         << ": (" << m.col(i).transpose() << ")";
      throw numerical_error(os.str());
    }
}
}  // namespace detail

}  // namespace gfd
