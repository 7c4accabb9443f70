// SPDX-License-Identifier: MIT
/// @file transport.hpp
/// @brief Transport flows: the debiased Sinkhorn divergence (log-domain Sinkhorn with
///        epsilon-scaling on the evaluators' Gaussian log-sums, DESIGN 1.8), the sliced
///        Wasserstein flow and the energy-distance flow. None of them uses the flow's kernel or
///        a density ratio.
///
/// Time unit. The flow steps by dt h^2 times a velocity (flow.hpp). The Sinkhorn and sliced
/// velocities are displacements (a barycentric target minus the particle), the energy velocity
/// is a sum of unit vectors; they are returned divided by h^2 and by h respectively, so that one
/// step of size dt moves a particle by dt times its displacement (dt h times the unit-vector
/// field for the energy distance), whatever the bandwidth schedule: the paths do not depend on
/// it, as for the drifting field. With flow_options::dt_in_bandwidth_units = false the step is
/// dt times the returned velocity.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <any>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "core/bound_kernel.hpp"
#include "core/evaluator.hpp"
#include "core/sums.hpp"
#include "divergences.hpp"
#include "error.hpp"
#include "evaluators/exact.hpp"
#include "kernels.hpp"
#include "metrics.hpp"
#include "particles.hpp"

namespace gfd {

// ---------------------------------------------------------------------------------------------
// Sinkhorn
// ---------------------------------------------------------------------------------------------

/// Options of the log-domain Sinkhorn solver (Feydy et al. 2019, "Interpolating between optimal
/// transport and MMD using Sinkhorn divergences"; the symmetric, epsilon-scaled loop of
/// GeomLoss). The cost is c(x, y) = |x - y|^2 / 2, so S_eps -> W2^2 / 2 as eps -> 0.
struct sinkhorn_options {
  /// The entropic regularisation eps (the squared "blur": a soft-min pass is a Gaussian kernel
  /// log-sum with h^2 = eps). 0 = automatic: (diameter / 100)^2, the diameter of the target
  /// cloud's bounding box (sinkhorn_flow) or of both clouds (sinkhorn_solve).
  double epsilon = 0;
  /// epsilon-scaling: eps starts at the squared diameter of both clouds and is multiplied by
  /// scaling^2 at each iteration until it reaches `epsilon` (GeomLoss's `scaling`: 0.5 is fast,
  /// 0.9 precise). In (0, 1).
  double scaling = 0.5;
  /// At the final eps the symmetric iterations continue until no potential changes by more than
  /// tolerance * eps (a relative change of the scaling vectors), or `max_iterations`.
  double tolerance = 1e-3;
  /// Iterations at the final eps, after the annealing (0: none, GeomLoss's behaviour).
  int max_iterations = 100;
  /// The debiased divergence S_eps(a, b) = OT_eps(a, b) - OT_eps(a, a)/2 - OT_eps(b, b)/2
  /// (default), else OT_eps(a, b) itself.
  bool debias = true;
  /// sinkhorn_flow: start each step's Sinkhorn from the previous step's potentials (see
  /// sinkhorn_solve), with the annealing only at the first step.
  bool warm_start = true;
};

/// What sinkhorn_solve returns. Potentials are "f on the first cloud, g on the second":
/// f_ab, g_ab solve OT_eps(a, b); f_aa and g_bb the symmetric problems (debias only; g_bb only
/// when the value was asked for). shift_ab(i) = T_ab(x_i) - x_i, the barycentric target of x_i
/// under the coupling of (a, b) minus x_i, and shift_aa the same for (a, a): the velocity of the
/// particles is shift_ab - shift_aa = -grad_x (f_ab - f_aa).
template <class Scalar, int Dim = Eigen::Dynamic>
struct sinkhorn_result {
  vector<Scalar> f_ab, g_ab, f_aa, g_bb;
  positions<Scalar, Dim> shift_ab, shift_aa;
  double epsilon = 0;   ///< the final eps
  double value = std::numeric_limits<double>::quiet_NaN();  ///< S_eps (or OT_eps), when asked
  int iterations = 0;   ///< soft-min passes in all (annealing, final iterations, extrapolation)
  bool converged = false;  ///< the final iterations met the tolerance
};

namespace detail {

inline void check_sinkhorn_options(std::string_view where, const sinkhorn_options& o) {
  if (!(std::isfinite(o.epsilon) && o.epsilon >= 0))
    fail(where, "epsilon must be finite and >= 0 (0: automatic), got ", short_number(o.epsilon));
  if (!(o.scaling > 0 && o.scaling < 1))
    fail(where, "scaling must be in (0, 1), got ", short_number(o.scaling));
  if (!(std::isfinite(o.tolerance) && o.tolerance > 0))
    fail(where, "tolerance must be finite and > 0, got ", short_number(o.tolerance));
  if (o.max_iterations < 0) fail(where, "max_iterations must be >= 0, got ", o.max_iterations);
}

/// The diagonal of the bounding box of the columns of x and y together.
template <class X, class Y>
double bounding_diameter(const X& x, const Y& y) {
  double s = 0;
  for (Eigen::Index k = 0; k < x.rows(); ++k) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    if (x.cols() > 0) {
      lo = std::min(lo, static_cast<double>(x.row(k).minCoeff()));
      hi = std::max(hi, static_cast<double>(x.row(k).maxCoeff()));
    }
    if (y.cols() > 0) {
      lo = std::min(lo, static_cast<double>(y.row(k).minCoeff()));
      hi = std::max(hi, static_cast<double>(y.row(k).maxCoeff()));
    }
    if (hi > lo) s += (hi - lo) * (hi - lo);
  }
  return std::sqrt(s);
}

/// A 64-bit seed for one velocity evaluation from the user's seed, the flow time and the
/// bandwidth (splitmix64 finaliser): the same call gives the same draws, the next step others.
inline std::uint64_t call_seed(std::uint64_t seed, double t, double h) {
  auto mix = [](std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  return mix(mix(mix(seed) ^ std::bit_cast<std::uint64_t>(t)) ^ std::bit_cast<std::uint64_t>(h));
}

/// Throws unless lw holds n finite-or--inf log-weights with a finite log-sum-exp near 0.
template <class Vec>
void check_log_weights(std::string_view where, const char* what, const Vec& lw, Eigen::Index n) {
  if (lw.size() != n) fail(where, what, " has ", lw.size(), " log-weights for ", n, " points");
  double mx = -std::numeric_limits<double>::infinity();
  for (Eigen::Index i = 0; i < lw.size(); ++i) {
    const double l = static_cast<double>(lw(i));
    if (std::isnan(l) || l == std::numeric_limits<double>::infinity())
      fail(where, what, " log-weight ", i, " is ", short_number(l));
    mx = std::max(mx, l);
  }
  if (!std::isfinite(mx)) fail(where, what, " has no positive weight");
  double s = 0;
  for (Eigen::Index i = 0; i < lw.size(); ++i) s += std::exp(static_cast<double>(lw(i)) - mx);
  const double lse = mx + std::log(s);
  if (std::abs(lse) > 1e-6)
    fail(where, what, " weights must sum to 1 (log-sum ", short_number(lse), ")");
}

}  // namespace detail

/// Log-domain Sinkhorn between the weighted clouds (x, a) and (y, b) for the cost |x - y|^2 / 2
/// (DESIGN 1.8), every soft-min a Gaussian kernel log-sum of `evaluator` with h^2 = eps:
///
///     f(x) = -eps log sum_j b_j exp((g_j - |x - y_j|^2 / 2) / eps),
///
/// symmetric updates (each potential averaged with its update, as GeomLoss does) over the
/// epsilon-scaling schedule from the squared diameter of both clouds down to `o.epsilon`, then
/// iterations at eps up to the tolerance, then one last (extrapolation) update whose passes also
/// give the barycentric shifts. No N x M matrix is formed. The three problems (a, b), (a, a) and
/// (b, b) are solved one after the other.
///
/// Warm start: with `warm` (a previous result for clouds of the same sizes and the same eps),
/// the potentials start from it at eps and the annealing is skipped. A flow's particles move
/// little per step, so this tracks the solution from step to step; it is what keeps the mass
/// balance between far clusters right, which Sinkhorn at small eps cannot restore once lost (the
/// kernel between the clusters underflows and the iterations no longer carry it).
///
/// @param evaluator    the evaluator of the soft-min passes (exact, tree or grid)
/// @param x            the first cloud, d x N
/// @param a_log        normalised log-weights of x (N)
/// @param y            the second cloud, d x M
/// @param b_log        normalised log-weights of y (M)
/// @param o            eps, scaling, tolerance, max_iterations, debias (sinkhorn_options)
/// @param want_value   compute the value (debiased: also g_bb, one more pass per round over y)
/// @param need_aa      compute f_aa and shift_aa (debias); the value needs them when debiased
/// @param warm         a previous result to start from, or null (see above)
///
/// Cost: per round 2 passes (x <- y, y <- x), +1 (x <- x) with need_aa, +1 (y <- y) with the
/// debiased value; O(N M d) each with the exact evaluator. Rounds without a warm start:
/// log(diameter^2 / eps) / log(1 / scaling^2) + 1, then up to max_iterations, then 1.
/// @throws gfd::invalid_argument on empty clouds, differing dimensions, bad options or weights.
template <Evaluator E, class Scalar, int Dim>
[[nodiscard]] sinkhorn_result<Scalar, Dim> sinkhorn_solve(
    const E& evaluator, const Eigen::Ref<const positions<Scalar, Dim>>& x,
    const Eigen::Ref<const vector<Scalar>>& a_log, const Eigen::Ref<const positions<Scalar, Dim>>& y,
    const Eigen::Ref<const vector<Scalar>>& b_log, const sinkhorn_options& o, bool want_value = true,
    bool need_aa = true, const sinkhorn_result<Scalar, Dim>* warm = nullptr) {
  constexpr std::string_view where = "gfd::sinkhorn_solve";
  detail::check_sinkhorn_options(where, o);
  if (x.cols() < 1 || y.cols() < 1) detail::fail(where, "a cloud is empty (", x.cols(), " and ", y.cols(), " points)");
  if (x.rows() != y.rows()) detail::fail(where, "dimension mismatch: ", x.rows(), " and ", y.rows());
  detail::check_log_weights(where, "a", a_log, x.cols());
  detail::check_log_weights(where, "b", b_log, y.cols());
  using Vec = vector<Scalar>;
  using Pos = positions<Scalar, Dim>;
  const bool debias = o.debias;
  need_aa = need_aa || (debias && want_value);
  const bool want_bb = debias && want_value;
  const double diameter = detail::bounding_diameter(x, y);
  double eps = o.epsilon > 0 ? o.epsilon : diameter * diameter * 1e-4;
  if (!(eps > 0)) eps = 1.0;  // every point coincides: any eps gives the same (zero) answer
  std::vector<double> schedule{std::max(diameter * diameter, eps)};
  while (schedule.back() > eps) schedule.push_back(std::max(eps, schedule.back() * o.scaling * o.scaling));
  if (warm != nullptr && !(warm->epsilon == eps && warm->f_ab.size() == x.cols() && warm->g_ab.size() == y.cols()))
    warm = nullptr;  // another problem: start afresh

  auto kernel_at = [&](double e) { return bound_kernel<gaussian, Scalar>(gaussian{}, std::sqrt(e), where); };
  const auto px0 = evaluator.prepare(x, Vec(a_log), kernel_at(schedule.front()));
  const auto py0 = evaluator.prepare(y, Vec(b_log), kernel_at(schedule.front()));
  using prepared = std::decay_t<decltype(px0)>;
  kernel_sums<Scalar, Dim> s;
  sinkhorn_result<Scalar, Dim> r;
  r.converged = true;
  int rounds = 0;

  // The soft-min over src (log-weights lw + pot / e) at the queries q; the mean shift in s.field.
  auto softmin = [&](const prepared& src, const Eigen::Ref<const Vec>& lw, const Vec* pot, double e,
                     const Eigen::Ref<const Pos>& q) {
    const Vec w = pot ? Vec(lw + *pot * Scalar(1.0 / e)) : Vec(lw);
    src.reweighted(w).sums(q, sum_options{.field = field_kind::mean_shift, .exclude_self = false}, s);
    ++rounds;
    return Vec(Scalar(-e) * s.log_sum);
  };
  // Solves OT_eps between (q1, l1) and (q2, l2); symmetric when `same`. f lives on q1, g on q2.
  // Returns the shift of q1 (T(q1) - q1) from the extrapolation pass.
  auto solve = [&](const prepared& p1_0, const Eigen::Ref<const Vec>& l1, const Eigen::Ref<const Pos>& q1,
                   const prepared& p2_0, const Eigen::Ref<const Vec>& l2, const Eigen::Ref<const Pos>& q2,
                   bool same, Vec& f, Vec& g, bool warm_start) {
    std::vector<double> levels = warm_start ? std::vector<double>{eps} : schedule;
    prepared p1 = p1_0, p2 = p2_0;
    double bound = schedule.front();
    auto at = [&](double e) {
      if (e != bound) {
        p1 = p1.rebound(Scalar(std::sqrt(e)));
        if (!same) p2 = p2.rebound(Scalar(std::sqrt(e)));
        bound = e;
      }
    };
    at(levels.front());
    if (!warm_start) {
      f = softmin(p2, l2, nullptr, levels.front(), q1);  // zero dual variables
      g = same ? f : softmin(p1, l1, nullptr, levels.front(), q2);
    } else if (same) {
      g = f;
    }
    auto round = [&](double e) {
      const Vec ft = softmin(same ? p1 : p2, l2, &g, e, q1);
      double change = static_cast<double>((ft - f).cwiseAbs().maxCoeff());
      if (same) {
        f = Scalar(0.5) * (f + ft);
        g = f;
        return change;
      }
      const Vec gt = softmin(p1, l1, &f, e, q2);
      change = std::max(change, static_cast<double>((gt - g).cwiseAbs().maxCoeff()));
      f = Scalar(0.5) * (f + ft);
      g = Scalar(0.5) * (g + gt);
      return change;
    };
    for (double e : levels) {
      at(e);
      round(e);
    }
    bool done = o.max_iterations == 0;
    for (int k = 0; k < o.max_iterations && !done; ++k) done = round(eps) <= o.tolerance * eps;
    r.converged = r.converged && done;
    // Extrapolation: one plain update from the last potentials; its passes give the shifts.
    const Vec g_prev = g, f_prev = f;
    f = softmin(same ? p1 : p2, l2, &g_prev, eps, q1);
    Pos shift = s.field;
    g = same ? f : softmin(p1, l1, &f_prev, eps, q2);
    return shift;
  };

  const bool warm_ab = warm != nullptr;
  if (warm_ab) {
    r.f_ab = warm->f_ab;
    r.g_ab = warm->g_ab;
  }
  r.shift_ab = solve(px0, a_log, x, py0, b_log, y, false, r.f_ab, r.g_ab, warm_ab);
  if (need_aa) {
    const bool warm_aa = warm_ab && warm->f_aa.size() == x.cols();
    if (warm_aa) r.f_aa = warm->f_aa;
    Vec g_unused;
    r.shift_aa = solve(px0, a_log, x, px0, a_log, x, true, r.f_aa, g_unused, warm_aa);
  }
  if (want_bb) {
    const bool warm_bb = warm_ab && warm->g_bb.size() == y.cols();
    if (warm_bb) r.g_bb = warm->g_bb;
    Vec g_unused;
    (void)solve(py0, b_log, y, py0, b_log, y, true, r.g_bb, g_unused, warm_bb);
  }
  r.iterations = rounds;
  r.epsilon = eps;
  if (want_value) {
    const Eigen::ArrayXd a = a_log.template cast<double>().array().exp();
    const Eigen::ArrayXd b = b_log.template cast<double>().array().exp();
    double v = (a * r.f_ab.template cast<double>().array()).sum() + (b * r.g_ab.template cast<double>().array()).sum();
    if (debias)
      v -= (a * r.f_aa.template cast<double>().array()).sum() + (b * r.g_bb.template cast<double>().array()).sum();
    r.value = v;
  }
  return r;
}

/// The debiased Sinkhorn divergence S_eps(x, y) between two uniformly weighted clouds (d x N and
/// d x M), cost |x - y|^2 / 2, with the exact evaluator: >= 0, 0 iff the clouds are equal as
/// measures, -> W2^2 / 2 as eps -> 0. Defaults for a metric: scaling 0.9 and tolerance 1e-9.
/// O(rounds N (N + M) d).
/// @throws gfd::invalid_argument on an empty cloud, differing dimensions, a non-finite
///         coordinate or epsilon <= 0 (here eps must be given).
template <class DerivedX, class DerivedY>
[[nodiscard]] double sinkhorn_divergence(const Eigen::MatrixBase<DerivedX>& x,
                                         const Eigen::MatrixBase<DerivedY>& y, double epsilon,
                                         sinkhorn_options o = {.epsilon = 0, .scaling = 0.9,
                                                               .tolerance = 1e-9, .max_iterations = 10000,
                                                               .debias = true}) {
  constexpr std::string_view where = "gfd::sinkhorn_divergence";
  detail::require_positive(where, "epsilon", epsilon);
  if (x.cols() < 1 || y.cols() < 1) detail::fail(where, "a cloud is empty (", x.cols(), " and ", y.cols(), " points)");
  if (x.rows() != y.rows()) detail::fail(where, "dimension mismatch: ", x.rows(), " and ", y.rows());
  if (!x.allFinite()) detail::fail(where, "x has a non-finite coordinate");
  if (!y.allFinite()) detail::fail(where, "y has a non-finite coordinate");
  o.epsilon = epsilon;
  const Eigen::MatrixXd xd = x.template cast<double>(), yd = y.template cast<double>();
  const Eigen::VectorXd a = Eigen::VectorXd::Constant(x.cols(), -std::log(static_cast<double>(x.cols())));
  const Eigen::VectorXd b = Eigen::VectorXd::Constant(y.cols(), -std::log(static_cast<double>(y.cols())));
  return sinkhorn_solve<exact_evaluator, double, Eigen::Dynamic>(exact_evaluator{}, xd, a, yd, b, o, true, true).value;
}

/// The W2 gradient flow of the debiased Sinkhorn divergence S_eps(q, p) (DESIGN 1.8): the
/// particles move by -grad_x (f_ab - f_aa)(x) = T_ab(x) - T_aa(x), their barycentric target
/// under the coupling to the targets minus the one under the coupling to themselves (so equal
/// clouds do not move). Divided by h^2 (see the file comment): a step dt moves a particle by dt
/// (T_ab - T_aa). The estimate is S_eps. Unlike the KDE flows it moves mass between far modes in
/// the proportions of the targets: the coupling is global.
///
/// The soft-min passes run on the flow's evaluator (exact, tree or grid) with a Gaussian kernel
/// of h^2 = eps; the flow's kernel and bandwidth play no part (but the time unit).
/// Cost per step: rounds x 3 passes (x 4 when the estimate is wanted), see sinkhorn_solve.
///
/// With options().warm_start (the default) each call starts from the potentials of the previous
/// call of the same velocity system (flow_problem::scratch), so the annealing runs at the first
/// step of a run only; the object itself keeps no state (runs are reproducible and one object
/// may serve concurrent flows).
class sinkhorn_flow {
public:
  static constexpr bool uses_flow_kernel = false;  ///< its kernel is the cost's Gaussian
  explicit sinkhorn_flow(sinkhorn_options o = {}) : o_(o) {
    detail::check_sinkhorn_options("gfd::sinkhorn_flow", o_);
  }
  [[nodiscard]] std::string name() const { return o_.debias ? "sinkhorn" : "sinkhorn-ot"; }
  [[nodiscard]] const sinkhorn_options& options() const noexcept { return o_; }
  /// The eps a flow toward `targets` uses: options().epsilon, or (diameter of targets / 100)^2.
  template <class Y>
  [[nodiscard]] double epsilon_for(const Y& targets) const {
    if (o_.epsilon > 0) return o_.epsilon;
    const double dia = detail::bounding_diameter(targets, targets);
    return dia > 0 ? dia * dia * 1e-4 : 1.0;
  }

  template <class Problem, class V>
  double velocity(const Problem& pb, V& v, bool want_estimate) const {
    using Scalar = typename Problem::scalar_type;
    constexpr int Dim = Problem::dim_at_compile_time;
    sinkhorn_options o = o_;
    o.epsilon = epsilon_for(pb.targets);
    const vector<Scalar> a_log = pb.uniform_particle_weights();
    using result = sinkhorn_result<Scalar, Dim>;
    // The last call's potentials (same velocity system, so the same targets) when there was one.
    const result* warm = o_.warm_start && pb.scratch != nullptr ? std::any_cast<result>(pb.scratch) : nullptr;
    result r = sinkhorn_solve<std::decay_t<decltype(pb.evaluator)>, Scalar, Dim>(
        pb.evaluator, pb.particles, a_log, pb.targets, pb.target_log_weights, o, want_estimate, o_.debias, warm);
    const Scalar inv_h2 = Scalar(1) / (pb.h * pb.h);
    if (o_.debias)
      v = (r.shift_ab - r.shift_aa) * inv_h2;
    else
      v = r.shift_ab * inv_h2;
    const double value = r.value;
    if (o_.warm_start && pb.scratch != nullptr) {
      if (warm != nullptr && r.g_bb.size() == 0) r.g_bb = warm->g_bb;  // keep the targets' own
      *pb.scratch = std::move(r);
    }
    return want_estimate ? value : std::numeric_limits<double>::quiet_NaN();
  }

private:
  sinkhorn_options o_;
};

// ---------------------------------------------------------------------------------------------
// Sliced Wasserstein
// ---------------------------------------------------------------------------------------------

namespace detail {

/// One direction of the sliced flow: the projections px (N particles, weight 1/N each) and py
/// (M targets, weights b), sorted through `ox`, `oy`; writes the barycentric target T_i of every
/// particle under the monotone coupling (the mean of the target quantile function over the
/// particle's quantile interval) into t, and returns W2^2 between the two projected measures.
/// O(N + M) after the sorts.
inline double monotone_targets(const Eigen::VectorXd& px, const Eigen::VectorXd& py,
                               const Eigen::VectorXd& b, const std::vector<Eigen::Index>& ox,
                               const std::vector<Eigen::Index>& oy, Eigen::VectorXd& t) {
  const auto n = static_cast<Eigen::Index>(ox.size()), m = static_cast<Eigen::Index>(oy.size());
  const double mass = 1.0 / static_cast<double>(n);
  double level = 0, w2 = 0, cum_y = b(oy[0]);
  Eigen::Index j = 0;
  for (Eigen::Index k = 0; k < n; ++k) {
    const double end_x = k + 1 == n ? 1.0 : static_cast<double>(k + 1) * mass;
    const double xk = px(ox[static_cast<std::size_t>(k)]);
    double acc = 0;
    while (true) {
      const double end = std::min(end_x, j + 1 == m ? 1.0 : cum_y);
      const double take = std::max(0.0, end - level);
      const double yj = py(oy[static_cast<std::size_t>(j)]);
      acc += take * yj;
      w2 += take * (xk - yj) * (xk - yj);
      level = end;
      if (end >= end_x) break;
      ++j;  // the target atom is used up (end < end_x implies end = cum_y < 1)
      cum_y += b(oy[static_cast<std::size_t>(j)]);
    }
    t(ox[static_cast<std::size_t>(k)]) = acc / mass;
  }
  return w2;
}

}  // namespace detail

/// Options of the sliced Wasserstein flow.
struct sliced_options {
  int projections = 64;     ///< random directions per velocity evaluation (L), >= 1
  std::uint64_t seed = 0;   ///< with the flow time and bandwidth, seeds each evaluation's directions
};

/// The W2 gradient flow of half the squared sliced Wasserstein distance,
/// F = (1/2L) sum_l W2^2(theta_l # q, theta_l # p) over L random unit directions theta_l (drawn
/// afresh at every evaluation, gfd::random_directions with a seed from (seed, t, h)):
///
///     v(x_i) = (1/L) sum_l (T_l(theta_l . x_i) - theta_l . x_i) theta_l = -N dF/dx_i,
///
/// T_l the barycentric target of the monotone (quantile) coupling of the projections, exact for
/// any N, M and target weights. Divided by h^2 (file comment): a step dt moves a particle by dt
/// times that mean displacement, which in expectation is 1/d of its full 1D transport. The
/// estimate is F. Cost O(L ((N + M) d + N log N + M log M)) per evaluation, threaded over
/// directions (same result for any thread count); O(N L) memory. Needs no kernel and no
/// evaluator.
class sliced_wasserstein_flow {
public:
  static constexpr bool uses_flow_kernel = false;
  static constexpr bool uses_evaluator = false;
  explicit sliced_wasserstein_flow(sliced_options o = {}) : o_(o) {
    if (o_.projections < 1)
      detail::fail("gfd::sliced_wasserstein_flow", "projections must be >= 1, got ", o_.projections);
  }
  [[nodiscard]] std::string name() const { return "sliced"; }
  [[nodiscard]] const sliced_options& options() const noexcept { return o_; }

  /// The velocity along given unit directions (d x L), without the 1/h^2: -N grad of
  /// F = (1/2L) sum_l W2^2. Returns F.
  template <class X, class Y, class W, class V>
  static double along(const X& x, const Y& y, const W& target_weights, const Eigen::MatrixXd& dirs, V& v) {
    using Scalar = typename V::Scalar;
    const Eigen::Index d = x.rows(), n = x.cols(), m = y.cols(), count = dirs.cols();
    const Eigen::MatrixXd xd = x.template cast<double>(), yd = y.template cast<double>();
    const Eigen::VectorXd b = target_weights.template cast<double>();
    Eigen::MatrixXd disp(n, count);  // T_l - theta_l . x_i, column per direction
    std::vector<double> w2(static_cast<std::size_t>(count));
#ifndef _OPENMP
    (void)d;  // only the threading threshold uses it
#endif
#ifdef _OPENMP
#pragma omp parallel if (count * (n + m) * d >= 100000)
#endif
    {
      Eigen::VectorXd px(n), py(m), t(n);
      std::vector<Eigen::Index> ox(static_cast<std::size_t>(n)), oy(static_cast<std::size_t>(m));
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
      for (Eigen::Index l = 0; l < count; ++l) {
        px.noalias() = xd.transpose() * dirs.col(l);
        py.noalias() = yd.transpose() * dirs.col(l);
        std::iota(ox.begin(), ox.end(), Eigen::Index{0});
        std::iota(oy.begin(), oy.end(), Eigen::Index{0});
        std::sort(ox.begin(), ox.end(), [&](Eigen::Index i, Eigen::Index k) { return px(i) < px(k); });
        std::sort(oy.begin(), oy.end(), [&](Eigen::Index i, Eigen::Index k) { return py(i) < py(k); });
        w2[static_cast<std::size_t>(l)] = detail::monotone_targets(px, py, b, ox, oy, t);
        disp.col(l) = t - px;
      }
    }
    v = (dirs * disp.transpose() / static_cast<double>(count)).template cast<Scalar>();
    double f = 0;
    for (double w : w2) f += w;
    return 0.5 * f / static_cast<double>(count);
  }

  template <class Problem, class V>
  double velocity(const Problem& pb, V& v, bool want_estimate) const {
    using Scalar = typename Problem::scalar_type;
    const Eigen::MatrixXd dirs = random_directions(pb.particles.rows(), o_.projections,
                                                   detail::call_seed(o_.seed, pb.time, static_cast<double>(pb.h)));
    const Eigen::VectorXd b = pb.target_log_weights.template cast<double>().array().exp().matrix();
    const double f = along(pb.particles, pb.targets, b, dirs, v);
    v *= Scalar(1) / (pb.h * pb.h);
    return want_estimate ? f : std::numeric_limits<double>::quiet_NaN();
  }

private:
  sliced_options o_;
};

// ---------------------------------------------------------------------------------------------
// Energy distance
// ---------------------------------------------------------------------------------------------

/// The W2 gradient flow of the energy distance E(q, p) = 2 E|X - Y| - E|X - X'| - E|Y - Y'|,
/// MMD with the kernel -|x - y| (GeomLoss's "energy" loss): no bandwidth, no density.
///
///     v(x_i) = 2 sum_j b_j (y_j - x_i) / |y_j - x_i| - (2/N) sum_k (x_k - x_i) / |x_k - x_i|
///            = -N dE/dx_i   (V-statistic; a coincident pair contributes 0),
///
/// divided by h (file comment: a step dt moves a particle by at most 4 dt h). The estimate is
/// 2 E|X - Y| - E|X - X'|, E minus its constant target term (as mmd's). O(N (M + N) d) per
/// evaluation, threaded over particles. Needs no kernel and no evaluator.
class energy_flow {
public:
  static constexpr bool uses_flow_kernel = false;
  static constexpr bool uses_evaluator = false;
  [[nodiscard]] std::string name() const { return "energy"; }

  /// The velocity without the 1/h (-N grad of E); returns 2 E|X - Y| - E|X - X'|.
  template <class X, class Y, class W, class V>
  static double unscaled(const X& x, const Y& y, const W& target_weights, V& v) {
    using Scalar = typename V::Scalar;
    const Eigen::Index d = x.rows(), n = x.cols(), m = y.cols();
    v.setZero(d, n);
    Eigen::VectorXd cross(n), self(n);
    // Sum over the columns j of `src` of w_j (src_j - x_i) / |src_j - x_i| into acc (skipping
    // coincident points and column `skip`); returns sum_j w_j |src_j - x_i|. Plain loops over
    // the d coordinates of a column: no temporary per pair.
    auto accumulate = [d](const auto& src, Eigen::Index count, const Scalar* xi, auto weight,
                          Eigen::Index skip, Scalar* acc) {
      double dist = 0;
      for (Eigen::Index j = 0; j < count; ++j) {
        if (j == skip) continue;
        const Scalar* yj = &src(0, j);
        Scalar r2 = 0;
        for (Eigen::Index k = 0; k < d; ++k) r2 += (yj[k] - xi[k]) * (yj[k] - xi[k]);
        const Scalar r = std::sqrt(r2);
        const Scalar w = weight(j);
        if (r > 0)
          for (Eigen::Index k = 0; k < d; ++k) acc[k] += w * (yj[k] - xi[k]) / r;
        dist += static_cast<double>(w) * static_cast<double>(r);
      }
      return dist;
    };
    const positions<Scalar> xs = x, ys = y;  // contiguous columns
    const vector<Scalar> w = target_weights.template cast<Scalar>();
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n * (n + m) * d >= 100000)
#endif
    for (Eigen::Index i = 0; i < n; ++i) {
      vector<Scalar> ap = vector<Scalar>::Zero(d), aq = vector<Scalar>::Zero(d);
      const Scalar* xi = &xs(0, i);
      cross(i) = accumulate(ys, m, xi, [&](Eigen::Index j) { return w(j); }, -1, ap.data());
      self(i) = accumulate(xs, n, xi, [](Eigen::Index) { return Scalar(1); }, i, aq.data());
      v.col(i) = Scalar(2) * ap - (Scalar(2) / Scalar(n)) * aq;
    }
    const double nn = static_cast<double>(n);
    return 2 * cross.sum() / nn - self.sum() / (nn * nn);
  }

  template <class Problem, class V>
  double velocity(const Problem& pb, V& v, bool want_estimate) const {
    using Scalar = typename Problem::scalar_type;
    const vector<Scalar> b = pb.target_log_weights.array().exp().matrix();
    const double e = unscaled(pb.particles, pb.targets, b, v);
    v *= Scalar(1) / pb.h;
    return want_estimate ? e : std::numeric_limits<double>::quiet_NaN();
  }
};

}  // namespace gfd
