// SPDX-License-Identifier: MIT
/// @file gfd.hpp
/// @brief Umbrella header: everything gfd offers except the nanoflann tree evaluator, the
///        registries by name (registry.hpp) and the generator module (generator.hpp, target
///        gfd::generator).
#pragma once

#include "bandwidth.hpp"    // IWYU pragma: export
#include "divergences.hpp"  // IWYU pragma: export
#include "error.hpp"        // IWYU pragma: export
#include "evaluators/exact.hpp"  // IWYU pragma: export
#include "flow.hpp"         // IWYU pragma: export
#include "io.hpp"           // IWYU pragma: export
#include "kde.hpp"          // IWYU pragma: export
#include "kernels.hpp"      // IWYU pragma: export
#include "metrics.hpp"      // IWYU pragma: export
#include "manifolds.hpp"    // IWYU pragma: export
#include "median.hpp"       // IWYU pragma: export
#include "metrics_sphere.hpp"  // IWYU pragma: export
#include "particles.hpp"    // IWYU pragma: export
#include "random.hpp"       // IWYU pragma: export
#include "smoothed.hpp"     // IWYU pragma: export
#include "sphere.hpp"       // IWYU pragma: export
#include "toy.hpp"          // IWYU pragma: export
#include "toy_sphere.hpp"   // IWYU pragma: export
#include "transport.hpp"    // IWYU pragma: export
