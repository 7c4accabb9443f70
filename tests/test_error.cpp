// SPDX-License-Identifier: MIT
// Tests of include/gfd/error.hpp: exception hierarchy, message format, require_positive.
#include <gfd/error.hpp>

#include "catch.hpp"

#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

// Users catch std exceptions without knowing gfd; the hierarchy is the public contract.
static_assert(std::is_base_of_v<std::invalid_argument, gfd::invalid_argument>);
static_assert(std::is_base_of_v<std::runtime_error, gfd::numerical_error>);
static_assert(!std::is_base_of_v<std::invalid_argument, gfd::numerical_error>);

namespace {

/// What require_positive threw, or "" if it did not throw gfd::invalid_argument.
template <class Scalar>
std::string rejection(Scalar value) {
  try {
    gfd::detail::require_positive("gfd::some_function", "bandwidth", value);
  } catch (const gfd::invalid_argument& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEMPLATE_TEST_CASE("require_positive rejects non-positive and non-finite values", "[error]",
                   float, double) {
  using limits = std::numeric_limits<TestType>;
  struct bad_case {
    TestType value;
    const char* printed;  // how the value must appear in the message
  };
  const bad_case cases[] = {{TestType(0), "0"},
                            {TestType(-1), "-1"},
                            {limits::quiet_NaN(), "nan"},
                            {limits::infinity(), "inf"},
                            {-limits::infinity(), "-inf"},
                            {-limits::denorm_min(), "-"}};
  for (const auto& c : cases) {
    CAPTURE(c.value);
    const std::string msg = rejection(c.value);
    REQUIRE_FALSE(msg.empty());
    // The documented format: starts with the rejecting function, names the argument and value.
    CHECK(msg.rfind("gfd::some_function: ", 0) == 0);
    CHECK(msg.find("bandwidth") != std::string::npos);
    CHECK(msg.find(c.printed) != std::string::npos);
  }
}

TEMPLATE_TEST_CASE("require_positive accepts finite positive values", "[error]", float, double) {
  using limits = std::numeric_limits<TestType>;
  for (const TestType v : {TestType(0.5), TestType(1), limits::denorm_min(), limits::min(),
                           limits::epsilon(), limits::max()}) {
    CAPTURE(v);
    CHECK_NOTHROW(gfd::detail::require_positive("f", "h", v));
  }
}

TEST_CASE("require_positive errors are catchable as std::invalid_argument", "[error]") {
  REQUIRE_THROWS_AS(gfd::detail::require_positive("f", "h", -1.0), std::invalid_argument);
  REQUIRE_THROWS_WITH(gfd::detail::require_positive("gfd::kde", "bandwidth", -1.0),
                      gfd_test::contains_substring("gfd::kde: bandwidth") &&
                          gfd_test::contains_substring("-1"));
}

TEST_CASE("detail::message joins its parts after 'where: '", "[error]") {
  CHECK(gfd::detail::message("gfd::flow", "step ", 3, ", particle ", 7) ==
        "gfd::flow: step 3, particle 7");
  // 17 significant digits: a double printed in a message must identify the value exactly.
  CHECK(gfd::detail::message("w", 0.1) == "w: 0.10000000000000001");
}

TEST_CASE("detail::fail throws gfd::invalid_argument with the built message", "[error]") {
  REQUIRE_THROWS_AS(gfd::detail::fail("gfd::x", "bad ", 1), gfd::invalid_argument);
  REQUIRE_THROWS_WITH(gfd::detail::fail("gfd::x", "bad ", 1), "gfd::x: bad 1");
}

TEST_CASE("numerical_error carries its message", "[error]") {
  const gfd::numerical_error e("gfd::integrate: non-finite particle 4 at step 10, t = 0.5");
  CHECK(std::string(e.what()) == "gfd::integrate: non-finite particle 4 at step 10, t = 0.5");
}
