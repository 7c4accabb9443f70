// SPDX-License-Identifier: MIT
/// @file toy.hpp
/// @brief Seeded 2D toy distributions (8 Gaussians, 25 Gaussians, moons, swiss roll, ...) and
///        Gaussian / uniform helpers, as d x N column-major Eigen matrices.
///
/// All 2D toys live on a common scale, roughly inside [-4, 4]^2, so one bandwidth and one step
/// size suit all of them. The shapes follow the conventions of the flow literature (FFJORD,
/// Grathwohl et al. 2019, `toy_data.py`; WGAN-GP, Gulrajani et al. 2017) rescaled to that box;
/// each generator documents its exact parameters.
///
/// Determinism: every generator draws from `std::mt19937_64`, whose output sequence is fixed by
/// the C++ standard, through gfd's own uniform and Box-Muller transforms (random.hpp, not the
/// implementation-defined `std::*_distribution`), so a seed gives the same points with every
/// standard library; only the last bits of `log`/`cos`/`sin` may differ between libm versions.
/// Points are computed in double and then cast to `Scalar`, so the float sample is the rounded
/// double sample. Components with a fixed share (moons, rings, spirals, pinwheel) are
/// interleaved, point i belonging to component i mod K: every prefix of a sample is balanced.
///
/// Thread-safety: all functions are reentrant; a generator passed by reference must not be
/// shared between threads without synchronisation.
#pragma once

#include <Eigen/Core>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gfd/error.hpp"
#include "gfd/random.hpp"

namespace gfd::toy {

/// A d x n sample, one point per column.
template <class Scalar = double>
using points = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

/// An equal-weight isotropic Gaussian mixture: component c is N(centres.col(c), stddev^2 I).
/// Exposed for the mixture toys so that metrics can measure mode coverage.
struct mixture {
  Eigen::MatrixXd centres;  ///< d x k, one centre per column.
  double stddev = 1.0;      ///< Common standard deviation of every component (per coordinate).
};

namespace detail {

// The old names of the random transforms, now gfd::uniform01, gfd::uniform_index and
// gfd::normal_source (random.hpp). Deprecated: kept only so that code written against them
// still compiles; use the gfd:: names.
using gfd::uniform01;
using gfd::uniform_index;
using normal_source = gfd::normal_source;

inline void check_count(std::string_view where, Eigen::Index n) {
  if (n < 0) gfd::detail::fail(where, "number of points must be >= 0, got ", n);
}

/// Draws n points from an equal-weight mixture (component chosen uniformly per point); the
/// component of each point in `labels` when given.
inline Eigen::MatrixXd sample_mixture(const mixture& m, Eigen::Index n, std::mt19937_64& rng,
                                      std::vector<int>* labels = nullptr) {
  gfd::normal_source normal(rng);
  const Eigen::Index d = m.centres.rows();
  const auto k = static_cast<std::uint64_t>(m.centres.cols());
  Eigen::MatrixXd out(d, n);
  if (labels) labels->resize(static_cast<std::size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i) {
    const auto c = static_cast<Eigen::Index>(gfd::uniform_index(rng, k));
    if (labels) (*labels)[static_cast<std::size_t>(i)] = static_cast<int>(c);
    for (Eigen::Index r = 0; r < d; ++r) out(r, i) = m.centres(r, c) + m.stddev * normal();
  }
  return out;
}

/// The checkerboard's points; the dark cell (0..7) of each in `labels` when given.
inline Eigen::MatrixXd sample_checkerboard(Eigen::Index n, std::mt19937_64& rng,
                                           std::vector<int>* labels = nullptr) {
  Eigen::MatrixXd out(2, n);
  if (labels) labels->resize(static_cast<std::size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i) {
    const auto cell = static_cast<int>(gfd::uniform_index(rng, 8));
    if (labels) (*labels)[static_cast<std::size_t>(i)] = cell;
    const int a = cell % 4;
    const int b = 2 * (cell / 4) + (a % 2);  // b has the parity of a: a + b even
    out(0, i) = -4.0 + 2.0 * (a + gfd::uniform01(rng));
    out(1, i) = -4.0 + 2.0 * (b + gfd::uniform01(rng));
  }
  return out;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Mixture parameters
// ---------------------------------------------------------------------------------------------

/// Parameters of "8gaussians": 8 centres evenly spaced on the circle of radius 2*sqrt(2)
/// (~2.83, the FFJORD radius 4/sqrt(2)), the first at angle 0, centre c at angle c*pi/4;
/// stddev 0.2. Neighbouring centres are 2.17 = 10.8 stddev apart. Complexity O(1).
[[nodiscard]] inline mixture eight_gaussians_mixture() {
  mixture m;
  m.centres.resize(2, 8);
  const double radius = 2.0 * std::numbers::sqrt2;
  for (int c = 0; c < 8; ++c) {
    const double angle = c * std::numbers::pi / 4.0;
    m.centres(0, c) = radius * std::cos(angle);
    m.centres(1, c) = radius * std::sin(angle);
  }
  m.stddev = 0.2;
  return m;
}

/// Parameters of "25gaussians": a 5 x 5 grid of centres at {-3, -1.5, 0, 1.5, 3}^2 (spacing 1.5),
/// centre c at (g[c / 5], g[c % 5]); stddev 0.1 (spacing = 15 stddev). Complexity O(1).
[[nodiscard]] inline mixture grid_gaussians_mixture() {
  mixture m;
  m.centres.resize(2, 25);
  for (int c = 0; c < 25; ++c) {
    m.centres(0, c) = -3.0 + 1.5 * (c / 5);
    m.centres(1, c) = -3.0 + 1.5 * (c % 5);
  }
  m.stddev = 0.1;
  return m;
}

// ---------------------------------------------------------------------------------------------
// 2D toys (each with an rng overload and a seed overload)
// ---------------------------------------------------------------------------------------------

/// "8gaussians": n points from eight_gaussians_mixture(), the component of each point drawn
/// uniformly. Complexity O(n). Throws gfd::invalid_argument if n < 0.
template <class Scalar = double>
[[nodiscard]] points<Scalar> eight_gaussians(Eigen::Index n, std::mt19937_64& rng) {
  detail::check_count("gfd::toy::eight_gaussians", n);
  return detail::sample_mixture(eight_gaussians_mixture(), n, rng).template cast<Scalar>();
}

/// "25gaussians": n points from grid_gaussians_mixture(), the component of each point drawn
/// uniformly. Complexity O(n). Throws gfd::invalid_argument if n < 0.
template <class Scalar = double>
[[nodiscard]] points<Scalar> grid_gaussians(Eigen::Index n, std::mt19937_64& rng) {
  detail::check_count("gfd::toy::grid_gaussians", n);
  return detail::sample_mixture(grid_gaussians_mixture(), n, rng).template cast<Scalar>();
}

/// "moons": the two interleaving half circles of scikit-learn's make_moons, rescaled by 2 and
/// centred. Point i is on moon i mod 2 with t ~ U[0, pi]:
///   moon 0 (upper): 2 (cos t, sin t) - (1, 0.5),   moon 1 (lower): 2 (1 - cos t, 0.5 - sin t) - (1, 0.5),
/// plus N(0, 0.1^2 I) noise. Support about [-3, 3] x [-1.5, 1.5]; the moons have equal size
/// (ceil(n/2) and floor(n/2)). Complexity O(n). Throws gfd::invalid_argument if n < 0.
template <class Scalar = double>
[[nodiscard]] points<Scalar> moons(Eigen::Index n, std::mt19937_64& rng) {
  detail::check_count("gfd::toy::moons", n);
  gfd::normal_source normal(rng);
  Eigen::MatrixXd out(2, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const double t = std::numbers::pi * gfd::uniform01(rng);
    double x = std::cos(t), y = std::sin(t);
    if (i % 2 == 1) {
      x = 1.0 - x;
      y = 0.5 - y;
    }
    out(0, i) = 2.0 * x - 1.0 + 0.1 * normal();
    out(1, i) = 2.0 * y - 0.5 + 0.1 * normal();
  }
  return out.template cast<Scalar>();
}

/// "swissroll": the 2D swiss roll of FFJORD: t ~ U[1.5 pi, 4.5 pi],
/// point (t cos t, t sin t) / 5 + N(0, 0.1^2 I). Radius from 0.94 to 2.83. Complexity O(n).
/// Throws gfd::invalid_argument if n < 0.
template <class Scalar = double>
[[nodiscard]] points<Scalar> swiss_roll(Eigen::Index n, std::mt19937_64& rng) {
  detail::check_count("gfd::toy::swiss_roll", n);
  gfd::normal_source normal(rng);
  Eigen::MatrixXd out(2, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const double t = 1.5 * std::numbers::pi * (1.0 + 2.0 * gfd::uniform01(rng));
    out(0, i) = t * std::cos(t) / 5.0 + 0.1 * normal();
    out(1, i) = t * std::sin(t) / 5.0 + 0.1 * normal();
  }
  return out.template cast<Scalar>();
}

/// "checkerboard": uniform on the 8 dark cells of a 4 x 4 board of 2 x 2 cells covering
/// [-4, 4]^2, cell (column a, row b), a, b in 0..3 from the lower left, being dark when a + b
/// is even (FFJORD's checkerboard scaled by 2). No noise; the cells share corners.
/// Complexity O(n). Throws gfd::invalid_argument if n < 0.
template <class Scalar = double>
[[nodiscard]] points<Scalar> checkerboard(Eigen::Index n, std::mt19937_64& rng) {
  detail::check_count("gfd::toy::checkerboard", n);
  return detail::sample_checkerboard(n, rng).template cast<Scalar>();
}

/// "rings": 4 concentric circles of radii 0.75, 1.5, 2.25, 3 (FFJORD's rings), point i on ring
/// i mod 4 at a uniform angle, plus N(0, 0.08^2 I) noise. Complexity O(n).
/// Throws gfd::invalid_argument if n < 0.
template <class Scalar = double>
[[nodiscard]] points<Scalar> rings(Eigen::Index n, std::mt19937_64& rng) {
  detail::check_count("gfd::toy::rings", n);
  gfd::normal_source normal(rng);
  Eigen::MatrixXd out(2, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const double radius = 0.75 * static_cast<double>(i % 4 + 1);
    const double angle = 2.0 * std::numbers::pi * gfd::uniform01(rng);
    out(0, i) = radius * std::cos(angle) + 0.08 * normal();
    out(1, i) = radius * std::sin(angle) + 0.08 * normal();
  }
  return out.template cast<Scalar>();
}

/// "pinwheel": FFJORD's pinwheel with 5 arms, point i on arm c = i mod 5: draw
/// (u, v) = (1 + 0.3 z1, 0.1 z2), z ~ N(0, I), rotate it by 2 pi c / 5 + 0.25 exp(u) and scale
/// by 2. Radius mostly in [0.2, 4]. Complexity O(n). Throws gfd::invalid_argument if n < 0.
template <class Scalar = double>
[[nodiscard]] points<Scalar> pinwheel(Eigen::Index n, std::mt19937_64& rng) {
  detail::check_count("gfd::toy::pinwheel", n);
  gfd::normal_source normal(rng);
  Eigen::MatrixXd out(2, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const double u = 1.0 + 0.3 * normal();
    const double v = 0.1 * normal();
    const double angle =
        2.0 * std::numbers::pi * static_cast<double>(i % 5) / 5.0 + 0.25 * std::exp(u);
    const double c = std::cos(angle), s = std::sin(angle);
    out(0, i) = 2.0 * (c * u - s * v);
    out(1, i) = 2.0 * (s * u + c * v);
  }
  return out.template cast<Scalar>();
}

/// "spirals": FFJORD's two spirals. t = 3 pi sqrt(w), w ~ U[0, 1); arm 0 is
/// (-t cos t + 0.5 a, t sin t + 0.5 b), a, b ~ U[0, 1), arm 1 its point reflection; point i is on
/// arm i mod 2; the result is divided by 3 and N(0, 0.1^2 I) noise added. Radius up to about
/// 3.3. Complexity O(n). Throws gfd::invalid_argument if n < 0.
template <class Scalar = double>
[[nodiscard]] points<Scalar> spirals(Eigen::Index n, std::mt19937_64& rng) {
  detail::check_count("gfd::toy::spirals", n);
  gfd::normal_source normal(rng);
  Eigen::MatrixXd out(2, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const double t = 3.0 * std::numbers::pi * std::sqrt(gfd::uniform01(rng));
    double x = -t * std::cos(t) + 0.5 * gfd::uniform01(rng);
    double y = t * std::sin(t) + 0.5 * gfd::uniform01(rng);
    if (i % 2 == 1) {
      x = -x;
      y = -y;
    }
    out(0, i) = x / 3.0 + 0.1 * normal();
    out(1, i) = y / 3.0 + 0.1 * normal();
  }
  return out.template cast<Scalar>();
}

// Seed overloads: identical to the rng overloads with std::mt19937_64(seed).

/// eight_gaussians with a fresh std::mt19937_64(seed).
template <class Scalar = double>
[[nodiscard]] points<Scalar> eight_gaussians(Eigen::Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return eight_gaussians<Scalar>(n, rng);
}
/// grid_gaussians with a fresh std::mt19937_64(seed).
template <class Scalar = double>
[[nodiscard]] points<Scalar> grid_gaussians(Eigen::Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return grid_gaussians<Scalar>(n, rng);
}
/// moons with a fresh std::mt19937_64(seed).
template <class Scalar = double>
[[nodiscard]] points<Scalar> moons(Eigen::Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return moons<Scalar>(n, rng);
}
/// swiss_roll with a fresh std::mt19937_64(seed).
template <class Scalar = double>
[[nodiscard]] points<Scalar> swiss_roll(Eigen::Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return swiss_roll<Scalar>(n, rng);
}
/// checkerboard with a fresh std::mt19937_64(seed).
template <class Scalar = double>
[[nodiscard]] points<Scalar> checkerboard(Eigen::Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return checkerboard<Scalar>(n, rng);
}
/// rings with a fresh std::mt19937_64(seed).
template <class Scalar = double>
[[nodiscard]] points<Scalar> rings(Eigen::Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return rings<Scalar>(n, rng);
}
/// pinwheel with a fresh std::mt19937_64(seed).
template <class Scalar = double>
[[nodiscard]] points<Scalar> pinwheel(Eigen::Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return pinwheel<Scalar>(n, rng);
}
/// spirals with a fresh std::mt19937_64(seed).
template <class Scalar = double>
[[nodiscard]] points<Scalar> spirals(Eigen::Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return spirals<Scalar>(n, rng);
}

// ---------------------------------------------------------------------------------------------
// Any-dimension helpers
// ---------------------------------------------------------------------------------------------

/// n points from N(0, scale^2 I_d), d x n. Complexity O(d n).
/// Throws gfd::invalid_argument if d < 1, n < 0 or scale is not finite and > 0.
template <class Scalar = double>
[[nodiscard]] points<Scalar> gaussian(Eigen::Index d, Eigen::Index n, std::mt19937_64& rng,
                                      double scale = 1.0) {
  constexpr std::string_view where = "gfd::toy::gaussian";
  if (d < 1) gfd::detail::fail(where, "dimension must be >= 1, got ", d);
  detail::check_count(where, n);
  gfd::detail::require_positive(where, "scale", scale);
  gfd::normal_source normal(rng);
  Eigen::MatrixXd out(d, n);
  for (Eigen::Index i = 0; i < out.size(); ++i) out.data()[i] = scale * normal();
  return out.template cast<Scalar>();
}

/// gaussian with a fresh std::mt19937_64(seed).
template <class Scalar = double>
[[nodiscard]] points<Scalar> gaussian(Eigen::Index d, Eigen::Index n, std::uint64_t seed,
                                      double scale = 1.0) {
  std::mt19937_64 rng(seed);
  return gaussian<Scalar>(d, n, rng, scale);
}

/// n points uniform on the box [lo, hi)^d, d x n. Complexity O(d n).
/// Throws gfd::invalid_argument if d < 1, n < 0, or lo, hi are not finite with lo < hi.
template <class Scalar = double>
[[nodiscard]] points<Scalar> uniform_box(Eigen::Index d, Eigen::Index n, std::mt19937_64& rng,
                                         double lo = -1.0, double hi = 1.0) {
  constexpr std::string_view where = "gfd::toy::uniform_box";
  if (d < 1) gfd::detail::fail(where, "dimension must be >= 1, got ", d);
  detail::check_count(where, n);
  if (!(std::isfinite(lo) && std::isfinite(hi) && lo < hi))
    gfd::detail::fail(where, "need finite lo < hi, got lo = ", lo, ", hi = ", hi);
  Eigen::MatrixXd out(d, n);
  for (Eigen::Index i = 0; i < out.size(); ++i)
    out.data()[i] = lo + (hi - lo) * gfd::uniform01(rng);
  return out.template cast<Scalar>();
}

/// uniform_box with a fresh std::mt19937_64(seed).
template <class Scalar = double>
[[nodiscard]] points<Scalar> uniform_box(Eigen::Index d, Eigen::Index n, std::uint64_t seed,
                                         double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 rng(seed);
  return uniform_box<Scalar>(d, n, rng, lo, hi);
}

// ---------------------------------------------------------------------------------------------
// Registry by name
// ---------------------------------------------------------------------------------------------

namespace detail {

struct entry {
  std::string_view name;
  Eigen::MatrixXd (*generate)(Eigen::Index, std::mt19937_64&);
  std::optional<mixture> (*mixture_of)();
};

inline std::optional<mixture> no_mixture() { return std::nullopt; }

inline const std::array<entry, 8>& registry() {
  static const std::array<entry, 8> table{{
      {"8gaussians", &eight_gaussians<double>, [] { return std::optional(eight_gaussians_mixture()); }},
      {"25gaussians", &grid_gaussians<double>, [] { return std::optional(grid_gaussians_mixture()); }},
      {"moons", &moons<double>, &no_mixture},
      {"swissroll", &swiss_roll<double>, &no_mixture},
      {"checkerboard", &checkerboard<double>, &no_mixture},
      {"rings", &rings<double>, &no_mixture},
      {"pinwheel", &pinwheel<double>, &no_mixture},
      {"spirals", &spirals<double>, &no_mixture},
  }};
  return table;
}

inline const entry* find(std::string_view name) {
  for (const entry& e : registry())
    if (e.name == name) return &e;
  return nullptr;
}

}  // namespace detail

/// Registry names of the 2D toys, in a fixed order: 8gaussians, 25gaussians, moons, swissroll,
/// checkerboard, rings, pinwheel, spirals. Complexity O(1).
[[nodiscard]] inline std::vector<std::string> names() {
  std::vector<std::string> out;
  for (const auto& e : detail::registry()) out.emplace_back(e.name);
  return out;
}

/// True if `name` is a registry name (case-sensitive). Complexity O(1).
[[nodiscard]] inline bool exists(std::string_view name) { return detail::find(name) != nullptr; }

/// n points (2 x n, double) of the toy called `name`, from std::mt19937_64(seed); the same as
/// calling the named generator. Complexity O(n).
/// Throws gfd::invalid_argument naming gfd::toy::sample if the name is unknown (the message
/// lists the valid names) or n <= 0.
[[nodiscard]] inline Eigen::MatrixXd sample(std::string_view name, Eigen::Index n,
                                            std::uint64_t seed) {
  constexpr std::string_view where = "gfd::toy::sample";
  const detail::entry* e = detail::find(name);
  if (e == nullptr) {
    std::string valid;
    for (const auto& r : detail::registry()) {
      if (!valid.empty()) valid += ", ";
      valid += r.name;
    }
    gfd::detail::fail(where, "unknown toy '", name, "' (valid: ", valid, ")");
  }
  if (n <= 0) gfd::detail::fail(where, "number of points must be > 0, got ", n);
  std::mt19937_64 rng(seed);
  return e->generate(n, rng);
}

/// The number of classes of the toy called `name`, the label sample_labels() gives each point:
/// the mixture component (8gaussians 8, 25gaussians 25), the moon (moons 2), the dark cell
/// (checkerboard 8), the ring (rings 4), the arm (pinwheel 5, spirals 2); 0 for swissroll (one
/// continuous curve: no classes) and for an unknown name. Complexity O(1).
[[nodiscard]] inline int class_count(std::string_view name) {
  if (name == "8gaussians" || name == "checkerboard") return 8;
  if (name == "25gaussians") return 25;
  if (name == "moons" || name == "spirals") return 2;
  if (name == "rings") return 4;
  if (name == "pinwheel") return 5;
  return 0;
}

/// The class (0 .. class_count(name) - 1) of each of the n points that sample(name, n, seed)
/// returns, in the same order: the same seed replays the same draws. Complexity O(n).
/// Throws gfd::invalid_argument naming gfd::toy::sample_labels for an unknown name, a toy
/// without classes (swissroll) or n <= 0.
[[nodiscard]] inline std::vector<int> sample_labels(std::string_view name, Eigen::Index n,
                                                    std::uint64_t seed) {
  constexpr std::string_view where = "gfd::toy::sample_labels";
  if (!exists(name)) gfd::detail::fail(where, "unknown toy '", name, "'");
  const int k = class_count(name);
  if (k == 0) gfd::detail::fail(where, "the toy '", name, "' has no classes (one continuous curve)");
  if (n <= 0) gfd::detail::fail(where, "number of points must be > 0, got ", n);
  std::vector<int> labels;
  std::mt19937_64 rng(seed);
  if (name == "8gaussians")
    (void)detail::sample_mixture(eight_gaussians_mixture(), n, rng, &labels);
  else if (name == "25gaussians")
    (void)detail::sample_mixture(grid_gaussians_mixture(), n, rng, &labels);
  else if (name == "checkerboard")
    (void)detail::sample_checkerboard(n, rng, &labels);
  else  // interleaved: point i in component i mod k (moons, rings, pinwheel, spirals)
    for (Eigen::Index i = 0; i < n; ++i) labels.push_back(static_cast<int>(i % k));
  return labels;
}

/// The mixture parameters of the toy called `name` ("8gaussians", "25gaussians"), or
/// std::nullopt for a toy that is not a Gaussian mixture or an unknown name. Complexity O(1).
[[nodiscard]] inline std::optional<mixture> mixture_of(std::string_view name) {
  const detail::entry* e = detail::find(name);
  return e == nullptr ? std::nullopt : e->mixture_of();
}

}  // namespace gfd::toy
