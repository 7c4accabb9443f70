// SPDX-License-Identifier: MIT
/// @file sphere.hpp
/// @brief Umbrella header for the unit sphere S^{d-1} as a home for flows: the manifold and
///        gfd::sphere::normalise (manifolds.hpp), kernels and normalisers (sphere_kernels.hpp),
///        samplers (toy_sphere.hpp), metrics (metrics_sphere.hpp) and the KDE on the sphere,
///        gfd::kde<K, Scalar, Dim, E, gfd::unit_sphere> (kde.hpp).
///
/// Points are d x N column-major matrices with unit columns, d >= 2, as everywhere in gfd. Flows
/// on the sphere are gfd::flow<Kernel, Scalar, Dim, Evaluator, gfd::unit_sphere>; with
/// gfd::gaussian they use the von Mises-Fisher kernel exp(kappa <x, y>), kappa = 1 / h^2 (see
/// sphere_kernels.hpp).
#pragma once

#include "evaluators/exact.hpp"  // IWYU pragma: export
#include "kde.hpp"             // IWYU pragma: export
#include "kernels.hpp"         // IWYU pragma: export
#include "manifolds.hpp"       // IWYU pragma: export
#include "metrics.hpp"         // IWYU pragma: export
#include "metrics_sphere.hpp"  // IWYU pragma: export
#include "particles.hpp"       // IWYU pragma: export
#include "sphere_kernels.hpp"  // IWYU pragma: export
#include "toy.hpp"             // IWYU pragma: export
#include "toy_sphere.hpp"      // IWYU pragma: export
