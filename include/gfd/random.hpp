// SPDX-License-Identifier: MIT
/// @file random.hpp
/// @brief The one seeded random source of gfd: std::mt19937_64 plus portable uniform-index,
///        uniform-double and standard-normal transforms.
///
/// Why not std::uniform_int_distribution and friends: the C++ standard fixes the output of
/// std::mt19937_64 (its 10000th value from the default seed is 9981545732273789042,
/// [rand.predef]) but leaves the algorithms of the distributions to the implementation, so the
/// same seed gives different samples with libstdc++, libc++ and MSVC. Every random draw in gfd
/// goes through the three transforms below, which use only raw engine output, so a seed gives the
/// same stream with every standard library (only the last bits of log / cos / sin may differ
/// between libm versions, which affects normal_source alone).
///
/// Thread-safety: the functions are reentrant; an engine (and a normal_source, which refers to
/// one) must not be shared between threads without synchronisation.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>

namespace gfd {

/// The random engine of gfd. Its output sequence for a given seed is fixed by the C++ standard.
using rng_engine = std::mt19937_64;

/// A uniform integer in [0, n), n >= 1, from raw engine output, unbiased and portable.
///
/// Rejection then modulo: the 2^64 mod n smallest raw values are rejected, so the accepted ones
/// form a whole number of copies of [0, n) and r mod n is exactly uniform. The rejection
/// probability is (2^64 mod n) / 2^64 < n / 2^64 (one draw per call in practice). This is the
/// algorithm gfd's toys and metrics have always used (the first draw that is accepted gives
/// r mod n), so their streams are unchanged by its move here.
/// O(1) expected (one 64-bit division, two when a draw is rejected). Throws nothing; n = 0 is a
/// precondition violation (division by zero), checked by callers.
[[nodiscard]] inline std::uint64_t uniform_index(rng_engine& rng, std::uint64_t n) {
  // 2^64 mod n, computed in 64-bit arithmetic as (2^64 - n) mod n.
  const std::uint64_t threshold = (std::uint64_t{0} - n) % n;
  std::uint64_t r = rng();
  while (r < threshold) r = rng();
  return r % n;
}

/// A uniform double in [0, 1): the top 53 bits of one engine draw times 2^-53 (every value is a
/// multiple of 2^-53, each with probability 2^-53; exact and portable). 1 - uniform01(rng) lies
/// in (0, 1], safe for log. O(1), throws nothing.
[[nodiscard]] inline double uniform01(rng_engine& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

/// Standard normal deviates by the Box-Muller transform (G. E. P. Box, M. E. Muller, Ann. Math.
/// Stat. 29, 1958): for u1 = 1 - U1 in (0, 1] and U2 uniform in [0, 1), r = sqrt(-2 log u1),
/// a = 2 pi U2, the pair (r cos a, r sin a) is two independent N(0, 1) values. operator() returns
/// r cos a and caches r sin a for the next call, so each pair costs two engine draws.
///
/// It refers to an engine (which must outlive it) and draws from it only when its cache is
/// empty: interleaving other draws from the same engine is fine and deterministic.
/// O(1) per call, throws nothing. Not thread-safe (it has a cache).
class normal_source {
public:
  explicit normal_source(rng_engine& rng) noexcept : rng_(&rng) {}

  /// The next N(0, 1) deviate.
  double operator()() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double radius = std::sqrt(-2.0 * std::log(1.0 - uniform01(*rng_)));
    const double angle = 2.0 * std::numbers::pi * uniform01(*rng_);
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

private:
  rng_engine* rng_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace gfd
