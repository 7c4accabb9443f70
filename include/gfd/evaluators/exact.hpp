// SPDX-License-Identifier: MIT
/// @file evaluators/exact.hpp
/// @brief Exact kernel sums: blocked, vectorised (Eigen packet exp) and threaded (OpenMP).
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "../error.hpp"
#include "../kernels.hpp"
#include "../particles.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

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

/// How a set of weighted kernel sums is computed. An evaluator E provides
///
///     template <Kernel K, class Scalar, int Dim>
///     void sums(queries (d x n), sources (d x m), source_log_weights (m),
///               const K& kernel, Scalar h, const sum_options&, kernel_sums<Scalar, Dim>& out) const;
///
/// with Eigen::Ref<const ...> arguments, filling `out` with n entries. Log-weights need not be
/// normalised. Inputs are assumed validated by the caller (gfd::kde and the flows do it).
template <class E>
concept Evaluator = requires(const E e, const positions<double>& x, const vector<double>& lw,
                             kernel_sums<double>& out) {
  e.sums(x, x, lw, gaussian{}, 1.0, sum_options{}, out);
};

/// The exact evaluator: all n x m pairs, O(n m d) time, O((n + m) d) memory (sources are copied
/// once into a centred, bandwidth-scaled layout; no n x m buffer is ever formed).
///
/// - d < gemm_threshold: per query, sources in tiles of `tile` (struct-of-arrays, contiguous per
///   coordinate), distances as differences, Eigen's vectorised exp, online log-sum-exp.
/// - d >= gemm_threshold: query blocks x source tiles, squared distances from a matrix product
///   |x|^2 + |y|^2 - 2 x.y on centred data (cancellation is bounded by centring; values are
///   clamped at 0), field accumulated by a second product.
///
/// Thread-safety: `sums` is const and reentrant. With OpenMP (the consumer links it), queries are
/// split over threads; results do not depend on the number of threads.
struct exact_evaluator {
  Eigen::Index tile = 512;           ///< sources per tile (per-query path)
  Eigen::Index gemm_threshold = 16;  ///< dimension from which distances use a matrix product

  template <Kernel K, class Scalar, int Dim>
  void sums(const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& queries,
            const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& sources,
            const std::type_identity_t<Eigen::Ref<const vector<Scalar>>>& source_log_weights,
            const K& kernel, Scalar h, const sum_options& opt,
            kernel_sums<Scalar, Dim>& out) const;
};

namespace detail {

/// Per-query running state of an online, max-subtracted log-sum-exp with a weighted vector sum.
template <class Scalar>
struct lse_state {
  Scalar mx = -std::numeric_limits<Scalar>::infinity();
  Scalar s = 0;   // sum_j exp(l_j - mx)
  Scalar cs = 0;  // sum_j exp(l_j - mx) phi'_j (score of a kernel with varying slope)
};

/// Returns the factor by which existing sums must be scaled for the new maximum, updating mx.
template <class Scalar>
inline Scalar lse_rescale(lse_state<Scalar>& st, Scalar tile_max) {
  if (!(tile_max > st.mx)) return Scalar(1);
  const Scalar scale = std::exp(st.mx - tile_max);  // exp(-inf) = 0 for the first tile
  st.mx = tile_max;
  st.s *= scale;
  st.cs *= scale;
  return scale;
}

/// Nearest source to scaled query xs among scaled sources (columns); -1 when none is allowed.
template <class Scalar, class Ys>
Eigen::Index nearest_source(const Ys& ycols, const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& xs,
                            Eigen::Index self) {
  Eigen::Index best = -1;
  Scalar best_d = std::numeric_limits<Scalar>::infinity();
  for (Eigen::Index j = 0; j < ycols.cols(); ++j) {
    if (j == self) continue;
    const Scalar dj = (ycols.col(j) - xs).squaredNorm();
    if (dj < best_d || best < 0) {
      best_d = dj;
      best = j;
    }
  }
  return best;
}

/// Writes log_sum and field of query i from its finished running sums. `xs` is the scaled,
/// centred query, `acc` the running sum_j e_j g_j y~_j (g_j = 1 or phi'_j).
template <class Scalar, int Dim, Kernel K, class Ycols, class Acc>
void finish_query(const K& kernel, Scalar h, Scalar log_offset, const sum_options& opt,
                  const lse_state<Scalar>& st, const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& xs,
                  const Acc& acc, const Ycols& ycols, Eigen::Index i,
                  kernel_sums<Scalar, Dim>& out) {
  const bool per_pair_slope = !K::constant_slope && opt.field == field_kind::score;
  if (!(st.s > Scalar(0))) {  // every kernel value is zero: compact kernel, far query
    out.log_sum(i) = -std::numeric_limits<Scalar>::infinity();
    const Eigen::Index j = nearest_source<Scalar>(ycols, xs, opt.exclude_self ? i : -1);
    if (j < 0) {
      out.field.col(i).setZero();
      return;
    }
    const Scalar f = opt.field == field_kind::mean_shift ? h : Scalar(1) / h;
    out.field.col(i) = f * (ycols.col(j) - xs);
    return;
  }
  out.log_sum(i) = st.mx + std::log(st.s) + log_offset;
  const Scalar inv_s = Scalar(1) / st.s;
  if (opt.field == field_kind::mean_shift) {
    out.field.col(i) = h * (acc * inv_s - xs);
  } else if (!per_pair_slope) {
    // constant slope c: score = (2 c / h) (x~ - m~), m~ the softmax mean of scaled sources.
    const Scalar c = kernel.slope(Scalar(0));
    out.field.col(i) = (Scalar(2) * c / h) * (xs - acc * inv_s);
  } else {
    out.field.col(i) = (Scalar(2) / h) * (xs * (st.cs * inv_s) - acc * inv_s);
  }
}

}  // namespace detail

template <Kernel K, class Scalar, int Dim>
void exact_evaluator::sums(
    const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& queries,
    const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& sources,
    const std::type_identity_t<Eigen::Ref<const vector<Scalar>>>& source_log_weights,
    const K& kernel, Scalar h, const sum_options& opt, kernel_sums<Scalar, Dim>& out) const {
  using Index = Eigen::Index;
  using Vec = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using Arr = Eigen::Array<Scalar, Eigen::Dynamic, 1>;
  using Mat = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  constexpr Scalar neg_inf = -std::numeric_limits<Scalar>::infinity();

  const Index n = queries.cols(), m = sources.cols(), d = queries.rows();
  detail::require_positive("gfd::exact_evaluator::sums", "bandwidth", h);
  if (sources.rows() != d)
    detail::fail("gfd::exact_evaluator::sums", "dimension mismatch: queries ", d, ", sources ",
                 sources.rows());
  if (source_log_weights.size() != m)
    detail::fail("gfd::exact_evaluator::sums", source_log_weights.size(), " log-weights for ", m,
                 " sources");
  if (opt.exclude_self && n != m)
    detail::fail("gfd::exact_evaluator::sums", "exclude_self needs queries == sources, got ", n,
                 " queries and ", m, " sources");
  out.log_sum.resize(n);
  out.field.resize(d, n);
  if (n == 0) return;
  if (m == 0) detail::fail("gfd::exact_evaluator::sums", "no sources");

  const bool per_pair_slope = !K::constant_slope && opt.field == field_kind::score;
  // Uniform weights are common (every particle cloud): fold them into one offset.
  const bool uniform = (source_log_weights.array() == source_log_weights(0)).all();
  const Scalar log_offset = uniform ? source_log_weights(0) : Scalar(0);

  // Centre and scale once: t = |x~ - y~|^2 with x~ = (x - c) / h.
  const Vec centre = sources.rowwise().mean();
  const Scalar inv_h = Scalar(1) / h;
  const Mat ycols = (sources.colwise() - centre) * inv_h;  // d x m

  if (d < gemm_threshold) {
    const Mat yrows = ycols.transpose();  // m x d: each coordinate contiguous
    const Index tile_size = std::max<Index>(16, tile);
#ifdef _OPENMP
#pragma omp parallel
#endif
    {
      Arr t(tile_size), l(tile_size), e(tile_size);
      Vec xs(d), acc(d);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 16)
#endif
      for (Index i = 0; i < n; ++i) {
        xs = (queries.col(i) - centre) * inv_h;
        acc.setZero();
        detail::lse_state<Scalar> st;
        for (Index j0 = 0; j0 < m; j0 += tile_size) {
          const Index b = std::min(tile_size, m - j0);
          auto tb = t.head(b);
          auto lb = l.head(b);
          auto eb = e.head(b);
          tb = (yrows.col(0).segment(j0, b).array() - xs(0)).square();
          for (Index k = 1; k < d; ++k) tb += (yrows.col(k).segment(j0, b).array() - xs(k)).square();
          if (uniform)
            lb = kernel.log_profile_array(tb);
          else
            lb = kernel.log_profile_array(tb) + source_log_weights.segment(j0, b).array();
          if (opt.exclude_self && i >= j0 && i < j0 + b) lb(i - j0) = neg_inf;
          const Scalar tmax = lb.maxCoeff();
          if (tmax == neg_inf) continue;
          acc *= detail::lse_rescale(st, tmax);
          eb = (lb - st.mx).exp();
          st.s += eb.sum();
          if (per_pair_slope) {
            eb *= kernel.slope_array(tb);  // e_j phi'_j: the score weights y_j by the slope
            st.cs += eb.sum();
          }
          for (Index k = 0; k < d; ++k)
            acc(k) += (eb * yrows.col(k).segment(j0, b).array()).sum();
        }
        detail::finish_query(kernel, h, log_offset, opt, st, xs, acc, ycols, i, out);
      }
    }
    return;
  }

  // Large d: squared distances by a matrix product on centred, scaled data.
  const Arr ynorm = ycols.colwise().squaredNorm().transpose().array();
  const Index qblock = 32;
  const Index sblock = 256;
  const Index nblocks = (n + qblock - 1) / qblock;
#ifdef _OPENMP
#pragma omp parallel
#endif
  {
    Mat xsb(d, qblock), acc(d, qblock), tt(sblock, qblock), w(sblock, qblock);
    Arr xnorm(qblock), l(sblock), e(sblock);
    Vec xs(d);
    std::vector<detail::lse_state<Scalar>> st(static_cast<std::size_t>(qblock));
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
    for (Index blk = 0; blk < nblocks; ++blk) {
      const Index i0 = blk * qblock;
      const Index qb = std::min(qblock, n - i0);
      xsb.leftCols(qb) = (queries.middleCols(i0, qb).colwise() - centre) * inv_h;
      xnorm.head(qb) = xsb.leftCols(qb).colwise().squaredNorm().transpose().array();
      acc.leftCols(qb).setZero();
      for (Index q = 0; q < qb; ++q) st[static_cast<std::size_t>(q)] = {};
      for (Index j0 = 0; j0 < m; j0 += sblock) {
        const Index b = std::min(sblock, m - j0);
        auto tb = tt.topLeftCorner(b, qb);
        tb.noalias() = Scalar(-2) * ycols.middleCols(j0, b).transpose() * xsb.leftCols(qb);
        for (Index q = 0; q < qb; ++q) {
          auto& sq = st[static_cast<std::size_t>(q)];
          auto tq = tb.col(q).array();
          tq = (tq + ynorm.segment(j0, b) + xnorm(q)).max(Scalar(0));
          auto lb = l.head(b);
          auto eb = e.head(b);
          if (uniform)
            lb = kernel.log_profile_array(tq);
          else
            lb = kernel.log_profile_array(tq) + source_log_weights.segment(j0, b).array();
          const Index i = i0 + q;
          if (opt.exclude_self && i >= j0 && i < j0 + b) lb(i - j0) = neg_inf;
          const Scalar tmax = lb.maxCoeff();
          if (tmax == neg_inf) {
            w.col(q).head(b).setZero();
            continue;
          }
          acc.col(q) *= detail::lse_rescale(sq, tmax);
          eb = (lb - sq.mx).exp();
          sq.s += eb.sum();
          if (per_pair_slope) {
            eb *= kernel.slope_array(tq);
            sq.cs += eb.sum();
          }
          w.col(q).head(b) = eb.matrix();
        }
        acc.leftCols(qb).noalias() += ycols.middleCols(j0, b) * w.topLeftCorner(b, qb);
      }
      for (Index q = 0; q < qb; ++q) {
        xs = xsb.col(q);
        detail::finish_query(kernel, h, log_offset, opt, st[static_cast<std::size_t>(q)], xs,
                             acc.col(q), ycols, i0 + q, out);
      }
    }
  }
}

static_assert(Evaluator<exact_evaluator>);

}  // namespace gfd
