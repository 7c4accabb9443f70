// SPDX-License-Identifier: MIT
/// @file divergences.hpp
/// @brief Velocity fields of KDE divergences: what a field sees (flow_problem), the plug-in
///        fields of f-divergences (KL both ways, chi^2 both ways, Jensen-Shannon, Hellinger,
///        alpha: the true-density W2 flow with the KDEs' scores put in, DESIGN 1.7; the exact
///        flows of the smoothed divergences are in smoothed.hpp), MMD and mixtures; the drifting
///        field of Deng et al. (2026) is in drifting.hpp, included at the end.
#pragma once

#include <Eigen/Core>

#include <any>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/bound_kernel.hpp"
#include "core/evaluator.hpp"
#include "core/sums.hpp"
#include "error.hpp"
#include "kernels.hpp"
#include "particles.hpp"

namespace gfd {

/// What a velocity field sees at one evaluation: particles x (d x N, the cloud q), weighted
/// targets y (d x M, the cloud p), the kernel, the evaluator and the bandwidth, and the flow
/// time t (for time-dependent mixtures). Views only: the flow owns the data.
///
/// Kernel sums go through prepared sources (core/evaluator.hpp): `targets_at(hb)` gives the
/// targets prepared for bandwidth hb (the velocity system keeps them prepared per bandwidth and
/// passes them in `prepared_targets`; without it they are prepared here), `particles_at(hb, lw)`
/// the particles, prepared once per call of a divergence and reused for all its passes.
template <class Scalar, int Dim, Kernel K, Evaluator E>
struct flow_problem {
  using scalar_type = Scalar;
  using kernel_type = K;
  using prepared_type = prepared_t<E, K, Scalar>;
  static constexpr int dim_at_compile_time = Dim;
  Eigen::Ref<const positions<Scalar, Dim>> particles;
  Eigen::Ref<const positions<Scalar, Dim>> targets;
  Eigen::Ref<const vector<Scalar>> target_log_weights;  ///< normalised log-weights of targets
  const K& kernel;
  const E& evaluator;
  Scalar h;
  double time = 0;
  /// The targets prepared with target_log_weights for some bandwidth (optional).
  const prepared_type* prepared_targets = nullptr;
  /// Scratch a divergence may keep from one call to the next of the same velocity system (one
  /// slot per bandwidth multiplier; null when there is none): a warm start. The system owns it,
  /// so two runs, or two threads running flows with one divergence object, never share it.
  std::any* scratch = nullptr;

  /// The targets with their weights, prepared for bandwidth hb: `prepared_targets` itself when it
  /// is bound to hb, else re-bound (sharing its layout or index), else prepared now.
  [[nodiscard]] prepared_type targets_at(Scalar hb) const {
    if (prepared_targets != nullptr)
      return prepared_targets->bandwidth() == hb ? *prepared_targets : prepared_targets->rebound(hb);
    return evaluator.prepare(targets, target_log_weights,
                             bound_kernel<K, Scalar>(kernel, hb, "gfd::flow_problem"));
  }
  /// The particles with log-weights `log_w`, prepared for bandwidth hb.
  [[nodiscard]] prepared_type particles_at(Scalar hb, const vector<Scalar>& log_w) const {
    return evaluator.prepare(particles, log_w, bound_kernel<K, Scalar>(kernel, hb, "gfd::flow_problem"));
  }
  /// The number of particles in the whole cloud: particles.cols(), unless the evaluator spans
  /// several processes that each hold a shard of the particles (gfd::mpi::ring_evaluator, whose
  /// `global_count(n)` sums n over them).
  [[nodiscard]] Eigen::Index particle_count() const {
    if constexpr (requires { evaluator.global_count(particles.cols()); })
      return evaluator.global_count(particles.cols());
    else
      return particles.cols();
  }
  /// Uniform log-weights -log N over the particles (N = particle_count()).
  [[nodiscard]] vector<Scalar> uniform_particle_weights() const {
    return vector<Scalar>::Constant(particles.cols(), -std::log(Scalar(particle_count())));
  }
};

/// Per-particle KDE statistics under p (targets) and q (particles, self included), with one
/// kernel and bandwidth for both, so the normaliser h^d Z_d is dropped from both log sums and
/// cancels in every ratio q/p.
template <class Scalar, int Dim = Eigen::Dynamic>
struct local_fields {
  vector<Scalar> log_p, log_q;          ///< log sum_j w_j k_h(x_i - y_j), log (1/N) sum_j k_h(x_i - x_j)
  positions<Scalar, Dim> field_p, field_q;  ///< scores s_p, s_q (or mean shifts, see `kind`)
  field_kind kind = field_kind::score;
};

/// Computes the local fields of a problem: two evaluator passes, O(N (M + N) d).
template <class Problem>
auto compute_local_fields(const Problem& pb, field_kind kind = field_kind::score) {
  using Scalar = typename Problem::scalar_type;
  constexpr int Dim = Problem::dim_at_compile_time;
  local_fields<Scalar, Dim> f;
  f.kind = kind;
  kernel_sums<Scalar, Dim> s;
  const sum_options opt{.field = kind, .exclude_self = false};
  pb.targets_at(pb.h).sums(pb.particles, opt, s);
  f.log_p = std::move(s.log_sum);
  f.field_p = std::move(s.field);
  pb.particles_at(pb.h, pb.uniform_particle_weights()).sums(pb.particles, opt, s);
  f.log_q = std::move(s.log_sum);
  f.field_q = std::move(s.field);
  return f;
}

/// How density ratios r = q/p are kept finite (DESIGN 1.2). r is evaluated as
/// exp(clamp(log q - log p, -max_log_ratio, +max_log_ratio)), so with the default 10 every
/// ratio lies in [4.5e-5, 2.2e4]. Where both densities are exactly zero (outside a compact
/// kernel's support) the ratio is taken as 1. With `normalise`, the per-particle weights
/// phi(r_i) are divided by their mean over the particles: a uniform rescaling of time at each
/// step that leaves the paths of the flow unchanged and removes its stiffness.
struct ratio_policy {
  double max_log_ratio = 10.0;
  bool normalise = false;
};

namespace detail {
template <class Scalar>
double clamped_log_ratio(Scalar log_q, Scalar log_p, double bound) {
  const double lq = static_cast<double>(log_q), lp = static_cast<double>(log_p);
  if (std::isinf(lq) && std::isinf(lp)) return 0.0;  // 0/0 outside every support: no preference
  const double lr = lq - lp;                          // +-inf when one side is zero: clamped
  return std::clamp(lr, -bound, bound);
}
}  // namespace detail

/// A velocity field that is a function of the local fields alone. D provides
///
/// | expression                          | semantics                                          |
/// |-------------------------------------|----------------------------------------------------|
/// | `d.field()`                         | the field_kind it needs (score for all but drifting) |
/// | `d.add_velocity(f, t, scale, v)`    | v += scale * velocity at every particle             |
/// | `d.estimate(f, t)`                  | an estimate of the divergence on these particles    |
template <class D>
concept LocalDivergence = requires(const D d, const local_fields<double>& f, double t,
                                   positions<double>& v) {
  { d.field() } -> std::convertible_to<field_kind>;
  d.add_velocity(f, t, 1.0, v);
  { d.estimate(f, t) } -> std::convertible_to<double>;
};

/// Any velocity field the flow can follow: `d.velocity(problem, v, want_estimate)` writes the
/// velocity (d x N) of every particle into v and returns an estimate of the divergence (NaN when
/// not wanted). Local divergences get it from local_velocity().
template <class D, class Problem>
concept Divergence = requires(const D d, const Problem& pb,
                              positions<typename Problem::scalar_type, Problem::dim_at_compile_time>& v) {
  { d.velocity(pb, v, true) } -> std::convertible_to<double>;
};

/// Whether divergence D sums with the flow's kernel (and so needs the targets prepared with it),
/// and whether it sums through the flow's evaluator at all. A divergence says no by a static
/// constexpr member `uses_flow_kernel = false` (the transport flows: Sinkhorn has a kernel of its
/// own, the sliced and energy flows none) or `uses_evaluator = false` (sliced, energy); the
/// velocity system then prepares nothing for it, and the tool and the Python module refuse a
/// --kernel or --evaluator it would ignore. Both default to true.
template <class D>
[[nodiscard]] constexpr bool uses_flow_kernel() noexcept {
  if constexpr (requires { D::uses_flow_kernel; })
    return D::uses_flow_kernel;
  else
    return true;
}
/// See uses_flow_kernel().
template <class D>
[[nodiscard]] constexpr bool uses_evaluator() noexcept {
  if constexpr (requires { D::uses_evaluator; })
    return D::uses_evaluator;
  else
    return true;
}
/// Whether divergence D is defined on R^d only (a static constexpr member `euclidean_only =
/// true`, as smoothed_f_divergence has): velocity_system refuses it on another manifold and the
/// registries do not instantiate it there. Defaults to false.
template <class D>
[[nodiscard]] constexpr bool euclidean_only() noexcept {
  if constexpr (requires { D::euclidean_only; })
    return D::euclidean_only;
  else
    return false;
}

/// velocity() of a local divergence: two evaluator passes then add_velocity.
template <LocalDivergence D, class Problem, class V>
double local_velocity(const D& d, const Problem& pb, V& v, bool want_estimate) {
  const auto f = compute_local_fields(pb, d.field());
  v.setZero(pb.particles.rows(), pb.particles.cols());
  d.add_velocity(f, pb.time, 1.0, v);
  return want_estimate ? d.estimate(f, pb.time) : std::numeric_limits<double>::quiet_NaN();
}

/// The f-divergence D_f(q||p) = integral of p f(q/p), given by f'' alone (DESIGN 1.2): the
/// velocity of its W2 flow between densities, v = phi(r) (s_p - s_q) with phi(r) = r f''(r),
/// r = q/p, evaluated with the KDEs' ratio and scores (the plug-in field). It is not the W2
/// flow of D_f(k*q || k*p) as a functional of the particles, whose velocity is
/// -grad (k * f'(q~/p~)) (smoothed_f_divergence, smoothed.hpp; DESIGN 1.7). Its value is
/// estimated on the particles (samples of q) as mean_i f(r_i) / r_i, with f the closed form when
/// given, else f(r) = integral_1^r (r - s) f''(s) ds by quadrature (the normalisation
/// f(1) = f'(1) = 0 does not change D_f between probability densities).
///
/// Cost per call beyond the two kernel passes: O(N) evaluations of f''. Thread-safety: const.
class f_divergence {
public:
  using function = std::function<double(double)>;

  /// @param name       shown in reports
  /// @param f2         f''(r) for r > 0; must be >= 0 (f convex)
  /// @param f          f(r) in closed form (optional; else by quadrature of f2)
  /// @param ratio      how density ratios are kept finite (ratio_policy)
  f_divergence(std::string name, function f2, function f = {}, ratio_policy ratio = {})
      : name_(std::move(name)), f2_(std::move(f2)), f_(std::move(f)), ratio_(ratio) {
    if (!f2_) detail::fail("gfd::f_divergence", "f'' is empty for '", name_, "'");
    detail::require_positive("gfd::f_divergence", "ratio_policy.max_log_ratio", ratio_.max_log_ratio);
  }

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] field_kind field() const noexcept { return field_kind::score; }
  [[nodiscard]] const ratio_policy& ratio() const noexcept { return ratio_; }
  f_divergence& set_ratio(ratio_policy r) {
    detail::require_positive("gfd::f_divergence::set_ratio", "max_log_ratio", r.max_log_ratio);
    ratio_ = r;
    return *this;
  }

  /// phi(r) = r f''(r), the weight of s_p - s_q.
  [[nodiscard]] double weight(double r) const { return r * f2_(r); }
  /// f(r), closed form or quadrature.
  [[nodiscard]] double f(double r) const { return f_ ? f_(r) : f_by_quadrature(r); }

  /// Per-particle weights phi(r_i) under the ratio policy.
  template <class Scalar, int Dim>
  [[nodiscard]] Eigen::VectorXd weights(const local_fields<Scalar, Dim>& lf) const {
    const Eigen::Index n = lf.log_p.size();
    Eigen::VectorXd w(n);
    for (Eigen::Index i = 0; i < n; ++i) {
      const double lr = detail::clamped_log_ratio(lf.log_q(i), lf.log_p(i), ratio_.max_log_ratio);
      w(i) = weight(std::exp(lr));
      if (!std::isfinite(w(i)))
        throw numerical_error("gfd::f_divergence '" + name_ + "': the weight phi(r) = r f''(r) is " +
                              detail::short_number(w(i)) + " at particle " + std::to_string(i) +
                              ", log r = " + detail::short_number(lr) +
                              "; lower ratio_policy.max_log_ratio or change f");
    }
    if (ratio_.normalise) {
      const double mean = w.mean();
      if (mean > 0) w /= mean;
    }
    return w;
  }

  template <class Scalar, int Dim, class V>
  void add_velocity(const local_fields<Scalar, Dim>& lf, double, double scale, V& v) const {
    const Eigen::VectorXd w = weights(lf) * scale;
    v += (lf.field_p - lf.field_q) * w.cast<Scalar>().asDiagonal();
  }

  template <class Scalar, int Dim>
  [[nodiscard]] double estimate(const local_fields<Scalar, Dim>& lf, double) const {
    double sum = 0;
    for (Eigen::Index i = 0; i < lf.log_p.size(); ++i) {
      const double lr = detail::clamped_log_ratio(lf.log_q(i), lf.log_p(i), ratio_.max_log_ratio);
      sum += f(std::exp(lr)) * std::exp(-lr);
    }
    return sum / static_cast<double>(lf.log_p.size());
  }

  template <class Problem, class V>
  double velocity(const Problem& pb, V& v, bool want_estimate) const {
    return local_velocity(*this, pb, v, want_estimate);
  }

private:
  // f(r) = int_1^r (r - s) f''(s) ds = int_0^{log r} (r - e^u) f''(e^u) e^u du, Simpson in u.
  double f_by_quadrature(double r) const {
    if (r == 1.0) return 0.0;
    const double b = std::log(r);
    const int n = 256;
    const double hu = b / n;
    double sum = 0;
    for (int k = 0; k <= n; ++k) {
      const double u = k * hu, s = std::exp(u);
      const double g = (r - s) * f2_(s) * s;
      sum += g * (k == 0 || k == n ? 1.0 : (k % 2 ? 4.0 : 2.0));
    }
    return sum * hu / 3.0;
  }

  std::string name_;
  function f2_, f_;
  ratio_policy ratio_;
};

/// KL(q||p) = int q log(q/p) ("forward" KL of the drifting literature): v = s_p - s_q.
inline f_divergence kl(ratio_policy r = {}) {
  return {"kl", [](double x) { return 1.0 / x; }, [](double x) { return x * std::log(x); }, r};
}
/// KL(p||q) = int p log(p/q) (mass-covering): v = (p/q)(s_p - s_q).
inline f_divergence reverse_kl(ratio_policy r = {}) {
  return {"reverse-kl", [](double x) { return 1.0 / (x * x); }, [](double x) { return -std::log(x); }, r};
}
/// chi^2(q||p) = int q^2/p - 1 (zero-forcing): v = 2 (q/p)(s_p - s_q).
inline f_divergence chi2(ratio_policy r = {}) {
  return {"chi2", [](double) { return 2.0; }, [](double x) { return (x - 1) * (x - 1); }, r};
}
/// chi^2(p||q) = int p^2/q - 1: f(r) = 1/r - 1, v = 2 (p/q)^2 (s_p - s_q).
inline f_divergence reverse_chi2(ratio_policy r = {}) {
  return {"chi2-reverse", [](double x) { return 2.0 / (x * x * x); },
          [](double x) { return 1.0 / x - 1.0; }, r};
}
/// Jensen-Shannon JS = (KL(q||m) + KL(p||m)) / 2, m = (p + q)/2:
/// f(r) = (r log r - (1 + r) log((1 + r)/2)) / 2, phi(r) = 1 / (2 (1 + r)).
inline f_divergence jensen_shannon(ratio_policy r = {}) {
  return {"js", [](double x) { return 0.5 / (x * (1 + x)); },
          [](double x) { return 0.5 * (x * std::log(x) - (1 + x) * std::log(0.5 * (1 + x))); }, r};
}
/// Squared Hellinger H^2 = int (sqrt q - sqrt p)^2: f(r) = (sqrt r - 1)^2, phi(r) = r^{-1/2} / 2.
inline f_divergence squared_hellinger(ratio_policy r = {}) {
  return {"hellinger", [](double x) { return 0.5 * std::pow(x, -1.5); },
          [](double x) { return (std::sqrt(x) - 1) * (std::sqrt(x) - 1); }, r};
}
/// Amari alpha-divergence: f(r) = (r^a - a r - (1 - a)) / (a (a - 1)), f'' = r^{a-2},
/// phi(r) = r^{a-1}. a -> 1 is KL(q||p), a -> 0 is KL(p||q), a = 2 is chi^2(q||p) / 2.
/// The weights phi(r) = r^{a-1} reach exp(|a - 1| max_log_ratio), so alpha must satisfy
/// |a - 1| max_log_ratio <= 230 (weights up to ~1e100; with the default ratio_policy,
/// alpha in [-22, 24]): beyond that the velocity overflows on the first far particle.
/// @throws gfd::invalid_argument if alpha is not finite or outside that range.
inline f_divergence alpha_divergence(double alpha, ratio_policy r = {}) {
  if (!std::isfinite(alpha)) detail::fail("gfd::alpha_divergence", "alpha must be finite, got ", alpha);
  if (std::abs(alpha - 1.0) * r.max_log_ratio > 230.0)
    detail::fail("gfd::alpha_divergence", "alpha = ", detail::short_number(alpha),
                 " is outside [", detail::short_number(1.0 - 230.0 / r.max_log_ratio), ", ",
                 detail::short_number(1.0 + 230.0 / r.max_log_ratio),
                 "], where the weights (q/p)^(alpha - 1) stay below 1e100 for log ratios clamped at ",
                 detail::short_number(r.max_log_ratio));
  f_divergence::function f;
  if (alpha == 1.0)
    f = [](double x) { return x * std::log(x) - x + 1; };
  else if (alpha == 0.0)
    f = [](double x) { return -std::log(x) + x - 1; };
  else
    f = [alpha](double x) { return (std::pow(x, alpha) - alpha * x - (1 - alpha)) / (alpha * (alpha - 1)); };
  return {"alpha(" + std::to_string(alpha) + ")", [alpha](double x) { return std::pow(x, alpha - 2); },
          std::move(f), r};
}

/// MMD^2_k(q, p) with the (unnormalised, k(0) = 1) kernel of the flow:
/// v(x) = 2 (grad p~(x) - grad q~(x)), p~ = sum_j w_j k_h(x - y_j), q~ = (1/N) sum_j k_h(x - x_j)
/// (DESIGN 1.2). Scale: v_i = -N * d MMD^2 / d x_i (the derivative of the V-statistic with
/// respect to particle i). The estimate is mean_i q~(x_i) - 2 mean_i p~(x_i), i.e. MMD^2 minus
/// the constant target term E_p p~ (it is monitored for its decrease). No ratios: far from the
/// targets p~ underflows and the flow stops there (a known weakness of MMD flows).
struct mmd {
  [[nodiscard]] field_kind field() const noexcept { return field_kind::score; }
  [[nodiscard]] std::string name() const { return "mmd"; }

  template <class Scalar, int Dim, class V>
  void add_velocity(const local_fields<Scalar, Dim>& lf, double, double scale, V& v) const {
    const vector<Scalar> gp = (Scalar(2 * scale) * lf.log_p.array().exp()).matrix();
    const vector<Scalar> gq = (Scalar(2 * scale) * lf.log_q.array().exp()).matrix();
    v += lf.field_p * gp.asDiagonal();
    v -= lf.field_q * gq.asDiagonal();
  }
  template <class Scalar, int Dim>
  [[nodiscard]] double estimate(const local_fields<Scalar, Dim>& lf, double) const {
    return static_cast<double>(lf.log_q.array().exp().mean() - 2 * lf.log_p.array().exp().mean());
  }
  template <class Problem, class V>
  double velocity(const Problem& pb, V& v, bool want_estimate) const {
    return local_velocity(*this, pb, v, want_estimate);
  }
};

/// A weighted sum a(t) A + b(t) B of two local divergences (which must use the same field
/// kind): the velocity and the estimate are the same weighted sums. Nest for more terms.
/// The paper's mixture is mixture(reverse_kl(), chi2(), a, b): KL(p||q) pulls particles into
/// modes they miss, chi^2(q||p) expels them from between modes (DESIGN 1.2).
template <LocalDivergence A, LocalDivergence B>
class mixture {
public:
  using schedule = std::function<double(double)>;
  mixture(A a, B b, double wa, double wb)
      : mixture(std::move(a), std::move(b), constant(wa), constant(wb)) {}
  /// Time-dependent weights wa(t), wb(t).
  mixture(A a, B b, schedule wa, schedule wb)
      : a_(std::move(a)), b_(std::move(b)), wa_(std::move(wa)), wb_(std::move(wb)) {
    if (!wa_ || !wb_) detail::fail("gfd::mixture", "empty weight schedule");
    if (a_.field() != b_.field()) detail::fail("gfd::mixture", "components need different fields");
  }
  [[nodiscard]] field_kind field() const { return a_.field(); }
  [[nodiscard]] std::string name() const { return "mixture"; }
  [[nodiscard]] std::pair<double, double> weights_at(double t) const { return {wa_(t), wb_(t)}; }

  template <class Scalar, int Dim, class V>
  void add_velocity(const local_fields<Scalar, Dim>& lf, double t, double scale, V& v) const {
    a_.add_velocity(lf, t, scale * wa_(t), v);
    b_.add_velocity(lf, t, scale * wb_(t), v);
  }
  template <class Scalar, int Dim>
  [[nodiscard]] double estimate(const local_fields<Scalar, Dim>& lf, double t) const {
    return wa_(t) * a_.estimate(lf, t) + wb_(t) * b_.estimate(lf, t);
  }
  template <class Problem, class V>
  double velocity(const Problem& pb, V& v, bool want_estimate) const {
    return local_velocity(*this, pb, v, want_estimate);
  }

private:
  static schedule constant(double w) {
    if (!(std::abs(w) <= 1e6))
      detail::fail("gfd::mixture", "a constant weight must be finite with |w| <= 1e6 (it scales the "
                   "velocity as the step does: take a larger step instead), got ", detail::short_number(w));
    return [w](double) { return w; };
  }
  A a_;
  B b_;
  schedule wa_, wb_;
};

static_assert(LocalDivergence<f_divergence> && LocalDivergence<mmd> &&
              LocalDivergence<mixture<f_divergence, f_divergence>>);

}  // namespace gfd

#include "drifting.hpp"  // the drifting field, built on flow_problem like the fields above
