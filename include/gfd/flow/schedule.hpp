// SPDX-License-Identifier: MIT
/// @file flow/schedule.hpp
/// @brief One bandwidth schedule for the particle flow and the generator: fixed, by rule, or
///        annealed, with bandwidth multipliers.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "../bandwidth.hpp"
#include "../error.hpp"
#include "../particles.hpp"

namespace gfd {

/// How the bandwidth evolves during a run (a flow's steps, or a generator's training steps).
///
/// - fixed: h throughout.
/// - rule: `factor` times `rule` (Scott, Silverman, median) applied to the targets, re-chosen
///   every `every` steps, from the targets and particles together when `include_particles`.
///   (The generator's targets are the step's data batch.)
/// - anneal (default): geometric from h_start to h_end over the first `anneal_fraction` of the
///   run's steps, then h_end: h_k = h_start (h_end / h_start)^{min(1, k / K)}. This is
///   exponential annealing h0 e^{-r k} in the step count. h_start defaults to the pooled standard
///   deviation of targets and particles together (the scale of the whole cloud, so particles that
///   start inside one mode still see all of them); h_end to `rule` on the targets times
///   `end_factor`.
///
/// `multipliers` turns one bandwidth h into several (h m_1, h m_2, ...): the velocity is the sum
/// of the velocities at each, and time is measured with the base h (velocity_system).
struct bandwidth_schedule {
  enum class mode { fixed, rule, anneal };
  mode kind = mode::anneal;
  double h = std::numeric_limits<double>::quiet_NaN();        ///< fixed value
  bandwidth_rule rule = bandwidth_rule::silverman;            ///< for `rule` and the auto h_end
  int every = 1;                                              ///< rule: re-choose every k steps
  bool include_particles = false;                             ///< rule: on targets + particles
  double factor = 1.0;                                        ///< rule: multiplies the rule's value
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
  /// This schedule with the rule's value multiplied by `f` (rule mode).
  [[nodiscard]] bandwidth_schedule scaled(double f) const {
    bandwidth_schedule s = *this;
    s.factor = f;
    return s;
  }
  /// This schedule with other bandwidth multipliers.
  [[nodiscard]] bandwidth_schedule with_multipliers(std::vector<double> m) const {
    bandwidth_schedule s = *this;
    s.multipliers = std::move(m);
    return s;
  }

  /// Checks the settings, naming `where`.
  /// @throws gfd::invalid_argument on empty or non-positive multipliers, a fixed h not > 0, a
  ///         rule interval < 1, a factor not > 0, or anneal settings out of range.
  void validate(std::string_view where) const {
    if (multipliers.empty()) detail::fail(where, "bandwidth multipliers are empty");
    for (double m : multipliers) detail::require_positive(where, "bandwidth multiplier", m);
    switch (kind) {
      case mode::fixed: detail::require_positive(where, "bandwidth", h); break;
      case mode::rule:
        if (every < 1) detail::fail(where, "bandwidth rule interval must be >= 1, got ", every);
        detail::require_positive(where, "bandwidth factor", factor);
        break;
      case mode::anneal:
        if (!std::isnan(h_start)) detail::require_positive(where, "h_start", h_start);
        if (!std::isnan(h_end)) detail::require_positive(where, "h_end", h_end);
        detail::require_positive(where, "end_factor", end_factor);
        if (!(anneal_fraction >= 0 && anneal_fraction <= 1))
          detail::fail(where, "anneal_fraction must be in [0, 1], got ", anneal_fraction);
        break;
    }
  }
};

/// A bandwidth_schedule in use over a run of `steps` steps: the automatic anneal end points are
/// frozen by start() (h_start depends on where the particles start), then at(k, ...) gives the
/// base bandwidth of step k. Rule mode keeps its last value between re-evaluations.
class bandwidth_scheduler {
public:
  bandwidth_scheduler(bandwidth_schedule s, long steps) : s_(std::move(s)), steps_(steps) {}

  [[nodiscard]] const bandwidth_schedule& schedule() const noexcept { return s_; }
  [[nodiscard]] const std::vector<double>& multipliers() const noexcept { return s_.multipliers; }

  /// Freezes the automatic anneal end points from the start clouds. O((M + N) d).
  template <class Scalar, int Dim>
  void start(const cloud_view<Scalar, Dim>& targets,
             const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& particles) {
    if (s_.kind != bandwidth_schedule::mode::anneal) return;
    h_start_ = std::isnan(s_.h_start) ? auto_h_start(targets, particles) : s_.h_start;
    h_end_ = std::isnan(s_.h_end) ? s_.end_factor * choose_bandwidth(s_.rule, targets) : s_.h_end;
  }

  /// The base bandwidth of step k (0-based).
  template <class Scalar, int Dim>
  double at(long k, const cloud_view<Scalar, Dim>& targets,
            const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& particles) {
    switch (s_.kind) {
      case bandwidth_schedule::mode::fixed: return last_ = s_.h;
      case bandwidth_schedule::mode::rule:
        if (k % s_.every != 0 && last_ > 0) return last_;
        if (!s_.include_particles) return last_ = scaled(choose_bandwidth(s_.rule, targets));
        return last_ = scaled(choose_bandwidth(s_.rule, cloud_view<Scalar, Dim>(pooled(targets, particles))));
      case bandwidth_schedule::mode::anneal: {
        const double span = std::max(1.0, s_.anneal_fraction * static_cast<double>(steps_));
        const double frac = s_.anneal_fraction == 0 ? 1.0 : std::min(1.0, static_cast<double>(k) / span);
        return last_ = h_start_ * std::pow(h_end_ / h_start_, frac);
      }
    }
    return last_;
  }

  /// Whether the bandwidth has stopped changing by step k + 1 (annealing is over): stop rules
  /// apply only then, since a shrinking h changes the flow itself.
  [[nodiscard]] bool settled(long k) const {
    return s_.kind != bandwidth_schedule::mode::anneal ||
           static_cast<double>(k + 1) >= s_.anneal_fraction * static_cast<double>(steps_);
  }

private:
  double scaled(double h) const { return s_.factor == 1.0 ? h : s_.factor * h; }

  template <class Scalar, int Dim>
  static positions<Scalar, Dim> pooled(const cloud_view<Scalar, Dim>& targets,
                                       const Eigen::Ref<const positions<Scalar, Dim>>& particles) {
    positions<Scalar, Dim> both(targets.dim(), targets.size() + particles.cols());
    both << targets.points(), particles;
    return both;
  }
  template <class Scalar, int Dim>
  static double auto_h_start(const cloud_view<Scalar, Dim>& targets,
                             const Eigen::Ref<const positions<Scalar, Dim>>& particles) {
    const positions<Scalar, Dim> both = pooled(targets, particles);
    const auto [n, sigma] = detail::size_and_spread(cloud_view<Scalar, Dim>(both));
    (void)n;
    return detail::checked_bandwidth("gfd::flow (automatic start bandwidth)", sigma);
  }

  bandwidth_schedule s_;
  long steps_ = 0;
  double h_start_ = 0, h_end_ = 0, last_ = 0;
};

}  // namespace gfd
