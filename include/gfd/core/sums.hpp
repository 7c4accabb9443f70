// SPDX-License-Identifier: MIT
/// @file core/sums.hpp
/// @brief The vocabulary of kernel sums: what a pass computes (field_kind, sum_options) and what
///        it returns (kernel_sums). Every evaluator, the KDE and every divergence speak it.
#pragma once

#include <Eigen/Core>

#include "../particles.hpp"

namespace gfd {

/// What the vector part of a kernel sum is.
enum class field_kind {
  /// grad_x log sum_j w_j k_h(x - y_j) = sum_j a_j 2 phi'(t_j) (x - y_j) / h^2, the KDE score
  /// (equivalently sum_j grad_x k / sum_j k: "kernel-gradient drifting").
  score,
  /// sum_j a_j (y_j - x) = m(x) - x, the mean shift (the attraction term of Deng et al.).
  mean_shift,
};

/// Options of one kernel-sum pass.
struct sum_options {
  field_kind field = field_kind::score;
  /// Queries and sources are the same cloud: source i is skipped for query i (the self-mask of
  /// Deng et al.). The weights are not renormalised.
  bool exclude_self = false;
};

/// Result of a kernel-sum pass over n queries: the log of the unnormalised weighted kernel sum
/// and the field, in the log domain: a_j = softmax_j(log w_j + phi(|x - y_j|^2 / h^2)).
template <class Scalar, int Dim = Eigen::Dynamic>
struct kernel_sums {
  /// log sum_j w_j exp(phi(|x_i - y_j|^2 / h^2)); -inf only when every term is exactly zero
  /// (a query outside the support of a compact kernel).
  vector<Scalar> log_sum;
  /// d x n: the score or mean shift at each query (field_kind). When log_sum is -inf the field
  /// falls back to the nearest source y*: (y* - x) for the mean shift, (y* - x) / h^2 for the
  /// score (the far-field limit of a Gaussian KDE), so particles still see the nearest mass.
  positions<Scalar, Dim> field;
};

}  // namespace gfd
