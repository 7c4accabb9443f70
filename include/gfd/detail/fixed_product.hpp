// SPDX-License-Identifier: MIT
/// @file detail/fixed_product.hpp
/// @brief A matrix product whose result is the same bit for bit for any number of OpenMP
///        threads (Eigen's own GEMM is not), still run in parallel.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <type_traits>

namespace gfd::detail {

/// Rows and columns of one panel of fixed_product.
inline constexpr Eigen::Index fixed_product_rows = 32;
inline constexpr Eigen::Index fixed_product_cols = 256;

/// dst = alpha lhs rhs (or dst += alpha lhs rhs with `accumulate`), every entry independent of
/// the number of OpenMP threads and of the OpenMP context of the call.
///
/// Why: under OpenMP, Eigen's GEMM runs multithreaded when it is called outside a parallel
/// region, and then chooses its cache blocking (the depth blocking kc) and its split of the rows
/// and columns from the thread count, so the entries of a product with a long inner dimension
/// change in the last bits between 1 and 2 threads (measured with Eigen 3.4: 64 x 512 x 64 and
/// 16 x 512 x 128 differ, the backward pass of the generator's network among them). Here the
/// output is cut into fixed panels of at most fixed_product_rows x fixed_product_cols entries,
/// each one Eigen product into a destination whose MaxRowsAtCompileTime is fixed_product_rows:
/// Eigen never multithreads such a product (Eigen 3.4 GeneralMatrixMatrix.h: parallelize_gemm
/// only when Dest::MaxRowsAtCompileTime > 32 or Dynamic) and blocks it for one thread, so each
/// panel's value depends on the shapes alone. The panels run in parallel when `parallel` and the
/// product is large enough (O(rows cols depth) >= 1e5 multiply-adds); which thread computes a
/// panel does not change it. Inside a parallel region pass parallel = false.
///
/// dst: a column-major dense expression with direct access and unit inner stride (a Matrix, a
/// Block of one, a Map), already of size lhs.rows() x rhs.cols(), aliasing neither operand.
/// Cost: Eigen's GEMM plus packing each operand panel once more per panel of the other
/// (about 1/32 more memory traffic), and one call per panel.
template <class Dst, class Lhs, class Rhs>
void fixed_product(Dst&& dst, const Lhs& lhs, const Rhs& rhs, typename std::remove_cvref_t<Dst>::Scalar alpha = 1,
                   bool accumulate = false, bool parallel = true) {
  using Index = Eigen::Index;
  using D = std::remove_cvref_t<Dst>;
  using Scalar = typename D::Scalar;
  static_assert(!(D::Flags & Eigen::RowMajorBit), "fixed_product writes a column-major destination");
  constexpr Index rb = fixed_product_rows, cb = fixed_product_cols;
  using panel = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor, rb, Eigen::Dynamic>;
  using panel_map = Eigen::Map<panel, Eigen::Unaligned, Eigen::OuterStride<>>;
  const Index rows = lhs.rows(), cols = rhs.cols(), depth = lhs.cols();
  eigen_assert(dst.rows() == rows && dst.cols() == cols && rhs.rows() == depth && dst.innerStride() == 1);
  if (rows == 0 || cols == 0) return;
  if (depth == 0) {
    if (!accumulate) dst.setZero();
    return;
  }
  const Index row_panels = (rows + rb - 1) / rb, col_panels = (cols + cb - 1) / cb;
  const Index panels = row_panels * col_panels;
  Scalar* const out = dst.data();
  const Index stride = dst.outerStride();
  auto one_panel = [&](Index p) {
    const Index r0 = (p % row_panels) * rb, c0 = (p / row_panels) * cb;
    const Index r = std::min(rb, rows - r0), c = std::min(cb, cols - c0);
    panel_map o(out + r0 + c0 * stride, r, c, Eigen::OuterStride<>(stride));
    if (accumulate)
      o.noalias() += alpha * (lhs.middleRows(r0, r) * rhs.middleCols(c0, c));
    else
      o.noalias() = alpha * (lhs.middleRows(r0, r) * rhs.middleCols(c0, c));
  };
  const bool go_parallel = parallel && panels > 1 &&
                           static_cast<double>(rows) * static_cast<double>(cols) * static_cast<double>(depth) >= 1e5;
  if (!go_parallel) {
    for (Index p = 0; p < panels; ++p) one_panel(p);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (Index p = 0; p < panels; ++p) one_panel(p);
}

}  // namespace gfd::detail
