// SPDX-License-Identifier: MIT
/// @file flow/integrate.hpp
/// @brief The integrate loop of a flow: a stepper, a bandwidth schedule, observers and stop
///        rules over a velocity system, returning a flow_report.
#pragma once

#include <Eigen/Core>

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "../particles.hpp"
#include "schedule.hpp"
#include "steppers.hpp"

namespace gfd {

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

/// The loop's own settings (a subset of flow_options).
struct integrate_options {
  long max_steps = 500;
  double dt = 0.5;                    ///< initial step, in units of h^2 or of time
  bool dt_in_bandwidth_units = true;  ///< step = dt h^2 (else dt as is)
  double speed_tolerance = 0;         ///< stop when mean |dx| / h falls below (0 = never)
  double divergence_tolerance = -std::numeric_limits<double>::infinity();  ///< -inf = never
  long observe_every = 10;            ///< observer every k steps and after the last (0 = last only)
};

/// Integrates `particles` (modified in place) along the velocity system `sys` with stepper `s`,
/// the base bandwidth of step k from `schedule` (already started: a bandwidth_scheduler, or
/// anything with its `at(k, targets, particles)` and `settled(k)`), `move` applying each step.
/// Estimates are computed on the steps the observer or a stop rule needs them, and once more at
/// the end when the last step had none. Stop rules (speed, divergence) apply once the schedule
/// has settled (annealing over). Returns the report. No divergence, kernel or evaluator is named
/// here: they are the system's.
/// @throws gfd::numerical_error when a velocity or a particle becomes non-finite (step, time,
///         first bad particle).
template <class System, Stepper S, class Update, class Mat, class Schedule, class Targets, class Observer>
flow_report integrate(const System& sys, const S& s, const Update& move, Mat& particles,
                      Schedule& schedule, const Targets& targets,
                      const integrate_options& o, Observer&& observer) {
  using state_type = flow_state<typename Mat::Scalar, Mat::RowsAtCompileTime>;
  const long n_steps = o.max_steps;
  flow_report rep;
  step_context c;
  c.dt = o.dt;
  double h = 0;
  state_type st;
  st.particles = &particles;

  for (long k = 0; k < n_steps; ++k) {
    h = schedule.at(k, targets, particles);
    const bool observe = o.observe_every > 0 && (k + 1) % o.observe_every == 0;
    c.step = k;
    c.h = h;
    c.unit = o.dt_in_bandwidth_units ? h * h : 1.0;
    c.want_estimate = observe || k + 1 == n_steps || std::isfinite(o.divergence_tolerance);
    s.do_step(sys, move, particles, c);
    c.time += c.taken;
    detail::check_finite_columns(detail::flow_where, particles, "particle", k, c.time);
    rep.steps = k + 1;
    rep.time = c.time;
    rep.bandwidth = h;
    rep.mean_displacement = c.mean_displacement;
    rep.rejected_steps += c.rejected;
    if (c.want_estimate) rep.estimate = c.estimate;
    st.step = k + 1;
    st.time = c.time;
    st.bandwidth = h;
    st.dt = c.dt;
    st.estimate = rep.estimate;
    st.mean_displacement = c.mean_displacement;
    if (observe || k + 1 == n_steps) {
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
    const bool settled = schedule.settled(k);
    if (settled && o.speed_tolerance > 0 && c.mean_displacement < o.speed_tolerance) {
      rep.converged = true;
      rep.stop_reason = "speed tolerance";
      break;
    }
    if (settled && c.want_estimate && c.estimate < o.divergence_tolerance) {
      rep.converged = true;
      rep.stop_reason = "divergence tolerance";
      break;
    }
  }
  if (rep.stop_reason.empty()) rep.stop_reason = "max steps";
  if (rep.steps > 0 && std::isnan(rep.estimate)) {
    Mat v;
    rep.estimate = sys(particles, c.time, h, v, true);
  }
  return rep;
}

}  // namespace gfd
