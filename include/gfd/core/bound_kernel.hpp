// SPDX-License-Identifier: MIT
/// @file core/bound_kernel.hpp
/// @brief A kernel together with the bandwidth it is used with: what an evaluator prepares.
#pragma once

#include <concepts>
#include <string_view>

#include "../error.hpp"
#include "../kernels.hpp"

namespace gfd {

/// A kernel whose log-profile phi depends on the bandwidth h it is used with (the Kernel concept
/// otherwise assumes k_h(u) = exp(phi(|u|^2 / h^2)) with phi independent of h). It provides
///
/// | expression            | semantics                                                       |
/// |-----------------------|-----------------------------------------------------------------|
/// | `k.with_bandwidth(h)` | a copy of k whose profile is correct for kernel sums with h      |
///
/// Such a kernel is only valid with the bandwidth it is bound to; gfd::bound_kernel does the
/// binding, so no caller has to remember it.
template <class K>
concept BandwidthBoundKernel = Kernel<K> && requires(const K k, double h) {
  { k.with_bandwidth(h) } -> std::same_as<K>;
};

/// The kernel to use for kernel sums with bandwidth h: `kernel.with_bandwidth(h)` for a
/// BandwidthBoundKernel (by value), else `kernel` itself (by reference: nothing is copied).
/// Prefer gfd::bound_kernel, which carries h with the kernel.
template <Kernel K>
[[nodiscard]] decltype(auto) bind_bandwidth(const K& kernel, double h) {
  if constexpr (BandwidthBoundKernel<K>)
    return kernel.with_bandwidth(h);
  else
    return (kernel);
}

/// A kernel bound to its bandwidth h: the pair every kernel sum needs. Construction checks h and
/// re-binds a BandwidthBoundKernel (gfd::geodesic_gaussian) to it, so a bound kernel is always
/// consistent. Kernels are small values (empty, or a parameter or two): copies are free.
///
/// Invariant: `h` is finite and > 0; `kernel` is valid for sums with `h`.
template <Kernel K, class Scalar = double>
struct bound_kernel {
  using kernel_type = K;
  using scalar_type = Scalar;

  K kernel{};
  Scalar h = 1;

  /// @throws gfd::invalid_argument naming `where` unless h is finite and > 0.
  bound_kernel(const K& k, Scalar bandwidth, std::string_view where = "gfd::bound_kernel")
      : kernel(checked(k, bandwidth, where)), h(bandwidth) {}

  /// The same kernel bound to another bandwidth.
  [[nodiscard]] bound_kernel rebound(Scalar bandwidth,
                                     std::string_view where = "gfd::bound_kernel::rebound") const {
    return bound_kernel(kernel, bandwidth, where);
  }

private:
  static K checked(const K& k, Scalar bandwidth, std::string_view where) {
    detail::require_positive(where, "bandwidth", bandwidth);
    return bind_bandwidth(k, static_cast<double>(bandwidth));
  }
};

}  // namespace gfd
