// SPDX-License-Identifier: MIT
// Catch2 v2 test runner, compiled once into gfd_test_main (v3 ships Catch2::Catch2WithMain).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
