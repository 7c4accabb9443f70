// SPDX-License-Identifier: MIT
/// @file drifting.hpp
/// @brief The drifting field of Deng et al. (2026): per-side or joint ("mutual softmax",
///        Alg. 2) normalisation, self-mask, temperatures, the public code's affinity floor.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/bound_kernel.hpp"
#include "core/sums.hpp"
#include "error.hpp"
#include "kernels.hpp"
#include "particles.hpp"

namespace gfd {

/// Options of the drifting field (Deng et al. 2026, Sec. 3 and Alg. 2).
struct drifting_options {
  /// How kernel weights are normalised.
  enum class normalisation {
    /// softmax over the targets for V+ and over the particles for V- separately:
    /// V = m_p(x) - m_q(x). With a Gaussian kernel and no self-mask V = h^2 (s_p - s_q).
    per_side,
    /// Alg. 2 ("mutual softmax"): logits over targets and particles jointly, A =
    /// sqrt(softmax over columns * softmax over rows), W+ = A+ * sum A-, W- = A- * sum A+,
    /// V = W+ y+ - W- y-.
    joint,
    /// Sinkhorn drift: the converged Sinkhorn couplings of the kernel matrices in place of Alg.
    /// 2's one-shot affinity. P = diag(u) K_xy diag(v) with row sums 1/N and column sums the
    /// target weights, and the symmetric P' = diag(w) K_xx diag(w) with both marginals 1/N (the
    /// self pair removed under self_mask); V_i = N sum_j P_ij (y_j - x_i) -
    /// N sum_k P'_ik (x_k - x_i), the difference of the two barycentric targets.
    sinkhorn,
  };
  normalisation norm = normalisation::per_side;
  /// A particle does not repel itself (Deng et al.: distance to self set to +inf).
  bool self_mask = false;
  /// Kernel-gradient drifting: weight grad_x log k instead of (y - x); then V = s_p - s_q for
  /// every kernel (per_side). Default false: the mean-shift form of the paper.
  bool kernel_gradient = false;
  /// Temperatures tau; each gives a field with bandwidth tau (times the mean distance when
  /// `normalise_distances`). Empty: one field with the flow's bandwidth.
  std::vector<double> temperatures{};
  /// Divide distances by their mean over all particle-target and particle-particle pairs
  /// (the paper's feature normalisation), so temperatures are relative.
  bool normalise_distances = false;
  /// Divide each temperature's field by its RMS sqrt(mean over particles and coordinates of V^2)
  /// before summing (the paper's drift normalisation), then restore the data scale
  /// (mean distance / sqrt(d) when normalise_distances, else 1).
  bool normalise_each = false;
  /// joint only: a lower bound c on every affinity, A_ij = max(sqrt(row softmax x column
  /// softmax), c), the self pair included when self-masked (whose affinity is then c). Deng et
  /// al.'s public code clamps the product at 1e-6 before the square root (`drift_loss.py`:
  /// `sqrt(clip(aff * aff_T, 1e-6))`), i.e. c = 1e-3; 0 = no floor (the paper's equations).
  /// With a floor the sums no longer factor into kernel log-sums: the A-weighted sums take one
  /// dense pass over all N (M + N) pairs (still no N x (M + N) buffer).
  double affinity_floor = 0;
  /// sinkhorn only: at most this many Sinkhorn iterations per coupling (each two kernel passes
  /// for particles-targets, one for particles-particles), >= 1 ...
  int sinkhorn_iterations = 100;
  /// ... stopping earlier when no log scaling changes by more than this (> 0).
  double sinkhorn_tolerance = 1e-6;
};

/// The paper's practical settings as its public code computes them: joint normalisation,
/// self-mask, temperatures 0.02, 0.05, 0.2 on distances divided by their mean, each field divided
/// by its RMS, affinities floored at 1e-3. Use with the Laplacian kernel exp(-|u| / tau) for the
/// paper's field.
inline drifting_options deng_drifting_options() {
  drifting_options o;
  o.norm = drifting_options::normalisation::joint;
  o.self_mask = true;
  o.temperatures = {0.02, 0.05, 0.2};
  o.normalise_distances = true;
  o.normalise_each = true;
  o.affinity_floor = 1e-3;
  return o;
}

/// Sinkhorn drift (normalisation::sinkhorn) with Deng et al.'s other settings: self-mask,
/// temperatures 0.02, 0.05, 0.2 on distances divided by their mean, each field divided by its
/// RMS; no affinity floor (the couplings are normalised both ways already).
inline drifting_options sinkhorn_drifting_options() {
  drifting_options o = deng_drifting_options();
  o.norm = drifting_options::normalisation::sinkhorn;
  o.affinity_floor = 0;
  return o;
}

/// The drifting field V(x) = V+(x) - V-(x) of Deng et al. (2026): mean-shift attraction to the
/// targets minus mean-shift repulsion from the particles, with the kernel of the flow.
///
/// field() returns V itself. As a velocity of the flow it is divided by h^2 (the flow's
/// bandwidth), so that an Euler step of size dt h^2 (the flow's default time unit) moves
/// particles by dt V: with a Gaussian kernel and per-side normalisation this *is* the plug-in
/// KL(q||p) field, V = h^2 (s_p - s_q) (DESIGN 1.3; not the exact flow of KL(k*q||k*p), see
/// smoothed.hpp and DESIGN 1.7). With kernel_gradient, V = s_p - s_q is
/// already a velocity and is returned as is. The estimate is mean_i |V_i|^2 (the paper's loss).
///
/// Cost: per temperature 2 kernel passes (per_side) or 5 (joint), each O(N (M + N) d), plus one
/// pass for the mean distance when normalise_distances; normalisation::sinkhorn: up to
/// 2 sinkhorn_iterations passes per coupling (two couplings) instead of the joint softmax's.
/// No N x M buffer.
class drifting_field {
public:
  explicit drifting_field(drifting_options o = {}) : o_(std::move(o)) {
    for (double t : o_.temperatures) detail::require_positive("gfd::drifting_field", "temperature", t);
    if (!(o_.affinity_floor >= 0 && o_.affinity_floor < 1))
      detail::fail("gfd::drifting_field", "affinity_floor must be in [0, 1), got ", o_.affinity_floor);
    if (o_.sinkhorn_iterations < 1)
      detail::fail("gfd::drifting_field", "sinkhorn_iterations must be >= 1, got ", o_.sinkhorn_iterations);
    detail::require_positive("gfd::drifting_field", "sinkhorn_tolerance", o_.sinkhorn_tolerance);
  }
  [[nodiscard]] const drifting_options& options() const noexcept { return o_; }
  [[nodiscard]] std::string name() const { return "drifting"; }

  /// V at every particle (d x N).
  template <class Problem>
  [[nodiscard]] auto field(const Problem& pb) const {
    using Scalar = typename Problem::scalar_type;
    constexpr int Dim = Problem::dim_at_compile_time;
    using P = positions<Scalar, Dim>;
    const Eigen::Index d = pb.particles.rows(), n = pb.particles.cols();
    double scale = 1.0, data_scale = 1.0;
    if (o_.normalise_distances) {
      scale = mean_distance(pb);
      if (!(scale > 0)) scale = 1.0;  // every point coincides: nothing to normalise
      data_scale = scale / std::sqrt(static_cast<double>(d));
    }
    std::vector<double> bandwidths;
    if (o_.temperatures.empty())
      bandwidths.push_back(static_cast<double>(pb.h));
    else
      for (double t : o_.temperatures) bandwidths.push_back(t * scale);
    P total = P::Zero(d, n);
    for (double hb : bandwidths) {
      using norm = drifting_options::normalisation;
      P v = o_.norm == norm::joint      ? joint_field(pb, Scalar(hb))
            : o_.norm == norm::sinkhorn ? sinkhorn_field(pb, Scalar(hb))
                                        : per_side_field(pb, Scalar(hb));
      if (o_.normalise_each) {
        const double rms = std::sqrt(static_cast<double>(v.squaredNorm()) / static_cast<double>(v.size()));
        // the paper clamps V^2 at 1e-8 in normalised units
        const double denom = std::max(rms / data_scale, 1e-4);
        v *= Scalar(1.0 / denom);
      }
      total += v;
    }
    return total;
  }

  /// @throws gfd::invalid_argument for temperatures with a BandwidthBoundKernel (kept from the
  ///         flow's former rule: the temperatures pick bandwidths the caller never chose).
  template <class Problem, class V>
  double velocity(const Problem& pb, V& v, bool want_estimate) const {
    using K = typename Problem::kernel_type;
    if constexpr (BandwidthBoundKernel<K>) {
      if (!o_.temperatures.empty())
        detail::fail("gfd::drifting_field::velocity", "drifting_field temperatures choose their own "
                     "bandwidths, past the bandwidth-bound kernel '", K::name, "' the flow was "
                     "given; use gfd::gaussian (the vMF kernel on the sphere) or no temperatures");
    }
    v = field(pb);
    const double loss = static_cast<double>(v.squaredNorm()) / static_cast<double>(v.cols());
    if (!o_.kernel_gradient) v /= pb.h * pb.h;
    return want_estimate ? loss : std::numeric_limits<double>::quiet_NaN();
  }

private:
  field_kind kind() const { return o_.kernel_gradient ? field_kind::score : field_kind::mean_shift; }

  template <class Problem, class Scalar = typename Problem::scalar_type>
  auto per_side_field(const Problem& pb, Scalar hb) const {
    constexpr int Dim = Problem::dim_at_compile_time;
    kernel_sums<Scalar, Dim> sp, sq;
    pb.targets_at(hb).sums(pb.particles, sum_options{.field = kind(), .exclude_self = false}, sp);
    pb.particles_at(hb, pb.uniform_particle_weights())
        .sums(pb.particles, sum_options{.field = kind(), .exclude_self = o_.self_mask}, sq);
    return positions<Scalar, Dim>(sp.field - sq.field);
  }

  // Sinkhorn drift (normalisation::sinkhorn) in the log domain: every scaling update is a kernel
  // log-sum over sources re-weighted by the other side's log scaling. The row scalings u cancel
  // from the barycentric targets, which are the mean shifts with source log-weights log v (and
  // log w for the particles), so no N x M matrix is formed.
  template <class Problem, class Scalar = typename Problem::scalar_type>
  auto sinkhorn_field(const Problem& pb, Scalar hb) const {
    constexpr int Dim = Problem::dim_at_compile_time;
    using Vec = vector<Scalar>;
    const Eigen::Index n = pb.particles.cols();
    const Scalar a_log = -std::log(Scalar(n));
    const sum_options plain{.field = kind(), .exclude_self = false};
    const sum_options masked{.field = kind(), .exclude_self = o_.self_mask};
    const auto particles = pb.particles_at(hb, Vec::Zero(n));
    const auto targets = pb.targets_at(hb);
    const Vec& b_log = pb.target_log_weights;
    kernel_sums<Scalar, Dim> s;
    // log(marginal) - log_sum, and no mass where the row or column has none (compact kernels).
    auto scaling = [](Scalar marginal_log, const Vec& log_sum) {
      return Vec(log_sum.unaryExpr([marginal_log](Scalar l) {
        return std::isinf(l) ? -std::numeric_limits<Scalar>::infinity() : marginal_log - l;
      }));
    };
    auto largest_change = [](const Vec& a, const Vec& b) {
      double c = 0;
      for (Eigen::Index i = 0; i < a.size(); ++i)
        if (std::isfinite(a(i)) || std::isfinite(b(i))) c = std::max(c, std::abs(static_cast<double>(a(i) - b(i))));
      return c;
    };
    // Particles to targets: log v starts at the target weights.
    Vec lv = b_log;
    for (int it = 0; it < o_.sinkhorn_iterations; ++it) {
      targets.reweighted(lv).sums(pb.particles, plain, s);
      const Vec lu = scaling(a_log, s.log_sum);
      particles.reweighted(lu).sums(pb.targets, plain, s);
      Vec next(lv.size());
      for (Eigen::Index j = 0; j < lv.size(); ++j)
        next(j) = std::isinf(s.log_sum(j)) || std::isinf(b_log(j)) ? -std::numeric_limits<Scalar>::infinity()
                                                                  : b_log(j) - s.log_sum(j);
      const double change = largest_change(next, lv);
      lv = std::move(next);
      if (change <= o_.sinkhorn_tolerance) break;
    }
    targets.reweighted(lv).sums(pb.particles, plain, s);
    const positions<Scalar, Dim> attraction = s.field;
    // Particles to themselves: the symmetric scaling w, averaged updates (w <- (w + T(w)) / 2
    // converges where the plain update oscillates).
    Vec lw = Vec::Constant(n, a_log);
    for (int it = 0; it < o_.sinkhorn_iterations; ++it) {
      particles.reweighted(lw).sums(pb.particles, masked, s);
      const Vec t = scaling(a_log, s.log_sum);
      Vec next(n);
      for (Eigen::Index i = 0; i < n; ++i)
        next(i) = std::isinf(t(i)) ? t(i) : Scalar(0.5) * (lw(i) + t(i));
      const double change = largest_change(next, lw);
      lw = std::move(next);
      if (change <= o_.sinkhorn_tolerance) break;
    }
    particles.reweighted(lw).sums(pb.particles, masked, s);
    return positions<Scalar, Dim>(attraction - s.field);
  }

  // Alg. 2 without the N x (M + N) matrix. With logits l_ij (targets and particles as columns)
  // R_i = logsumexp_j l_ij (row) and C_j = logsumexp_i l_ij (column),
  // A_ij = exp(l_ij - (R_i + C_j) / 2). Passes with source log-weights -C_j / 2 give
  // S+_i = sum_{j in targets} A_ij and the A-weighted mean shifts; then
  // V_i = S-_i S+_i (mean+_i - mean-_i).
  template <class Problem, class Scalar = typename Problem::scalar_type>
  auto joint_field(const Problem& pb, Scalar hb) const {
    constexpr int Dim = Problem::dim_at_compile_time;
    using Vec = vector<Scalar>;
    const Eigen::Index n = pb.particles.cols(), m = pb.targets.cols();
    const Vec zeros_n = Vec::Zero(n);
    // Target weights enter as multiplicities of their columns (uniform targets: a constant
    // that cancels in both softmaxes up to the factor M, which we keep as in Alg. 2).
    const Vec wt = pb.target_log_weights.array() + std::log(Scalar(m));
    const sum_options plain{.field = kind(), .exclude_self = false};
    const sum_options masked{.field = kind(), .exclude_self = o_.self_mask};
    kernel_sums<Scalar, Dim> s;
    // Sources prepared once for this temperature, re-weighted for each pass.
    const auto particles = pb.particles_at(hb, zeros_n);
    const auto targets = pb.targets_at(hb).reweighted(wt);
    // Column log-sums: over particles, for target columns and for particle columns.
    particles.sums(pb.targets, plain, s);
    const Vec col_t = s.log_sum;  // a column's softmax does not see its multiplicity
    particles.sums(pb.particles, masked, s);
    const Vec col_p = s.log_sum;
    // Row log-sums over all columns.
    targets.sums(pb.particles, plain, s);
    const Vec row_t = s.log_sum;
    // The particle block's row sums are its column sums (a radial kernel is symmetric): col_p.
    const Vec row = log_add_exp(row_t, col_p);
    if (o_.affinity_floor > 0)
      return floored_joint_field<Dim>(pb, hb, wt, col_t, col_p, row);
    // A-weighted sums.
    targets.reweighted(half_weights(wt, col_t)).sums(pb.particles, plain, s);
    const Vec log_sp = s.log_sum.array() - Scalar(0.5) * row.array();
    const positions<Scalar, Dim> mp = s.field;
    particles.reweighted(half_weights(zeros_n, col_p)).sums(pb.particles, masked, s);
    const Vec log_sn = s.log_sum.array() - Scalar(0.5) * row.array();
    // A row without mass (compact kernel, isolated particle) has no field: -inf - -inf is NaN.
    const Vec coeff = (log_sp + log_sn).unaryExpr([](Scalar l) { return std::isnan(l) ? Scalar(0) : std::exp(l); });
    return positions<Scalar, Dim>((mp - s.field) * coeff.asDiagonal());
  }

  // Alg. 2 with floored affinities A_ij = max(exp(l_ij - (R_i + C_j) / 2), c): one dense pass
  // over the pairs of each particle (in parallel over particles, no buffer), accumulating
  // S+_i = sum_t A, M+_i = sum_t A (y_t - x_i), S-_i = sum_p A, M-_i = sum_p A (x_p - x_i);
  // V_i = S-_i M+_i - S+_i M-_i. A masked self pair has affinity c (its logit is -inf) and adds
  // to S-_i only (x_i - x_i = 0), as in the public code, where the self distance gets +100.
  template <int Dim, class Problem, class Scalar, class Vec>
  positions<Scalar, Dim> floored_joint_field(const Problem& pb, Scalar hb, const Vec& wt,
                                             const Vec& col_t, const Vec& col_p, const Vec& row) const {
    const auto& x = pb.particles;
    const auto& y = pb.targets;
    const auto& k = bind_bandwidth(pb.kernel, static_cast<double>(hb));
    const Eigen::Index n = x.cols(), m = y.cols(), d = x.rows();
    const Scalar c = static_cast<Scalar>(o_.affinity_floor);
    const Scalar inv_h2 = Scalar(1) / (hb * hb);
    positions<Scalar, Dim> v(d, n);
    // A_ij from the logit l_ij (-inf outside a compact support: then the floor).
    auto affinity = [&](Scalar l, Scalar half_row, Scalar col) {
      const Scalar a = std::isinf(l) ? Scalar(0) : std::exp(l - half_row - Scalar(0.5) * col);
      return std::max(a, c);
    };
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n * (m + n) * d >= 200000)
#endif
    for (Eigen::Index i = 0; i < n; ++i) {
      const auto xi = x.col(i);
      const Scalar half_row = Scalar(0.5) * row(i);
      Scalar sp = 0, sn = 0;
      Eigen::Matrix<Scalar, Dim, 1> mp = Eigen::Matrix<Scalar, Dim, 1>::Zero(d);
      Eigen::Matrix<Scalar, Dim, 1> mn = Eigen::Matrix<Scalar, Dim, 1>::Zero(d);
      for (Eigen::Index j = 0; j < m; ++j) {
        const Scalar t = (y.col(j) - xi).squaredNorm() * inv_h2;
        const Scalar a = affinity(wt(j) + k.log_profile(t), half_row, col_t(j));
        sp += a;
        mp += a * (y.col(j) - xi);
      }
      for (Eigen::Index j = 0; j < n; ++j) {
        if (j == i && o_.self_mask) {
          sn += c;
          continue;
        }
        const Scalar t = (x.col(j) - xi).squaredNorm() * inv_h2;
        const Scalar a = affinity(k.log_profile(t), half_row, col_p(j));
        sn += a;
        mn += a * (x.col(j) - xi);
      }
      v.col(i) = sn * mp - sp * mn;
    }
    return v;
  }

  // log w_j - C_j / 2, with columns of zero mass (C_j = -inf, compact kernels) left out.
  template <class Vec>
  static Vec half_weights(const Vec& log_w, const Vec& col) {
    using Scalar = typename Vec::Scalar;
    Vec out(col.size());
    for (Eigen::Index j = 0; j < col.size(); ++j)
      out(j) = std::isinf(col(j)) ? -std::numeric_limits<Scalar>::infinity() : log_w(j) - Scalar(0.5) * col(j);
    return out;
  }

  template <class Vec>
  static Vec log_add_exp(const Vec& a, const Vec& b) {
    Vec out(a.size());
    for (Eigen::Index i = 0; i < a.size(); ++i) {
      const auto mx = std::max(a(i), b(i));
      out(i) = std::isinf(mx) ? mx : mx + std::log(std::exp(a(i) - mx) + std::exp(b(i) - mx));
    }
    return out;
  }

  // Mean Euclidean distance over particle-target and particle-particle pairs (self included,
  // as in the paper's cdist before masking). O(N (M + N) d). Per-particle sums are added in
  // index order, so the result is the same for any number of threads.
  template <class Problem>
  static double mean_distance(const Problem& pb) {
    const auto& x = pb.particles;
    const auto& y = pb.targets;
    const Eigen::Index n = x.cols(), m = y.cols();
    Eigen::VectorXd per(n);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n * (m + n) * x.rows() >= 200000)
#endif
    for (Eigen::Index i = 0; i < n; ++i) {
      double acc = 0;
      for (Eigen::Index j = 0; j < m; ++j) acc += static_cast<double>((y.col(j) - x.col(i)).norm());
      for (Eigen::Index j = 0; j < n; ++j) acc += static_cast<double>((x.col(j) - x.col(i)).norm());
      per(i) = acc;
    }
    double total = 0;
    for (Eigen::Index i = 0; i < n; ++i) total += per(i);
    return total / (static_cast<double>(n) * static_cast<double>(m + n));
  }

  drifting_options o_;
};

/// The sets of grouped_drifting_field: G groups, each with C_g generated samples, C_p positives
/// and C_n extra negatives, stored group after group (group b's generated samples are columns
/// [b C_g, (b + 1) C_g) of `generated`, and so on), and a weight per sample (empty = all 1).
/// This is the layout of Deng et al.'s public `drift_loss(gen, fixed_pos, fixed_neg, weight_gen,
/// weight_pos, weight_neg)`, whose tensors are [G, C, d].
struct drift_groups {
  Eigen::Index groups = 1;
  Eigen::MatrixXd generated;  ///< d x (G C_g): the samples the field moves (self-masked)
  Eigen::MatrixXd positives;  ///< d x (G C_p): data of the group's class, the attraction
  Eigen::MatrixXd negatives;  ///< d x (G C_n): extra repulsion (CFG: unconditional data); may be empty
  Eigen::VectorXd generated_weights{}, positive_weights{}, negative_weights{};
};

/// Deng et al.'s field with per-sample weights and extra negatives, group by group, as their
/// public code computes it (drift_loss.py; class-conditional training with classifier-free
/// guidance uses it with one group per class label). For every group, the columns are
/// [generated | negatives | positives]; per temperature tau (options.temperatures, required):
///
///     l_ij = log k(dist_ij / (s tau)),  dist over all pairs of the group, +inf on the self pairs
///            (options.self_mask); s = sum_{b,i,j} w_j dist_ij / (C_g sum_{b,j} w_j) over all
///            groups (options.normalise_distances, else 1): the weighted mean distance;
///     A_ij = w_j max(sqrt(softmax_j(l)_ij softmax_i(l)_ij), c)  (row softmax over all columns of
///            the group, column softmax over its generated rows; c = options.affinity_floor);
///     F_i = S-_i sum_{j pos} A_ij (y_j - x_i) - S+_i sum_{j neg} A_ij (y_j - x_i),
///            S+_i = sum_{j pos} A_ij, S-_i = sum_{j gen, neg} A_ij,
///
/// and V = sum_tau F_tau / rms_tau (options.normalise_each: the RMS over every group, sample and
/// coordinate of F_tau in units of s / sqrt(d), floored at 1e-4 as the public code's 1e-8 on its
/// square) times s / sqrt(d). Weights multiply the affinities after the softmaxes, as in the
/// public code (so a weight is not a multiplicity: a column of weight 0 still enters the
/// softmaxes' denominators). One group without negatives and with unit weights is
/// drifting_field(o).field() with the same options (joint normalisation), to round-off.
///
/// Classifier-free guidance (Deng et al., public train.py): with negatives drawn from the
/// unconditional data and weighted w = (C_g - 1)(omega - 1) / C_n, the repulsion's mass is
/// (C_g - 1) from the other generated samples (the self pair is masked) and (C_g - 1)(omega - 1)
/// from the data, shares 1/omega and (omega - 1)/omega. The field vanishes when the negatives'
/// mixture equals the positives' distribution, q/omega + (1 - 1/omega) p = p_c, i.e. at
/// q = omega p_c - (omega - 1) p: the guided distribution of classifier-free guidance (DESIGN).
///
/// Cost: O(G C_g (C_g + C_n + C_p) d) per temperature, dense per group (groups in parallel);
/// memory O(G C_g (C_g + C_n + C_p)). Returns V, d x (G C_g), in the data's units.
/// @throws gfd::invalid_argument on sizes that do not split into `groups`, a dimension mismatch,
///         weights of the wrong size or not finite and >= 0, no positives, no temperatures, or
///         options other than joint normalisation without kernel_gradient.
template <Kernel K = laplacian>
[[nodiscard]] Eigen::MatrixXd grouped_drifting_field(const drift_groups& in, const drifting_options& o,
                                                     const K& kernel = {}) {
  constexpr std::string_view where = "gfd::grouped_drifting_field";
  const Eigen::Index g = in.groups, d = in.generated.rows();
  if (g < 1) detail::fail(where, "groups must be >= 1, got ", g);
  if (o.norm != drifting_options::normalisation::joint || o.kernel_gradient)
    detail::fail(where, "only the joint (Alg. 2) normalisation without kernel_gradient is grouped");
  if (o.temperatures.empty()) detail::fail(where, "give at least one temperature");
  for (double t : o.temperatures) detail::require_positive(where, "temperature", t);
  if (!(o.affinity_floor >= 0 && o.affinity_floor < 1))
    detail::fail(where, "affinity_floor must be in [0, 1), got ", o.affinity_floor);
  auto per_group = [&](const Eigen::MatrixXd& m, std::string_view what, bool may_be_empty) {
    if (m.cols() % g != 0 || (m.cols() == 0 && !may_be_empty))
      detail::fail(where, what, " has ", m.cols(), " columns, not a positive multiple of the ", g, " groups");
    if (m.cols() > 0 && m.rows() != d)
      detail::fail(where, what, " has dimension ", m.rows(), ", the generated samples ", d);
    if (!m.allFinite()) detail::fail(where, what, " has a non-finite coordinate");
    return m.cols() / g;
  };
  const Eigen::Index cg = per_group(in.generated, "generated", false);
  const Eigen::Index cp = per_group(in.positives, "positives", false);
  const Eigen::Index cn = per_group(in.negatives, "negatives", true);
  if (d < 1) detail::fail(where, "dimension must be >= 1");
  auto weights = [&](const Eigen::VectorXd& w, Eigen::Index cols, std::string_view what) {
    if (w.size() == 0) return Eigen::VectorXd(Eigen::VectorXd::Ones(cols));
    if (w.size() != cols) detail::fail(where, what, " weights have ", w.size(), " entries for ", cols, " samples");
    for (Eigen::Index j = 0; j < w.size(); ++j)
      if (!(w(j) >= 0) || std::isinf(w(j))) detail::fail(where, what, " weight ", j, " must be finite and >= 0, got ", w(j));
    return w;
  };
  const Eigen::VectorXd wg = weights(in.generated_weights, in.generated.cols(), "generated");
  const Eigen::VectorXd wp = weights(in.positive_weights, in.positives.cols(), "positive");
  const Eigen::VectorXd wn = weights(in.negative_weights, in.negatives.cols(), "negative");
  const Eigen::Index cols = cg + cn + cp;
  // Column j of group b: its point and weight ([generated | negatives | positives]).
  auto column = [&](Eigen::Index b, Eigen::Index j) {
    if (j < cg) return std::pair{in.generated.col(b * cg + j), wg(b * cg + j)};
    if (j < cg + cn) return std::pair{in.negatives.col(b * cn + j - cg), wn(b * cn + j - cg)};
    return std::pair{in.positives.col(b * cp + j - cg - cn), wp(b * cp + j - cg - cn)};
  };
  // Distances of every group (cg x cols each) and the weighted mean distance.
  std::vector<Eigen::MatrixXd> dist(static_cast<std::size_t>(g));
  Eigen::VectorXd num(g), den(g);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (g * cg * cols * d >= 100000)
#endif
  for (Eigen::Index b = 0; b < g; ++b) {
    Eigen::MatrixXd& db = dist[static_cast<std::size_t>(b)];
    db.resize(cg, cols);
    double s = 0, sw = 0;
    for (Eigen::Index j = 0; j < cols; ++j) {
      const auto [y, w] = column(b, j);
      for (Eigen::Index i = 0; i < cg; ++i) {
        db(i, j) = (in.generated.col(b * cg + i) - y).norm();
        s += w * db(i, j);
      }
      sw += w;
    }
    num(b) = s;
    den(b) = sw;
  }
  double scale = 1.0, data_scale = 1.0;
  if (o.normalise_distances) {
    scale = num.sum() / (static_cast<double>(cg) * den.sum());
    if (!(scale > 0) || !std::isfinite(scale)) scale = 1.0;  // all weights 0 or every point coincides
    data_scale = scale / std::sqrt(static_cast<double>(d));
  }
  const auto& k = bind_bandwidth(kernel, 1.0);
  const double c = o.affinity_floor;
  Eigen::MatrixXd total = Eigen::MatrixXd::Zero(d, g * cg), f(d, g * cg);
  for (double tau : o.temperatures) {
    const double h = tau * scale;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (g * cg * cols * d >= 100000)
#endif
    for (Eigen::Index b = 0; b < g; ++b) {
      const Eigen::MatrixXd& db = dist[static_cast<std::size_t>(b)];
      Eigen::MatrixXd l(cg, cols);
      for (Eigen::Index j = 0; j < cols; ++j)
        for (Eigen::Index i = 0; i < cg; ++i) {
          const double r = db(i, j) / h;
          l(i, j) = (o.self_mask && j == i) ? -std::numeric_limits<double>::infinity() : k.log_profile(r * r);
        }
      // Log-normalisers of the rows (over all columns) and of the columns (over the rows).
      auto log_sum = [](auto v) {
        const double mx = v.maxCoeff();
        return std::isinf(mx) ? mx : mx + std::log((v.array() - mx).exp().sum());
      };
      Eigen::VectorXd row(cg), col(cols);
      for (Eigen::Index i = 0; i < cg; ++i) row(i) = log_sum(l.row(i));
      for (Eigen::Index j = 0; j < cols; ++j) col(j) = log_sum(l.col(j));
      for (Eigen::Index i = 0; i < cg; ++i) {
        const auto xi = in.generated.col(b * cg + i);
        double sp = 0, sn = 0;
        Eigen::VectorXd mp = Eigen::VectorXd::Zero(d), mn = Eigen::VectorXd::Zero(d);
        for (Eigen::Index j = 0; j < cols; ++j) {
          const auto [y, w] = column(b, j);
          const double e = std::isinf(l(i, j)) ? 0.0 : std::exp(l(i, j) - 0.5 * (row(i) + col(j)));
          const double a = w * std::max(e, c);
          if (j < cg + cn) {
            sn += a;
            mn += a * (y - xi);
          } else {
            sp += a;
            mp += a * (y - xi);
          }
        }
        f.col(b * cg + i) = sn * mp - sp * mn;
      }
    }
    if (o.normalise_each) {
      const double rms = std::sqrt(f.squaredNorm() / static_cast<double>(f.size()));
      f /= std::max(rms / data_scale, 1e-4);
    }
    total += f;
  }
  return total;
}

}  // namespace gfd
