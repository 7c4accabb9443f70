// SPDX-License-Identifier: MIT
/// @file catch.hpp
/// @brief Lets gfd tests compile against Catch2 v2 and v3 alike: include "catch.hpp".
///
/// Provides in both versions: the v3 macros that v2 also has (TEST_CASE, TEMPLATE_TEST_CASE,
/// REQUIRE_THROWS_AS, ...), `Approx` and `Catch::Approx`, and
/// `gfd_test::contains_substring(s)`, a string matcher for REQUIRE_THROWS_WITH / REQUIRE_THAT
/// (v2 calls it Catch::Matchers::Contains, v3 Catch::Matchers::ContainsSubstring).
#pragma once

#include <string>

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#define GFD_CATCH2_VERSION 3
// v3 has only Catch::Approx; v2 tests commonly write the unqualified name.
using Catch::Approx;
#else
#include <catch2/catch.hpp>
#define GFD_CATCH2_VERSION 2
// v2 has only Catch::Detail::Approx (re-exported globally); give it its v3 name.
namespace Catch {
using Detail::Approx;
}  // namespace Catch
#endif

namespace gfd_test {

/// Case-sensitive "message contains `s`" matcher, under whichever name this Catch2 uses.
inline auto contains_substring(const std::string& s) {
#if GFD_CATCH2_VERSION == 3
  return Catch::Matchers::ContainsSubstring(s);
#else
  return Catch::Matchers::Contains(s);
#endif
}

}  // namespace gfd_test
