// SPDX-License-Identifier: MIT
// Kernels: normalising constants by quadrature, slopes by finite differences.
#include <gfd/kernels.hpp>

#include <cmath>
#include <numbers>

#include "catch.hpp"

namespace {

// Radial quadrature of |S^{d-1}| r^{d-1} exp(phi(r^2)) over [0, inf) with r = tan(theta), a
// midpoint rule in theta (fine enough for heavy tails).
template <class K>
double radial_mass(const K& k, int d) {
  const int steps = 400000;
  const double area = 2.0 * std::pow(std::numbers::pi, 0.5 * d) / std::tgamma(0.5 * d);
  double sum = 0;
  for (int s = 0; s < steps; ++s) {
    const double th = (s + 0.5) * (0.5 * std::numbers::pi) / steps;
    const double r = std::tan(th), dr = 1.0 / (std::cos(th) * std::cos(th));
    sum += std::pow(r, d - 1) * std::exp(k.log_profile(r * r)) * dr;
  }
  return area * sum * (0.5 * std::numbers::pi) / steps;
}

// Cartesian midpoint rule over [-L, L]^d for d = 1, 2: independent of any radial formula.
template <class K>
double cartesian_mass(const K& k, int d, double L, int steps) {
  const double du = 2 * L / steps;
  double sum = 0;
  if (d == 1) {
    for (int i = 0; i < steps; ++i) {
      const double u = -L + (i + 0.5) * du;
      sum += std::exp(k.log_profile(u * u));
    }
    return sum * du;
  }
  for (int i = 0; i < steps; ++i)
    for (int j = 0; j < steps; ++j) {
      const double u = -L + (i + 0.5) * du, v = -L + (j + 0.5) * du;
      sum += std::exp(k.log_profile(u * u + v * v));
    }
  return sum * du * du;
}

template <class K>
void check_slope(const K& k) {
  // d phi / d t against a central difference, at points inside any support.
  for (double t : {0.01, 0.2, 0.5, 0.8, 2.0, 7.0}) {
    if (t >= k.support_radius() * k.support_radius()) continue;
    const double e = 1e-6;
    const double fd = (k.log_profile(t + e) - k.log_profile(t - e)) / (2 * e);
    CHECK(k.slope(t) == Approx(fd).epsilon(1e-6));
    // The array form agrees with the scalar one.
    Eigen::ArrayXd a(1);
    a << t;
    const Eigen::ArrayXd lp = k.log_profile_array(a), sl = k.slope_array(a);
    CHECK(lp(0) == Approx(k.log_profile(t)).epsilon(1e-14));
    CHECK(sl(0) == Approx(k.slope(t)).epsilon(1e-14));
  }
}

}  // namespace

TEST_CASE("kernels integrate to one by Cartesian quadrature in 1D and 2D", "[kernels]") {
  // Laplacian tails e^{-L}, Gaussian e^{-L^2/2}: L = 40 and 12 are far beyond round-off.
  CHECK(cartesian_mass(gfd::gaussian{}, 1, 12, 200000) / std::exp(gfd::gaussian{}.log_normaliser(1)) ==
        Approx(1).epsilon(1e-9));
  CHECK(cartesian_mass(gfd::gaussian{}, 2, 12, 1200) / std::exp(gfd::gaussian{}.log_normaliser(2)) ==
        Approx(1).epsilon(1e-6));
  CHECK(cartesian_mass(gfd::laplacian{}, 1, 40, 400000) / std::exp(gfd::laplacian{}.log_normaliser(1)) ==
        Approx(1).epsilon(1e-7));
  CHECK(cartesian_mass(gfd::laplacian{}, 2, 40, 2000) / std::exp(gfd::laplacian{}.log_normaliser(2)) ==
        Approx(1).epsilon(1e-4));
  CHECK(cartesian_mass(gfd::epanechnikov{}, 1, 1, 200000) /
            std::exp(gfd::epanechnikov{}.log_normaliser(1)) == Approx(1).epsilon(1e-8));
  CHECK(cartesian_mass(gfd::epanechnikov{}, 2, 1, 2000) /
            std::exp(gfd::epanechnikov{}.log_normaliser(2)) == Approx(1).epsilon(1e-4));
}

TEST_CASE("kernels integrate to one in d = 1..6 by radial quadrature", "[kernels]") {
  for (int d = 1; d <= 6; ++d) {
    INFO("d = " << d);
    CHECK(radial_mass(gfd::gaussian{}, d) == Approx(std::exp(gfd::gaussian{}.log_normaliser(d))).epsilon(1e-6));
    CHECK(radial_mass(gfd::laplacian{}, d) == Approx(std::exp(gfd::laplacian{}.log_normaliser(d))).epsilon(1e-6));
    CHECK(radial_mass(gfd::epanechnikov{}, d) ==
          Approx(std::exp(gfd::epanechnikov{}.log_normaliser(d))).epsilon(1e-6));
    const gfd::inverse_multiquadric imq(0.5 * d + 1.0);  // normalisable: beta > d/2
    CHECK(radial_mass(imq, d) == Approx(std::exp(imq.log_normaliser(d))).epsilon(1e-5));
  }
}

TEST_CASE("a non-normalisable inverse multiquadric is rejected with the dimension", "[kernels]") {
  const gfd::inverse_multiquadric imq(1.0);
  CHECK_NOTHROW(imq.log_normaliser(1));
  REQUIRE_THROWS_AS(imq.log_normaliser(2), gfd::invalid_argument);
  REQUIRE_THROWS_WITH(imq.log_normaliser(2), gfd_test::contains_substring("dimension 2"));
  REQUIRE_THROWS_AS(gfd::inverse_multiquadric(-1.0), gfd::invalid_argument);
  REQUIRE_THROWS_AS(gfd::gaussian{}.log_normaliser(0), gfd::invalid_argument);
}

TEST_CASE("kernel slopes match finite differences of the log-profile", "[kernels]") {
  check_slope(gfd::gaussian{});
  check_slope(gfd::laplacian{});
  check_slope(gfd::epanechnikov{});
  check_slope(gfd::inverse_multiquadric{});
  check_slope(gfd::inverse_multiquadric{3.0});
}

TEST_CASE("grad log k_h matches finite differences in 3D, float and double", "[kernels]") {
  // grad_u log k(u/h) = 2 phi'(|u|^2/h^2) u / h^2, checked coordinate-wise.
  const double h = 0.7;
  const Eigen::Vector3d u(0.3, -0.2, 0.25);
  auto check = [&](const auto& k) {
    auto logk = [&](const Eigen::Vector3d& v) { return k.log_profile(v.squaredNorm() / (h * h)); };
    const Eigen::Vector3d g = 2 * k.slope(u.squaredNorm() / (h * h)) * u / (h * h);
    for (int i = 0; i < 3; ++i) {
      Eigen::Vector3d e = Eigen::Vector3d::Zero();
      e(i) = 1e-6;
      CHECK(g(i) == Approx((logk(u + e) - logk(u - e)) / 2e-6).epsilon(1e-6));
    }
    // Float evaluation agrees with double to float precision.
    const float tf = static_cast<float>(u.squaredNorm() / (h * h));
    CHECK(k.log_profile(tf) == Approx(k.log_profile(static_cast<double>(tf))).epsilon(1e-6));
  };
  check(gfd::gaussian{});
  check(gfd::laplacian{});
  check(gfd::epanechnikov{});
  check(gfd::inverse_multiquadric{});
}

TEST_CASE("kernels are radial: equal at u and -u and under rotation", "[kernels]") {
  // The interface takes |u|^2 only, so symmetry is structural; check the profile is decreasing,
  // which is what makes the mean shift move toward mass.
  auto decreasing = [](const auto& k) {
    double prev = k.log_profile(0.0);
    for (double t = 0.05; t < 0.95; t += 0.05) {
      const double v = k.log_profile(t);
      CHECK(v < prev);
      prev = v;
    }
  };
  decreasing(gfd::gaussian{});
  decreasing(gfd::laplacian{});
  decreasing(gfd::epanechnikov{});
  decreasing(gfd::inverse_multiquadric{});
  CHECK(gfd::epanechnikov{}.log_profile(1.5) == -std::numeric_limits<double>::infinity());
  CHECK(gfd::epanechnikov{}.slope(1.5) == 0.0);
  CHECK(gfd::laplacian{}.slope(0.0) == 0.0);
}
