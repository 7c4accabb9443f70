// SPDX-License-Identifier: MIT
/// @file flow.hpp
/// @brief The particle flow of a KDE divergence in R^d or on a Riemannian manifold (the unit
///        sphere): options, and gfd::flow, which binds a velocity system, a stepper, the
///        bandwidth schedule and the integrate loop (flow/*.hpp) to a target cloud.
#pragma once

#include <Eigen/Core>

#include <limits>
#include <string_view>
#include <utility>

#include "bandwidth.hpp"
#include "divergences.hpp"
#include "error.hpp"
#include "evaluators/exact.hpp"
#include "flow/integrate.hpp"
#include "flow/schedule.hpp"
#include "flow/steppers.hpp"
#include "flow/system.hpp"
#include "kernels.hpp"
#include "manifolds.hpp"
#include "particles.hpp"

namespace gfd {

/// The built-in time steppers by name (DESIGN 1.6), for flow_options::method; each is a type
/// in flow/steppers.hpp, and flow::run_with takes any Stepper.
enum class stepper {
  euler,    ///< x += dt v(x); one velocity evaluation per step
  heun,     ///< explicit trapezoid (RK2): second order, two evaluations per step
  adaptive  ///< Heun with the Euler-Heun difference as error estimate; dt adapts to `tolerance`
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
/// |dt v|, the geodesic length of the step (particle_update). Heun's second stage velocity, tangent at the
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
  template <class D>
  using system_type = velocity_system<D, K, Scalar, Dim, E, M>;

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

  /// The velocity system of `divergence` toward the targets (see velocity_system): what run()
  /// integrates. It views the divergence and this flow, which must outlive it.
  template <class D>
  [[nodiscard]] system_type<D> system(const D& divergence) const {
    return system_type<D>(divergence, targets_.points(), log_w_, kernel_, eval_, manifold_,
                          opt_.bandwidth.multipliers);
  }

  /// The velocity of `divergence` at `particles` with bandwidth h (summed over the schedule's
  /// multipliers), at flow time t, projected on the tangent spaces of the manifold. Returns the
  /// divergence estimate (NaN unless wanted). Prepares the targets for this call: to evaluate
  /// many times, keep system(divergence).
  template <class D>
  double velocity(const D& divergence, const Eigen::Ref<const matrix_type>& particles, double h,
                  double t, matrix_type& v, bool want_estimate = false) const {
    return system(divergence)(particles, t, h, v, want_estimate);
  }

  /// Moves `particles` (d x N, modified in place) along the flow of `divergence`, with the
  /// stepper named by flow_options::method.
  template <class D, class Observer = no_observer>
  flow_report run(matrix_type& particles, const D& divergence, Observer&& observer = {}) const {
    switch (opt_.method) {
      case stepper::euler: return run_with(euler_stepper{}, particles, divergence, observer);
      case stepper::heun: return run_with(heun_stepper{}, particles, divergence, observer);
      case stepper::adaptive:
        return run_with(adaptive_heun_stepper{opt_.tolerance, opt_.dt_min, opt_.dt_max}, particles,
                        divergence, observer);
    }
    detail::fail("gfd::flow::run", "unknown stepper");
  }

  /// The same with any Stepper (a user-defined one included): flow_options::method is ignored.
  template <Stepper S, class D, class Observer = no_observer>
  flow_report run_with(const S& stepper, matrix_type& particles, const D& divergence,
                       Observer&& observer = {}) const {
    constexpr const char* where = "gfd::flow::run";
    view_type(particles).validate(where, "particles");
    detail::require_same_dim(where, particles, "particles", targets_.points(), "targets");
    manifold_.validate(where, "particles", particles);
    stepper.validate("gfd::flow");
    const auto sys = system(divergence);
    const particle_update<Scalar, Dim, M> move{manifold_, opt_.max_displacement, opt_.retraction};
    bandwidth_scheduler schedule(opt_.bandwidth, opt_.max_steps);
    schedule.start(targets_, particles);
    const integrate_options io{.max_steps = opt_.max_steps,
                               .dt = opt_.dt,
                               .dt_in_bandwidth_units = opt_.dt_in_bandwidth_units,
                               .speed_tolerance = opt_.speed_tolerance,
                               .divergence_tolerance = opt_.divergence_tolerance,
                               .observe_every = opt_.observe_every};
    return integrate(sys, stepper, move, particles, schedule, targets_, io, observer);
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
    if (o.method == stepper::adaptive)
      adaptive_heun_stepper{o.tolerance, o.dt_min, o.dt_max}.validate(where);
    o.bandwidth.validate(where);
  }

  view_type targets_;
  flow_options opt_;
  K kernel_;
  E eval_;
  [[no_unique_address]] M manifold_;
  vector<Scalar> log_w_;
};

}  // namespace gfd
