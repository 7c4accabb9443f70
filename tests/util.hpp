// SPDX-License-Identifier: MIT
/// @file util.hpp
/// @brief Small helpers shared by the gfd tests.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <random>

namespace gfd_test {

/// d x n cloud of independent N(shift, scale^2) coordinates from a seeded std::mt19937_64
/// (std::normal_distribution: the same seed may give other points with another standard library,
/// so tests assert properties, never the points themselves).
inline Eigen::MatrixXd random_cloud(Eigen::Index d, Eigen::Index n, std::uint64_t seed,
                                    double scale = 1, double shift = 0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, scale);
  Eigen::MatrixXd x(d, n);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = g(rng) + shift;
  return x;
}

}  // namespace gfd_test
