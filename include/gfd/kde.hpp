// SPDX-License-Identifier: MIT
/// @file kde.hpp
/// @brief Kernel density estimate of a weighted cloud on R^d or a manifold (the unit sphere):
///        density, log-density, gradient, score.
#pragma once

#include <Eigen/Core>

#include <cmath>
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include "core/bound_kernel.hpp"
#include "core/evaluator.hpp"
#include "error.hpp"
#include "evaluators/exact.hpp"
#include "kernels.hpp"
#include "manifolds.hpp"
#include "particles.hpp"
#include "sphere_kernels.hpp"

namespace gfd {

/// The KDE p(x) = sum_j w_j k_h(x - y_j) / Z of a weighted source cloud on a manifold M
/// (DESIGN 1.1), a probability density with respect to M's volume measure. The manifold supplies
/// the normaliser, log Z = m.log_normaliser(kernel, d, h):
/// - R^d (gfd::euclidean, the default): Z = h^d Z_d, Z_d from the kernel;
/// - the unit sphere S^{d-1} (gfd::unit_sphere): Z = integral over the sphere of one kernel,
///   sphere::log_normaliser (closed form for the vMF kernel gfd::gaussian, whose KDE is a mixture
///   of vMF densities C_d(kappa) exp(kappa <x, y_j>) with kappa = 1 / h^2; quadrature otherwise).
///
/// Everything is computed in the log domain: log p is a max-subtracted log-sum-exp and the score
/// grad log p = sum_j a_j grad log k_h(x - y_j) uses softmax weights a_j, so a query far from all
/// sources (100 bandwidths or more) still gets a finite log-density and a score pointing at the
/// nearest mass. For the Gaussian kernel the score is (m(x) - x) / h^2, m the mean-shift mean. On
/// a manifold other than R^d, score() and gradient() are Riemannian: the ambient values projected
/// on the tangent space at each query (m.project).
///
/// The kernel is bound to the bandwidth (bound_kernel: gfd::geodesic_gaussian carries its h),
/// and kernel() returns the bound kernel. The sources are prepared once, at construction
/// (E::prepare: the exact evaluator's scaled copy, the tree's index), and every call sums
/// against that preparation. Sources and queries are validated as clouds and as
/// points of M (m.validate: off the sphere is an error naming the point and its norm). Error
/// messages name the KDE "gfd::kde" on R^d and "gfd::<M::name>::kde" elsewhere
/// ("gfd::sphere::kde"), followed by the member for the query calls
/// ("gfd::sphere::kde::log_density: queries: ...").
///
/// sources() views the cloud it was given (it must outlive the KDE for that accessor); the
/// sums use the evaluator's own prepared copy. The normaliser is computed once, at construction. Each batched call costs one evaluator pass, O(n m d) for the exact
/// evaluator. Thread-safety: const calls are safe.
template <Kernel K = gaussian, class Scalar = double, int Dim = Eigen::Dynamic,
          Evaluator E = exact_evaluator, Manifold M = euclidean>
class kde {
public:
  using view_type = cloud_view<Scalar, Dim>;
  using matrix_type = positions<Scalar, Dim>;
  using point_type = Eigen::Matrix<Scalar, Dim, 1>;
  using queries_ref = Eigen::Ref<const matrix_type>;
  using manifold_type = M;

  /// @throws gfd::invalid_argument on an invalid cloud (see cloud_view::validate), sources off
  ///         the manifold (m.validate) or a bandwidth that is not finite and > 0. A kernel that
  ///         has no normaliser on M (gfd::geodesic_gaussian on R^d) is accepted: score() and
  ///         mean_shift() work, and the calls that need Z throw (see log_normaliser()).
  kde(view_type sources, Scalar bandwidth, K kernel = {}, E evaluator = {}, M manifold = {})
      : src_(std::move(sources)), h_(bandwidth), kernel_(kernel, bandwidth, name()),
        m_(std::move(manifold)) {
    src_.validate(name(), "sources");
    m_.validate(name(), "sources", src_.points());
    prepared_.emplace(evaluator.prepare(src_.points(), src_.normalised_log_weights(), kernel_));
    try {
      log_z_ = static_cast<Scalar>(
          m_.log_normaliser(kernel_.kernel, static_cast<int>(src_.dim()), static_cast<double>(h_)));
    } catch (const invalid_argument&) {
      log_z_error_ = std::current_exception();  // rethrown by log_normaliser()
    }
  }

  [[nodiscard]] Scalar bandwidth() const noexcept { return h_; }
  /// kappa = 1 / h^2: the vMF concentration of gfd::gaussian on the sphere. O(1).
  [[nodiscard]] double kappa() const noexcept
    requires(!M::is_euclidean)
  {
    return 1.0 / (static_cast<double>(h_) * h_);
  }
  /// The kernel, bound to the bandwidth (bound_kernel).
  [[nodiscard]] const K& kernel() const noexcept { return kernel_.kernel; }
  [[nodiscard]] const view_type& sources() const noexcept { return src_; }
  [[nodiscard]] const M& manifold() const noexcept { return m_; }
  [[nodiscard]] Eigen::Index dim() const noexcept { return src_.dim(); }

  /// log Z = m.log_normaliser(kernel, d, h) (h^d Z_d on R^d), computed at construction. O(1).
  /// @throws gfd::invalid_argument if the kernel is not normalisable on the manifold in this
  ///         dimension (the error of m.log_normaliser).
  [[nodiscard]] Scalar log_normaliser() const {
    if (log_z_error_) std::rethrow_exception(log_z_error_);
    return log_z_;
  }

  /// Raw ambient kernel sums at each query (log of the unnormalised sum and the chosen field,
  /// not projected). @throws gfd::invalid_argument on queries of another dimension, non-finite
  /// or off the manifold.
  [[nodiscard]] kernel_sums<Scalar, Dim> sums(const queries_ref& queries,
                                              const sum_options& opt = {}) const {
    return checked_sums("sums", queries, opt);
  }

  /// log p at each query; -inf outside a compact kernel's support. @throws gfd::invalid_argument
  [[nodiscard]] vector<Scalar> log_density(const queries_ref& queries) const {
    auto s = checked_sums("log_density", queries, {});
    return (s.log_sum.array() - log_normaliser()).matrix();
  }
  /// p at each query (may underflow to 0 far from the sources; use log_density there).
  [[nodiscard]] vector<Scalar> density(const queries_ref& queries) const {
    return log_density(queries).array().exp().matrix();
  }
  /// grad log p at each query (d x n); on a manifold, the Riemannian gradient (tangent).
  [[nodiscard]] matrix_type score(const queries_ref& queries) const {
    auto s = checked_sums("score", queries, {});
    project(queries, s.field);
    return std::move(s.field);
  }
  /// grad p = p grad log p at each query (d x n); on a manifold, tangent.
  [[nodiscard]] matrix_type gradient(const queries_ref& queries) const {
    auto s = checked_sums("gradient", queries, {});
    project(queries, s.field);
    const Scalar lz = log_normaliser();
    return s.field * (s.log_sum.array() - lz).exp().matrix().asDiagonal();
  }
  /// m(x) - x, the softmax-weighted mean of the sources minus the query (d x n, ambient).
  [[nodiscard]] matrix_type mean_shift(const queries_ref& queries) const {
    return checked_sums("mean_shift", queries, {.field = field_kind::mean_shift}).field;
  }

  /// Single-point versions.
  [[nodiscard]] Scalar log_density_at(const point_type& x) const { return log_density(x)(0); }
  [[nodiscard]] Scalar density_at(const point_type& x) const { return density(x)(0); }
  [[nodiscard]] point_type score_at(const point_type& x) const { return score(x).col(0); }
  [[nodiscard]] point_type gradient_at(const point_type& x) const { return gradient(x).col(0); }

private:
  /// "gfd::kde" on R^d, "gfd::<M::name>::kde" on another manifold.
  static const std::string& name() {
    static const std::string n =
        M::is_euclidean ? std::string("gfd::kde") : "gfd::" + std::string(M::name) + "::kde";
    return n;
  }
  kernel_sums<Scalar, Dim> checked_sums(const char* member, const queries_ref& q,
                                        const sum_options& opt) const {
    const std::string where = name() + "::" + member;
    detail::require_same_dim(where, q, "queries", src_.points(), "sources");
    view_type(q).validate(where, "queries");
    m_.validate(where, "queries", q);
    kernel_sums<Scalar, Dim> out;
    prepared_->sums(q, opt, out);
    return out;
  }
  void project(const queries_ref& q, matrix_type& field) const {
    if constexpr (!M::is_euclidean)
      for (Eigen::Index i = 0; i < q.cols(); ++i) field.col(i) = m_.project(q.col(i), field.col(i));
  }

  view_type src_;
  Scalar h_;
  bound_kernel<K, Scalar> kernel_;
  M m_;
  std::optional<prepared_t<E, K, Scalar>> prepared_;  // set once the sources are validated
  Scalar log_z_ = 0;
  std::exception_ptr log_z_error_;
};

}  // namespace gfd
