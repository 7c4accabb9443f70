// SPDX-License-Identifier: MIT
/// @file error.hpp
/// @brief Exception types of gfd and the argument checks that throw them.
#pragma once

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace gfd {

/// Thrown on bad input. The message always starts with the public function that rejected the
/// input, followed by the offending value, e.g. "gfd::kde: bandwidth must be finite and > 0, got -1".
class invalid_argument : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

/// Thrown when a run goes numerically wrong (a non-finite particle, a diverging step). The message
/// names the step, the time and the first bad particle.
class numerical_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

namespace detail {

/// Builds "where: what" from any streamable pieces.
template <class... Parts>
[[nodiscard]] std::string message(std::string_view where, const Parts&... parts) {
  std::ostringstream os;
  os.precision(17);
  os << where << ": ";
  (os << ... << parts);
  return os.str();
}

/// `v` in at most 6 significant digits ("1e+06", "1.79769e+308", "0.1", "-2.5e-300", "inf", "nan"): for the
/// numbers an error message quotes, where 17 digits of the largest double would bury the point.
[[nodiscard]] inline std::string short_number(double v) {
  if (std::isnan(v)) return "nan";
  std::ostringstream os;
  os.precision(6);
  os << v;
  return os.str();
}

/// `text` as an error message may quote it: at most `max_chars` characters (longer text keeps its
/// head and says how many bytes it had), every byte that is not printable ASCII written as \xNN,
/// so binary input, a NUL or a terminal escape in a user's file never reaches the terminal raw.
[[nodiscard]] inline std::string quoted_excerpt(std::string_view text, std::size_t max_chars = 40) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "'";
  std::size_t shown = 0;
  for (; shown < text.size() && out.size() < max_chars + 1; ++shown) {
    const auto c = static_cast<unsigned char>(text[shown]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  out += "'";
  if (shown < text.size()) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

template <class... Parts>
[[noreturn]] void fail(std::string_view where, const Parts&... parts) {
  throw invalid_argument(message(where, parts...));
}

/// Throws unless `value` is finite and strictly positive (bandwidths, steps, temperatures).
template <class Scalar>
void require_positive(std::string_view where, std::string_view name, Scalar value) {
  if (!(std::isfinite(static_cast<double>(value)) && value > Scalar(0)))
    fail(where, name, " must be finite and > 0, got ", value);
}

/// Throws unless `a` and `b` (anything with rows(): Eigen matrices, clouds) have the same
/// dimension (number of rows), with the message "where: dimension mismatch: an has dimension
/// a.rows(), bn has dimension b.rows()". The one dimension check of gfd (kde, flows, metrics,
/// the generator). O(1).
/// @throws gfd::invalid_argument when the dimensions differ.
template <class A, class B>
void require_same_dim(std::string_view where, const A& a, std::string_view an, const B& b,
                      std::string_view bn) {
  if (a.rows() != b.rows())
    fail(where, "dimension mismatch: ", an, " has dimension ", a.rows(), ", ", bn,
         " has dimension ", b.rows());
}

}  // namespace detail
}  // namespace gfd
