// SPDX-License-Identifier: MIT
// The manifold layer: one battery of laws run against every manifold (R^d and S^{d-1}, float and
// double, fixed and dynamic d), kernels and normalising constants on the sphere, log I_nu,
// samplers, the sphere KDE (normalisation, scores by finite differences along geodesics), flows
// on the sphere (10,000 steps stay on it, velocities are tangent, orders of the steppers) and
// bad input.
#include <gfd/flow.hpp>
#include <gfd/manifolds.hpp>
#include <gfd/sphere.hpp>
#include <gfd/sphere_kernels.hpp>

#include <cmath>
#include <numbers>
#include <random>
#include <type_traits>

#include "catch.hpp"

namespace {

using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;
constexpr double pi = std::numbers::pi;
// The KDE on the sphere: gfd::kde over gfd::unit_sphere (it replaced gfd::sphere::kde).
template <class K = gfd::gaussian>
using sphere_kde = gfd::kde<K, double, Eigen::Dynamic, gfd::exact_evaluator, gfd::unit_sphere>;

// ---- concepts -------------------------------------------------------------------------------
static_assert(gfd::Manifold<gfd::euclidean> && gfd::Manifold<gfd::unit_sphere>);
static_assert(!gfd::Manifold<int> && !gfd::Manifold<gfd::gaussian>);
static_assert(gfd::Kernel<gfd::geodesic_gaussian> && gfd::BandwidthBoundKernel<gfd::geodesic_gaussian>);
static_assert(!gfd::BandwidthBoundKernel<gfd::gaussian> && !gfd::BandwidthBoundKernel<gfd::laplacian>);
// The default flow is the Euclidean one: adding the manifold parameter changed no existing type.
static_assert(std::is_same_v<gfd::flow<>, gfd::flow<gfd::gaussian, double, Eigen::Dynamic,
                                                    gfd::exact_evaluator, gfd::euclidean>>);
static_assert(std::is_empty_v<gfd::euclidean>);

// ---- the battery ----------------------------------------------------------------------------

template <class M, class S, int D, int DynamicD = 0>
struct manifold_case {
  using manifold = M;
  using scalar = S;
  static constexpr int dim_at_compile_time = D;
  static constexpr Eigen::Index dim = D == Eigen::Dynamic ? DynamicD : D;
  using point = Eigen::Matrix<S, D, 1>;
  // Round-off scale of the laws.
  static constexpr double tol = std::is_same_v<S, float> ? 2e-4 : 1e-11;
};

template <class C>
typename C::point random_point(std::mt19937_64& rng) {
  std::normal_distribution<double> g;
  typename C::point x(C::dim);
  for (Eigen::Index k = 0; k < C::dim; ++k) x(k) = static_cast<typename C::scalar>(g(rng));
  if constexpr (!C::manifold::is_euclidean) x /= x.norm();
  return x;
}

// A tangent vector at x of norm `len`.
template <class C>
typename C::point random_tangent(const typename C::manifold& m, const typename C::point& x,
                                 double len, std::mt19937_64& rng) {
  typename C::point u = m.project(x, random_point<C>(rng) + random_point<C>(rng));
  return u * static_cast<typename C::scalar>(len / static_cast<double>(u.norm()));
}

template <class P>
double gap(const P& a, const P& b) {
  return static_cast<double>((a - b).norm());
}

}  // namespace

TEMPLATE_TEST_CASE("manifold laws hold for every manifold", "[manifold][laws]",
                   (manifold_case<gfd::euclidean, double, 3>),
                   (manifold_case<gfd::euclidean, float, 2>),
                   (manifold_case<gfd::euclidean, double, Eigen::Dynamic, 9>),
                   (manifold_case<gfd::unit_sphere, double, 2>),
                   (manifold_case<gfd::unit_sphere, double, 3>),
                   (manifold_case<gfd::unit_sphere, double, Eigen::Dynamic, 7>),
                   (manifold_case<gfd::unit_sphere, double, Eigen::Dynamic, 128>),
                   (manifold_case<gfd::unit_sphere, float, 3>)) {
  using C = TestType;
  using P = typename C::point;
  using S = typename C::scalar;
  const typename C::manifold m{};
  const double tol = C::tol;
  std::mt19937_64 rng(42);
  INFO(C::manifold::name << " d = " << C::dim);
  for (int trial = 0; trial < 40; ++trial) {
    const P x = random_point<C>(rng);
    const P y = random_point<C>(rng);
    const P z = random_point<C>(rng);
    // Lengths up to 3 < pi, inside the injectivity radius of the sphere.
    const double len = 3.0 * (trial + 1) / 41.0;
    const P v = random_tangent<C>(m, x, len, rng);
    const P u = random_point<C>(rng) * S(2);
    const P w = random_point<C>(rng);
    // Points: exp and retract map into M; Exp_x(0) = x.
    REQUIRE(m.contains(x));
    CHECK(m.contains(m.exp(x, v)));
    CHECK(m.contains(m.retract(x, v)));
    CHECK(gap(m.exp(x, P(P::Zero(C::dim))), x) <= tol);
    // P_x is an orthogonal projector: idempotent, self-adjoint, u - P_x u orthogonal to T_x.
    const P pu = m.project(x, u);
    CHECK(gap(m.project(x, pu), pu) <= tol);
    CHECK(std::abs(static_cast<double>(pu.dot(w) - u.dot(m.project(x, w)))) <= 4 * tol);
    CHECK(std::abs(static_cast<double>((u - pu).dot(m.project(x, w)))) <= 4 * tol);
    // exp and log are inverse; distance is |log|, symmetric, and the length of the geodesic.
    CHECK(gap(m.log(x, m.exp(x, v)), v) <= 10 * tol * (1 + len));
    CHECK(gap(m.exp(x, m.log(x, y)), y) <= 10 * tol);
    const double dxy = static_cast<double>(m.distance(x, y));
    CHECK(std::abs(dxy - static_cast<double>(m.log(x, y).norm())) <= 10 * tol);
    CHECK(std::abs(dxy - static_cast<double>(m.distance(y, x))) <= tol);
    CHECK(std::abs(static_cast<double>(m.distance(x, m.exp(x, v))) - len) <= 10 * tol * (1 + len));
    CHECK(static_cast<double>(m.distance(x, z)) <=
          dxy + static_cast<double>(m.distance(y, z)) + 10 * tol);
    CHECK(static_cast<double>(m.distance(x, x)) <= tol);
    // Log_x(y) is tangent at x.
    CHECK(gap(m.project(x, m.log(x, y)), m.log(x, y)) <= 10 * tol);
  }
  if constexpr (std::is_same_v<S, double>) {
    // d/dt Exp_x(t v) at 0 is v, and R_x agrees with Exp_x to second order: the gap is O(t^3).
    const P x = random_point<C>(rng);
    const P v = random_tangent<C>(m, x, 1.0, rng);
    const double t = 1e-3;
    CHECK(gap(P((m.exp(x, P(t * v)) - x) / t), v) <= 1e-3);
    const double g1 = gap(m.retract(x, P(0.1 * v)), m.exp(x, P(0.1 * v)));
    const double g2 = gap(m.retract(x, P(0.05 * v)), m.exp(x, P(0.05 * v)));
    if (C::manifold::is_euclidean) {
      CHECK(g1 == 0.0);
    } else {
      CHECK(g1 < 1e-3);
      CHECK(g1 / g2 == Approx(8.0).epsilon(0.05));
    }
  }
}

// ---- the sphere itself ----------------------------------------------------------------------

TEST_CASE("the sphere's log and distance are accurate at tiny angles and at the antipode",
          "[manifold][sphere]") {
  const gfd::unit_sphere s;
  const Vec x = Vec::Unit(3, 0);
  const Vec v = Vec::Unit(3, 1) * 1e-9;
  const Vec y = s.exp(x, v);
  CHECK((s.log(x, y) - v).norm() <= 1e-6 * v.norm());
  CHECK(s.distance(x, y) == Approx(1e-9).epsilon(1e-6));
  // Antipode: the cut locus. log has length pi and exp brings it back to -x.
  const Vec lg = s.log(x, Vec(-x));
  CHECK(lg.norm() == Approx(pi));
  CHECK(std::abs(lg.dot(x)) < 1e-15);
  CHECK((s.exp(x, lg) + x).norm() < 1e-15);
  const Vec near_antipode = s.exp(x, Vec(Vec::Unit(3, 2) * (pi - 1e-9)));
  CHECK(s.distance(x, near_antipode) == Approx(pi - 1e-9).epsilon(1e-14));
  // exp wraps around: a full turn comes back.
  CHECK((s.exp(x, Vec(Vec::Unit(3, 1) * (2 * pi))) - x).norm() < 1e-14);
}

TEST_CASE("the sphere validates points and names the first one off it", "[manifold][sphere][errors]") {
  using gfd_test::contains_substring;
  const gfd::unit_sphere s;
  Mat x = gfd::sphere::uniform(3, 10, std::uint64_t{1});
  CHECK_NOTHROW(s.validate("f", "cloud", x));
  x.col(4) *= 1.01;
  REQUIRE_THROWS_AS(s.validate("f", "cloud", x), gfd::invalid_argument);
  REQUIRE_THROWS_WITH(s.validate("f", "cloud", x),
                      contains_substring("f: cloud: particle 4 has norm 1.01") &&
                          contains_substring("not on the unit sphere S^2 (tolerance 1e-06)"));
  CHECK_FALSE(s.contains(Vec(x.col(4))));
  CHECK(s.contains(Vec(x.col(3))));
  // Inside the tolerance: accepted.
  x.col(4) = x.col(3) * (1 + 1e-7);
  CHECK_NOTHROW(s.validate("f", "cloud", x));
  REQUIRE_THROWS_WITH(s.validate("f", "cloud", Mat::Ones(1, 4)),
                      contains_substring("needs d >= 2"));
  // Explicit normalisation is the way in; it refuses zero columns.
  Mat raw = Mat::Random(5, 6);
  CHECK_NOTHROW(s.validate("f", "cloud", gfd::sphere::normalise(raw)));
  raw.col(1).setZero();
  REQUIRE_THROWS_WITH(gfd::sphere::normalise(raw),
                      contains_substring("gfd::sphere::normalise: particle 1 has norm 0"));
}

// ---- kernels on the sphere ------------------------------------------------------------------

TEST_CASE("the geodesic Gaussian is exp(-theta^2 / 2h^2) in the chord variable, with its slope",
          "[kernels][sphere]") {
  for (double h : {0.05, 0.4, 1.5}) {
    const gfd::geodesic_gaussian k(h);
    for (double theta : {0.0, 1e-6, 0.01, 0.3, 1.0, 2.0, 3.0, pi - 1e-3}) {
      const double chord = 2 * std::sin(theta / 2);
      const double t = chord * chord / (h * h);
      CHECK(k.log_profile(t) == Approx(-theta * theta / (2 * h * h)).epsilon(1e-12).margin(1e-300));
      // slope = d phi / dt by central differences in t (where differentiable)
      if (theta > 1e-3 && theta < 3.0) {
        const double e = 1e-6 * t;
        const double fd = (k.log_profile(t + e) - k.log_profile(t - e)) / (2 * e);
        CHECK(k.slope(t) == Approx(fd).epsilon(1e-6));
      }
      // array forms agree with the scalar ones, in double and float
      const Eigen::ArrayXd ta = Eigen::ArrayXd::Constant(3, t);
      CHECK(k.log_profile_array(ta)(1) == Approx(k.log_profile(t)).epsilon(1e-14).margin(1e-300));
      CHECK(k.slope_array(ta)(2) == Approx(k.slope(t)).epsilon(1e-14));
      const Eigen::ArrayXf tf = Eigen::ArrayXf::Constant(2, static_cast<float>(t));
      CHECK(k.slope_array(tf)(0) == Approx(k.slope(static_cast<float>(t))).epsilon(1e-6));
    }
    CHECK(k.slope(0.0) == -0.5);
    // At and beyond the antipode (t >= 4 / h^2) the slope stays finite.
    CHECK(std::isfinite(k.slope(4.0 / (h * h))));
    CHECK(std::isfinite(k.slope(5.0 / (h * h))));
    CHECK(k.log_profile(5.0 / (h * h)) == Approx(-pi * pi / (2 * h * h)));
  }
  // Small bandwidths: the geodesic Gaussian tends to the chordal one.
  const gfd::geodesic_gaussian small(1e-4);
  CHECK(small.log_profile(2.0) == Approx(gfd::gaussian{}.log_profile(2.0)).epsilon(1e-7));
  REQUIRE_THROWS_WITH(gfd::geodesic_gaussian(1.0).log_normaliser(3),
                      gfd_test::contains_substring("gfd::sphere::log_normaliser"));
  REQUIRE_THROWS_AS(gfd::geodesic_gaussian(-1.0), gfd::invalid_argument);
}

TEST_CASE("bind_bandwidth passes plain kernels by reference and re-binds bound ones", "[kernels]") {
  const gfd::gaussian g;
  const auto& same = gfd::bind_bandwidth(g, 0.3);
  CHECK(&same == &g);
  const gfd::geodesic_gaussian k(1.0);
  const auto bound = gfd::bind_bandwidth(k, 0.3);
  CHECK(bound.bandwidth == 0.3);
  CHECK(k.bandwidth == 1.0);
}

// ---- log I_nu -------------------------------------------------------------------------------

TEST_CASE("log I_nu against closed forms, known values and the recurrence, for every regime",
          "[bessel]") {
  // Half-integer orders are elementary: I_{1/2}(x) = sqrt(2 / (pi x)) sinh x,
  // I_{3/2}(x) = sqrt(2 / (pi x)) (cosh x - sinh x / x); here in scaled log form.
  for (double x : {1e-3, 0.1, 1.0, 10.0, 100.0, 499.0, 501.0, 1e3, 1e4, 1e6, 1e9}) {
    INFO("x = " << x);
    const double e = std::exp(-2 * x);
    const double half = 0.5 * std::log(2 / (pi * x)) + std::log(-std::expm1(-2 * x) / 2);
    CHECK(gfd::log_bessel_i_scaled(0.5, x) == Approx(half).epsilon(1e-13).margin(1e-13));
    if (x >= 0.1) {
      const double three_halves = 0.5 * std::log(2 / (pi * x)) + std::log((1 + e) / 2 - (1 - e) / (2 * x));
      CHECK(gfd::log_bessel_i_scaled(1.5, x) == Approx(three_halves).epsilon(1e-12).margin(1e-12));
    }
  }
  CHECK(std::exp(gfd::log_bessel_i(0, 1)) == Approx(1.2660658777520082).epsilon(1e-14));
  CHECK(std::exp(gfd::log_bessel_i(1, 1)) == Approx(0.5651591039924851).epsilon(1e-14));
  CHECK(std::exp(gfd::log_bessel_i(0, 10)) == Approx(2815.716628466254).epsilon(1e-13));
  CHECK(std::exp(gfd::log_bessel_i(1, 10)) == Approx(2670.988303701255).epsilon(1e-13));
  CHECK(gfd::log_bessel_i(0, 0) == 0.0);
  CHECK(gfd::log_bessel_i(2, 0) == -std::numeric_limits<double>::infinity());
  // I_{nu-1}(x) - I_{nu+1}(x) = (2 nu / x) I_nu(x) (DLMF 10.29.1), across series, Hankel and Debye.
  for (double nu : {1.0, 2.5, 11.0, 30.0, 63.0, 200.0, 2000.0}) {
    for (double x : {0.5, 5.0, 50.0, 400.0, 499.99, 500.01, 2000.0, 1e5, 1e7}) {
      INFO("nu = " << nu << ", x = " << x);
      const double l = gfd::log_bessel_i_scaled(nu, x);
      const double lo = std::exp(gfd::log_bessel_i_scaled(nu - 1, x) - l);
      const double hi = std::exp(gfd::log_bessel_i_scaled(nu + 1, x) - l);
      CHECK(lo - hi == Approx(2 * nu / x).epsilon(1e-9).margin(1e-12 * lo));
    }
  }
  // Continuous across the switch at x = 500, whichever expansion takes over.
  for (double nu : {0.0, 0.5, 1.5, 11.0, 11.2, 12.0, 63.0, 200.0}) {
    const double below = gfd::log_bessel_i_scaled(nu, 500 * (1 - 1e-13));
    const double above = gfd::log_bessel_i_scaled(nu, 500 * (1 + 1e-13));
    CHECK(above == Approx(below).epsilon(1e-12));
  }
  REQUIRE_THROWS_WITH(gfd::log_bessel_i(-1, 1), gfd_test::contains_substring("nu must be finite and >= 0"));
  REQUIRE_THROWS_WITH(gfd::log_bessel_i(1, -1), gfd_test::contains_substring("x must be finite and >= 0"));
}

// ---- normalising constants on the sphere ----------------------------------------------------

namespace {
// integral_0^pi f(theta) d theta by composite Simpson with n (even) intervals.
template <class F>
double simpson(const F& f, double a, double b, int n) {
  const double step = (b - a) / n;
  double s = f(a) + f(b);
  for (int k = 1; k < n; ++k) s += f(a + k * step) * (k % 2 ? 4.0 : 2.0);
  return s * step / 3.0;
}
double sphere_area(int d) { return 2 * std::pow(pi, 0.5 * d) / std::tgamma(0.5 * d); }
// Integral over S^{d-1} of a function of the angle to a fixed pole, by Simpson in the angle.
template <class F>
double zonal_integral(const F& f, int d, int n = 200000) {
  return sphere_area(d - 1) *
         simpson([&](double th) { return f(th) * std::pow(std::sin(th), d - 2); }, 0.0, pi, n);
}
}  // namespace

TEST_CASE("the vMF normaliser matches closed forms on S^1 and S^2 and quadrature", "[normaliser][sphere]") {
  for (double kappa : {1e-8, 0.1, 1.0, 10.0, 100.0, 1e4, 1e7}) {
    INFO("kappa = " << kappa);
    // S^1: C_2 = 1 / (2 pi I_0(kappa)); S^2: C_3 = kappa / (4 pi sinh kappa).
    CHECK(gfd::sphere::vmf_log_normaliser(2, kappa) ==
          Approx(-std::log(2 * pi) - gfd::log_bessel_i(0, kappa)).epsilon(1e-13));
    const double log_sinh = kappa + std::log(-std::expm1(-2 * kappa) / 2);
    CHECK(gfd::sphere::vmf_log_normaliser(3, kappa) ==
          Approx(std::log(kappa) - std::log(4 * pi) - log_sinh).epsilon(1e-12));
  }
  for (int d : {2, 3, 5, 10}) {
    CHECK(gfd::sphere::vmf_log_normaliser(d, 0.0) == Approx(-std::log(sphere_area(d))));
    CHECK(gfd::sphere::vmf_log_normaliser(d, 1e-10) == Approx(-std::log(sphere_area(d))).epsilon(1e-9));
    for (double kappa : {0.5, 5.0, 50.0}) {
      INFO("d = " << d << ", kappa = " << kappa);
      const double mass = zonal_integral([&](double th) { return std::exp(kappa * std::cos(th)); }, d);
      CHECK(gfd::sphere::vmf_log_normaliser(d, kappa) == Approx(-std::log(mass)).epsilon(1e-9));
    }
  }
  REQUIRE_THROWS_WITH(gfd::sphere::vmf_log_normaliser(1, 1.0), gfd_test::contains_substring("d >= 2"));
  REQUIRE_THROWS_WITH(gfd::sphere::vmf_log_normaliser(3, -1.0), gfd_test::contains_substring("kappa"));
}

TEST_CASE("kernel normalisers on the sphere: closed form, adaptive quadrature, independent Simpson",
          "[normaliser][sphere]") {
  // The Gaussian's closed form (vMF) against the generic quadrature path, up to d = 128.
  for (int d : {2, 3, 5, 16, 128}) {
    for (double h : {0.01, 0.05, 0.3, 1.0, 3.0}) {
      INFO("d = " << d << ", h = " << h);
      const double closed = gfd::sphere::log_normaliser(gfd::gaussian{}, d, h);
      const double quad = gfd::detail::sphere_log_normaliser_quadrature(gfd::gaussian{}, d, h);
      CHECK(quad == Approx(closed).epsilon(1e-11));
    }
  }
  // Geodesic Gaussian on S^1: integral of exp(-theta^2 / 2h^2) over the circle = sqrt(2 pi) h erf(pi / (sqrt 2 h)).
  for (double h : {0.05, 0.5, 2.0}) {
    const double z = std::sqrt(2 * pi) * h * std::erf(pi / (std::sqrt(2.0) * h));
    CHECK(gfd::sphere::log_normaliser(gfd::geodesic_gaussian{}, 2, h) == Approx(std::log(z)).epsilon(1e-12));
  }
  // Other kernels and dimensions against Simpson in the angle (independent of the chord map).
  for (int d : {3, 6}) {
    for (double h : {0.2, 1.0}) {
      INFO("d = " << d << ", h = " << h);
      const auto chord2 = [h](double th) { return 4 * std::sin(th / 2) * std::sin(th / 2) / (h * h); };
      const double geo = zonal_integral([&](double th) { return std::exp(-th * th / (2 * h * h)); }, d);
      CHECK(gfd::sphere::log_normaliser(gfd::geodesic_gaussian{}, d, h) == Approx(std::log(geo)).epsilon(1e-9));
      const double lap = zonal_integral([&](double th) { return std::exp(gfd::laplacian{}.log_profile(chord2(th))); }, d);
      CHECK(gfd::sphere::log_normaliser(gfd::laplacian{}, d, h) == Approx(std::log(lap)).epsilon(1e-9));
      const gfd::inverse_multiquadric imq(1.0);
      const double cauchy = zonal_integral([&](double th) { return std::exp(imq.log_profile(chord2(th))); }, d);
      CHECK(gfd::sphere::log_normaliser(imq, d, h) == Approx(std::log(cauchy)).epsilon(1e-9));
      const double epa = zonal_integral([&](double th) { return std::exp(gfd::epanechnikov{}.log_profile(chord2(th))); }, d, 2000000);
      CHECK(gfd::sphere::log_normaliser(gfd::epanechnikov{}, d, h) == Approx(std::log(epa)).epsilon(1e-6));
    }
  }
}

// ---- the sphere KDE -------------------------------------------------------------------------

namespace {
// Integral of f over S^2 by Gauss-Legendre-free product rule: midpoint in cos(theta) is poor, so
// use Simpson in theta (weight sin theta) and the trapezoid in phi (spectral for periodic f).
template <class F>
double s2_integral(const F& f, int n_theta, int n_phi) {
  Mat pts(3, (n_theta + 1) * n_phi);
  Vec w((n_theta + 1) * n_phi);
  const double dth = pi / n_theta, dph = 2 * pi / n_phi;
  for (int a = 0; a <= n_theta; ++a) {
    const double th = a * dth;
    const double sw = (a == 0 || a == n_theta) ? 1.0 : (a % 2 ? 4.0 : 2.0);
    for (int b = 0; b < n_phi; ++b) {
      const double ph = b * dph;
      const Eigen::Index i = a * n_phi + b;
      pts.col(i) << std::sin(th) * std::cos(ph), std::sin(th) * std::sin(ph), std::cos(th);
      w(i) = sw * dth / 3.0 * std::sin(th) * dph;
    }
  }
  pts = gfd::sphere::normalise(pts);
  return w.dot(f(pts));
}
}  // namespace

TEST_CASE("the sphere KDE is a probability density on S^1 and S^2", "[kde][sphere]") {
  const Mat y3 = gfd::sphere::vmf_mixture(3, 4, 20.0, 30, 3).points;
  const Vec w = Vec::LinSpaced(30, 1.0, 3.0);
  const sphere_kde<> vmf(gfd::cloud_view<double>(y3, w), 0.3);
  CHECK(s2_integral([&](const Mat& q) { return Vec(vmf.density(q)); }, 400, 400) == Approx(1.0).epsilon(1e-6));
  const sphere_kde<gfd::geodesic_gaussian> geo(y3, 0.3);
  CHECK(s2_integral([&](const Mat& q) { return Vec(geo.density(q)); }, 400, 400) == Approx(1.0).epsilon(1e-6));
  const sphere_kde<gfd::laplacian> lap(y3, 0.5);
  CHECK(s2_integral([&](const Mat& q) { return Vec(lap.density(q)); }, 800, 800) == Approx(1.0).epsilon(1e-4));
  // S^1: trapezoid in the angle.
  const Mat y2 = gfd::sphere::vmf_mixture(2, 3, 10.0, 20, 4).points;
  const sphere_kde<> circ(y2, 0.2);
  const int n = 4000;
  Mat q(2, n);
  for (int i = 0; i < n; ++i) q.col(i) << std::cos(2 * pi * i / n), std::sin(2 * pi * i / n);
  CHECK(circ.density(q).sum() * 2 * pi / n == Approx(1.0).epsilon(1e-10));
  // One source: the vMF density C_d(kappa) exp(kappa <mu, x>).
  for (int d : {3, 10, 128}) {
    const Mat mu = gfd::sphere::uniform(d, 1, std::uint64_t(d));
    const Mat x = gfd::sphere::uniform(d, 5, std::uint64_t(d + 1));
    const double kappa = 40.0;
    const sphere_kde<> one(mu, gfd::sphere::bandwidth_of(kappa));
    CHECK(one.kappa() == Approx(kappa));
    const Vec expected = (gfd::sphere::vmf_log_normaliser(d, kappa) + kappa * (mu.transpose() * x).array()).matrix().transpose();
    CHECK((one.log_density(x) - expected).cwiseAbs().maxCoeff() < 1e-10);
  }
}

TEST_CASE("sphere KDE scores are tangent and match finite differences along geodesics", "[kde][sphere]") {
  const gfd::unit_sphere s;
  std::mt19937_64 rng(5);
  auto check_kernel = [&](const auto& density, int d) {
    const Mat x = gfd::sphere::uniform(d, 8, rng);
    const Mat score = density.score(x);
    for (Eigen::Index i = 0; i < x.cols(); ++i) {
      const Vec xi = x.col(i);
      CHECK(std::abs(score.col(i).dot(xi)) < 1e-12 * (1 + score.col(i).norm()));
      const Vec u = s.project(xi, Vec(gfd::sphere::uniform(d, 1, rng).col(0))).normalized();
      const double e = 1e-5;
      const double fd = (density.log_density_at(s.exp(xi, Vec(e * u))) -
                         density.log_density_at(s.exp(xi, Vec(-e * u)))) / (2 * e);
      CHECK(score.col(i).dot(u) == Approx(fd).epsilon(1e-6).margin(1e-7));
    }
  };
  for (int d : {3, 6}) {
    INFO("d = " << d);
    const Mat y = gfd::sphere::vmf_mixture(d, 3, 15.0, 40, 6).points;
    check_kernel(sphere_kde<>(y, 0.4), d);
    check_kernel(sphere_kde<gfd::geodesic_gaussian>(y, 0.4), d);
    check_kernel(sphere_kde<gfd::geodesic_gaussian>(y, 2.0), d);
    check_kernel(sphere_kde<gfd::inverse_multiquadric>(y, 0.4), d);
  }
}

// ---- sampling -------------------------------------------------------------------------------

TEST_CASE("uniform and von Mises-Fisher samples have the right moments", "[sampling][sphere]") {
  const Eigen::Index n = 20000;
  for (int d : {2, 3, 10}) {
    const Mat u = gfd::sphere::uniform(d, n, std::uint64_t(7));
    CHECK((u.colwise().norm().array() - 1).abs().maxCoeff() < 1e-14);
    CHECK(gfd::sphere::mean_resultant_length(u) < 4.0 / std::sqrt(double(n)));
    // E x x^T = I / d
    CHECK(((u * u.transpose()) / double(n) - Mat::Identity(d, d) / d).cwiseAbs().maxCoeff() < 0.02);
  }
  CHECK(gfd::sphere::vmf_mean_cosine(3, 2.0) == Approx(1 / std::tanh(2.0) - 0.5));
  for (int d : {2, 3, 10, 128}) {
    for (double kappa : {0.5, 5.0, 50.0, 1e4, 1e8}) {
      INFO("d = " << d << ", kappa = " << kappa);
      Vec mu = Vec::LinSpaced(d, 1.0, 2.0).normalized();
      const Mat x = gfd::sphere::vmf(mu, kappa, 4000, std::uint64_t(8));
      CHECK((x.colwise().norm().array() - 1).abs().maxCoeff() < 1e-14);
      const Eigen::ArrayXd c = (mu.transpose() * x).transpose().array();
      const double mean = c.mean(), sd = std::sqrt((c - mean).square().mean());
      const double expected = gfd::sphere::vmf_mean_cosine(d, kappa);
      CHECK(std::abs(mean - expected) < 5 * sd / std::sqrt(4000.0) + 1e-15);
      // the tangential part averages out: the mean points along mu
      const Vec m = x.rowwise().mean();
      CHECK((m - m.dot(mu) * mu).norm() < 5.0 / std::sqrt(4000.0) * std::sqrt(1 - expected * expected) + 1e-12);
    }
  }
  // Seeded: the same seed gives the same points.
  const Vec mu = Vec::Unit(3, 2);
  CHECK(gfd::sphere::vmf(mu, 3.0, 10, std::uint64_t(9)) == gfd::sphere::vmf(mu, 3.0, 10, std::uint64_t(9)));
  // Mixtures interleave components: point i belongs to centre i mod k.
  const auto mix = gfd::sphere::vmf_mixture(5, 4, 1e4, 40, 10);
  REQUIRE(mix.points.cols() == 40);
  REQUIRE(mix.mixture.centres.cols() == 4);
  for (Eigen::Index i = 0; i < 40; ++i) {
    Eigen::Index c = 0;
    (mix.points.col(i).transpose() * mix.mixture.centres).maxCoeff(&c);
    CHECK(c == i % 4);
  }
  const auto s2 = gfd::sphere::vmf_mixture(3, 6, 50, 12, 1);
  CHECK((s2.mixture.centres.colwise().norm().array() - 1).abs().maxCoeff() < 1e-14);
  CHECK(s2.mixture.angular_scale() == Approx(1 / std::sqrt(50.0)));
}

TEST_CASE("geodesic MMD and mode coverage", "[metrics][sphere]") {
  const auto mix = gfd::sphere::vmf_mixture(3, 6, 50.0, 600, 11);
  std::mt19937_64 rng(12);
  const Mat held = gfd::sphere::sample(mix.mixture, 600, rng);
  const Mat uni = gfd::sphere::uniform(3, 600, std::uint64_t(13));
  for (auto k : {gfd::sphere::mmd_kernel::vmf, gfd::sphere::mmd_kernel::geodesic_gaussian}) {
    const double same = gfd::sphere::mmd2_unbiased(mix.points, held, 0.3, k);
    const double diff = gfd::sphere::mmd2_unbiased(mix.points, uni, 0.3, k);
    CHECK(std::abs(same) < 0.1 * diff);
  }
  // The vMF MMD is the ambient Gaussian MMD.
  CHECK(gfd::sphere::mmd2_unbiased(mix.points, uni, 0.3) == Approx(gfd::mmd2_unbiased(mix.points, uni, 0.3)));
  const double r = 3 * mix.mixture.angular_scale();
  const auto c = gfd::sphere::mode_coverage(mix.points, mix.mixture.centres, r);
  CHECK(c.modes_covered == 6);
  CHECK(c.fraction_near > 0.95);
  const Mat one_mode = gfd::sphere::vmf(Vec(mix.mixture.centres.col(2)), 50.0, 300, std::uint64_t(14));
  CHECK(gfd::sphere::mode_coverage(one_mode, mix.mixture.centres, r).modes_covered == 1);
  Mat off = uni;
  off.col(7) *= 2;
  REQUIRE_THROWS_WITH(gfd::sphere::mmd2_unbiased(off, held, 0.3),
                      gfd_test::contains_substring("gfd::sphere::mmd2_unbiased: x: particle 7 has norm 2"));
  REQUIRE_THROWS_WITH(gfd::sphere::mode_coverage(uni, mix.mixture.centres, 4.0),
                      gfd_test::contains_substring("radius must be in (0, pi]"));
}

// ---- flows on the sphere --------------------------------------------------------------------

namespace {
using sphere_flow = gfd::flow<gfd::gaussian, double, Eigen::Dynamic, gfd::exact_evaluator, gfd::unit_sphere>;

double max_norm_error(const Mat& x) { return (x.colwise().norm().array() - 1).abs().maxCoeff(); }
}  // namespace

TEST_CASE("after 10000 steps every particle is on the sphere to 1e-12", "[flow][sphere]") {
  const Mat y = gfd::sphere::vmf_mixture(3, 3, 20.0, 30, 21).points;
  const Mat x0 = gfd::sphere::uniform(3, 20, std::uint64_t(22));
  gfd::flow_options o;
  o.max_steps = 10000;
  o.observe_every = 0;
  for (bool retraction : {false, true}) {
    for (auto method : {gfd::stepper::euler, gfd::stepper::heun}) {
      INFO("retraction " << retraction << ", stepper " << static_cast<int>(method));
      o.retraction = retraction;
      o.method = method;
      o.max_steps = method == gfd::stepper::euler ? 10000 : 1000;
      auto [x, rep] = sphere_flow(y, o).run_from(x0, gfd::kl());
      CHECK(rep.steps == o.max_steps);
      CHECK(max_norm_error(x) < 1e-12);
    }
  }
  // A fixed dimension and the geodesic Gaussian kernel.
  using fixed = gfd::flow<gfd::geodesic_gaussian, double, 3, gfd::exact_evaluator, gfd::unit_sphere>;
  const Eigen::Matrix<double, 3, Eigen::Dynamic> y3 = y, x3 = x0;
  o = {};
  o.max_steps = 2000;
  o.observe_every = 0;
  auto [x, rep] = fixed(y3, o).run_from(x3, gfd::chi2());
  CHECK(max_norm_error(x) < 1e-12);
  // float: to float round-off.
  o.max_steps = 2000;
  const Eigen::MatrixXf yf = y.cast<float>(), xf0 = x0.cast<float>();
  using float_flow = gfd::flow<gfd::gaussian, float, Eigen::Dynamic, gfd::exact_evaluator, gfd::unit_sphere>;
  auto [xf, repf] = float_flow(yf, o).run_from(xf0, gfd::kl());
  CHECK((xf.colwise().norm().array() - 1).abs().maxCoeff() < 1e-6f);
}

TEST_CASE("every divergence gives tangent velocities on the sphere; KL is the projected vMF score "
          "difference", "[flow][sphere]") {
  const Mat y = gfd::sphere::vmf_mixture(4, 3, 10.0, 80, 31).points;
  const Mat x = gfd::sphere::uniform(4, 40, std::uint64_t(32));
  gfd::flow_options o;
  o.bandwidth = gfd::bandwidth_schedule::fixed(0.4);
  auto tangent_error = [&](const Mat& v) {
    return (x.array() * v.array()).colwise().sum().abs().maxCoeff() / (1 + v.cwiseAbs().maxCoeff());
  };
  Mat v;
  const sphere_flow f(y, o);
  f.velocity(gfd::kl(), x, 0.4, 0, v);
  CHECK(tangent_error(v) < 1e-14);
  // Independent path: Riemannian scores of the two sphere KDEs.
  const sphere_kde<> p(y, 0.4), q(x, 0.4);
  CHECK((v - (p.score(x) - q.score(x))).cwiseAbs().maxCoeff() < 1e-11 * (1 + v.cwiseAbs().maxCoeff()));
  for (const auto& d : {gfd::reverse_kl(), gfd::chi2(), gfd::jensen_shannon()}) {
    f.velocity(d, x, 0.4, 0, v);
    CHECK(tangent_error(v) < 1e-14);
  }
  f.velocity(gfd::mmd{}, x, 0.4, 0, v);
  CHECK(tangent_error(v) < 1e-14);
  f.velocity(gfd::drifting_field{}, x, 0.4, 0, v);
  CHECK(tangent_error(v) < 1e-14);
  f.velocity(gfd::mixture(gfd::reverse_kl(), gfd::chi2(), 1.0, 0.5), x, 0.4, 0, v);
  CHECK(tangent_error(v) < 1e-14);
  // The geodesic Gaussian, re-bound to the bandwidth of the call (and of every multiplier).
  using geo_flow = gfd::flow<gfd::geodesic_gaussian, double, Eigen::Dynamic, gfd::exact_evaluator, gfd::unit_sphere>;
  o.bandwidth.multipliers = {1.0, 2.0};
  geo_flow(y, o).velocity(gfd::kl(), x, 0.3, 0, v);
  CHECK(tangent_error(v) < 1e-14);
  const sphere_kde<gfd::geodesic_gaussian> p1(y, 0.3), q1(x, 0.3), p2(y, 0.6), q2(x, 0.6);
  const Mat ref = p1.score(x) - q1.score(x) + p2.score(x) - q2.score(x);
  CHECK((v - ref).cwiseAbs().maxCoeff() < 1e-11 * (1 + ref.cwiseAbs().maxCoeff()));
  // Drifting temperatures pick bandwidths past the binding: refused, not silently wrong.
  REQUIRE_THROWS_WITH(geo_flow(y, o).velocity(gfd::drifting_field(gfd::deng_drifting_options()), x, 0.3, 0, v),
                      gfd_test::contains_substring("bandwidth-bound kernel 'geodesic-gaussian'"));
  CHECK_NOTHROW(geo_flow(y, o).velocity(gfd::drifting_field{}, x, 0.3, 0, v));
}

TEST_CASE("on the sphere Euler is first order and Heun second order", "[flow][sphere][order]") {
  const Mat y = gfd::sphere::vmf_mixture(3, 2, 5.0, 40, 41).points;
  const Mat x0 = gfd::sphere::uniform(3, 30, std::uint64_t(42));
  const double T = 0.5;
  auto run = [&](gfd::stepper method, int steps) {
    gfd::flow_options o;
    o.method = method;
    o.dt = T / steps;
    o.dt_in_bandwidth_units = false;
    o.max_steps = steps;
    o.max_displacement = 0;
    o.bandwidth = gfd::bandwidth_schedule::fixed(0.8);
    return Mat(sphere_flow(y, o).run_from(x0, gfd::kl()).first);
  };
  const Mat ref = run(gfd::stepper::heun, 1280);
  auto err = [&](gfd::stepper m, int steps) { return (run(m, steps) - ref).cwiseAbs().maxCoeff(); };
  const double e1 = err(gfd::stepper::euler, 20), e2 = err(gfd::stepper::euler, 40);
  const double h1 = err(gfd::stepper::heun, 20), h2 = err(gfd::stepper::heun, 40);
  CHECK(std::log2(e1 / e2) == Approx(1.0).margin(0.15));
  CHECK(std::log2(h1 / h2) == Approx(2.0).margin(0.25));
}

TEST_CASE("points off the sphere are rejected with the function, the particle and its norm",
          "[flow][sphere][errors]") {
  using gfd_test::contains_substring;
  Mat y = gfd::sphere::uniform(3, 20, std::uint64_t(51));
  Mat x = gfd::sphere::uniform(3, 10, std::uint64_t(52));
  Mat bad_y = y;
  bad_y.col(2) *= 1.1;
  REQUIRE_THROWS_AS(sphere_flow(bad_y), gfd::invalid_argument);
  REQUIRE_THROWS_WITH(sphere_flow(bad_y), contains_substring("gfd::flow: targets: particle 2 has norm 1.1"));
  Mat bad_x = x;
  bad_x.col(4) *= 0.5;
  REQUIRE_THROWS_WITH(sphere_flow(y).run(bad_x, gfd::kl()),
                      contains_substring("gfd::flow::run: particles: particle 4 has norm 0.5"));
  // Normalising explicitly is the way in.
  Mat fixed = gfd::sphere::normalise(bad_x);
  CHECK_NOTHROW(sphere_flow(y, gfd::flow_options{.max_steps = 3}).run(fixed, gfd::kl()));
  // S^0 is not a sphere the flow can live on.
  REQUIRE_THROWS_WITH(sphere_flow(Mat::Ones(1, 5)), contains_substring("needs d >= 2"));
  // The sphere KDE and the samplers check their input too.
  REQUIRE_THROWS_WITH(sphere_kde<>(bad_y, 0.3), contains_substring("gfd::sphere::kde: sources: particle 2"));
  REQUIRE_THROWS_WITH(sphere_kde<>(y, 0.3).log_density(bad_x),
                      contains_substring("gfd::sphere::kde::log_density: queries: particle 4 has norm 0.5"));
  REQUIRE_THROWS_WITH(sphere_kde<>(y, -0.3), contains_substring("bandwidth must be finite and > 0"));
  REQUIRE_THROWS_WITH(gfd::sphere::vmf(Vec(Vec::Ones(3)), 1.0, 5, std::uint64_t(1)),
                      contains_substring("gfd::sphere::vmf: mean direction mu must be a unit vector"));
  REQUIRE_THROWS_WITH(gfd::sphere::vmf(Vec(Vec::Unit(3, 0)), -1.0, 5, std::uint64_t(1)),
                      contains_substring("kappa must be finite and >= 0"));
  REQUIRE_THROWS_WITH(gfd::sphere::uniform(1, 5, std::uint64_t(1)), contains_substring("d >= 2"));
  REQUIRE_THROWS_WITH(gfd::sphere::vmf_mixture(3, 0, 1.0, 5, 1), contains_substring("centres must be >= 1"));
  // A tolerance can be loosened on purpose.
  Mat rough = y;
  rough.col(0) *= 1 + 1e-4;
  REQUIRE_THROWS_AS(sphere_flow(rough), gfd::invalid_argument);
  CHECK_NOTHROW(sphere_flow(rough, {}, {}, {}, gfd::unit_sphere{.tolerance = 1e-3}));
}
