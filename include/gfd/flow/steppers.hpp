// SPDX-License-Identifier: MIT
/// @file flow/steppers.hpp
/// @brief Time steppers as types, in Boost.Odeint's shape: Euler, Heun and adaptive Heun, each
///        with one do_step (DESIGN 1.6).
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <limits>
#include <string_view>

#include "../error.hpp"
#include "../particles.hpp"
#include "system.hpp"

namespace gfd {

/// What a stepper knows of the step it takes, and what it reports back.
struct step_context {
  long step = 0;           ///< 0-based index of this step
  double time = 0;         ///< flow time at its start
  double h = 1;            ///< base bandwidth of the step
  double unit = 1;         ///< time unit: a step of dt moves particles by dt * unit * v
  bool want_estimate = false;
  double dt = 0.5;         ///< step size in units of `unit`; an adaptive stepper updates it
  // Filled in by do_step:
  double taken = 0;             ///< time the step took (dt * unit of the accepted attempt)
  double estimate = std::numeric_limits<double>::quiet_NaN();  ///< at the start of the step
  double mean_displacement = 0;  ///< mean |dx| / h
  long rejected = 0;             ///< attempts rejected by an adaptive stepper
};

/// A time stepper. Notation: `S` a stepper type, `s` an `S`, `sys` a velocity system
/// (`sys(x, t, h, v, want) -> estimate`, `sys.project_on_tangents(x, v)`), `move` a
/// particle_update (`move(x, v, step, h) -> mean |dx| / h`), `x` the particles, `c` a
/// step_context.
///
/// | expression                   | semantics                                                 |
/// |------------------------------|-----------------------------------------------------------|
/// | `S::name`                    | a short name, e.g. "heun"                                 |
/// | `s.validate(where)`          | throws gfd::invalid_argument on bad settings              |
/// | `s.do_step(sys, move, x, c)` | advances x by one step of size c.dt * c.unit from time    |
/// |                              | c.time, filling c.taken, c.estimate, c.mean_displacement, |
/// |                              | c.rejected; may change c.dt (adaptive)                    |
///
/// Steppers hold settings only (no state between steps), so do_step is const. A stepper checks every velocity it computes (gfd::numerical_error naming the step, the time
/// and the first bad particle).
template <class S>
concept Stepper = requires(const S cs) {
  { S::name } -> std::convertible_to<std::string_view>;
  cs.validate(std::string_view{});
};

namespace detail {
inline constexpr const char* flow_where = "gfd::flow::run";

/// The velocity every stepper starts from: v(x) at the step's time and bandwidth, with the
/// estimate when the step wants it; checked finite.
template <class System, class Mat>
void first_velocity(const System& sys, const Mat& x, step_context& c, Mat& v) {
  c.estimate = sys(x, c.time, c.h, v, c.want_estimate);
  check_finite_columns(flow_where, v, "velocity", c.step, c.time);
}
}  // namespace detail

/// Forward Euler: x <- x + dt v(x). One velocity evaluation per step; first order.
struct euler_stepper {
  static constexpr std::string_view name = "euler";
  void validate(std::string_view) const {}

  template <class System, class Update, class Mat>
  void do_step(const System& sys, const Update& move, Mat& x, step_context& c) const {
    Mat v;
    detail::first_velocity(sys, x, c, v);
    c.taken = c.dt * c.unit;
    c.mean_displacement = move(x, v, c.taken, c.h);
  }
};

namespace detail {
/// Heun's predictor-corrector around an Euler step, shared by heun_stepper and
/// adaptive_heun_stepper: returns after the corrector velocity v2 (transported to T_x), with the
/// predictor's velocity in v1.
template <class System, class Update, class Mat>
void heun_stages(const System& sys, const Update& move, const Mat& x, step_context& c, double taken,
                 Mat& v2, Mat& x1, const Mat& v1) {
  x1 = x;
  move(x1, v1, taken, c.h);
  sys(x1, c.time + taken, c.h, v2, false);
  check_finite_columns(flow_where, v2, "velocity (Heun stage)", c.step, c.time);
  // v2 is tangent at x1: transport it to T_x (by projection) before comparing or averaging.
  sys.project_on_tangents(x, v2);
}
}  // namespace detail

/// Heun's method (explicit trapezoid, RK2): Euler predictor x1 = x + dt v(x), then
/// x <- x + dt (v(x) + v(x1)) / 2. Two evaluations per step; second order (on a manifold with
/// the corrector's velocity transported back by projection, which keeps the order).
struct heun_stepper {
  static constexpr std::string_view name = "heun";
  void validate(std::string_view) const {}

  template <class System, class Update, class Mat>
  void do_step(const System& sys, const Update& move, Mat& x, step_context& c) const {
    using Scalar = typename Mat::Scalar;
    Mat v1, v2, x1;
    detail::first_velocity(sys, x, c, v1);
    c.taken = c.dt * c.unit;
    detail::heun_stages(sys, move, x, c, c.taken, v2, x1, v1);
    v2 = Scalar(0.5) * (v1 + v2);
    c.mean_displacement = move(x, v2, c.taken, c.h);
  }
};

/// Heun with the Euler-Heun difference as the local error estimate, |dt/2 (v2 - v1)| in units
/// of h (maximum over particles): a step is accepted when it is at most `tolerance` (or dt is
/// at dt_min), and dt is multiplied by clamp(0.9 sqrt(tolerance / err), 0.2, 2) within
/// [dt_min, dt_max] after every attempt.
struct adaptive_heun_stepper {
  static constexpr std::string_view name = "adaptive";
  double tolerance = 0.05;
  double dt_min = 1e-4, dt_max = 10.0;

  void validate(std::string_view where) const {
    detail::require_positive(where, "tolerance", tolerance);
    detail::require_positive(where, "dt_min", dt_min);
    if (!(dt_max >= dt_min)) detail::fail(where, "dt_max (", dt_max, ") < dt_min (", dt_min, ")");
  }

  template <class System, class Update, class Mat>
  void do_step(const System& sys, const Update& move, Mat& x, step_context& c) const {
    using Scalar = typename Mat::Scalar;
    Mat v1, v2, x1;
    detail::first_velocity(sys, x, c, v1);
    c.rejected = 0;
    for (;;) {
      c.taken = c.dt * c.unit;
      detail::heun_stages(sys, move, x, c, c.taken, v2, x1, v1);
      const double err =
          static_cast<double>((v2 - v1).colwise().norm().maxCoeff()) * 0.5 * c.taken / c.h;
      const double grow = err > 0 ? std::clamp(0.9 * std::sqrt(tolerance / err), 0.2, 2.0) : 2.0;
      const bool accept = err <= tolerance || c.dt <= dt_min;
      c.dt = std::clamp(c.dt * grow, dt_min, dt_max);
      if (accept) break;
      ++c.rejected;
    }
    v2 = Scalar(0.5) * (v1 + v2);
    c.mean_displacement = move(x, v2, c.taken, c.h);
  }
};

static_assert(Stepper<euler_stepper> && Stepper<heun_stepper> && Stepper<adaptive_heun_stepper>);

}  // namespace gfd
