// SPDX-License-Identifier: MIT
/// @file fuzz_model.cpp
/// @brief libFuzzer target of the generator file reader (gfd::generator_model::from_bytes, the
///        parser behind load_generator) and of to_bytes through a round trip.
///
/// Every input is tried twice: as it is, and with its last 8 bytes replaced by the FNV-1a hash of
/// the others, so that mutations get past the hash check to the checks behind it (a fuzzer
/// cannot guess a 64-bit hash). Properties, for either:
///  - from_bytes returns or throws gfd::invalid_argument, nothing else (no crash, no UB, no
///    allocation beyond the size of the input);
///  - a model it returns has sizes within the documented bounds, finite parameters and a
///    positive scale, and can generate a sample of its dimension;
///  - to_bytes gives the input back byte for byte, except that a step count above LONG_MAX is
///    read as LONG_MAX (from_bytes clamps it; the rest of the file is unchanged).
#include "fuzz_util.hpp"

#include <gfd/generator.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace {

std::uint64_t load_u64(std::string_view b, std::size_t at) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(b[at + static_cast<std::size_t>(i)]);
  return v;
}

void check(std::string_view bytes) {
  gfd::generator_model m;
  if (!gfd_fuzz::accepts([&] { m = gfd::generator_model::from_bytes(bytes, "fuzz.gfdgen"); })) return;

  const int d = m.dim(), k = m.noise_dim();
  const std::vector<int> hidden = m.hidden();
  constexpr int max_width = gfd::nn::mlp::max_width;
  GFD_FUZZ_CHECK(d >= 1 && d <= max_width && k >= 1 && k <= max_width);
  GFD_FUZZ_CHECK(hidden.size() < gfd::nn::mlp::max_layers);
  for (int w : hidden) GFD_FUZZ_CHECK(w >= 1 && w <= max_width);
  GFD_FUZZ_CHECK(m.mean().size() == d && m.scale().size() == d);
  GFD_FUZZ_CHECK(m.mean().allFinite() && m.scale().allFinite() && (m.scale().array() > 0).all());
  GFD_FUZZ_CHECK(m.network().parameters().allFinite() && m.ema().parameters().allFinite());
  GFD_FUZZ_CHECK(m.network().parameter_count() == m.ema().parameter_count());
  GFD_FUZZ_CHECK(m.steps_trained() >= 0);
  // 16 bytes per parameter (network and EMA) are in the file: no allocation beyond the input.
  GFD_FUZZ_CHECK(static_cast<std::size_t>(m.network().parameter_count()) * 16 <= bytes.size());

  const std::string out = m.to_bytes();
  GFD_FUZZ_CHECK(out.size() == bytes.size());
  // After the parameter count; version 2 (conditional) has 24 more header bytes.
  const std::size_t steps_at = 32 + (m.conditional() ? 24 : 0) + 4 * hidden.size() + 8;
  const std::uint64_t steps = load_u64(bytes, steps_at);
  constexpr auto long_max = static_cast<std::uint64_t>(std::numeric_limits<long>::max());
  GFD_FUZZ_CHECK(static_cast<std::uint64_t>(m.steps_trained()) == std::min(steps, long_max));
  if (steps <= long_max) {
    GFD_FUZZ_CHECK(out == bytes);
  } else {
    GFD_FUZZ_CHECK(out.compare(0, steps_at, bytes.substr(0, steps_at)) == 0);
    GFD_FUZZ_CHECK(load_u64(out, steps_at) == long_max);
    const std::size_t rest = steps_at + 8, body = bytes.size() - 8 - rest;  // up to the hash
    GFD_FUZZ_CHECK(out.compare(rest, body, bytes.substr(rest, body)) == 0);
  }

  Eigen::MatrixXd sample;
  GFD_FUZZ_CHECK(m.classes() >= 0 && m.classes() <= gfd::generator_model::max_classes);
  if (m.conditional()) {
    const double lo = m.guidance_range().first, hi = m.guidance_range().second;
    GFD_FUZZ_CHECK(lo > 0 && lo <= hi && std::isfinite(hi));
    GFD_FUZZ_CHECK(gfd_fuzz::accepts([&] { sample = m.generate(1, 0, m.classes() - 1, lo); }));
  } else {
    GFD_FUZZ_CHECK(gfd_fuzz::accepts([&] { sample = m.generate(1, 0); }));
  }
  GFD_FUZZ_CHECK(sample.rows() == d && sample.cols() == 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check(bytes);
  if (size >= 8) {
    std::string fixed(bytes);
    std::uint64_t h = gfd::detail::generator_io::fnv1a(std::string_view(fixed).substr(0, size - 8));
    for (std::size_t i = 0; i < 8; ++i, h >>= 8) fixed[size - 8 + i] = static_cast<char>(h & 0xff);
    if (fixed != bytes) check(fixed);
  }
  return 0;
}
