// SPDX-License-Identifier: MIT
/// @file loop_fast_math.cpp
/// @brief bench_kde's hand-written loop, compiled with -ffast-math (see benchmarks/CMakeLists.txt):
///        the baseline issue #5 states its target against. gfd itself never needs -ffast-math.

#define GFD_LOOP_NAMESPACE fast_math
#include "loop_baseline.hpp"

template void fast_math::score_loop<float>(const Eigen::MatrixXf&, const Eigen::MatrixXf&, float,
                                           Eigen::MatrixXf&);
template void fast_math::score_loop<double>(const Eigen::MatrixXd&, const Eigen::MatrixXd&, double,
                                            Eigen::MatrixXd&);
