// SPDX-License-Identifier: MIT
/// @file fuzz_util.hpp
/// @brief What the fuzz targets share: property checks that trap, the one exception type a
///        reader may throw, bitwise matrix comparison and a scratch directory for round trips.
#pragma once

#include <gfd/error.hpp>

#include <Eigen/Core>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>
#include <system_error>
#include <typeinfo>
#include <unistd.h>

namespace gfd_fuzz {

/// Reports a violated property and traps, so that libFuzzer saves the input as a crash.
[[noreturn]] inline void violated(const char* what, const char* file, int line) {
  std::fprintf(stderr, "gfd fuzz: property violated at %s:%d: %s\n", file, line, what);
  std::fflush(stderr);
  __builtin_trap();
}

#define GFD_FUZZ_CHECK(cond) \
  ((cond) ? static_cast<void>(0) : ::gfd_fuzz::violated(#cond, __FILE__, __LINE__))

/// Runs `f`; returns true if it returned, false if it threw gfd::invalid_argument (the readers'
/// one documented failure, error.hpp), whose message is stored in `message` when given. Any
/// other exception escaping is a bug: it traps, naming the exception's type and message.
template <class F>
bool accepts(F&& f, std::string* message = nullptr) {
  try {
    f();
    return true;
  } catch (const gfd::invalid_argument& e) {
    GFD_FUZZ_CHECK(std::strlen(e.what()) > 0);
    if (message) *message = e.what();
    return false;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gfd fuzz: unexpected exception %s: %s\n", typeid(e).name(), e.what());
    violated("only gfd::invalid_argument may escape a reader", __FILE__, __LINE__);
  } catch (...) {
    violated("only gfd::invalid_argument may escape a reader (got a non-std exception)",
             __FILE__, __LINE__);
  }
}

/// Same shape and the same bits (so -0.0 differs from 0.0, as the round trips promise).
inline bool same_bits(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(double)) == 0;
}

/// A directory of this process for the writers' round trips: in /dev/shm when it exists (no disk
/// I/O per input), removed at exit. (Never destroyed, so the exit handler can still read it.)
inline const std::string& scratch_dir() {
  static const std::string* const dir = [] {
    std::error_code ec;
    const std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec)
                                           ? std::filesystem::path("/dev/shm")
                                           : std::filesystem::temp_directory_path();
    auto* d = new std::string((base / ("gfd-fuzz-" + std::to_string(::getpid()))).string());
    std::filesystem::create_directories(*d, ec);
    if (ec) violated("cannot create the scratch directory", __FILE__, __LINE__);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch_dir(), ignored);
    });
    return d;
  }();
  return *dir;
}

}  // namespace gfd_fuzz
