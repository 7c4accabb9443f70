// SPDX-License-Identifier: MIT
/// @file fuzz_npy.cpp
/// @brief libFuzzer target of the .npy reader (gfd::detail::io::parse_npy, the parser behind
///        read_npy) and of write_npy through a round trip.
///
/// Properties, for any input bytes:
///  - parse_npy returns or throws gfd::invalid_argument, nothing else (no crash, no UB, no
///    allocation beyond the size of the input);
///  - what it returns is a d x N cloud, d, N >= 1, every value finite;
///  - expected_dim = d gives the same matrix, expected_dim = d + 1 throws;
///  - the values are the input's last N d items (float64 or float32, little-endian), in C or in
///    Fortran order: a decoding independent of the header parser;
///  - write_npy then read_npy gives the same values bit for bit.
#include "fuzz_util.hpp"

#include <gfd/io.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view where = "gfd::read_npy";
const std::string path = "fuzz.npy";

bool parse(std::string_view bytes, Eigen::Index expected_dim, Eigen::MatrixXd& out) {
  return gfd_fuzz::accepts([&] { out = gfd::detail::io::parse_npy(where, path, bytes, expected_dim); });
}

/// Whether the last rows * cols items of `bytes` (little-endian floats of `item` bytes), read in
/// C order (fortran = false) or Fortran order, are the d x N matrix x.
bool tail_is(std::string_view bytes, const Eigen::MatrixXd& x, int item, bool fortran) {
  const auto n = static_cast<std::size_t>(x.cols()), d = static_cast<std::size_t>(x.rows());
  const std::size_t need = n * d * static_cast<std::size_t>(item);
  if (bytes.size() < need) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + bytes.size() - need);
  for (std::size_t k = 0; k < n * d; ++k) {
    std::uint64_t bits = 0;
    for (int b = item - 1; b >= 0; --b) bits = bits << 8 | p[k * static_cast<std::size_t>(item) + static_cast<std::size_t>(b)];
    const double v = item == 8 ? std::bit_cast<double>(bits)
                               : double(std::bit_cast<float>(static_cast<std::uint32_t>(bits)));
    const std::size_t i = fortran ? k % n : k / d;  // point (row of the file)
    const std::size_t j = fortran ? k / n : k % d;  // coordinate
    const double got = x(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(i));
    if (std::bit_cast<std::uint64_t>(got) != std::bit_cast<std::uint64_t>(v)) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Eigen::MatrixXd x;
  if (!parse(bytes, -1, x)) return 0;

  const Eigen::Index d = x.rows();
  GFD_FUZZ_CHECK(d >= 1 && x.cols() >= 1);
  GFD_FUZZ_CHECK(x.allFinite());
  GFD_FUZZ_CHECK(static_cast<std::size_t>(x.size()) * 4 <= size);
  Eigen::MatrixXd again;
  GFD_FUZZ_CHECK(parse(bytes, d, again) && gfd_fuzz::same_bits(again, x));
  GFD_FUZZ_CHECK(!parse(bytes, d + 1, again));
  GFD_FUZZ_CHECK(tail_is(bytes, x, 8, false) || tail_is(bytes, x, 8, true) ||
                 tail_is(bytes, x, 4, false) || tail_is(bytes, x, 4, true));

  const std::string file = gfd_fuzz::scratch_dir() + "/round_trip.npy";
  GFD_FUZZ_CHECK(gfd_fuzz::accepts([&] { gfd::write_npy(file, x); }));
  Eigen::MatrixXd back;
  GFD_FUZZ_CHECK(gfd_fuzz::accepts([&] { back = gfd::read_npy(file); }));
  GFD_FUZZ_CHECK(gfd_fuzz::same_bits(back, x));
  std::error_code ignored;
  std::filesystem::remove(file, ignored);
  return 0;
}
