// SPDX-License-Identifier: MIT
/// @file evaluators/exact.hpp
/// @brief The exact evaluator: every pair, blocked, vectorised (Eigen packet exp) and threaded.
#pragma once

#include <Eigen/Core>

#include <memory>
#include <type_traits>

#include "../core/bound_kernel.hpp"
#include "../core/evaluator.hpp"
#include "../core/instances.hpp"
#include "../core/sums.hpp"
#include "../kernels.hpp"
#include "../particles.hpp"
#include "detail/simd_sums.hpp"

namespace gfd {

/// The exact evaluator: all n x m pairs, O(n m d) time, O((n + m) d) memory (prepared sources
/// are copied once into a centred, bandwidth-scaled layout; no n x m buffer is ever formed).
///
/// - d < gemm_threshold: per query, one fused pass over the sources in SIMD blocks (struct of
///   arrays, each coordinate contiguous): distance, logit, exp and every running sum at once.
/// - d >= gemm_threshold: query blocks x source tiles (256 x 1024 from d = 256), squared
///   distances from a matrix product |x|^2 + |y|^2 - 2 x.y on centred data (cancellation is
///   bounded by centring; values are clamped at 0), the softmax weights written over the
///   products, the field accumulated by a second product (weights x sources): 4 d flops per
///   pair in two GEMMs, so the pass runs near the machine's GEMM rate from d ~ 512. The products
///   are Eigen's, or OpenBLAS's where the program defines GFD_USE_OPENBLAS and links OpenBLAS
///   (its OpenMP build; README "Performance"); both give the same sums to round-off.
///
/// Log domain without a max pass: each query keeps a reference logit `ref`, attained by some
/// source (the largest of a probe of the first blocks), and sums exp(l - ref). A tile whose terms
/// add up to more than e^margin (~e^31 in float, ~e^248 in double), as any logit that far above
/// ref would make them, is recomputed against its own largest logit; so the sums stay finite,
/// and terms far below ref underflow harmlessly since ref's own term is 1. Typical data pay one
/// cheap probe per query and no recomputation; far queries and sorted sources may recompute a
/// tile or two.
///
/// Lifecycle: `prepare` copies the sources once (O(m d)) and lays them out for the bound
/// bandwidth; `rebound(h)` lays the same copy out for another bandwidth (O(m d), no re-copy of
/// the caller's data); `reweighted` shares the layout.
///
/// Thread-safety: `prepare` and `sums` are const and reentrant. With OpenMP (the consumer links
/// it), queries are split over threads; results do not depend on the number of threads.
struct exact_evaluator {
  Eigen::Index tile = 512;           ///< sources per tile (unit of the margin check)
  Eigen::Index gemm_threshold = 16;  ///< dimension from which distances use a matrix product

  /// Sources prepared for exact sums with kernel K (see PreparedSources).
  template <Kernel K, class Scalar>
  class prepared {
  public:
    using scalar_type = Scalar;
    using kernel_type = K;

    [[nodiscard]] Eigen::Index size() const noexcept { return points_->cols(); }
    [[nodiscard]] Eigen::Index dim() const noexcept { return points_->rows(); }
    [[nodiscard]] Scalar bandwidth() const noexcept { return kernel_.h; }
    [[nodiscard]] const bound_kernel<K, Scalar>& kernel() const noexcept { return kernel_; }

    /// Kernel sums at `queries` (d x n) into `out`.
    /// @throws gfd::invalid_argument on a dimension mismatch, exclude_self with another number of
    ///         queries than sources, or queries without sources.
    template <int Dim>
    void sums(const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& queries,
              const sum_options& opt, kernel_sums<Scalar, Dim>& out) const;

    [[nodiscard]] prepared rebound(Scalar h) const {
      prepared p = *this;
      p.kernel_ = kernel_.rebound(h, "gfd::exact_evaluator::prepared::rebound");
      p.layout_ = p.make_layout();
      return p;
    }
    [[nodiscard]] prepared reweighted(const std::type_identity_t<Eigen::Ref<const vector<Scalar>>>& log_w) const {
      detail::check_prepare("gfd::exact_evaluator::prepared::reweighted", *points_, log_w);
      prepared p = *this;
      p.log_w_ = std::make_shared<const vector<Scalar>>(log_w);
      p.uniform_ = detail::uniform_weights(log_w);
      p.layout_ = p.make_layout();
      return p;
    }

  private:
    friend struct exact_evaluator;
    using matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

    prepared(Eigen::Index tile, Eigen::Index gemm_threshold, std::shared_ptr<const matrix> points,
             std::shared_ptr<const vector<Scalar>> log_w, bound_kernel<K, Scalar> k)
        : tile_(tile), gemm_threshold_(gemm_threshold), points_(std::move(points)), log_w_(std::move(log_w)), kernel_(std::move(k)),
          uniform_(detail::uniform_weights(*log_w_)), layout_(make_layout()) {}

    std::shared_ptr<const detail::scaled_sources<Scalar>> make_layout() const {
      if (points_->cols() == 0) return nullptr;  // nothing to lay out; sums refuses queries
      return std::make_shared<const detail::scaled_sources<Scalar>>(*points_, *log_w_, uniform_, kernel_.h);
    }

    Eigen::Index tile_ = 512, gemm_threshold_ = 16;  // the evaluator's settings
    std::shared_ptr<const matrix> points_;           // the caller's sources, copied once
    std::shared_ptr<const vector<Scalar>> log_w_;
    bound_kernel<K, Scalar> kernel_;
    bool uniform_ = true;                            // every log-weight equal: one offset
    std::shared_ptr<const detail::scaled_sources<Scalar>> layout_;  // for kernel_.h
  };

  /// Prepares `sources` (d x m) with log-weights (m, not necessarily normalised) for sums with
  /// the bound kernel. O(m d).
  /// @throws gfd::invalid_argument when the log-weights do not match the sources.
  template <Kernel K, class Scalar>
  [[nodiscard]] prepared<K, Scalar> prepare(
      const std::type_identity_t<Eigen::Ref<const positions<Scalar>>>& sources,
      const std::type_identity_t<Eigen::Ref<const vector<Scalar>>>& source_log_weights,
      const bound_kernel<K, Scalar>& kernel) const {
    detail::check_prepare("gfd::exact_evaluator::prepare", sources, source_log_weights);
    return prepared<K, Scalar>(tile, gemm_threshold, std::make_shared<const positions<Scalar>>(sources),
                               std::make_shared<const vector<Scalar>>(source_log_weights), kernel);
  }

  /// One-shot sums: prepare, then sum once (for a single pass; keep the prepared object to
  /// sum the same sources again).
  /// @throws gfd::invalid_argument as prepare and prepared::sums, and for a bandwidth not > 0.
  template <Kernel K, class Scalar, int Dim>
  void sums(const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& queries,
            const std::type_identity_t<Eigen::Ref<const positions<Scalar>>>& sources,
            const std::type_identity_t<Eigen::Ref<const vector<Scalar>>>& source_log_weights,
            const K& kernel, Scalar h, const sum_options& opt, kernel_sums<Scalar, Dim>& out) const {
    prepare(sources, source_log_weights, bound_kernel<K, Scalar>(kernel, h, "gfd::exact_evaluator::sums"))
        .sums(queries, opt, out);
  }
};

template <Kernel K, class Scalar>
template <int Dim>
void exact_evaluator::prepared<K, Scalar>::sums(
    const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& queries,
    const sum_options& opt, kernel_sums<Scalar, Dim>& out) const {
  using Index = Eigen::Index;
  const Index n = queries.cols(), m = size(), d = queries.rows();
  if (!detail::begin_sums("gfd::exact_evaluator::sums", queries, m, dim(), opt, out)) return;

  const K& k = kernel_.kernel;
  const Scalar h = kernel_.h;
  const bool per_pair_slope = !K::constant_slope && opt.field == field_kind::score;
  // Waking a thread team costs microseconds (far more when cores are oversubscribed): small
  // sums run on the calling thread.
  const bool parallel =
      static_cast<double>(n) * static_cast<double>(m) * static_cast<double>(d) >= 2e5;
  // Uniform weights are common (every particle cloud): fold them into one offset.
  const Scalar log_offset = uniform_ ? (*log_w_)(0) : Scalar(0);
  const detail::scaled_sources<Scalar>& src = *layout_;

  detail::dispatch_terms<K>(!uniform_, per_pair_slope, [&]<bool Weighted, bool Slope>() {
    if (d >= gemm_threshold_) {
      detail::blocked_gemm_sums<Weighted, Slope>(queries, src, k, h, log_offset, parallel, opt, out);
    } else if constexpr (Dim != Eigen::Dynamic) {
      detail::per_query_sums<Dim, Weighted, Slope>(queries, src, k, h, log_offset, tile_,
                                                   parallel, opt, out);
    } else if (d == 2) {  // the common case of toy problems: worth its own unrolled copy
      detail::per_query_sums<2, Weighted, Slope>(queries, src, k, h, log_offset, tile_,
                                                 parallel, opt, out);
    } else {
      detail::per_query_sums<Eigen::Dynamic, Weighted, Slope>(queries, src, k, h, log_offset,
                                                              tile_, parallel, opt, out);
    }
  });
}

static_assert(Evaluator<exact_evaluator>);
static_assert(PreparedSources<exact_evaluator::prepared<gaussian, float>>);

#ifdef GFD_EXTERN_TEMPLATES
// Compiled once elsewhere (core/instances.hpp).
GFD_SUMS_INSTANCES(extern template, exact_evaluator, double)
GFD_SUMS_INSTANCES(extern template, exact_evaluator, float)
#endif

}  // namespace gfd
