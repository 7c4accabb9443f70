// SPDX-License-Identifier: MIT
/// @file kde.hpp
/// @brief Kernel density estimate of a weighted cloud: density, log-density, gradient, score.
#pragma once

#include <Eigen/Core>

#include <cmath>
#include <utility>

#include "error.hpp"
#include "evaluators/exact.hpp"
#include "kernels.hpp"
#include "particles.hpp"

namespace gfd {

/// The KDE p(x) = sum_j w_j k_h(x - y_j) / (h^d Z_d) of a weighted source cloud (DESIGN 1.1).
///
/// Everything is computed in the log domain: log p is a max-subtracted log-sum-exp and the score
/// grad log p = sum_j a_j grad log k_h(x - y_j) uses softmax weights a_j, so a query far from all
/// sources (100 bandwidths or more) still gets a finite log-density and a score pointing at the
/// nearest mass. For the Gaussian kernel the score is (m(x) - x) / h^2, m the mean-shift mean.
///
/// The KDE views its sources (cloud_view): they must outlive it. Each batched call costs one
/// evaluator pass, O(n m d) for the exact evaluator. Thread-safety: const calls are safe.
template <Kernel K = gaussian, class Scalar = double, int Dim = Eigen::Dynamic,
          Evaluator E = exact_evaluator>
class kde {
public:
  using view_type = cloud_view<Scalar, Dim>;
  using matrix_type = positions<Scalar, Dim>;
  using point_type = Eigen::Matrix<Scalar, Dim, 1>;
  using queries_ref = Eigen::Ref<const matrix_type>;

  /// @throws gfd::invalid_argument on an invalid cloud (see cloud_view::validate) or a
  ///         bandwidth that is not finite and > 0.
  kde(view_type sources, Scalar bandwidth, K kernel = {}, E evaluator = {})
      : src_(std::move(sources)), h_(bandwidth), kernel_(std::move(kernel)),
        eval_(std::move(evaluator)) {
    src_.validate("gfd::kde", "sources");
    detail::require_positive("gfd::kde", "bandwidth", h_);
    log_w_ = src_.normalised_log_weights();
  }

  [[nodiscard]] Scalar bandwidth() const noexcept { return h_; }
  [[nodiscard]] const K& kernel() const noexcept { return kernel_; }
  [[nodiscard]] const view_type& sources() const noexcept { return src_; }
  [[nodiscard]] Eigen::Index dim() const noexcept { return src_.dim(); }

  /// log of h^d Z_d, the normalisation of the kernel in this dimension.
  /// @throws gfd::invalid_argument if the kernel is not normalisable in dimension d.
  [[nodiscard]] Scalar log_normaliser() const {
    return static_cast<Scalar>(static_cast<double>(dim()) * std::log(static_cast<double>(h_)) +
                               kernel_.log_normaliser(static_cast<int>(dim())));
  }

  /// Raw kernel sums at each query (log of the unnormalised sum and the chosen field).
  [[nodiscard]] kernel_sums<Scalar, Dim> sums(const queries_ref& queries,
                                              const sum_options& opt = {}) const {
    check_queries("gfd::kde::sums", queries);
    kernel_sums<Scalar, Dim> out;
    eval_.sums(queries, src_.points(), log_w_, kernel_, h_, opt, out);
    return out;
  }

  /// log p at each query; -inf outside a compact kernel's support. @throws gfd::invalid_argument
  [[nodiscard]] vector<Scalar> log_density(const queries_ref& queries) const {
    auto s = sums(queries);
    return (s.log_sum.array() - log_normaliser()).matrix();
  }
  /// p at each query (may underflow to 0 far from the sources; use log_density there).
  [[nodiscard]] vector<Scalar> density(const queries_ref& queries) const {
    return log_density(queries).array().exp().matrix();
  }
  /// grad log p at each query (d x n).
  [[nodiscard]] matrix_type score(const queries_ref& queries) const {
    return sums(queries).field;
  }
  /// grad p = p grad log p at each query (d x n).
  [[nodiscard]] matrix_type gradient(const queries_ref& queries) const {
    auto s = sums(queries);
    const Scalar lz = log_normaliser();
    return s.field * (s.log_sum.array() - lz).exp().matrix().asDiagonal();
  }
  /// m(x) - x, the softmax-weighted mean of the sources minus the query (d x n).
  [[nodiscard]] matrix_type mean_shift(const queries_ref& queries) const {
    return sums(queries, {.field = field_kind::mean_shift}).field;
  }

  /// Single-point versions.
  [[nodiscard]] Scalar log_density_at(const point_type& x) const { return log_density(x)(0); }
  [[nodiscard]] Scalar density_at(const point_type& x) const { return density(x)(0); }
  [[nodiscard]] point_type score_at(const point_type& x) const { return score(x).col(0); }
  [[nodiscard]] point_type gradient_at(const point_type& x) const { return gradient(x).col(0); }

private:
  void check_queries(const char* where, const queries_ref& q) const {
    detail::require_same_dim(where, q, "queries", src_.points(), "sources");
    view_type(q).validate(where, "queries");
  }

  view_type src_;
  Scalar h_;
  K kernel_;
  E eval_;
  vector<Scalar> log_w_;
};

}  // namespace gfd
