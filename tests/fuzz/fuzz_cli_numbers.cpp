// SPDX-License-Identifier: MIT
/// @file fuzz_cli_numbers.cpp
/// @brief libFuzzer target of the gfd tool's string parsing (examples/cli/common.cpp, compiled in
///        unchanged): parse_number, positive_number, parse_pair (--mix) and the names of kernels,
///        divergences, evaluators and steppers (make_kernel, make_divergence, make_evaluator,
///        gfd::registry::make_stepper).
///
/// Properties, for any input string s:
///  - nothing but gfd_cli::usage_error (exit code 2) or gfd::invalid_argument escapes;
///  - parse_number(s) reads the same numbers as the CSV reader's field parser
///    (gfd::detail::io::parse_number: the same value bit for bit, nullopt for what it calls not a
///    number, empty or out of range), and what it reads survives std::to_chars and back;
///  - positive_number(s) returns exactly the finite positive values of parse_number, else throws;
///  - parse_pair(s) returns exactly (parse_number(A), parse_number(B)) for s = "A:B" split at the
///    first ':' when both lie in [0, 1e6] and are not both 0, else throws; so does --divergence
///    mixed;
///  - a name is accepted exactly when it is in the registry's list of names.
#include "fuzz_util.hpp"

#include "common.hpp"

#include <gfd/io.hpp>
#include <gfd/registry.hpp>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

/// Runs `f`: true if it returned, false on a usage error or gfd::invalid_argument; traps on
/// anything else.
template <class F>
bool cli_accepts(F&& f) {
  try {
    f();
    return true;
  } catch (const gfd_cli::usage_error& e) {
    GFD_FUZZ_CHECK(std::strlen(e.what()) > 0);
    return false;
  } catch (const gfd::invalid_argument& e) {
    GFD_FUZZ_CHECK(std::strlen(e.what()) > 0);
    return false;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gfd fuzz: unexpected exception %s: %s\n", typeid(e).name(), e.what());
    gfd_fuzz::violated("only usage_error or gfd::invalid_argument may escape", __FILE__, __LINE__);
  } catch (...) {
    gfd_fuzz::violated("a non-std exception escaped", __FILE__, __LINE__);
  }
}

bool same_double(double a, double b) {
  return std::isnan(a) ? std::isnan(b) : std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

void check_number(const std::string& s) {
  std::optional<double> v;
  GFD_FUZZ_CHECK(cli_accepts([&] { v = gfd_cli::parse_number(s); }));

  double io_value = 0;
  using kind = gfd::detail::io::field_kind;
  const kind k = gfd::detail::io::parse_number(s, io_value);
  switch (k) {
    case kind::number:
    case kind::non_finite: GFD_FUZZ_CHECK(v && same_double(*v, io_value)); break;
    case kind::not_number: GFD_FUZZ_CHECK(!v); break;
    case kind::empty:
    case kind::out_of_range: GFD_FUZZ_CHECK(!v); break;
  }
  if (v) {
    char buffer[64];
    const auto r = std::to_chars(buffer, buffer + sizeof buffer, *v);
    GFD_FUZZ_CHECK(r.ec == std::errc());
    const auto again = gfd_cli::parse_number(std::string(buffer, r.ptr));
    GFD_FUZZ_CHECK(again && same_double(*again, *v));
  }

  double p = 0;
  const bool positive = cli_accepts([&] { p = gfd_cli::positive_number(s, "--bandwidth"); });
  GFD_FUZZ_CHECK(positive == (v && std::isfinite(*v) && *v > 0));
  if (positive) GFD_FUZZ_CHECK(same_double(p, *v));
}

void check_pair(const std::string& s) {
  std::pair<double, double> got;
  const bool ok = cli_accepts([&] { got = gfd_cli::parse_pair(s, "--mix"); });
  const auto colon = s.find(':');
  bool expect = false;
  std::optional<double> a, b;
  if (colon != std::string::npos) {
    a = gfd_cli::parse_number(s.substr(0, colon));
    b = gfd_cli::parse_number(s.substr(colon + 1));
    // The weights scale the velocity as the step does: each must lie in [0, 1e6].
    expect = a && b && *a >= 0 && *a <= 1e6 && *b >= 0 && *b <= 1e6 && *a + *b > 0;
  }
  GFD_FUZZ_CHECK(ok == expect);
  if (ok) GFD_FUZZ_CHECK(same_double(got.first, *a) && same_double(got.second, *b));

  gfd_cli::divergence_choice mixed;
  mixed.name = "mixed";
  mixed.mix = s;
  GFD_FUZZ_CHECK(cli_accepts([&] { (void)gfd_cli::make_divergence(mixed); }) == ok);
}

bool listed(const std::vector<std::string>& names, const std::string& s) {
  return std::find(names.begin(), names.end(), s) != names.end();
}

void check_names(const std::string& s) {
  GFD_FUZZ_CHECK(cli_accepts([&] { (void)gfd_cli::make_kernel(s, 0.5); }) ==
                 listed(gfd_cli::kernel_names(), s));
  GFD_FUZZ_CHECK(cli_accepts([&] { (void)gfd_cli::make_evaluator(s, 1e-3); }) ==
                 listed(gfd_cli::evaluator_names(), s));
  GFD_FUZZ_CHECK(cli_accepts([&] { (void)gfd::registry::make_stepper(s); }) ==
                 listed(gfd_cli::stepper_names(), s));
  gfd_cli::divergence_choice c;
  c.name = s;
  GFD_FUZZ_CHECK(cli_accepts([&] { (void)gfd_cli::make_divergence(c); }) ==
                 listed(gfd_cli::divergence_names(), s));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string s(reinterpret_cast<const char*>(data), size);
  check_number(s);
  check_pair(s);
  check_names(s);
  return 0;
}
