// SPDX-License-Identifier: MIT
/// @file fuzz_csv.cpp
/// @brief libFuzzer target of the CSV reader (gfd::detail::io::parse_csv, the parser behind
///        read_csv and read_csv_table) and of write_csv through a round trip.
///
/// Properties, for any input bytes:
///  - parse_csv returns or throws gfd::invalid_argument, nothing else (no crash, no UB);
///  - what it returns is a d x N cloud, d, N >= 1, every value finite, d column names;
///  - expected_dim = d gives the same table, expected_dim = d + 1 throws;
///  - a UTF-8 byte order mark in front, or "\r\n" for every "\n" (in an input without '\r'),
///    changes nothing: the same table, or the same error message;
///  - write_csv then read_csv_table gives the same values bit for bit, and the same column names
///    whenever write_csv accepts them (it may reject names the reader lets through, e.g. an
///    empty header field; then the default names x0, x1, ... must come back).
#include "fuzz_util.hpp"

#include <gfd/io.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view where = "gfd::read_csv";
const std::string path = "fuzz.csv";

struct outcome {
  bool ok = false;
  gfd::table t;
  std::string error;
};

outcome parse(std::string_view text, Eigen::Index expected_dim = -1) {
  outcome o;
  o.ok = gfd_fuzz::accepts([&] { o.t = gfd::detail::io::parse_csv(where, path, text, expected_dim); },
                           &o.error);
  return o;
}

bool same(const outcome& a, const outcome& b) {
  if (a.ok != b.ok) return false;
  if (!a.ok) return a.error == b.error;
  return a.t.columns == b.t.columns && gfd_fuzz::same_bits(a.t.points, b.t.points);
}

void check_round_trip(const gfd::table& t) {
  const std::string file = gfd_fuzz::scratch_dir() + "/round_trip.csv";
  bool names_written = gfd_fuzz::accepts([&] { gfd::write_csv(file, t.points, t.columns); });
  if (!names_written) GFD_FUZZ_CHECK(gfd_fuzz::accepts([&] { gfd::write_csv(file, t.points); }));
  gfd::table back;
  GFD_FUZZ_CHECK(gfd_fuzz::accepts([&] { back = gfd::read_csv_table(file); }));
  GFD_FUZZ_CHECK(gfd_fuzz::same_bits(back.points, t.points));
  if (names_written) {
    GFD_FUZZ_CHECK(back.columns == t.columns);
  } else {
    for (Eigen::Index c = 0; c < t.points.rows(); ++c)
      GFD_FUZZ_CHECK(back.columns[static_cast<std::size_t>(c)] == gfd::default_column_name(c));
  }
  std::error_code ignored;
  std::filesystem::remove(file, ignored);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const outcome o = parse(text);

  if (text.substr(0, 3) != "\xEF\xBB\xBF") GFD_FUZZ_CHECK(same(parse("\xEF\xBB\xBF" + std::string(text)), o));
  if (text.find('\r') == std::string_view::npos) {
    std::string crlf;
    crlf.reserve(size + size / 8);
    for (char c : text) crlf += c == '\n' ? std::string_view("\r\n") : std::string_view(&c, 1);
    GFD_FUZZ_CHECK(same(parse(crlf), o));
  }
  if (!o.ok) return 0;

  const Eigen::Index d = o.t.points.rows();
  GFD_FUZZ_CHECK(d >= 1 && o.t.points.cols() >= 1);
  GFD_FUZZ_CHECK(o.t.columns.size() == static_cast<std::size_t>(d));
  GFD_FUZZ_CHECK(o.t.points.allFinite());
  GFD_FUZZ_CHECK(same(parse(text, d), o));
  GFD_FUZZ_CHECK(!parse(text, d + 1).ok);

  check_round_trip(o.t);
  return 0;
}
