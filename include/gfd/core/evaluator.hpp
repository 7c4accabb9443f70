// SPDX-License-Identifier: MIT
/// @file core/evaluator.hpp
/// @brief The two-phase evaluator concept: prepare weighted sources once (points, log-weights,
///        a kernel bound to its bandwidth), then compute kernel sums at many query sets.
#pragma once

#include <Eigen/Core>

#include <concepts>
#include <type_traits>

#include "../kernels.hpp"
#include "../particles.hpp"
#include "bound_kernel.hpp"
#include "sums.hpp"

namespace gfd {

/// Sources made ready for kernel sums by an evaluator, in the manner of a nanoflann index: built
/// once from the data, queried many times. Notation: `P` the prepared type, `p` a `const P`,
/// `q` a d x n query matrix, `o` a sum_options, `out` a kernel_sums<P::scalar_type, Dim>, `h` a
/// bandwidth, `lw` a vector of m log-weights.
///
/// | expression           | semantics                                                          |
/// |----------------------|--------------------------------------------------------------------|
/// | `P::scalar_type`     | float or double                                                    |
/// | `P::kernel_type`     | the Kernel it sums                                                 |
/// | `p.size()`, `p.dim()`| number m and dimension d of the sources                            |
/// | `p.bandwidth()`      | the h the kernel is bound to                                       |
/// | `p.sums(q, o, out)`  | fills `out` with the n log-sums and fields (see kernel_sums); with |
/// |                      | `o.exclude_self` the queries must be the prepared sources themselves|
/// | `p.rebound(h)`       | the same sources and weights with the kernel bound to h; shares    |
/// |                      | whatever does not depend on h (the tree's index)                   |
/// | `p.reweighted(lw)`   | the same sources and kernel with other log-weights; shares the     |
/// |                      | layout or index                                                    |
///
/// Log-weights need not be normalised. A prepared object owns (or shares) what it needs: it stays
/// valid after the matrices it was prepared from are gone, and copies are cheap. `sums` is const
/// and may be called concurrently.
template <class P>
concept PreparedSources =
    requires(const P p, const positions<typename P::scalar_type>& q, const sum_options& o,
             kernel_sums<typename P::scalar_type>& out, typename P::scalar_type h,
             const vector<typename P::scalar_type>& lw) {
      typename P::scalar_type;
      requires Kernel<typename P::kernel_type>;
      { p.size() } -> std::convertible_to<Eigen::Index>;
      { p.dim() } -> std::convertible_to<Eigen::Index>;
      { p.bandwidth() } -> std::same_as<typename P::scalar_type>;
      p.sums(q, o, out);
      { p.rebound(h) } -> std::same_as<P>;
      { p.reweighted(lw) } -> std::same_as<P>;
    };

/// How weighted kernel sums are computed (exact, tree, ...). An evaluator E provides
///
/// | expression                       | semantics                                              |
/// |----------------------------------|--------------------------------------------------------|
/// | `e.prepare(y, lw, bk)`           | PreparedSources for sources y (d x m), log-weights lw  |
/// |                                  | (m) and a bound_kernel<K, Scalar> bk                   |
/// | `E::prepared<K, Scalar>`         | the type it returns                                    |
///
/// for every Kernel K and Scalar float / double. Preparing validates the weights and the kernel's
/// bandwidth; `sums` validates the queries against the sources (dimension, self-exclusion).
/// Inputs' finiteness is checked by the callers that own the data (gfd::kde, the flows).
template <class E>
concept Evaluator = requires(const E e, const positions<double>& y, const vector<double>& lw,
                             const bound_kernel<gaussian, double>& bk) {
  { e.prepare(y, lw, bk) } -> PreparedSources;
  requires std::same_as<decltype(e.prepare(y, lw, bk)),
                        typename E::template prepared<gaussian, double>>;
};

/// The prepared type of evaluator E for kernel K and scalar type Scalar.
template <Evaluator E, Kernel K, class Scalar>
using prepared_t = typename E::template prepared<K, Scalar>;

/// One-shot kernel sums: prepare the sources, sum once. For a single pass only; anything that
/// sums the same sources twice should keep the prepared object.
template <Evaluator E, Kernel K, class Scalar, int Dim>
void sums_once(const E& evaluator,
               const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& queries,
               const std::type_identity_t<Eigen::Ref<const positions<Scalar>>>& sources,
               const std::type_identity_t<Eigen::Ref<const vector<Scalar>>>& source_log_weights,
               const K& kernel, Scalar h, const sum_options& opt, kernel_sums<Scalar, Dim>& out) {
  evaluator.prepare(sources, source_log_weights, bound_kernel<K, Scalar>(kernel, h))
      .sums(queries, opt, out);
}

}  // namespace gfd
