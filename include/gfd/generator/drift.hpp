// SPDX-License-Identifier: MIT
/// @file generator/drift.hpp
/// @brief The drift of a generated batch toward a data batch from any gfd velocity field
///        (generator_drift), and Deng et al.'s field with the paper's settings.
#pragma once

#include <Eigen/Core>

#include <cmath>
#include <string_view>
#include <vector>

#include "../divergences.hpp"
#include "../error.hpp"
#include "../evaluators/exact.hpp"
#include "../kernels.hpp"

namespace gfd {

/// The drift V of a generated batch x (d x B) toward a target batch y (d x M, uniform weights),
/// from any gfd velocity field:
///
///     V = sum_m (h c_m)^2 v_m(x),   v_m = divergence.velocity of the problem
///                                   {particles x, targets y, kernel, evaluator, bandwidth h c_m},
///
/// c_m the `multipliers` (default {1}). gfd velocities are rates in the flow's units (a step is
/// dt h^2 v), so h^2 v is the displacement of one step with dt = 1: for drifting_field, Deng et
/// al.'s V exactly (its velocity is V / h^2); for kl() with a Gaussian kernel h^2 (s_p - s_q) =
/// m_p - m_q, the same field (DESIGN 1.3); with several multipliers, the sum of the fields at each
/// bandwidth (Deng's multi-temperature sum without the per-temperature normalisation; use
/// drifting_field(deng_drifting_options()) for that, whose temperatures ignore h).
///
/// Cost: the divergence's, per multiplier (two kernel passes, O(B (M + B) d), for local
/// divergences). Thread-safety: as the divergence (all of gfd's are const-safe).
/// @throws gfd::invalid_argument on a dimension mismatch, an empty batch or h not > 0.
template <class D, Kernel K = gaussian, Evaluator E = exact_evaluator>
[[nodiscard]] Eigen::MatrixXd generator_drift(const D& divergence,
                                              const Eigen::Ref<const Eigen::MatrixXd>& x,
                                              const Eigen::Ref<const Eigen::MatrixXd>& y, double h,
                                              const std::vector<double>& multipliers = {1.0},
                                              const K& kernel = {}, const E& evaluator = {}) {
  constexpr std::string_view where = "gfd::generator_drift";
  detail::require_same_dim(where, x, "generated batch", y, "target batch");
  if (x.cols() < 1 || y.cols() < 1 || x.rows() < 1)
    detail::fail(where, "empty batch (", x.cols(), " generated, ", y.cols(), " targets)");
  detail::require_positive(where, "bandwidth", h);
  if (multipliers.empty()) detail::fail(where, "bandwidth multipliers are empty");
  using problem = flow_problem<double, Eigen::Dynamic, K, E>;
  static_assert(Divergence<D, problem>,
                "a divergence needs velocity(problem, v, want_estimate) -> double");
  const Eigen::VectorXd log_w = Eigen::VectorXd::Constant(y.cols(), -std::log(static_cast<double>(y.cols())));
  Eigen::MatrixXd total = Eigen::MatrixXd::Zero(x.rows(), x.cols());
  Eigen::MatrixXd v;
  for (double c : multipliers) {
    detail::require_positive(where, "bandwidth multiplier", c);
    const double hm = h * c;
    const problem pb{x, y, log_w, kernel, evaluator, hm, 0.0};
    divergence.velocity(pb, v, false);
    total += (hm * hm) * v;
  }
  return total;
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
struct deng_drifting_field : drifting_field {
  deng_drifting_field() : drifting_field(deng_drifting_options()) {}
};


}  // namespace gfd
