// SPDX-License-Identifier: MIT
/// @file particles.hpp
/// @brief Weighted point clouds: d x N column-major Eigen storage, owning or viewing.
#pragma once

#include <Eigen/Core>

#include <cmath>
#include <string_view>
#include <utility>

#include "error.hpp"

namespace gfd {

/// Positions of a cloud: one particle per column, `Dim` rows (Eigen::Dynamic by default).
template <class Scalar = double, int Dim = Eigen::Dynamic>
using positions = Eigen::Matrix<Scalar, Dim, Eigen::Dynamic>;

/// A column vector of weights (or log-weights) over a cloud.
template <class Scalar = double>
using vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

/// A non-owning view of a weighted point cloud.
///
/// Invariants (checked by validate()): at least one particle, finite coordinates, and either no
/// weights (uniform, 1/N each) or N non-negative finite weights with a positive sum. Weights need
/// not sum to one: normalised_log_weights() divides by their sum.
///
/// It binds to any column-major Eigen matrix with contiguous columns without copying
/// (Eigen::Ref semantics: an expression or a strided block is copied into a temporary held by
/// the view). The viewed data must outlive the view. Thread-safety: const access is safe.
template <class Scalar = double, int Dim = Eigen::Dynamic>
class cloud_view {
public:
  using scalar_type = Scalar;
  static constexpr int dim_at_compile_time = Dim;
  using matrix_type = positions<Scalar, Dim>;
  using vector_type = vector<Scalar>;
  using positions_ref = Eigen::Ref<const matrix_type>;
  using weights_ref = Eigen::Ref<const vector_type>;

  /// Uniformly weighted view. Does not validate: call validate() (every gfd entry point does).
  template <class Derived>
  cloud_view(const Eigen::MatrixBase<Derived>& x)  // NOLINT(google-explicit-constructor)
      : x_(x), w_(empty_weights()) {}
  /// Weighted view; `w` must have one entry per column of `x` (checked by validate()).
  template <class DerivedX, class DerivedW>
  cloud_view(const Eigen::MatrixBase<DerivedX>& x, const Eigen::MatrixBase<DerivedW>& w)
      : x_(x), w_(w) {}

  [[nodiscard]] const positions_ref& points() const noexcept { return x_; }
  [[nodiscard]] Eigen::Index size() const noexcept { return x_.cols(); }
  [[nodiscard]] Eigen::Index dim() const noexcept { return x_.rows(); }
  [[nodiscard]] bool weighted() const noexcept { return w_.size() != 0; }
  /// The raw weights as given (empty when uniform).
  [[nodiscard]] const weights_ref& weights() const noexcept { return w_; }

  /// log of the normalised weights (log 0 = -inf for zero weights); size N.
  [[nodiscard]] vector_type normalised_log_weights() const {
    if (!weighted()) return vector_type::Constant(size(), -std::log(static_cast<Scalar>(size())));
    const Scalar total = w_.sum();
    return (w_.array() / total).log().matrix();
  }

  /// Throws gfd::invalid_argument, naming `where` and `what` (e.g. "targets"), when the cloud is
  /// empty, has a non-finite coordinate (the first bad particle and coordinate are reported),
  /// has a weight count different from N, a negative or non-finite weight, or weights summing
  /// to zero. O(N d).
  void validate(std::string_view where, std::string_view what = "cloud") const {
    if (x_.cols() == 0 || x_.rows() == 0)
      detail::fail(where, what, " is empty (", x_.rows(), " x ", x_.cols(), ")");
    if (!x_.allFinite()) {
      for (Eigen::Index i = 0; i < x_.cols(); ++i)
        for (Eigen::Index k = 0; k < x_.rows(); ++k)
          if (!std::isfinite(static_cast<double>(x_(k, i))))
            detail::fail(where, what, " has a non-finite coordinate ", x_(k, i), " at particle ",
                         i, ", coordinate ", k);
    }
    if (!weighted()) return;
    if (w_.size() != x_.cols())
      detail::fail(where, what, " has ", w_.size(), " weights for ", x_.cols(), " particles");
    for (Eigen::Index i = 0; i < w_.size(); ++i)
      if (!(std::isfinite(static_cast<double>(w_(i))) && w_(i) >= Scalar(0)))
        detail::fail(where, what, " has an invalid weight ", w_(i), " at particle ", i,
                     " (weights must be finite and >= 0)");
    if (!(w_.sum() > Scalar(0))) detail::fail(where, what, " has weights that sum to zero");
  }

private:
  static weights_ref empty_weights() {
    static const vector_type none;
    return weights_ref(none);
  }
  positions_ref x_;
  weights_ref w_;
};

/// An owning weighted point cloud (positions plus optional weights), validated on construction.
/// Converts implicitly to cloud_view for every gfd function.
template <class Scalar = double, int Dim = Eigen::Dynamic>
class cloud {
public:
  using scalar_type = Scalar;
  using matrix_type = positions<Scalar, Dim>;
  using vector_type = vector<Scalar>;
  using view_type = cloud_view<Scalar, Dim>;

  /// @throws gfd::invalid_argument as cloud_view::validate.
  explicit cloud(matrix_type x, vector_type w = {}) : x_(std::move(x)), w_(std::move(w)) {
    view().validate("gfd::cloud");
  }

  [[nodiscard]] view_type view() const {
    return w_.size() ? view_type(x_, w_) : view_type(x_);
  }
  operator view_type() const { return view(); }  // NOLINT(google-explicit-constructor)

  [[nodiscard]] const matrix_type& points() const noexcept { return x_; }
  /// Mutable positions (the integrator moves them); weights cannot be changed this way.
  [[nodiscard]] matrix_type& points() noexcept { return x_; }
  [[nodiscard]] const vector_type& weights() const noexcept { return w_; }
  [[nodiscard]] Eigen::Index size() const noexcept { return x_.cols(); }
  [[nodiscard]] Eigen::Index dim() const noexcept { return x_.rows(); }

private:
  matrix_type x_;
  vector_type w_;
};

}  // namespace gfd
