// SPDX-License-Identifier: MIT
/// @file memory.hpp
/// @brief An opt-in process setting for flows over millions of points: large allocations are
///        reused instead of being mapped afresh (and page-faulted in again) at every step.
#pragma once

#include <cstdlib>  // defines __GLIBC__ on glibc
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace gfd {

/// Keeps freed large blocks in the process's heap for reuse (glibc: no mmap for large blocks,
/// no trimming of the heap), so a flow step over N points, which allocates and frees buffers of
/// O(N) bytes, does not page-fault them in again at every step.
///
/// Why: glibc serves every allocation above its mmap threshold (at most 32 MiB) with a fresh
/// mapping and unmaps it on free; at N = 1e7 in 2D a grid flow step frees and re-maps about
/// 2 GB, and each first touch of a page is a page fault (a zeroed page). Measured by
/// benchmarks/bench_scale on the 2-core build machine (a VM, where faults are dear), 1e7 points
/// near the targets: 8.3-9.2 s per step without, 3.1-3.2 s with (README "Grid evaluator").
///
/// The price: the process keeps its peak heap size until it exits (freed memory is reused, not
/// returned to the system). Call it once, early in `main`, in programs whose peak is their
/// working size (the `gfd` tool and bench_scale do). Not called by the library itself. The
/// same setting without code: `GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=
/// 4294967296`. Returns false (and does nothing) where the C library offers no such setting.
inline bool reuse_large_allocations() noexcept {
#if defined(__GLIBC__)
  const bool no_mmap = mallopt(M_MMAP_MAX, 0) == 1;
  const bool no_trim = mallopt(M_TRIM_THRESHOLD, -1) == 1;  // -1: never trim (the largest size_t)
  return no_mmap && no_trim;
#else
  return false;
#endif
}

}  // namespace gfd
