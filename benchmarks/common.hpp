// SPDX-License-Identifier: MIT
/// @file common.hpp
/// @brief What every gfd benchmark binary records about its build in Google Benchmark's context.
#pragma once

#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace gfd_bench {

/// Adds the OpenMP thread count and Eigen's SIMD instruction sets to the run's context (call
/// after benchmark::Initialize), so that a result file says what it was measured with.
inline void add_build_context() {
#ifdef _OPENMP
  benchmark::AddCustomContext("omp_threads", std::to_string(omp_get_max_threads()));
#else
  benchmark::AddCustomContext("omp_threads", "1 (built without OpenMP)");
#endif
  benchmark::AddCustomContext("eigen_simd", Eigen::SimdInstructionSetsInUse());
}

}  // namespace gfd_bench
