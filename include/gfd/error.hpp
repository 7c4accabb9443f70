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
