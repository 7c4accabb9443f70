// SPDX-License-Identifier: MIT
/// @file detail/npy_format.hpp
/// @brief The NumPy .npy format (versions 1-3, little- or big-endian float64/float32/int
///        arrays, C or Fortran order) parsed and written for gfd/io.hpp.
#pragma once

#include <Eigen/Core>

#include <Eigen/Core>
#include <atomic>
#include <bit>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../error.hpp"

namespace gfd::detail::io {

using gfd::detail::fail;

// ---------------------------------------------------------------------------------------------
// NPY
// ---------------------------------------------------------------------------------------------

struct npy_header {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
};

/// Parses the Python dict literal of a .npy header: {'descr': ..., 'fortran_order': ..., 'shape': (...)}.
class npy_header_parser {
public:
  npy_header_parser(std::string_view where, const std::string& path, std::string_view text)
      : where_(where), path_(path), text_(text) {}

  npy_header parse() {
    npy_header h;
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (peek() == '[') bad("structured dtypes (a list descr) are not supported");
        h.descr = string_literal();
        seen_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        seen_fortran = true;
      } else if (key == "shape") {
        h.shape = shape_tuple();
        seen_shape = true;
      } else {
        bad("unexpected key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') bad("expected ',' or '}'");
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) bad("unexpected text after the dict");
    if (!seen_descr || !seen_fortran || !seen_shape)
      bad("missing key 'descr', 'fortran_order' or 'shape'");
    return h;
  }

private:
  [[noreturn]] void bad(const std::string& what) const {
    fail(where_, path_, ": malformed .npy header: ", what, " in ", gfd::detail::quoted_excerpt(text_, 120));
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) bad(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string string_literal() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') bad("expected a string");
    const auto end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) bad("unterminated string");
    std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return s;
  }
  bool boolean() {
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    bad("expected True or False");
  }
  std::vector<std::uint64_t> shape_tuple() {
    expect('(');
    std::vector<std::uint64_t> shape;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      std::uint64_t value = 0;
      const auto [ptr, ec] = std::from_chars(text_.data() + pos_, text_.data() + text_.size(), value);
      if (ec != std::errc() || ptr == text_.data() + pos_) bad("expected a non-negative integer in shape");
      pos_ = static_cast<std::size_t>(ptr - text_.data());
      shape.push_back(value);
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') bad("expected ',' or ')' in shape");
    }
    ++pos_;
    return shape;
  }

  std::string_view where_;
  const std::string& path_;
  std::string_view text_;
  std::size_t pos_ = 0;
};

inline std::uint64_t load_le(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int b = bytes - 1; b >= 0; --b) v = (v << 8) | p[b];
  return v;
}

inline void store_le(std::string& out, std::uint64_t v, int bytes) {
  for (int b = 0; b < bytes; ++b) out += static_cast<char>((v >> (8 * b)) & 0xff);
}

inline std::string shape_string(const std::vector<std::uint64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

inline Eigen::MatrixXd parse_npy(std::string_view where, const std::string& path,
                                 std::string_view bytes, Eigen::Index expected_dim) {
  if (bytes.empty()) fail(where, path, ": empty file");
  if (bytes.substr(0, 6) != std::string_view("\x93NUMPY", 6))
    fail(where, path, ": not a .npy file (bad magic string)");
  if (bytes.size() < 10) fail(where, path, ": truncated .npy header");
  const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
  const int major = u[6], minor = u[7];
  std::size_t header_start = 0, header_len = 0;
  if (major == 1) {
    header_start = 10;
    header_len = static_cast<std::size_t>(load_le(u + 8, 2));
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail(where, path, ": truncated .npy header");
    header_start = 12;
    header_len = static_cast<std::size_t>(load_le(u + 8, 4));
  } else {
    fail(where, path, ": unsupported .npy format version ", major, ".", minor,
         " (supported: 1.0, 2.0, 3.0)");
  }
  if (bytes.size() - header_start < header_len)
    fail(where, path, ": truncated .npy header (", header_len, " bytes announced, ",
         bytes.size() - header_start, " present)");
  const npy_header h =
      npy_header_parser(where, path, bytes.substr(header_start, header_len)).parse();

  if (h.descr.size() < 2) fail(where, path, ": unsupported dtype ", gfd::detail::quoted_excerpt(h.descr));
  const char order = h.descr.front();
  const std::string_view type = std::string_view(h.descr).substr(1);
  if (type.find('O') != std::string_view::npos)
    fail(where, path, ": object arrays (dtype ", gfd::detail::quoted_excerpt(h.descr), ") are not supported");
  if (order == '>' && (type == "f8" || type == "f4"))
    fail(where, path, ": big-endian data (dtype ", gfd::detail::quoted_excerpt(h.descr), ") is not supported");
  if ((order != '<' && order != '|') || (type != "f8" && type != "f4"))
    fail(where, path, ": unsupported dtype ", gfd::detail::quoted_excerpt(h.descr), " (supported: '<f8', '<f4')");
  const int item = type == "f8" ? 8 : 4;

  if (h.shape.empty() || h.shape.size() > 2)
    fail(where, path, ": expected shape (N,) or (N, d), got ", shape_string(h.shape));
  const std::uint64_t n = h.shape[0];
  const std::uint64_t d = h.shape.size() == 2 ? h.shape[1] : 1;
  if (n == 0) fail(where, path, ": no points (shape ", shape_string(h.shape), ")");
  if (d == 0) fail(where, path, ": points of dimension 0 (shape ", shape_string(h.shape), ")");
  constexpr auto max_index = static_cast<std::uint64_t>(std::numeric_limits<Eigen::Index>::max());
  if (n > max_index / d / static_cast<std::uint64_t>(item))
    fail(where, path, ": shape ", shape_string(h.shape), " is too large");
  if (expected_dim != -1 && static_cast<Eigen::Index>(d) != expected_dim)
    fail(where, path, ": expected dimension ", expected_dim, ", got ", d, " (shape ",
         shape_string(h.shape), ")");

  const std::uint64_t count = n * d;
  const std::uint64_t need = count * static_cast<std::uint64_t>(item);
  const std::uint64_t have = bytes.size() - header_start - header_len;
  if (have < need)
    fail(where, path, ": truncated data: shape ", shape_string(h.shape), " needs ", need,
         " bytes, file has ", have);
  if (have > need)
    fail(where, path, ": ", have - need, " unexpected bytes after the data of shape ",
         shape_string(h.shape));

  const unsigned char* data = u + header_start + header_len;
  Eigen::MatrixXd points(static_cast<Eigen::Index>(d), static_cast<Eigen::Index>(n));
  for (std::uint64_t k = 0; k < count; ++k) {
    const std::uint64_t bits = load_le(data + k * static_cast<std::uint64_t>(item), item);
    const double v = item == 8 ? std::bit_cast<double>(bits)
                               : static_cast<double>(
                                     std::bit_cast<float>(static_cast<std::uint32_t>(bits)));
    // C order (N, d): element (i, j) at i*d + j; Fortran order: at i + j*N.
    const std::uint64_t i = h.fortran_order ? k % n : k / d;
    const std::uint64_t j = h.fortran_order ? k / n : k % d;
    if (!std::isfinite(v))
      fail(where, path, ": non-finite value ", v, " at row ", i + 1, ", column ", j + 1);
    points(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(i)) = v;
  }
  return points;
}

}  // namespace gfd::detail::io
