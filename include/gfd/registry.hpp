// SPDX-License-Identifier: MIT
/// @file registry.hpp
/// @brief Registries by name of gfd's pluggable pieces: kernels, divergences, steppers and
///        evaluators (the toys have theirs in toy.hpp: gfd::toy::names()), for the command-line
///        tool and the Python module.
///
/// Each registry offers the same three things:
///
/// | expression                              | result                                             |
/// |-----------------------------------------|----------------------------------------------------|
/// | `xxx_names()`                           | the valid names, in a fixed order                  |
/// | `xxx_description(name)`                 | one sentence saying what the name stands for       |
/// | `make_xxx(name, params)`                | the object: a std::variant over the C++ types for  |
/// |                                         | kernels, divergences and evaluators, gfd::stepper  |
/// | `with_xxx(name, params, f)`             | `std::visit(f, make_xxx(name, params))`            |
///
/// Kernels, divergences and evaluators are different C++ types, so they come as a variant and
/// the caller visits it once, outside the hot loop: inside `f` the type is static and no call
/// is virtual (DESIGN 2). The parameters are plain structs with the library's defaults
/// (kernel_parameters, divergence_parameters, evaluator_parameters); a field that a name does
/// not use is ignored.
///
///     gfd::registry::with_kernel("imq", {.imq_beta = 2.0}, [&](auto kernel) {
///       gfd::flow<decltype(kernel)> f(targets, options, kernel);  // a static kernel type
///       ...
///     });
///
/// Errors: an unknown name throws gfd::invalid_argument naming the function, the name and every
/// valid name; a bad parameter throws the constructor's own gfd::invalid_argument. Thread-safety:
/// every function is reentrant. Includes the tree evaluator (nanoflann), hence not part of the
/// umbrella gfd.hpp.
#pragma once

#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "divergences.hpp"
#include "error.hpp"
#include "evaluators/exact.hpp"
#include "evaluators/grid.hpp"
#include "evaluators/tree.hpp"
#include "flow.hpp"
#include "kernels.hpp"
#include "smoothed.hpp"
#include "sphere_kernels.hpp"
#include "transport.hpp"

namespace gfd::registry {

/// One name of a registry and what it stands for.
struct entry {
  std::string_view name;         ///< the name, as the CLI and Python accept it
  std::string_view description;  ///< one sentence
};

namespace detail {

inline std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

inline std::vector<std::string> names_of(const std::vector<entry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.emplace_back(e.name);
  return out;
}

/// Throws "where: unknown <what> 'name' (valid: a, b, c)".
[[noreturn]] inline void unknown(std::string_view where, std::string_view what, std::string_view name,
                                 const std::vector<std::string>& valid) {
  gfd::detail::fail(where, "unknown ", what, " '", name, "' (valid: ", join(valid), ")");
}

inline std::string_view describe(const std::vector<entry>& entries, std::string_view name,
                                 std::string_view where, std::string_view what) {
  for (const auto& e : entries)
    if (e.name == name) return e.description;
  unknown(where, what, name, names_of(entries));
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Kernels
// ---------------------------------------------------------------------------------------------

/// Parameters of the kernels; each kernel reads the ones it has.
struct kernel_parameters {
  double imq_beta = 1.5;  ///< exponent beta of "imq", (1 + |u|^2/h^2)^-beta; > 0
};

/// A set of kernel types to choose from by name (each type's static `name`). `variant` is the
/// std::variant over them that make_kernel returns.
template <Kernel... Ks>
struct kernel_set {
  using variant = std::variant<Ks...>;
};

/// Every kernel of gfd: the four of R^d and the geodesic Gaussian of the sphere.
using all_kernels =
    kernel_set<gaussian, laplacian, epanechnikov, inverse_multiquadric, geodesic_gaussian>;
/// The kernels of the Euclidean distance (on the sphere they act on the chordal distance).
using euclidean_kernels = kernel_set<gaussian, laplacian, epanechnikov, inverse_multiquadric>;

/// How a kernel type is built from kernel_parameters, and what it is. Specialise it to register a
/// kernel of your own in a kernel_set.
template <class K>
struct kernel_traits;

template <>
struct kernel_traits<gaussian> {
  static constexpr std::string_view description =
      "Gaussian exp(-|u|^2 / 2h^2); on the sphere, of the chord: the von Mises-Fisher kernel";
  static gaussian make(const kernel_parameters&) { return {}; }
};
template <>
struct kernel_traits<laplacian> {
  static constexpr std::string_view description =
      "Laplacian exp(-|u| / h), the kernel of Deng et al.'s drifting field";
  static laplacian make(const kernel_parameters&) { return {}; }
};
template <>
struct kernel_traits<epanechnikov> {
  static constexpr std::string_view description =
      "Epanechnikov max(0, 1 - |u|^2 / h^2): compact support, zero density outside it";
  static epanechnikov make(const kernel_parameters&) { return {}; }
};
template <>
struct kernel_traits<inverse_multiquadric> {
  static constexpr std::string_view description =
      "inverse multiquadric (1 + |u|^2 / h^2)^-beta, heavy-tailed; parameter imq_beta";
  static inverse_multiquadric make(const kernel_parameters& p) { return inverse_multiquadric(p.imq_beta); }
};
template <>
struct kernel_traits<geodesic_gaussian> {
  static constexpr std::string_view description =
      "Gaussian of the geodesic angle on the unit sphere, exp(-theta^2 / 2h^2); sphere only";
  static geodesic_gaussian make(const kernel_parameters&) { return {}; }
};

namespace detail {
template <class... Ks>
std::vector<entry> kernel_entries(kernel_set<Ks...>) {
  return {entry{Ks::name, kernel_traits<Ks>::description}...};
}
template <class... Ks>
typename kernel_set<Ks...>::variant make_kernel(kernel_set<Ks...> set, std::string_view name,
                                                const kernel_parameters& p) {
  std::optional<std::variant<Ks...>> out;
  // The first type whose name matches; the fold stops there.
  (void)((name == Ks::name ? (out.emplace(std::in_place_type<Ks>, kernel_traits<Ks>::make(p)), true)
                           : false) ||
         ...);
  if (!out) unknown("gfd::registry::make_kernel", "kernel", name, names_of(kernel_entries(set)));
  return std::move(*out);
}
}  // namespace detail

/// The kernel names of `Set` (default: every kernel), in the order of the set:
/// gaussian, laplacian, epanechnikov, imq, geodesic-gaussian. O(size of the set).
template <class Set = all_kernels>
[[nodiscard]] std::vector<std::string> kernel_names() {
  return detail::names_of(detail::kernel_entries(Set{}));
}

/// What the kernel `name` of `Set` is. @throws gfd::invalid_argument on an unknown name, listing
/// the valid ones.
template <class Set = all_kernels>
[[nodiscard]] std::string_view kernel_description(std::string_view name) {
  return detail::describe(detail::kernel_entries(Set{}), name, "gfd::registry::kernel_description",
                          "kernel");
}

/// The kernel `name` of `Set` built from `params` (imq: beta = params.imq_beta), as a
/// std::variant over the set's types. @throws gfd::invalid_argument on an unknown name (listing
/// the valid ones) or a bad parameter (imq_beta not finite and > 0).
template <class Set = all_kernels>
[[nodiscard]] typename Set::variant make_kernel(std::string_view name,
                                                const kernel_parameters& params = {}) {
  return detail::make_kernel(Set{}, name, params);
}

/// Calls `f(kernel)` with the kernel `name` of `Set` as its own C++ type and returns what `f`
/// returns (the same type for every kernel of the set). @throws as make_kernel, and whatever `f`
/// throws.
template <class Set = all_kernels, class F>
decltype(auto) with_kernel(std::string_view name, const kernel_parameters& params, F&& f) {
  return std::visit(std::forward<F>(f), make_kernel<Set>(name, params));
}

// ---------------------------------------------------------------------------------------------
// Divergences
// ---------------------------------------------------------------------------------------------

/// Parameters of the divergences; each divergence reads the ones it has.
struct divergence_parameters {
  double alpha = 0.5;           ///< "alpha": the alpha of the alpha-divergence (finite)
  double mix_reverse_kl = 1.0;  ///< "mixed": weight of KL(p||q) (>= 0)
  double mix_chi2 = 1.0;        ///< "mixed": weight of chi2(q||p) (>= 0; not both 0)
  /// "drifting-deng": temperatures, times the mean pairwise distance; empty = Deng et al.'s
  /// 0.02, 0.05, 0.2 (deng_drifting_options()).
  std::vector<double> temperatures{};
  /// "drifting-deng": the floor on every affinity (drifting_options::affinity_floor; [0, 1));
  /// Deng et al.'s public code: 1e-3.
  double affinity_floor = 1e-3;
  /// "sinkhorn": the entropic regularisation eps (sinkhorn_options::epsilon; 0 = automatic,
  /// (diameter of the targets / 100)^2).
  double epsilon = 0;
  /// "sinkhorn-drift": Sinkhorn iterations per coupling (drifting_options::sinkhorn_iterations).
  int sinkhorn_iterations = 100;
  /// "sliced": random directions per velocity evaluation (sliced_options::projections).
  int projections = 64;
  /// "sliced", "kl-exact": seed of the random directions or kernel draws (sliced_options::seed,
  /// smoothed_options::seed).
  std::uint64_t seed = 0;
  /// "kl-exact": Monte Carlo kernel draws per particle (smoothed_options::samples; used where
  /// the lattice is not: d > 3 or a lattice too large).
  int samples = 32;
};

/// The mixture of "mixed": a KL(p||q) + b chi2(q||p) (the paper's mixture, DESIGN 1.2).
using mixed_divergence = mixture<f_divergence, f_divergence>;
/// Every type a divergence name stands for.
using divergence_variant = std::variant<f_divergence, mmd, mixed_divergence, drifting_field,
                                        smoothed_f_divergence, sinkhorn_flow, sliced_wasserstein_flow,
                                        energy_flow>;

/// The divergence names with their descriptions, in the order of divergence_names().
[[nodiscard]] inline const std::vector<entry>& divergence_entries() {
  static const std::vector<entry> e{
      {"kl", "KL(q||p), the Wasserstein gradient flow of the Kullback-Leibler divergence"},
      {"reverse-kl", "KL(p||q), the reverse Kullback-Leibler divergence: mass-covering"},
      {"chi2", "chi2(q||p), Pearson's chi-squared divergence"},
      {"chi2-reverse", "chi2(p||q), Neyman's chi-squared divergence"},
      {"js", "the Jensen-Shannon divergence"},
      {"hellinger", "the squared Hellinger distance"},
      {"alpha", "the alpha-divergence (Amari); parameter alpha"},
      {"mmd", "MMD^2 with the flow's kernel (not an f-divergence: no density ratio)"},
      {"mixed", "mix_reverse_kl KL(p||q) + mix_chi2 chi2(q||p), the paper's mixture"},
      {"drifting", "the drifting field of Deng et al. (2026) with gfd's default options"},
      {"drifting-deng", "the drifting field with Deng et al.'s settings (joint normalisation, "
                        "self-mask, several temperatures); parameter temperatures"},
      {"kl-exact", "the exact W2 flow of KL(k*q||k*p) between the two KDEs, v = -grad k*log(q~/p~) "
                   "(\"kl\" is the plug-in field s_p~ - s_q~): lattice quadrature in d <= 3, Monte "
                   "Carlo over Gaussian kernel draws beyond; parameters samples, seed"},
      {"sinkhorn", "the debiased Sinkhorn divergence S_eps for the cost |x - y|^2 / 2 (log-domain "
                   "Sinkhorn, epsilon-scaling): moves mass between far modes; parameter epsilon"},
      {"sinkhorn-drift", "the drifting field with Sinkhorn couplings in place of the joint "
                         "softmax (Deng et al.'s other settings); parameters temperatures, "
                         "sinkhorn_iterations"},
      {"sliced", "half the squared sliced Wasserstein distance over random directions; "
                 "parameters projections, seed"},
      {"energy", "the energy distance, MMD with the kernel -|x - y|: no bandwidth"},
  };
  return e;
}

/// kl, reverse-kl, chi2, chi2-reverse, js, hellinger, alpha, mmd, mixed, drifting, drifting-deng,
/// kl-exact, sinkhorn, sinkhorn-drift, sliced, energy.
[[nodiscard]] inline std::vector<std::string> divergence_names() {
  return detail::names_of(divergence_entries());
}

/// What the divergence `name` is. @throws gfd::invalid_argument on an unknown name, listing the
/// valid ones.
[[nodiscard]] inline std::string_view divergence_description(std::string_view name) {
  return detail::describe(divergence_entries(), name, "gfd::registry::divergence_description",
                          "divergence");
}

/// The divergence `name` built from `params`, exactly as the named constructor of
/// divergences.hpp would (kl() for "kl", alpha_divergence(params.alpha) for "alpha",
/// mixture(reverse_kl(), chi2(), a, b) for "mixed", drifting_field(deng_drifting_options() with
/// the temperatures) for "drifting-deng", ...). @throws gfd::invalid_argument on an unknown name
/// (listing the valid ones) or a bad parameter (alpha not finite, mix weights negative, not
/// finite or both 0, a temperature not finite and > 0).
[[nodiscard]] inline divergence_variant make_divergence(std::string_view name,
                                                        const divergence_parameters& params = {}) {
  constexpr std::string_view where = "gfd::registry::make_divergence";
  if (name == "kl") return kl();
  if (name == "reverse-kl") return reverse_kl();
  if (name == "chi2") return chi2();
  if (name == "chi2-reverse") return reverse_chi2();
  if (name == "js") return jensen_shannon();
  if (name == "hellinger") return squared_hellinger();
  if (name == "alpha") return alpha_divergence(params.alpha);
  if (name == "mmd") return mmd{};
  if (name == "mixed") {
    const double a = params.mix_reverse_kl, b = params.mix_chi2;
    if (!(std::isfinite(a) && std::isfinite(b) && a >= 0 && b >= 0 && a + b > 0))
      gfd::detail::fail(where, "mixed needs finite weights >= 0, not both 0, got ", a, " and ", b);
    return mixed_divergence(reverse_kl(), chi2(), a, b);
  }
  if (name == "drifting") return drifting_field{};
  if (name == "drifting-deng") {
    drifting_options o = deng_drifting_options();
    if (!params.temperatures.empty()) o.temperatures = params.temperatures;
    o.affinity_floor = params.affinity_floor;
    return drifting_field(std::move(o));
  }
  if (name == "kl-exact") {
    smoothed_options o;
    o.samples = params.samples;
    o.seed = params.seed;
    return kl_exact(o);
  }
  if (name == "sinkhorn") {
    sinkhorn_options o;
    o.epsilon = params.epsilon;
    return sinkhorn_flow(o);
  }
  if (name == "sinkhorn-drift") {
    drifting_options o = sinkhorn_drifting_options();
    if (!params.temperatures.empty()) o.temperatures = params.temperatures;
    o.sinkhorn_iterations = params.sinkhorn_iterations;
    return drifting_field(std::move(o));
  }
  if (name == "sliced") return sliced_wasserstein_flow(sliced_options{.projections = params.projections, .seed = params.seed});
  if (name == "energy") return energy_flow{};
  detail::unknown(where, "divergence", name, divergence_names());
}

/// Whether consumers that visit every kernel x divergence x evaluator (x manifold) (the tool,
/// the Python module) instantiate a flow for this combination: a divergence that does not sum
/// with the flow's kernel (uses_flow_kernel(), the transport flows) runs with gfd::gaussian only,
/// one that uses no evaluator (uses_evaluator(): sliced, energy) with the exact evaluator only,
/// one defined on R^d only (`euclidean_only`: kl-exact) on gfd::euclidean only. Any other choice
/// would compile the same flow again for a kernel or evaluator it ignores, or a flow that
/// velocity_system refuses; refuse_combination refuses it at run time instead.
template <class D, class K, class E = exact_evaluator, class M = euclidean>
[[nodiscard]] constexpr bool instantiated_combination() noexcept {
  return (uses_flow_kernel<D>() || std::is_same_v<K, gaussian>) &&
         (uses_evaluator<D>() || std::is_same_v<E, exact_evaluator>) &&
         (M::is_euclidean || !euclidean_only<D>());
}

/// Throws gfd::invalid_argument naming `where`, the divergence and the kernel, evaluator or
/// manifold it cannot take, for a combination that instantiated_combination() rules out.
template <class D, class K, class E = exact_evaluator, class M = euclidean>
[[noreturn]] void refuse_combination(std::string_view where, std::string_view divergence) {
  if constexpr (!M::is_euclidean && euclidean_only<D>())
    gfd::detail::fail(where, "the divergence '", divergence, "' is defined on R^d only, not on the "
                      "manifold '", M::name, "'");
  else if constexpr (!uses_flow_kernel<D>() && !std::is_same_v<K, gaussian>)
    gfd::detail::fail(where, "the divergence '", divergence, "' does not use the flow's kernel: give "
                      "the gaussian kernel (the default), not '", K::name, "'");
  else
    gfd::detail::fail(where, "the divergence '", divergence, "' sums no kernel: give the exact "
                      "evaluator (the default), not another");
}

/// Calls `f(divergence)` with the divergence `name` as its own C++ type (see
/// divergence_variant) and returns what `f` returns. @throws as make_divergence, and whatever
/// `f` throws.
template <class F>
decltype(auto) with_divergence(std::string_view name, const divergence_parameters& params, F&& f) {
  return std::visit(std::forward<F>(f), make_divergence(name, params));
}

// ---------------------------------------------------------------------------------------------
// Steppers
// ---------------------------------------------------------------------------------------------

/// The stepper names with their descriptions, in the order of stepper_names().
[[nodiscard]] inline const std::vector<entry>& stepper_entries() {
  static const std::vector<entry> e{
      {"euler", "explicit Euler, x += dt v(x): one velocity evaluation per step"},
      {"heun", "Heun's explicit trapezoid (RK2): second order, two evaluations per step"},
      {"adaptive", "Heun with the Euler-Heun difference as error estimate; dt adapts to the "
                   "flow's tolerance"},
  };
  return e;
}

/// euler, heun, adaptive.
[[nodiscard]] inline std::vector<std::string> stepper_names() { return detail::names_of(stepper_entries()); }

/// What the stepper `name` is. @throws gfd::invalid_argument on an unknown name, listing the
/// valid ones.
[[nodiscard]] inline std::string_view stepper_description(std::string_view name) {
  return detail::describe(stepper_entries(), name, "gfd::registry::stepper_description", "stepper");
}

/// The gfd::stepper (flow_options::method) of `name`. @throws gfd::invalid_argument on an
/// unknown name, listing the valid ones.
[[nodiscard]] inline gfd::stepper make_stepper(std::string_view name) {
  if (name == "euler") return gfd::stepper::euler;
  if (name == "heun") return gfd::stepper::heun;
  if (name == "adaptive") return gfd::stepper::adaptive;
  detail::unknown("gfd::registry::make_stepper", "stepper", name, stepper_names());
}

/// Settings of the adaptive stepper (ignored by the others).
struct stepper_parameters {
  double tolerance = 0.05;
  double dt_min = 1e-4, dt_max = 10.0;
};

/// Calls f with the stepper type of `name` (euler_stepper, heun_stepper or
/// adaptive_heun_stepper, a gfd::Stepper for flow::run_with) and returns what f returns.
/// @throws gfd::invalid_argument on an unknown name, listing the valid ones.
template <class F>
decltype(auto) with_stepper(std::string_view name, const stepper_parameters& p, F&& f) {
  switch (make_stepper(name)) {
    case gfd::stepper::heun: return std::forward<F>(f)(heun_stepper{});
    case gfd::stepper::adaptive:
      return std::forward<F>(f)(adaptive_heun_stepper{p.tolerance, p.dt_min, p.dt_max});
    case gfd::stepper::euler: break;
  }
  return std::forward<F>(f)(euler_stepper{});
}

/// The name of a gfd::stepper (the inverse of make_stepper).
[[nodiscard]] inline std::string_view stepper_name(gfd::stepper s) noexcept {
  switch (s) {
    case gfd::stepper::heun: return "heun";
    case gfd::stepper::adaptive: return "adaptive";
    case gfd::stepper::euler: break;
  }
  return "euler";
}

// ---------------------------------------------------------------------------------------------
// Evaluators
// ---------------------------------------------------------------------------------------------

/// Parameters of the evaluators; each evaluator reads the ones it has.
struct evaluator_parameters {
  double tolerance = 1e-3;     ///< "tree", "grid": bound on the relative error of each kernel sum, (0, 1)
  std::size_t leaf_size = 16;  ///< "tree": points per leaf of the k-d tree
};

/// Every type an evaluator name stands for.
using evaluator_variant = std::variant<exact_evaluator, tree_evaluator, grid_evaluator>;

/// The evaluator names with their descriptions, in the order of evaluator_names().
[[nodiscard]] inline const std::vector<entry>& evaluator_entries() {
  static const std::vector<entry> e{
      {"exact", "every pair, vectorised and threaded: O(N M d) per pass, exact to round-off"},
      {"tree", "k-d tree (nanoflann) truncating each sum at a relative error <= tolerance"},
      {"grid", "d <= 3: sources spread on a grid, convolved by FFT, relative error <= tolerance"},
  };
  return e;
}

/// exact, tree, grid.
[[nodiscard]] inline std::vector<std::string> evaluator_names() {
  return detail::names_of(evaluator_entries());
}

/// What the evaluator `name` is. @throws gfd::invalid_argument on an unknown name, listing the
/// valid ones.
[[nodiscard]] inline std::string_view evaluator_description(std::string_view name) {
  return detail::describe(evaluator_entries(), name, "gfd::registry::evaluator_description",
                          "evaluator");
}

/// The evaluator `name`: exact_evaluator{}, tree_evaluator(params.tolerance,
/// params.leaf_size) or grid_evaluator(params.tolerance). @throws gfd::invalid_argument on an unknown name (listing the valid ones)
/// or a tolerance outside (0, 1).
[[nodiscard]] inline evaluator_variant make_evaluator(std::string_view name,
                                                      const evaluator_parameters& params = {}) {
  if (name == "exact") return exact_evaluator{};
  if (name == "tree") return tree_evaluator(params.tolerance, params.leaf_size);
  if (name == "grid") return grid_evaluator(params.tolerance);
  detail::unknown("gfd::registry::make_evaluator", "evaluator", name, evaluator_names());
}

/// Calls `f(evaluator)` with the evaluator `name` as its own C++ type and returns what `f`
/// returns. @throws as make_evaluator, and whatever `f` throws.
template <class F>
decltype(auto) with_evaluator(std::string_view name, const evaluator_parameters& params, F&& f) {
  return std::visit(std::forward<F>(f), make_evaluator(name, params));
}

}  // namespace gfd::registry
