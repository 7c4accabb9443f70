// SPDX-License-Identifier: MIT
/// @file generator/drift.hpp
/// @brief The drift of a generated batch toward a data batch from any gfd velocity field
///        (generator_drift), and Deng et al.'s field with the paper's settings.
#pragma once

#include <Eigen/Core>

#include <cmath>
#include <string_view>
#include <type_traits>
#include <vector>

#include "../divergences.hpp"
#include "../error.hpp"
#include "../evaluators/exact.hpp"
#include "../flow/system.hpp"
#include "../kernels.hpp"

namespace gfd {

/// The drift V of a generated batch x (d x B) toward a target batch y (d x M, uniform weights),
/// from any gfd velocity field, through the flow's velocity system (flow/system.hpp):
///
///     V = h^2 v(x; h),   v = sum_m v_m,  v_m = divergence.velocity at bandwidth h c_m,
///
/// c_m the `multipliers` (default {1}): the displacement of one flow step with dt = 1 in the
/// flow's units (a step is dt h^2 v), one time unit h^2 for every multiplier, as in the flow. For
/// drifting_field this is Deng et al.'s V exactly (its velocity is V / h^2); for kl() with a
/// Gaussian kernel h^2 (s_p - s_q) = m_p - m_q, the same field (DESIGN 1.3). With several
/// multipliers the field at h c_m enters as V(h c_m) / c_m^2 (its velocity in the base time
/// unit); Deng's multi-temperature sum with per-temperature normalisation is
/// drifting_field(deng_drifting_options()), whose temperatures ignore h.
///
/// Cost: the divergence's, per multiplier (two kernel passes, O(B (M + B) d), for local
/// divergences). Thread-safety: as the divergence (all of gfd's are const-safe).
/// @throws gfd::invalid_argument on a dimension mismatch, an empty batch, h not > 0 or bad
///         multipliers.
///
/// `Scalar` is the arithmetic of the kernel sums (float: the batches are rounded to float and
/// the sums run in float, in the log domain as in double); the drift is returned in double.
/// generator_options::float_drift selects float in the trainer.
template <class Scalar, class D, Kernel K = gaussian, Evaluator E = exact_evaluator>
[[nodiscard]] Eigen::MatrixXd generator_drift_in(const D& divergence,
                                                 const Eigen::Ref<const Eigen::MatrixXd>& x,
                                                 const Eigen::Ref<const Eigen::MatrixXd>& y, double h,
                                                 const std::vector<double>& multipliers = {1.0},
                                                 const K& kernel = {}, const E& evaluator = {}) {
  constexpr std::string_view where = "gfd::generator_drift";
  detail::require_same_dim(where, x, "generated batch", y, "target batch");
  if (x.cols() < 1 || y.cols() < 1 || x.rows() < 1)
    detail::fail(where, "empty batch (", x.cols(), " generated, ", y.cols(), " targets)");
  detail::require_positive(where, "bandwidth", h);
  using matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using vec = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  const vec log_w = vec::Constant(y.cols(), static_cast<Scalar>(-std::log(static_cast<double>(y.cols()))));
  if constexpr (std::is_same_v<Scalar, double>) {
    const velocity_system<D, K, double, Eigen::Dynamic, E> sys(divergence, y, log_w, kernel, evaluator,
                                                               euclidean{}, multipliers);
    Eigen::MatrixXd v;
    sys(x, 0.0, h, v, false);
    return (h * h) * v;
  } else {
    const matrix ys = y.template cast<Scalar>(), xs = x.template cast<Scalar>();
    const velocity_system<D, K, Scalar, Eigen::Dynamic, E> sys(divergence, ys, log_w, kernel, evaluator,
                                                               euclidean{}, multipliers);
    matrix v;
    sys(xs, 0.0, h, v, false);
    return (h * h) * v.template cast<double>();
  }
}

/// generator_drift_in<double>: the drift of a generated batch toward a target batch, in double.
/// @throws gfd::invalid_argument as generator_drift_in.
template <class D, Kernel K = gaussian, Evaluator E = exact_evaluator>
[[nodiscard]] Eigen::MatrixXd generator_drift(const D& divergence,
                                              const Eigen::Ref<const Eigen::MatrixXd>& x,
                                              const Eigen::Ref<const Eigen::MatrixXd>& y, double h,
                                              const std::vector<double>& multipliers = {1.0},
                                              const K& kernel = {}, const E& evaluator = {}) {
  return generator_drift_in<double>(divergence, x, y, h, multipliers, kernel, evaluator);
}

/// Deng et al.'s drifting field with the paper's settings as its default construction
/// (deng_drifting_options(): joint "mutual softmax" normalisation, self-mask, temperatures 0.02,
/// 0.05 and 0.2 times the mean pairwise distance, each field divided by its RMS; Deng et al.
/// 2026, Sec. 3 and Alg. 2). The default field of train_generator, with gfd::laplacian, the
/// paper's kernel. Its temperatures replace the bandwidth h, and its per-temperature RMS
/// normalisation keeps mean |V|^2 near (number of temperatures) x (mean distance)^2 / d
/// throughout training: with it, watch the sliced W2 to held-out data, not |V|^2.
///
/// Why it is the default: on the 2D toys the joint normalisation (each target spreads one unit of
/// attraction over the generated points, so unclaimed data pull hardest) and the small
/// temperature separate modes that a single-bandwidth Gaussian drift leaves joined by a smooth
/// ring, which the network finds easy to fit and slow to tear.
///
/// Without the public code's affinity floor (drifting_options::affinity_floor = 0, where
/// deng_drifting_options() has 1e-3): a floor of 1e-3 is of the order of a typical affinity at
/// the generator's batch sizes (sqrt(row x column softmax) ~ 1 / sqrt(B (B + M)) = 1.4e-3 at
/// B = 512, M = 1024), so every pair then pulls about as hard as a near one, and the measured
/// result is a collapse to the data mean: 8gaussians 0/8 modes after 300 steps (tests/cli
/// generator.sh) and after 1000 (examples/generator_vs_flow), against 8/8 without it. The public
/// code's per-class batches are smaller (its affinities larger), where the floor only clips.
struct deng_drifting_field : drifting_field {
  deng_drifting_field() : drifting_field(options()) {}
  /// deng_drifting_options() without the affinity floor (see above).
  static drifting_options options() {
    drifting_options o = deng_drifting_options();
    o.affinity_floor = 0;
    return o;
  }
};


}  // namespace gfd
