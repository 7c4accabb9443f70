// SPDX-License-Identifier: MIT
/// @file dispatch.hpp
/// @brief The one choice every typed entry point of the module makes: the scalar type (from an
///        array's dtype, precision_of) and the manifold (by name).
#pragma once

#include "common.hpp"

#include <gfd/manifolds.hpp>

#include <string>

namespace gfd_py {

/// @throws ValueError ("where: unknown manifold 'name' (valid: euclidean, sphere)").
inline void check_manifold(const std::string& manifold, const char* where) {
  if (manifold != "euclidean" && manifold != "sphere")
    gfd::detail::fail(where, "unknown manifold '", manifold, "' (valid: euclidean, sphere)");
}

/// Returns `f.template operator()<S, M>()` with S = float for precision 'f' (else double) and
/// M = gfd::unit_sphere for "sphere" (else gfd::euclidean); f returns the same type for all four.
/// @throws ValueError on an unknown manifold name.
template <class F>
decltype(auto) with_scalar_and_manifold(char precision, const std::string& manifold,
                                        const char* where, F&& f) {
  check_manifold(manifold, where);
  const bool sphere = manifold == "sphere";
  if (precision == 'f')
    return sphere ? f.template operator()<float, gfd::unit_sphere>()
                  : f.template operator()<float, gfd::euclidean>();
  return sphere ? f.template operator()<double, gfd::unit_sphere>()
                : f.template operator()<double, gfd::euclidean>();
}

}  // namespace gfd_py
