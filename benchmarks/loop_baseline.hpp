// SPDX-License-Identifier: MIT
/// @file loop_baseline.hpp
/// @brief The hand-written Gaussian KDE score loop that bench_kde compares gfd against.
///
/// Included twice, into two translation units with different flags, each time inside its own
/// namespace (GFD_LOOP_NAMESPACE): bench_kde.cpp compiles it with gfd's own flags (namespace
/// `plain`), loop_fast_math.cpp with `-ffast-math` added (namespace `fast_math`), which is how
/// such a loop is usually built. No include guard on purpose; one inclusion per translation unit.

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <vector>

#ifndef GFD_LOOP_NAMESPACE
#error "define GFD_LOOP_NAMESPACE before including loop_baseline.hpp"
#endif

// glibc's libmvec has vectorised exp/expf (SSE to AVX-512), but <math.h> only announces them to
// the vectoriser under -ffast-math. Announcing them here lets the hand-written loop vectorise its
// exp with exactly gfd's flags; without this its exp stays scalar and the baseline is far slower
// than any reasonable hand-written loop (libm's linker script pulls in libmvec as needed).
#if defined(_OPENMP) && defined(__GLIBC__) && defined(__x86_64__) && !defined(__FAST_MATH__)
#define GFD_BENCH_LIBMVEC 1
#pragma omp declare simd notinbranch
extern "C" double exp(double) noexcept;
#pragma omp declare simd notinbranch
extern "C" float expf(float) noexcept;
#else
#define GFD_BENCH_LIBMVEC 0
#endif

namespace GFD_LOOP_NAMESPACE {

using Index = Eigen::Index;
template <class S>
using mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

// (a) The hand-written loop. Sources are transposed once (m x d) so that each coordinate is
// contiguous across sources, the layout `omp simd` needs to vectorise over j.

template <class S>
void score_loop(const mat<S>& x, const mat<S>& y, S h, mat<S>& score) {
  const Index d = x.rows(), n = x.cols(), m = y.cols();
  const mat<S> yt = y.transpose();
  const S c = S(1) / (S(2) * h * h);
  const S inv_h2 = S(1) / (h * h);
  score.resize(d, n);

  if (d == 2) {
    // The 2D loop everyone writes: one fused pass per query, all sums in registers.
    const S* y0 = yt.col(0).data();
    const S* y1 = yt.col(1).data();
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (Index i = 0; i < n; ++i) {
      const S x0 = x(0, i), x1 = x(1, i);
      S s = 0, a0 = 0, a1 = 0;
#ifdef _OPENMP
#pragma omp simd reduction(+ : s, a0, a1)
#endif
      for (Index j = 0; j < m; ++j) {
        const S dx = y0[j] - x0, dy = y1[j] - x1;
        const S e = std::exp(-c * (dx * dx + dy * dy));
        s += e;
        a0 += e * y0[j];
        a1 += e * y1[j];
      }
      score(0, i) = (a0 / s - x0) * inv_h2;
      score(1, i) = (a1 / s - x1) * inv_h2;
    }
    return;
  }

  // Any d: the same sums over chunks of sources that stay in L1, one simd loop per coordinate.
  constexpr Index chunk = 256;
#ifdef _OPENMP
#pragma omp parallel
#endif
  {
    std::vector<S> r2(chunk), e(chunk), acc(static_cast<std::size_t>(d));
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (Index i = 0; i < n; ++i) {
      const S* xi = x.col(i).data();
      std::fill(acc.begin(), acc.end(), S(0));
      S s = 0;
      for (Index j0 = 0; j0 < m; j0 += chunk) {
        const Index b = std::min(chunk, m - j0);
        std::fill(r2.begin(), r2.end(), S(0));
        for (Index k = 0; k < d; ++k) {
          const S* yk = yt.col(k).data() + j0;
          const S xk = xi[k];
#ifdef _OPENMP
#pragma omp simd
#endif
          for (Index j = 0; j < b; ++j) {
            const S t = yk[j] - xk;
            r2[j] += t * t;
          }
        }
#ifdef _OPENMP
#pragma omp simd reduction(+ : s)
#endif
        for (Index j = 0; j < b; ++j) {
          e[j] = std::exp(-c * r2[j]);
          s += e[j];
        }
        for (Index k = 0; k < d; ++k) {
          const S* yk = yt.col(k).data() + j0;
          S a = 0;
#ifdef _OPENMP
#pragma omp simd reduction(+ : a)
#endif
          for (Index j = 0; j < b; ++j) a += e[j] * yk[j];
          acc[static_cast<std::size_t>(k)] += a;
        }
      }
      for (Index k = 0; k < d; ++k) score(k, i) = (acc[static_cast<std::size_t>(k)] / s - xi[k]) * inv_h2;
    }
  }
}

}  // namespace GFD_LOOP_NAMESPACE
