// SPDX-License-Identifier: MIT
/// @file instances.hpp
/// @brief The list of kernel sums that can be compiled once: each evaluator's
///        `prepared<K, Scalar>::sums<Eigen::Dynamic>` for the four kernels of R^d in float and
///        double, the sums behind every flow, KDE and metric the registries build by name.
///
/// A header-only library compiles its templates in every translation unit that uses them, and
/// the registry's kernel x evaluator x precision choices are 24 large functions, 8 per evaluator
/// header. With `GFD_EXTERN_TEMPLATES` defined, each evaluator header declares its 8
/// specializations `extern template`, so including code compiles none of them and links them
/// from one place that instantiates them (`template` in place of `extern template`). gfd's
/// own CMake build does that for its tool, tests, examples and benchmarks (target
/// `gfd_instances`, option `GFD_INSTANCES`). A consumer can do the same: define
/// `GFD_EXTERN_TEMPLATES` for every file of the target (a compile definition), and instantiate
/// the sums in one file per evaluator and scalar type that the target uses, compiled with the
/// same flags (-march, OpenMP, OpenBLAS) as the rest:
///
///     // instances.cpp
///     #include <gfd/evaluators/exact.hpp>
///     namespace gfd { GFD_SUMS_INSTANCES(template, exact_evaluator, double) }
///
/// Without `GFD_EXTERN_TEMPLATES` nothing changes: the macros are only defined. Other
/// dimensions (`Dim` fixed at compile time), kernels and scalar types instantiate as usual.
#pragma once

#include <Eigen/Core>

#include <type_traits>

/// One specialization: `PREFIX void E::prepared<K, S>::sums<Eigen::Dynamic>(...) const;`, with
/// PREFIX `extern template` (declaration) or `template` (definition). Inside namespace gfd.
#define GFD_SUMS_INSTANCE(PREFIX, E, K, S)                                                    \
  PREFIX void E::prepared<K, S>::sums<Eigen::Dynamic>(                                        \
      const std::type_identity_t<Eigen::Ref<const positions<S, Eigen::Dynamic>>>&,            \
      const sum_options&, kernel_sums<S, Eigen::Dynamic>&) const;

/// The four kernels of R^d for evaluator E and scalar S.
#define GFD_SUMS_INSTANCES(PREFIX, E, S)               \
  GFD_SUMS_INSTANCE(PREFIX, E, gaussian, S)            \
  GFD_SUMS_INSTANCE(PREFIX, E, laplacian, S)           \
  GFD_SUMS_INSTANCE(PREFIX, E, epanechnikov, S)        \
  GFD_SUMS_INSTANCE(PREFIX, E, inverse_multiquadric, S)
