// SPDX-License-Identifier: MIT
/// @file flow.hpp
/// @brief The integrator of KDE gradient flows, in R^d or on a Riemannian manifold (the unit
///        sphere): steppers, bandwidth schedules, observers, stop rules and a report.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bandwidth.hpp"
#include "divergences.hpp"
#include "error.hpp"
#include "evaluators/exact.hpp"
#include "kernels.hpp"
#include "manifolds.hpp"
#include "particles.hpp"
#include "sphere_kernels.hpp"

namespace gfd {

/// Time steppers (DESIGN 1.6).
enum class stepper {
  euler,    ///< x += dt v(x); one velocity evaluation per step
  heun,     ///< explicit trapezoid (RK2): second order, two evaluations per step
  adaptive  ///< Heun with the Euler-Heun difference as error estimate; dt adapts to `tolerance`
};

/// How the bandwidth evolves during a run.
///
/// - fixed: h throughout.
/// - rule: `rule` (Scott, Silverman, median) applied to the targets, re-chosen every `every`
///   steps from the targets and particles together when `include_particles`.
/// - anneal (default): geometric from h_start to h_end over the first `anneal_fraction` of
///   max_steps, then h_end: h_k = h_start (h_end / h_start)^{min(1, k / K)}. This is exponential
///   annealing h0 e^{-r k} in the step count. h_start defaults to the pooled standard deviation of
///   targets and particles together (the scale of the whole cloud, so particles that start inside
///   one mode still see all of them); h_end to `rule` on the targets times `end_factor`.
///
/// `multipliers` turns one bandwidth h into several (h m_1, h m_2, ...): the velocity is the sum
/// of the velocities at each, and time is measured with the base h.
struct bandwidth_schedule {
  enum class mode { fixed, rule, anneal };
  mode kind = mode::anneal;
  double h = std::numeric_limits<double>::quiet_NaN();        ///< fixed value
  bandwidth_rule rule = bandwidth_rule::silverman;            ///< for `rule` and the auto h_end
  int every = 1;                                              ///< rule: re-choose every k steps
  bool include_particles = false;                             ///< rule: on targets + particles
  double h_start = std::numeric_limits<double>::quiet_NaN();  ///< anneal: NaN = auto
  double h_end = std::numeric_limits<double>::quiet_NaN();    ///< anneal: NaN = auto
  double end_factor = 0.5;                                    ///< anneal: auto h_end = factor * rule
  double anneal_fraction = 0.6;                               ///< anneal: fraction of max_steps
  std::vector<double> multipliers{1.0};

  static bandwidth_schedule fixed(double h) {
    bandwidth_schedule s;
    s.kind = mode::fixed;
    s.h = h;
    return s;
  }
  static bandwidth_schedule by_rule(bandwidth_rule r, int every = 1, bool include_particles = false) {
    bandwidth_schedule s;
    s.kind = mode::rule;
    s.rule = r;
    s.every = every;
    s.include_particles = include_particles;
    return s;
  }
  static bandwidth_schedule anneal(double h_start = std::numeric_limits<double>::quiet_NaN(),
                                   double h_end = std::numeric_limits<double>::quiet_NaN(),
                                   double fraction = 0.6) {
    bandwidth_schedule s;
    s.kind = mode::anneal;
    s.h_start = h_start;
    s.h_end = h_end;
    s.anneal_fraction = fraction;
    return s;
  }
};

/// Options of a run. Time is measured in units of h^2 by default: a step moves particles by
/// dt h^2 v, the scale on which a KDE flow's velocity (~ distance / h^2) changes, so dt ~ 0.1-1
/// is sensible for every data scale (dt = 1 with a Gaussian kernel is the drifting step x + V).
struct flow_options {
  stepper method = stepper::euler;
  double dt = 0.5;
  bool dt_in_bandwidth_units = true;  ///< step = dt h^2 (else dt as is)
  long max_steps = 500;
  /// Cap on the displacement of one particle in one step, as a fraction of h (0 = none). The
  /// flow is stiff where ratios are large; the cap only binds there.
  double max_displacement = 0.5;
  bandwidth_schedule bandwidth{};
  /// Stop when the mean displacement per step falls below speed_tolerance * h (0 = never).
  double speed_tolerance = 0;
  /// Stop when the divergence estimate falls below this (-inf = never).
  double divergence_tolerance = -std::numeric_limits<double>::infinity();
  /// Call the observer every k steps (and after the last step); 0 = only after the last.
  long observe_every = 10;
  /// adaptive: tolerated local error, as a fraction of h per step; dt stays in [dt_min, dt_max].
  double tolerance = 0.05;
  double dt_min = 1e-4, dt_max = 10.0;
  /// On a manifold, step with its retraction R_x(v) instead of the exponential map Exp_x(v):
  /// cheaper, equal to second order on the sphere. No effect in R^d (both are x + v).
  bool retraction = false;
};

/// What an observer sees.
template <class Scalar, int Dim>
struct flow_state {
  long step = 0;
  double time = 0;           ///< flow time (sum of the steps taken)
  double bandwidth = 0;      ///< base bandwidth of the last step
  double dt = 0;             ///< last step size in the units of flow_options::dt
  double estimate = std::numeric_limits<double>::quiet_NaN();  ///< divergence estimate
  double mean_displacement = 0;  ///< mean |dx| of the last step, in units of h
  const positions<Scalar, Dim>* particles = nullptr;
};

/// What a run returns.
struct flow_report {
  long steps = 0;
  double time = 0;
  double bandwidth = 0;  ///< final base bandwidth
  double estimate = std::numeric_limits<double>::quiet_NaN();  ///< last divergence estimate
  double mean_displacement = 0;  ///< last mean |dx| / h
  bool converged = false;        ///< stopped by a tolerance (speed, divergence) or the observer
  long rejected_steps = 0;       ///< adaptive stepper
  std::string stop_reason;
};

/// An observer: any callable taking `const flow_state<Scalar, Dim>&`, returning void or bool
/// (false stops the run).
struct no_observer {
  template <class S>
  void operator()(const S&) const noexcept {}
};

/// A gradient flow toward a weighted target cloud with kernel K and evaluator E, in R^d
/// (M = euclidean, the default) or on a Riemannian manifold M (e.g. gfd::unit_sphere).
///
/// Data path of one step (DESIGN 2): evaluator passes give log p, log q and the two fields at
/// every particle; the divergence turns them into a velocity; the manifold projects it on the
/// tangent space; the stepper moves the particles. Targets are viewed, not copied: they must
/// outlive the flow.
///
/// On a manifold (DESIGN 1.5) the velocity is the Riemannian gradient P_x v (every divergence
/// works unchanged: kernels and evaluators see the points in the ambient R^d), a step is
/// x <- Exp_x(dt v) (or R_x(dt v) with flow_options::retraction) with the per-particle cap on
/// |dt v|, the geodesic length of the step. Heun's second stage velocity, tangent at the
/// predicted point, is brought back to T_x by projection (the projection vector transport of
/// Absil, Mahony & Sepulchre 2008, Sec. 8.1) before averaging; the method stays second order.
/// Particles stay on the manifold to round-off for any number of steps (the sphere's exp
/// renormalises). Bandwidths are chordal (ambient) distances; on the sphere gfd::gaussian is the
/// von Mises-Fisher kernel with kappa = 1/h^2. A BandwidthBoundKernel (gfd::geodesic_gaussian)
/// is re-bound to every bandwidth of the schedule. In R^d none of this is compiled: the loop is
/// the plain x += dt v.
///
/// @throws gfd::invalid_argument on bad options or clouds (dimension mismatch, dt <= 0, points
///         off the manifold: the first bad point and its norm are named, ...).
/// @throws gfd::numerical_error when a velocity or a particle becomes non-finite, naming the
///         step, the time and the first bad particle.
template <Kernel K = gaussian, class Scalar = double, int Dim = Eigen::Dynamic,
          Evaluator E = exact_evaluator, Manifold M = euclidean>
class flow {
public:
  using matrix_type = positions<Scalar, Dim>;
  using view_type = cloud_view<Scalar, Dim>;
  using problem_type = flow_problem<Scalar, Dim, K, E>;
  using state_type = flow_state<Scalar, Dim>;
  using manifold_type = M;

  explicit flow(view_type targets, flow_options opt = {}, K kernel = {}, E evaluator = {},
                M manifold = {})
      : targets_(std::move(targets)), opt_(std::move(opt)), kernel_(std::move(kernel)),
        eval_(std::move(evaluator)), manifold_(std::move(manifold)) {
    targets_.validate("gfd::flow", "targets");
    manifold_.validate("gfd::flow", "targets", targets_.points());
    check_options(opt_);
    log_w_ = targets_.normalised_log_weights();
  }

  [[nodiscard]] const flow_options& options() const noexcept { return opt_; }
  [[nodiscard]] const K& kernel() const noexcept { return kernel_; }
  [[nodiscard]] const view_type& targets() const noexcept { return targets_; }
  [[nodiscard]] const M& manifold() const noexcept { return manifold_; }

  /// The velocity of `divergence` at `particles` with bandwidth h (summed over the schedule's
  /// multipliers), at flow time t, projected on the tangent spaces of the manifold. Returns the
  /// divergence estimate (NaN unless wanted).
  template <class D>
  double velocity(const D& divergence, const Eigen::Ref<const matrix_type>& particles, double h,
                  double t, matrix_type& v, bool want_estimate = false) const {
    const auto& mult = opt_.bandwidth.multipliers;
    if constexpr (BandwidthBoundKernel<K> && std::is_same_v<D, drifting_field>) {
      // Temperatures are bandwidths the field picks itself, past the kernel bound here.
      if (!divergence.options().temperatures.empty())
        detail::fail("gfd::flow::velocity", "drifting_field temperatures choose their own "
                     "bandwidths, which the bandwidth-bound kernel '", K::name,
                     "' cannot follow; use gfd::gaussian (the vMF kernel on the sphere) or no "
                     "temperatures");
    }
    double est = 0;
    matrix_type vi;
    v.setZero(particles.rows(), particles.cols());
    for (double m : mult) {
      const auto hm = static_cast<Scalar>(h * m);
      // A reference to kernel_ itself, or a copy bound to hm for a BandwidthBoundKernel.
      const auto& bound = bind_bandwidth(kernel_, static_cast<double>(hm));
      const problem_type pb{particles, targets_.points(), log_w_, bound, eval_, hm, t};
      static_assert(Divergence<D, problem_type>,
                    "a divergence needs velocity(problem, v, want_estimate) -> double");
      est += divergence.velocity(pb, vi, want_estimate);
      v += vi;
    }
    if constexpr (!M::is_euclidean) project_on_tangents(particles, v);
    return want_estimate ? est : std::numeric_limits<double>::quiet_NaN();
  }

  /// Moves `particles` (d x N, modified in place) along the flow of `divergence`.
  template <class D, class Observer = no_observer>
  flow_report run(matrix_type& particles, const D& divergence, Observer&& observer = {}) const {
    constexpr const char* where = "gfd::flow::run";
    view_type(particles).validate(where, "particles");
    detail::require_same_dim(where, particles, "particles", targets_.points(), "targets");
    manifold_.validate(where, "particles", particles);
    const long n_steps = opt_.max_steps;

    flow_report rep;
    double t = 0, dt = opt_.dt;
    matrix_type v1, v2, x1;
    // h_start is frozen at the start (auto mode depends on where the particles are).
    const double h_start = auto_start_if_needed(particles);
    const double h_end = auto_end_if_needed();
    double h = schedule(0, particles, h_start, h_end, 0);
    state_type st;
    st.particles = &particles;

    long k = 0;
    for (; k < n_steps; ++k) {
      h = schedule(k, particles, h_start, h_end, h);
      const double unit = opt_.dt_in_bandwidth_units ? h * h : 1.0;
      const bool observe = opt_.observe_every > 0 && (k + 1) % opt_.observe_every == 0;
      const bool want = observe || k + 1 == n_steps || std::isfinite(opt_.divergence_tolerance);
      double est = velocity(divergence, particles, h, t, v1, want);
      check_finite(v1, "velocity", k, t);
      double mean_disp = 0, taken = dt * unit;
      if (opt_.method == stepper::euler) {
        mean_disp = apply_step(particles, v1, taken, h);
      } else {
        for (;;) {
          // Heun: Euler predictor, then the mean of the two velocities.
          taken = dt * unit;
          x1 = particles;
          apply_step(x1, v1, taken, h);
          velocity(divergence, x1, h, t + taken, v2, false);
          check_finite(v2, "velocity (Heun stage)", k, t);
          // v2 is tangent at x1: transport it to T_x (by projection) before comparing or averaging.
          if constexpr (!M::is_euclidean) project_on_tangents(particles, v2);
          if (opt_.method == stepper::heun) break;
          // Local error of the embedded Euler step, |dt/2 (v2 - v1)|, in units of h.
          const double err =
              static_cast<double>((v2 - v1).colwise().norm().maxCoeff()) * 0.5 * taken / h;
          const double grow =
              err > 0 ? std::clamp(0.9 * std::sqrt(opt_.tolerance / err), 0.2, 2.0) : 2.0;
          const bool accept = err <= opt_.tolerance || dt <= opt_.dt_min;
          dt = std::clamp(dt * grow, opt_.dt_min, opt_.dt_max);
          if (accept) break;
          ++rep.rejected_steps;
        }
        v2 = Scalar(0.5) * (v1 + v2);
        mean_disp = apply_step(particles, v2, taken, h);
      }
      t += taken;
      check_finite(particles, "particle", k, t);
      rep.steps = k + 1;
      rep.time = t;
      rep.bandwidth = h;
      rep.mean_displacement = mean_disp;
      if (want) rep.estimate = est;
      st.step = k + 1;
      st.time = t;
      st.bandwidth = h;
      st.dt = dt;
      st.estimate = rep.estimate;
      st.mean_displacement = mean_disp;
      const bool last = k + 1 == n_steps;
      if (observe || last) {
        if constexpr (std::is_same_v<std::invoke_result_t<Observer, const state_type&>, bool>) {
          if (!observer(std::as_const(st))) {
            rep.converged = true;
            rep.stop_reason = "observer";
            return rep;
          }
        } else {
          observer(std::as_const(st));
        }
      }
      // Tolerances apply once annealing is over (a shrinking h changes the flow itself).
      const bool settled = opt_.bandwidth.kind != bandwidth_schedule::mode::anneal ||
                           static_cast<double>(k + 1) >=
                               opt_.bandwidth.anneal_fraction * static_cast<double>(n_steps);
      if (settled && opt_.speed_tolerance > 0 && mean_disp < opt_.speed_tolerance) {
        rep.converged = true;
        rep.stop_reason = "speed tolerance";
        break;
      }
      if (settled && want && est < opt_.divergence_tolerance) {
        rep.converged = true;
        rep.stop_reason = "divergence tolerance";
        break;
      }
    }
    if (rep.stop_reason.empty()) rep.stop_reason = "max steps";
    if (rep.steps > 0 && std::isnan(rep.estimate))
      rep.estimate = velocity(divergence, particles, h, t, v1, true);
    return rep;
  }

  /// Convenience: a copy of `start` moved along the flow.
  template <class D, class Observer = no_observer>
  std::pair<matrix_type, flow_report> run_from(const Eigen::Ref<const matrix_type>& start,
                                               const D& divergence, Observer&& observer = {}) const {
    matrix_type x = start;
    auto rep = run(x, divergence, std::forward<Observer>(observer));
    return {std::move(x), rep};
  }

private:
  static void check_options(const flow_options& o) {
    constexpr const char* where = "gfd::flow";
    detail::require_positive(where, "dt", o.dt);
    if (o.max_steps < 0) detail::fail(where, "max_steps must be >= 0, got ", o.max_steps);
    if (!(o.max_displacement >= 0) || std::isnan(o.max_displacement))
      detail::fail(where, "max_displacement must be >= 0 (0 = no cap), got ", o.max_displacement);
    if (o.observe_every < 0) detail::fail(where, "observe_every must be >= 0, got ", o.observe_every);
    if (o.method == stepper::adaptive) {
      detail::require_positive(where, "tolerance", o.tolerance);
      detail::require_positive(where, "dt_min", o.dt_min);
      if (!(o.dt_max >= o.dt_min)) detail::fail(where, "dt_max (", o.dt_max, ") < dt_min (", o.dt_min, ")");
    }
    const auto& s = o.bandwidth;
    if (s.multipliers.empty()) detail::fail(where, "bandwidth multipliers are empty");
    for (double m : s.multipliers) detail::require_positive(where, "bandwidth multiplier", m);
    switch (s.kind) {
      case bandwidth_schedule::mode::fixed: detail::require_positive(where, "bandwidth", s.h); break;
      case bandwidth_schedule::mode::rule:
        if (s.every < 1) detail::fail(where, "bandwidth rule interval must be >= 1, got ", s.every);
        break;
      case bandwidth_schedule::mode::anneal:
        if (!std::isnan(s.h_start)) detail::require_positive(where, "h_start", s.h_start);
        if (!std::isnan(s.h_end)) detail::require_positive(where, "h_end", s.h_end);
        detail::require_positive(where, "end_factor", s.end_factor);
        if (!(s.anneal_fraction >= 0 && s.anneal_fraction <= 1))
          detail::fail(where, "anneal_fraction must be in [0, 1], got ", s.anneal_fraction);
        break;
    }
  }

  double auto_h_start(const Eigen::Ref<const matrix_type>& particles) const {
    matrix_type both(targets_.dim(), targets_.size() + particles.cols());
    both << targets_.points(), particles;
    const auto [n, sigma] = detail::size_and_spread(view_type(both));
    (void)n;
    return detail::checked_bandwidth("gfd::flow (automatic start bandwidth)", sigma);
  }
  double auto_h_end() const {
    return opt_.bandwidth.end_factor * choose_bandwidth(opt_.bandwidth.rule, targets_);
  }
  double auto_end_if_needed() const {
    const auto& s = opt_.bandwidth;
    if (s.kind != bandwidth_schedule::mode::anneal) return 0;
    return std::isnan(s.h_end) ? auto_h_end() : s.h_end;
  }
  double auto_start_if_needed(const Eigen::Ref<const matrix_type>& particles) const {
    const auto& s = opt_.bandwidth;
    if (s.kind != bandwidth_schedule::mode::anneal) return 0;
    return std::isnan(s.h_start) ? auto_h_start(particles) : s.h_start;
  }
  // Bandwidth for step k; `previous` is kept between rule re-evaluations.
  double schedule(long k, const Eigen::Ref<const matrix_type>& particles, double h_start,
                  double h1, double previous) const {
    const auto& s = opt_.bandwidth;
    switch (s.kind) {
      case bandwidth_schedule::mode::fixed: return s.h;
      case bandwidth_schedule::mode::rule:
        if (k % s.every != 0 && previous > 0) return previous;
        if (!s.include_particles) return choose_bandwidth(s.rule, targets_);
        {
          matrix_type both(targets_.dim(), targets_.size() + particles.cols());
          both << targets_.points(), particles;
          return choose_bandwidth(s.rule, view_type(both));
        }
      case bandwidth_schedule::mode::anneal: {
        const double span = std::max(1.0, s.anneal_fraction * static_cast<double>(opt_.max_steps));
        const double frac = s.anneal_fraction == 0 ? 1.0 : std::min(1.0, static_cast<double>(k) / span);
        return h_start * std::pow(h1 / h_start, frac);
      }
    }
    return previous;
  }

  // x <- Exp_x(step v) (x += step v in R^d) with the per-particle displacement cap on
  // |step v|; returns mean |dx| / h.
  double apply_step(matrix_type& x, const matrix_type& v, double step, double h) const {
    const double cap = opt_.max_displacement * h;
    double total = 0;
    for (Eigen::Index i = 0; i < x.cols(); ++i) {
      auto dx = (static_cast<Scalar>(step) * v.col(i)).eval();
      double len = static_cast<double>(dx.norm());
      if (cap > 0 && len > cap) {
        dx *= static_cast<Scalar>(cap / len);
        len = cap;
      }
      if constexpr (M::is_euclidean)
        x.col(i) += dx;  // Exp_x(v) = x + v: the plain update, nothing else compiled in
      else
        x.col(i) = opt_.retraction ? manifold_.retract(x.col(i), dx) : manifold_.exp(x.col(i), dx);
      total += len;
    }
    return total / (static_cast<double>(x.cols()) * h);
  }

  // v_i <- P_{x_i} v_i for every particle.
  void project_on_tangents(const Eigen::Ref<const matrix_type>& x, matrix_type& v) const {
    for (Eigen::Index i = 0; i < x.cols(); ++i) v.col(i) = manifold_.project(x.col(i), v.col(i));
  }

  static void check_finite(const matrix_type& m, const char* what, long step, double t) {
    if (m.allFinite()) return;
    for (Eigen::Index i = 0; i < m.cols(); ++i)
      if (!m.col(i).allFinite()) {
        std::ostringstream os;
        os.precision(17);
        os << "gfd::flow::run: " << what << " " << i << " is not finite at step " << step + 1
           << ", time " << t << ": (" << m.col(i).transpose() << ")";
        throw numerical_error(os.str());
      }
  }

  view_type targets_;
  flow_options opt_;
  K kernel_;
  E eval_;
  [[no_unique_address]] M manifold_;
  vector<Scalar> log_w_;
};

}  // namespace gfd
