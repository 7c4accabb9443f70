// SPDX-License-Identifier: MIT
/// @file evaluators/detail/simd_sums.hpp
/// @brief The SIMD kernel-sum engine shared by the exact and tree evaluators: scaled source
///        layout, lazy log-sum-exp, fused small-d sweeps and blocked large-d (GEMM) passes.
///
/// Its interface, used by evaluators/exact.hpp and evaluators/tree.hpp: scaled_sources (the
/// layout), block_core (one block of terms), sweep_query (one query over all sources),
/// lse_state / lse_merge (running log-sum-exp), finish_query (log-sum and field of a query),
/// per_query_sums and blocked_gemm_sums (whole passes) and dispatch_terms (run-time choices made
/// compile-time). Nothing here validates input: the evaluators do.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "../../core/sums.hpp"
#include "../../detail/fixed_product.hpp"
#include "../../error.hpp"
#include "../../kernels.hpp"
#include "../../particles.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

// Optional: OpenBLAS for the large-d pass's matrix products (define GFD_USE_OPENBLAS and link
// OpenBLAS, preferably its OpenMP build; README "Performance"). Without it, Eigen's products.
#ifdef GFD_USE_OPENBLAS
#include <cblas.h>
#endif

// exp_lanes must be inlined into the inner loops: in a large translation unit (the CLI, a user's
// program) GCC's size heuristics may keep it out of line, which measured 1.8x slower on the tree
// evaluator's 2D sums (`gfd kde`, N = M = 1e5). Forcing the other block helpers as well cost 5%
// in bench_kde, so only exp_lanes is forced. Define GFD_INNER_INLINE to `inline` to opt out.
#ifndef GFD_INNER_INLINE
#if defined(__GNUC__) || defined(__clang__)
#define GFD_INNER_INLINE [[gnu::always_inline]] inline
#else
#define GFD_INNER_INLINE inline
#endif
#endif

namespace gfd {

namespace detail {

/// Sources per SIMD block: 64 bytes, one AVX-512 register or two AVX ones. Fixed-size Eigen
/// arrays of this length compile to straight-line packet code (Eigen's vectorised exp included)
/// without touching Eigen's internal packet API, and a kernel's own log_profile_array /
/// slope_array expressions apply to them unchanged.
template <class Scalar>
inline constexpr int block_lanes = sizeof(Scalar) >= 64 ? 1 : static_cast<int>(64 / sizeof(Scalar));

template <class Scalar>
using lanes = Eigen::Array<Scalar, block_lanes<Scalar>, 1>;

/// A block of `block_lanes` consecutive source values, read in place (no alignment assumed).
template <class Scalar>
using lanes_map = Eigen::Map<const lanes<Scalar>>;

/// exp of one block, vectorised. Floats use Eigen's packet exp. For doubles Eigen 3.4 uses a
/// rational approximation with a division and a general-purpose ldexp (four multiplies and
/// shuffles), which makes exp most of the inner loop; with GCC/Clang vector extensions we use a
/// leaner one: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, the degree-13 Taylor polynomial
/// (truncation 4e-18) and 2^n built directly in the exponent bits. Max relative error 2.2e-16
/// (Eigen's: 3.1e-16); x < -708 gives exactly 0 (masked lanes arrive as -inf), x > 709 is
/// clamped (only a tile about to be recomputed passes more than lazy_margin). Measured 5-10%
/// faster on the whole small-d double loop.
template <class Scalar>
GFD_INNER_INLINE lanes<Scalar> exp_lanes(const lanes<Scalar>& x) {
  return x.exp();
}

#if defined(__GNUC__) && !defined(__FAST_MATH__)  // fast-math would fold the rounding trick away
template <>
GFD_INNER_INLINE lanes<double> exp_lanes<double>(const lanes<double>& in) {
  // No helper functions taking these vectors by value: without AVX-512 that would change the
  // calling convention and GCC warns (-Wpsabi) in every user's build.
  using f64x8 = double __attribute__((vector_size(64)));
  using u64x8 = std::uint64_t __attribute__((vector_size(64)));
  static_assert(sizeof(f64x8) == sizeof(lanes<double>));
  constexpr double lo = -708.0, hi = 709.0;  // 2^n stays a normal number
  constexpr double shifter = 0x1.8p52;       // adding it rounds to an integer in the low bits
  constexpr double log2e = 1.4426950408889634074;
  constexpr double ln2_hi = 6.93147180369123816490e-01;  // fdlibm's split of ln 2: n * ln2_hi
  constexpr double ln2_lo = 1.90821492927058770002e-10;  // is exact for |n| < 2^11
  f64x8 x;
  std::memcpy(&x, in.data(), sizeof x);
  const auto under = x < lo;
  x = under ? f64x8{} + lo : x;
  x = x > hi ? f64x8{} + hi : x;
  const f64x8 kd = x * log2e + shifter;
  const f64x8 n = kd - shifter;
  const f64x8 r = (x - n * ln2_hi) - n * ln2_lo;
  // exp(r) = 1 + (r + r^2 P(r)), P(r) = sum_{k=0..11} r^k / (k + 2)!, evaluated by Estrin's
  // scheme: Horner's 13-deep chain of dependent multiply-adds would leave the loop waiting on
  // latency (2.3x slower measured). Adding the small terms to 1 last keeps the error at one
  // rounding.
  constexpr double c[12] = {1.0 / 2,       1.0 / 6,        1.0 / 24,        1.0 / 120,
                            1.0 / 720,     1.0 / 5040,     1.0 / 40320,     1.0 / 362880,
                            1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800};
  const f64x8 r2 = r * r, r4 = r2 * r2;
  const f64x8 u0 = (c[3] * r + c[2]) * r2 + (c[1] * r + c[0]);
  const f64x8 u1 = (c[7] * r + c[6]) * r2 + (c[5] * r + c[4]);
  const f64x8 u2 = (c[11] * r + c[10]) * r2 + (c[9] * r + c[8]);
  const f64x8 p = (r2 * ((u2 * r4 + u1) * r4 + u0) + r) + 1.0;
  // The low bits of kd hold n: (n + 1023) << 52 is 2^n; the shifter's own bits shift out.
  const u64x8 two_n = (reinterpret_cast<u64x8>(kd) + 1023u) << 52;
  const f64x8 e = under ? f64x8{} : p * reinterpret_cast<f64x8>(two_n);
  lanes<double> out;
  std::memcpy(out.data(), &e, sizeof e);
  return out;
}
#endif

/// How far a logit may exceed the query's reference before its tile is recomputed: e^margin
/// times the number of sources times the largest scaled coordinate must stay far below the
/// largest finite value. 0.35 * log(max): ~31 in float, ~248 in double.
template <class Scalar>
inline constexpr Scalar lazy_margin =
    static_cast<Scalar>(0.35 * 0.6931471805599453 * std::numeric_limits<Scalar>::max_exponent);

/// A tile is recomputed when its sum of terms exp(l - ref) exceeds e^margin, which any term above
/// e^margin would cause. Checking the sum instead of a running maximum keeps a max (and the use
/// of l it needs, which blocks fusing l - ref into a multiply-add) out of the inner loop; a false
/// alarm only costs a recomputation.
template <class Scalar>
inline const Scalar lazy_tile_limit = std::exp(lazy_margin<Scalar>);

/// Sources per probe: the largest logit among the first few blocks becomes a query's first
/// reference. Any attained logit is a valid reference; a close one just avoids recomputation.
inline constexpr int probe_blocks = 4;

/// Per-query running state of a log-sum-exp with a weighted vector sum, relative to `mx`, an
/// attained logit (not necessarily the largest: see lazy_margin).
template <class Scalar>
struct lse_state {
  Scalar mx = -std::numeric_limits<Scalar>::infinity();
  Scalar s = 0;   // sum_j exp(l_j - mx)
  Scalar cs = 0;  // sum_j exp(l_j - mx) phi'_j (score of a kernel with varying slope)
};

/// Moves the reference to `new_mx` (>= st.mx); returns the factor the vector sums must take too.
template <class Scalar>
inline Scalar lse_rescale(lse_state<Scalar>& st, Scalar new_mx) {
  const Scalar scale = std::exp(st.mx - new_mx);  // exp(-inf) = 0 when nothing was summed yet
  st.mx = new_mx;
  st.s *= scale;
  st.cs *= scale;
  return scale;
}

/// Adds the sums `b` (vector sum acc_b) over other sources to `a` (acc_a): log-sum-exp states
/// relative to different references merge at the larger one.
template <class Scalar, class AccA, class AccB>
void lse_merge(lse_state<Scalar>& a, AccA&& acc_a, const lse_state<Scalar>& b, const AccB& acc_b) {
  if (b.mx == -std::numeric_limits<Scalar>::infinity()) return;  // b has no terms
  if (b.mx > a.mx) {  // a.mx may be -inf (no terms yet): f = 0
    const Scalar f = std::exp(a.mx - b.mx);
    a.s = a.s * f + b.s;
    a.cs = a.cs * f + b.cs;
    acc_a = acc_a * f + acc_b;
    a.mx = b.mx;
  } else {
    const Scalar f = std::exp(b.mx - a.mx);
    a.s += b.s * f;
    a.cs += b.cs * f;
    acc_a += acc_b * f;
  }
}

/// Sources centred on their mean and divided by h (t = |x~ - y~|^2 needs no further scaling),
/// transposed so that each coordinate is contiguous (the SIMD loops run over sources), and
/// padded with zero rows to whole blocks; padded lanes are masked out (block_mask).
template <class Scalar>
struct scaled_sources {
  using Mat = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Vec = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using Arr = Eigen::Array<Scalar, Eigen::Dynamic, 1>;

  Eigen::Index m = 0;  ///< real sources; rows.rows() is m rounded up to whole blocks
  Vec centre;
  Scalar inv_h = 1;
  Mat rows;   ///< padded m x d
  Arr log_w;  ///< padded log-weights; empty when the weights are uniform

  template <class Src, class LogW>
  scaled_sources(const Src& sources, const LogW& log_weights, bool uniform, Scalar h)
      : scaled_sources(sources, log_weights, uniform, h, Vec(sources.rowwise().mean())) {}
  /// The same, scaled about a given centre (the tree evaluator's passes share one).
  template <class Src, class LogW, class Centre>
  scaled_sources(const Src& sources, const LogW& log_weights, bool uniform, Scalar h,
                 const Centre& c)
      : m(sources.cols()), centre(c), inv_h(Scalar(1) / h) {
    constexpr Eigen::Index w = block_lanes<Scalar>;
    const Eigen::Index padded = (m + w - 1) / w * w;
    rows = Mat::Zero(padded, sources.rows());
    rows.topRows(m) = ((sources.colwise() - centre) * inv_h).transpose();
    if (!uniform) {
      log_w = Arr::Zero(padded);
      log_w.head(m) = log_weights.array();
    }
  }
  [[nodiscard]] Eigen::Index padded() const { return rows.rows(); }
  /// d x m view, one source per column (for the nearest-source fallback).
  [[nodiscard]] auto columns() const { return rows.topRows(m).transpose(); }
  [[nodiscard]] const Scalar* coord(Eigen::Index k) const { return rows.col(k).data(); }
};

/// For the block starting at source j: a logit bias (0 or -inf) and a factor (1 or 0) keeping
/// the lanes that hold a real source other than `self`. Only the last block and the one holding
/// the query itself need them, so the mask costs nothing in the main loop.
template <class Scalar>
inline void block_mask(Eigen::Index j, Eigen::Index m, Eigen::Index self, lanes<Scalar>& bias,
                       lanes<Scalar>& keep) {
  for (int r = 0; r < block_lanes<Scalar>; ++r) {
    const bool on = j + r < m && j + r != self;
    bias(r) = on ? Scalar(0) : -std::numeric_limits<Scalar>::infinity();
    keep(r) = on ? Scalar(1) : Scalar(0);
  }
}

/// Whether the block starting at source j needs block_mask.
inline bool block_masked(Eigen::Index j, Eigen::Index w, Eigen::Index m, Eigen::Index self) {
  return j + w > m || (self >= j && self < j + w);
}

/// The per-block core shared by both paths, for one query and one block of W sources with
/// squared scaled distances t: logits l = phi(t) (+ log w), the softmax numerators
/// e = exp(l - ref), and the weights of the sources in the field (e, or e phi'(t) for a score
/// whose kernel slope varies). The caller owns the per-lane accumulators and passes them in, so
/// that they live in registers across the loop.
template <Kernel K, class Scalar, bool Weighted, bool Slope>
struct block_core {
  using L = lanes<Scalar>;
  const K& kernel;
  const Scalar* log_w;  // padded log-weights (Weighted only)

  [[nodiscard]] L logits(Eigen::Index j, const L& t) const {
    if constexpr (Weighted)
      return kernel.log_profile_array(t) + lanes_map<Scalar>(log_w + j);
    else
      return kernel.log_profile_array(t);
  }

  /// Adds the block to the lane sums s (numerators) and cs (numerators times slope); returns the
  /// field weights. Masked: `bias` (0 / -inf) and `keep` (1 / 0) drop lanes.
  template <bool Masked>
  L add(Eigen::Index j, const L& t, Scalar ref, const L& bias, const L& keep, L& s, L& cs) const {
    L l = logits(j, t);
    if constexpr (Masked) l += bias;
    L e = exp_lanes<Scalar>(l - ref);
    if constexpr (Masked) e *= keep;  // Eigen's exp(-inf) is tiny, not 0: zero masked lanes exactly
    s += e;
    if constexpr (Slope) {
      e *= kernel.slope_array(t);
      cs += e;
    }
    return e;
  }
};

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

/// Per-lane sums of one query over one tile of sources (lane r: sources j with j % W == r).
template <class Scalar, int D>
struct lane_sums {
  lanes<Scalar> s, cs;
  Eigen::Array<Scalar, block_lanes<Scalar>, D> acc;  ///< sum_j e_j g_j y~_j, a column per coordinate
};

/// Small d: squared scaled distances from query xk to the W sources starting at j.
template <int D, class Scalar>
lanes<Scalar> block_distances(const scaled_sources<Scalar>& src,
                              const Eigen::Matrix<Scalar, D, 1>& xk, Eigen::Index j) {
  const Scalar* y = src.rows.data();
  const Eigen::Index ld = src.rows.outerStride();
  lanes<Scalar> t = (lanes_map<Scalar>(y + j) - xk(0)).square();
  for (Eigen::Index k = 1; k < xk.size(); ++k)
    t += (lanes_map<Scalar>(y + k * ld + j) - xk(k)).square();
  return t;
}

/// Small d: one fused pass of query xk over the blocks of sources [j0, j1) against `ref`, into
/// `out`. D is the dimension when known at compile time: the coordinate loops unroll and the
/// field sums stay in registers.
template <int D, bool Weighted, bool Slope, Kernel K, class Scalar>
void sweep_tile(const block_core<K, Scalar, Weighted, Slope>& core,
                const scaled_sources<Scalar>& src, const Eigen::Matrix<Scalar, D, 1>& xk,
                Eigen::Index j0, Eigen::Index j1, Eigen::Index self, Scalar ref,
                lane_sums<Scalar, D>& out) {
  using Index = Eigen::Index;
  using L = lanes<Scalar>;
  using Map = lanes_map<Scalar>;
  constexpr Index W = block_lanes<Scalar>;
  const Index d = xk.size(), m = src.m, ld = src.rows.outerStride();
  const Scalar* y = src.rows.data();
  // Locals, not `out`: the compiler cannot prove `out` does not alias the sources, and would
  // store every accumulator after every block. A dynamic d has no fixed-size local to use.
  L s = L::Zero(), cs = L::Zero();
  using Acc = Eigen::Array<Scalar, W, D>;
  std::conditional_t<D == Eigen::Dynamic, Acc&, Acc> acc = out.acc;
  acc.setZero();
  L bias = L::Zero(), keep = L::Ones();
  for (Index j = j0; j < j1; j += W) {
    const L t = block_distances(src, xk, j);
    L e;
    if (block_masked(j, W, m, self)) [[unlikely]] {
      block_mask<Scalar>(j, m, self, bias, keep);
      e = core.template add<true>(j, t, ref, bias, keep, s, cs);
    } else {
      e = core.template add<false>(j, t, ref, bias, keep, s, cs);
    }
    for (Index k = 0; k < d; ++k) acc.col(k) += e * Map(y + k * ld + j);
  }
  out.s = s;
  out.cs = cs;
  if constexpr (D != Eigen::Dynamic) out.acc = acc;
}

/// Largest logit of query xk over the blocks of sources [j0, j1), without exp: the probe.
template <int D, bool Weighted, bool Slope, Kernel K, class Scalar>
Scalar probe_tile(const block_core<K, Scalar, Weighted, Slope>& core,
                  const scaled_sources<Scalar>& src, const Eigen::Matrix<Scalar, D, 1>& xk,
                  Eigen::Index j0, Eigen::Index j1, Eigen::Index self) {
  using Index = Eigen::Index;
  using L = lanes<Scalar>;
  constexpr Index W = block_lanes<Scalar>;
  L mx = L::Constant(-std::numeric_limits<Scalar>::infinity()), bias, keep;
  for (Index j = j0; j < j1; j += W) {
    L l = core.logits(j, block_distances(src, xk, j));
    if (block_masked(j, W, src.m, self)) {
      block_mask<Scalar>(j, src.m, self, bias, keep);
      l += bias;
    }
    mx = mx.max(l);
  }
  return mx.maxCoeff();
}

/// Small d: the running sums of one query (scaled, centred: xk) over all sources, one fused pass
/// per tile of `tile_len` sources (a whole number of blocks); `acc` receives sum_j e_j g_j y~_j.
/// Returns the log-sum-exp state, relative to its reference logit (see exact_evaluator).
template <int D, bool Weighted, bool Slope, Kernel K, class Scalar>
lse_state<Scalar> sweep_query(const block_core<K, Scalar, Weighted, Slope>& core,
                              const scaled_sources<Scalar>& src,
                              const Eigen::Matrix<Scalar, D, 1>& xk, Eigen::Index self,
                              Eigen::Index tile_len, lane_sums<Scalar, D>& tile_sums,
                              Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& acc) {
  using Index = Eigen::Index;
  constexpr Index W = block_lanes<Scalar>;
  constexpr Scalar neg_inf = -std::numeric_limits<Scalar>::infinity();
  const Index mp = src.padded();
  acc.setZero();
  lse_state<Scalar> st;
  for (Index j0 = 0; j0 < mp; j0 += tile_len) {
    const Index j1 = std::min(j0 + tile_len, mp);
    if (st.mx == neg_inf) {
      // No reference yet: the best logit of a few blocks, or of the whole tile if those are all
      // outside a compact kernel's support.
      st.mx = probe_tile(core, src, xk, j0, std::min(j0 + probe_blocks * W, j1), self);
      if (st.mx == neg_inf) st.mx = probe_tile(core, src, xk, j0, j1, self);
      if (st.mx == neg_inf) continue;  // every term of the tile is exactly zero
    }
    sweep_tile(core, src, xk, j0, j1, self, st.mx, tile_sums);
    Scalar tile_s = tile_sums.s.sum();
    if (!(tile_s <= lazy_tile_limit<Scalar>)) [[unlikely]] {
      // Some logit is far above the reference: move it to the tile's largest and redo.
      acc *= lse_rescale(st, std::max(st.mx, probe_tile(core, src, xk, j0, j1, self)));
      sweep_tile(core, src, xk, j0, j1, self, st.mx, tile_sums);
      tile_s = tile_sums.s.sum();
    }
    st.s += tile_s;
    if constexpr (Slope) st.cs += tile_sums.cs.sum();
    acc += tile_sums.acc.colwise().sum().transpose().matrix();
  }
  return st;
}

/// Tiles are whole blocks; a tile is the unit of recomputation, a block the unit of SIMD work.
template <class Scalar>
Eigen::Index tile_length(Eigen::Index tile) {
  constexpr Eigen::Index W = block_lanes<Scalar>;
  return std::max<Eigen::Index>(W, tile / W * W);
}

/// Small d: one query at a time, one fused pass per tile of sources (see exact_evaluator).
template <int D, bool Weighted, bool Slope, Kernel K, class Scalar, int Dim>
void per_query_sums(const Eigen::Ref<const positions<Scalar, Dim>>& queries,
                    const scaled_sources<Scalar>& src, const K& kernel, Scalar h,
                    Scalar log_offset, Eigen::Index tile, bool parallel, const sum_options& opt,
                    kernel_sums<Scalar, Dim>& out) {
  using Index = Eigen::Index;
  using Vec = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  const Index n = queries.cols(), d = queries.rows();
  const Index tile_len = tile_length<Scalar>(tile);
  const block_core<K, Scalar, Weighted, Slope> core{kernel, Weighted ? src.log_w.data() : nullptr};
  [[maybe_unused]] const bool go_parallel = parallel;

#ifdef _OPENMP
#pragma omp parallel if (go_parallel)
#endif
  {
    lane_sums<Scalar, D> tile_sums;
    tile_sums.acc.resize(block_lanes<Scalar>, d);
    Eigen::Matrix<Scalar, D, 1> xk(d);
    Vec xs(d), acc(d);
#ifdef _OPENMP
    // nowait: the end of the parallel region is barrier enough. At every extra barrier a thread
    // spins until its partner gets a core, which on an oversubscribed machine can cost whole
    // scheduler ticks (measured, N = 1000, d = 2, two busy cores: 12 ms per call with the
    // barrier, 2 ms without; 1.4 ms single-threaded).
#pragma omp for schedule(dynamic, 16) nowait
#endif
    for (Index i = 0; i < n; ++i) {
      xs = (queries.col(i) - src.centre) * src.inv_h;
      xk = xs;
      const lse_state<Scalar> st =
          sweep_query(core, src, xk, opt.exclude_self ? i : -1, tile_len, tile_sums, acc);
      finish_query(kernel, h, log_offset, opt, st, xs, acc, src.columns(), i, out);
    }
  }
}

/// Large d: squared scaled distances of one query to the W sources at rows j0 + r .. of a tile,
/// from the stored -2 x~.y~ products: |x~|^2 + |y~|^2 - 2 x~.y~, clamped so that round-off never
/// makes a distance negative.
template <class Scalar>
lanes<Scalar> gemm_distances(const Scalar* dot_q, const Scalar* ynorm, Scalar xnorm,
                             Eigen::Index j0, Eigen::Index r) {
  return (lanes_map<Scalar>(dot_q + r) + lanes_map<Scalar>(ynorm + j0 + r) + xnorm).max(Scalar(0));
}

/// Large d: one pass over a query's column of a tile (sources j0 .. j0 + b) against `ref`: the
/// field weights overwrite the products in `col` (each lane is read before it is written), lane
/// sums into s and cs.
template <bool Weighted, bool Slope, Kernel K, class Scalar>
void sweep_column(const block_core<K, Scalar, Weighted, Slope>& core, Scalar* col,
                  const Scalar* ynorm, Scalar xnorm, Eigen::Index j0, Eigen::Index b,
                  Eigen::Index m, Eigen::Index self, Scalar ref, lanes<Scalar>& s_out,
                  lanes<Scalar>& cs_out) {
  using Index = Eigen::Index;
  using L = lanes<Scalar>;
  constexpr Index W = block_lanes<Scalar>;
  L s = L::Zero(), cs = L::Zero();  // locals: see sweep_tile
  L bias = L::Zero(), keep = L::Ones();
  for (Index r = 0; r < b; r += W) {
    const L t = gemm_distances(col, ynorm, xnorm, j0, r);
    if (block_masked(j0 + r, W, m, self)) [[unlikely]] {
      block_mask<Scalar>(j0 + r, m, self, bias, keep);
      Eigen::Map<L>(col + r) = core.template add<true>(j0 + r, t, ref, bias, keep, s, cs);
    } else {
      Eigen::Map<L>(col + r) = core.template add<false>(j0 + r, t, ref, bias, keep, s, cs);
    }
  }
  s_out = s;
  cs_out = cs;
}

/// Large d: largest logit of a query's column of a tile (products in `col`), without exp.
template <bool Weighted, bool Slope, Kernel K, class Scalar>
Scalar probe_column(const block_core<K, Scalar, Weighted, Slope>& core, const Scalar* col,
                    const Scalar* ynorm, Scalar xnorm, Eigen::Index j0, Eigen::Index b,
                    Eigen::Index m, Eigen::Index self) {
  using Index = Eigen::Index;
  using L = lanes<Scalar>;
  constexpr Index W = block_lanes<Scalar>;
  L mx = L::Constant(-std::numeric_limits<Scalar>::infinity()), bias, keep;
  for (Index r = 0; r < b; r += W) {
    L l = core.logits(j0 + r, gemm_distances(col, ynorm, xnorm, j0, r));
    if (block_masked(j0 + r, W, m, self)) {
      block_mask<Scalar>(j0 + r, m, self, bias, keep);
      l += bias;
    }
    mx = mx.max(l);
  }
  return mx.maxCoeff();
}

#ifdef GFD_USE_OPENBLAS
/// Whether the large-d pass may call OpenBLAS here: always outside a parallel region; inside one
/// only when OpenBLAS is sequential or built with OpenMP (then it runs on the calling thread). A
/// pthreads OpenBLAS called from several threads at once serialises them on its own lock, so
/// there the pass keeps Eigen's product.
inline bool openblas_usable() {
#ifdef _OPENMP
  static const bool per_thread = openblas_get_parallel() != 1;
  return per_thread || !omp_in_parallel();
#else
  return true;
#endif
}
#endif

/// The matrix products of the large-d pass, column-major: C = alpha op(A) B (+ C when
/// `accumulate`) with op(A) = A (m x k, leading dimension lda) or A^T (A stored k x m), B k x n.
/// Eigen's own product, single-threaded inside the pass's parallel region (Eigen does not nest
/// its threads there); OpenBLAS's when GFD_USE_OPENBLAS is defined and it can run on the calling
/// thread (openblas_usable).
template <class Scalar>
void tile_product(bool trans_a, Eigen::Index m, Eigen::Index n, Eigen::Index k, Scalar alpha,
                  const Scalar* a, Eigen::Index lda, const Scalar* b, Eigen::Index ldb,
                  bool accumulate, Scalar* c, Eigen::Index ldc, bool in_team) {
  using Mat = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using In = Eigen::Map<const Mat, 0, Eigen::OuterStride<>>;
  using Out = Eigen::Map<Mat, 0, Eigen::OuterStride<>>;
  if (!in_team) {
    // Outside our OpenMP team (a sum too small to wake one) a GEMM may start threads of its own,
    // whose number sets its blocking and so the rounding: fixed_product is serial and blocked
    // the same for any thread count (detail/fixed_product.hpp).
    Out C(c, m, n, Eigen::OuterStride<>(ldc));
    const In B(b, k, n, Eigen::OuterStride<>(ldb));
    if (trans_a)
      fixed_product(C, In(a, k, m, Eigen::OuterStride<>(lda)).transpose(), B, alpha, accumulate, false);
    else
      fixed_product(C, In(a, m, k, Eigen::OuterStride<>(lda)), B, alpha, accumulate, false);
    return;
  }
#ifdef GFD_USE_OPENBLAS
  if constexpr (std::is_same_v<Scalar, double> || std::is_same_v<Scalar, float>) {
    if (openblas_usable()) {
      const auto ta = trans_a ? CblasTrans : CblasNoTrans;
      const auto bi = [](Eigen::Index v) { return static_cast<blasint>(v); };
      if constexpr (std::is_same_v<Scalar, double>)
        cblas_dgemm(CblasColMajor, ta, CblasNoTrans, bi(m), bi(n), bi(k), alpha, a, bi(lda), b,
                    bi(ldb), accumulate ? 1.0 : 0.0, c, bi(ldc));
      else
        cblas_sgemm(CblasColMajor, ta, CblasNoTrans, bi(m), bi(n), bi(k), alpha, a, bi(lda), b,
                    bi(ldb), accumulate ? 1.0f : 0.0f, c, bi(ldc));
      return;
    }
  }
#endif
  Out C(c, m, n, Eigen::OuterStride<>(ldc));
  const In B(b, k, n, Eigen::OuterStride<>(ldb));
  if (trans_a) {
    const In A(a, k, m, Eigen::OuterStride<>(lda));
    if (accumulate)
      C.noalias() += alpha * A.transpose() * B;
    else
      C.noalias() = alpha * A.transpose() * B;
  } else {
    const In A(a, m, k, Eigen::OuterStride<>(lda));
    if (accumulate)
      C.noalias() += alpha * A * B;
    else
      C.noalias() = alpha * A * B;
  }
}

/// Tile sizes of the large-d pass: `queries` per block (the columns of both products) and
/// `sources` per tile (a whole number of SIMD blocks). Wider blocks amortise packing each
/// operand over more of the other; a tile's products and weights (sources x queries scalars)
/// stay a few MiB per thread.
struct gemm_tiles {
  Eigen::Index queries, sources;
};

template <class Scalar>
gemm_tiles gemm_tile_sizes(Eigen::Index n, Eigen::Index d) {
  // Wider tiles from d = 256, where the products dominate: 256 x 2048 was the fastest of
  // {128, 256, 512} x {512, 1024, 2048} at d = 512 and as fast as any at d = 2048 (OpenBLAS, one
  // thread, CPU time, 2-core AVX-512 build machine; 5-10 % over 128 x 512 in double). At small
  // d a narrower block keeps every thread busy. The sizes depend on neither the number of
  // threads nor the product backend, so neither do the results.
  const Eigen::Index wide = d >= 256 ? 256 : 128;
  const Eigen::Index q = std::clamp<Eigen::Index>(n / 8, 16, wide);
  const Eigen::Index b = d >= 256 ? 2048 : 512;
  return {q, b};
}

/// Large d: query blocks x source tiles. Per tile: the products -2 Y~ X~ (one matrix product),
/// then per query column the logits, the running log-sum-exp and the field weights, written over
/// the products, then the weighted source sum Y~^T A (a second product): 4 d flops per pair in
/// the two products, the rest O(1) per pair. A tile of sources x queries scalars is all the
/// memory it takes beyond the inputs and outputs.
template <bool Weighted, bool Slope, Kernel K, class Scalar, int Dim>
void blocked_gemm_sums(const Eigen::Ref<const positions<Scalar, Dim>>& queries,
                       const scaled_sources<Scalar>& src, const K& kernel, Scalar h,
                       Scalar log_offset, bool parallel, const sum_options& opt,
                       kernel_sums<Scalar, Dim>& out) {
  using Index = Eigen::Index;
  using Vec = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using Mat = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Arr = Eigen::Array<Scalar, Eigen::Dynamic, 1>;
  using L = lanes<Scalar>;
  constexpr Index W = block_lanes<Scalar>;
  constexpr Scalar neg_inf = -std::numeric_limits<Scalar>::infinity();
  const Index n = queries.cols(), d = queries.rows(), m = src.m, mp = src.padded();
  const gemm_tiles tiles = gemm_tile_sizes<Scalar>(n, d);
  const Index qblock = tiles.queries, sblock = std::min(tiles.sources, mp);
  const Index nblocks = (n + qblock - 1) / qblock;
  const Arr ynorm = src.rows.rowwise().squaredNorm().array();
  const Scalar* yn = ynorm.data();
  const Scalar* rows = src.rows.data();
  const block_core<K, Scalar, Weighted, Slope> core{kernel, Weighted ? src.log_w.data() : nullptr};
  [[maybe_unused]] const bool go_parallel = parallel;

#ifdef _OPENMP
#pragma omp parallel if (go_parallel)
#endif
  {
    Mat xsb(d, qblock), acc(d, qblock), tile(sblock, qblock);
    Arr xnorm(qblock);
    Vec xs(d);
    L s, cs;
    std::vector<lse_state<Scalar>> st(static_cast<std::size_t>(qblock));
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1) nowait  // as in per_query_sums
#endif
    for (Index blk = 0; blk < nblocks; ++blk) {
      const Index i0 = blk * qblock;
      const Index qb = std::min(qblock, n - i0);
      xsb.leftCols(qb) = (queries.middleCols(i0, qb).colwise() - src.centre) * src.inv_h;
      xnorm.head(qb) = xsb.leftCols(qb).colwise().squaredNorm().transpose().array();
      for (Index q = 0; q < qb; ++q) st[static_cast<std::size_t>(q)] = {};
      bool first_product = true;  // acc is set by the first tile's product, not zeroed first
      for (Index j0 = 0; j0 < mp; j0 += sblock) {
        const Index b = std::min(sblock, mp - j0);  // a multiple of W: sources are padded
        // Column-major source rows as the left operand: the cheapest layout to pack.
        tile_product<Scalar>(false, b, qb, d, Scalar(-2), rows + j0, mp, xsb.data(), d, false,
                             tile.data(), sblock, go_parallel);
        for (Index q = 0; q < qb; ++q) {
          auto& sq = st[static_cast<std::size_t>(q)];
          const Index self = opt.exclude_self ? i0 + q : -1;
          Scalar* col = tile.col(q).data();
          if (sq.mx == neg_inf) {  // no reference yet: probe as in per_query_sums
            sq.mx = probe_column(core, col, yn, xnorm(q), j0, std::min<Index>(probe_blocks * W, b),
                                 m, self);
            if (sq.mx == neg_inf) sq.mx = probe_column(core, col, yn, xnorm(q), j0, b, m, self);
          }
          if (sq.mx == neg_inf) {
            tile.col(q).head(b).setZero();  // every term so far is exactly zero (compact kernel)
            continue;
          }
          sweep_column(core, col, yn, xnorm(q), j0, b, m, self, sq.mx, s, cs);
          Scalar tile_s = s.sum();
          if (!(tile_s <= lazy_tile_limit<Scalar>)) [[unlikely]] {
            // Some logit is far above the reference: move it to the tile's largest and redo. The
            // sweep overwrote the products, so this column's are made again (a matrix-vector
            // product; rare: far queries, sorted sources).
            Eigen::Map<Vec>(col, b).noalias() =
                Scalar(-2) * src.rows.middleRows(j0, b) * xsb.col(q);
            const Scalar tile_max = probe_column(core, col, yn, xnorm(q), j0, b, m, self);
            const Scalar scale = lse_rescale(sq, std::max(sq.mx, tile_max));
            if (!first_product) acc.col(q) *= scale;
            sweep_column(core, col, yn, xnorm(q), j0, b, m, self, sq.mx, s, cs);
            tile_s = s.sum();
          }
          sq.s += tile_s;
          if constexpr (Slope) sq.cs += cs.sum();
        }
        // acc += Y~_tile^T W: the tile's rows, transposed, times the weights.
        tile_product<Scalar>(true, d, qb, b, Scalar(1), rows + j0, mp, tile.data(), sblock,
                             !first_product, acc.data(), d, go_parallel);
        first_product = false;
      }
      for (Index q = 0; q < qb; ++q) {
        xs = xsb.col(q);
        finish_query(kernel, h, log_offset, opt, st[static_cast<std::size_t>(q)], xs,
                     acc.col(q), src.columns(), i0 + q, out);
      }
    }
  }
}

/// Calls f.template operator()<Weighted, Slope>() with the run-time choices made compile-time:
/// the Gaussian (constant slope) never instantiates a per-pair slope.
template <Kernel K, class F>
void dispatch_terms(bool weighted, bool per_pair_slope, F&& f) {
  auto with_slope = [&]<bool Weighted>() {
    if constexpr (K::constant_slope) {
      f.template operator()<Weighted, false>();
    } else {
      if (per_pair_slope)
        f.template operator()<Weighted, true>();
      else
        f.template operator()<Weighted, false>();
    }
  };
  if (weighted)
    with_slope.template operator()<true>();
  else
    with_slope.template operator()<false>();
}

/// The checks of preparing sources (shape of the log-weights), naming `where`.
template <class S, class W>
void check_prepare(const char* where, const S& sources, const W& source_log_weights) {
  if (source_log_weights.size() != sources.cols())
    fail(where, source_log_weights.size(), " log-weights for ", sources.cols(), " sources");
}

/// The checks every prepared evaluator's `sums` starts with (shapes, self-masking), naming
/// `where`; sizes `out` for the queries. Returns false when there is nothing to sum (no
/// queries); throws when there are queries but no sources.
template <class Scalar, int Dim, class Q>
bool begin_sums(const char* where, const Q& queries, Eigen::Index m, Eigen::Index source_dim,
                const sum_options& opt, kernel_sums<Scalar, Dim>& out) {
  const Eigen::Index n = queries.cols(), d = queries.rows();
  if (source_dim != d) fail(where, "dimension mismatch: queries ", d, ", sources ", source_dim);
  if (opt.exclude_self && n != m)
    fail(where, "exclude_self needs queries == sources, got ", n, " queries and ", m, " sources");
  out.log_sum.resize(n);
  out.field.resize(d, n);
  if (n == 0) return false;
  if (m == 0) fail(where, "no sources");
  return true;
}

/// Whether every log-weight is the same (uniform weights fold into one offset).
template <class W>
bool uniform_weights(const W& log_w) {
  return log_w.size() == 0 || (log_w.array() == log_w(0)).all();
}

}  // namespace detail

}  // namespace gfd
