// SPDX-License-Identifier: MIT
// The exact velocity of a smoothed f-divergence F(q) = D_f(k*q || k*p) (smoothed.hpp, DESIGN
// 1.7) against its definition: F by an independent quadrature of the two KDEs written here, and
// v(x_i) = -N dF/dx_i by central finite differences, in 1-D and 2-D, for KL, reverse KL and
// chi^2; the plug-in field gfd::kl() is a different field; Monte Carlo against the lattice
// within its standard error, and its seeding; a non-Gaussian kernel on the lattice; bad input;
// a short flow, and the same velocity through the tree evaluator.
#include <gfd/divergences.hpp>
#include <gfd/evaluators/exact.hpp>
#include <gfd/evaluators/tree.hpp>
#include <gfd/flow.hpp>
#include <gfd/metrics.hpp>
#include <gfd/smoothed.hpp>
#include <gfd/toy.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <numbers>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "catch.hpp"
#include "util.hpp"

namespace {

using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;
using gfd_test::random_cloud;
using est = gfd::smoothed_options::estimator;
constexpr double pi = std::numbers::pi;

// ---------------------------------------------------------------------------------------------
// The reference: KDEs, the f-divergences' integrands and F by quadrature, all written here.
// ---------------------------------------------------------------------------------------------

enum class fkind { kl, reverse_kl, chi2 };

// p~ f(q~/p~) with f normalised (f(1) = f'(1) = 0, which changes no divergence between
// probability densities and makes the integrand decay), from log q~ and log p~.
double integrand(fkind f, double lq, double lp) {
  const double q = std::exp(lq), p = std::exp(lp);
  switch (f) {
    case fkind::kl: return q * (lq - lp) - q + p;           // f(r) = r log r - r + 1
    case fkind::reverse_kl: return p * (lp - lq) + q - p;   // f(r) = -log r + r - 1
    case fkind::chi2: return std::exp(2 * lq - lp) - 2 * q + p;  // f(r) = (r - 1)^2
  }
  return 0;
}

gfd::f_divergence make_f(fkind f, gfd::ratio_policy r = {}) {
  switch (f) {
    case fkind::kl: return gfd::kl(r);
    case fkind::reverse_kl: return gfd::reverse_kl(r);
    case fkind::chi2: return gfd::chi2(r);
  }
  return gfd::kl(r);
}

enum class kern { gaussian, laplacian };

// log of the normalised KDE sum_j w_j k_h(z - c_j) (k_h integrating to one), by log-sum-exp.
double log_kde(const Mat& c, const Vec& lw, const double* z, double h, kern k) {
  const auto d = c.rows();
  std::vector<double> t(static_cast<std::size_t>(c.cols()));
  double top = -INFINITY;
  for (Eigen::Index j = 0; j < c.cols(); ++j) {
    double r2 = 0;
    for (Eigen::Index a = 0; a < d; ++a) r2 += (z[a] - c(a, j)) * (z[a] - c(a, j));
    const double e = k == kern::gaussian ? -0.5 * r2 / (h * h) : -std::sqrt(r2) / h;
    t[static_cast<std::size_t>(j)] = lw(j) + e;
    top = std::max(top, t[static_cast<std::size_t>(j)]);
  }
  double s = 0;
  for (double v : t) s += std::exp(v - top);
  const double dd = static_cast<double>(d);
  // Gaussian: (2 pi h^2)^{d/2}; Laplacian (1-D only here): 2 h.
  const double log_norm = k == kern::gaussian ? 0.5 * dd * std::log(2 * pi * h * h) : std::log(2 * h);
  return top + std::log(s) - log_norm;
}

Vec uniform_log(Eigen::Index n) { return Vec::Constant(n, -std::log(static_cast<double>(n))); }

Vec random_log_weights(Eigen::Index m, std::uint64_t seed) {
  Vec w = (random_cloud(1, m, seed).array().abs() + 0.2).matrix().transpose();
  return (w / w.sum()).array().log().matrix();
}

// F = int p~ f(q~/p~) in 1-D: composite 5-point Gauss-Legendre on pieces of length <= h/8
// between consecutive data points (where a Laplacian KDE has its kinks), with tails of 45 h.
// max_abs_log_ratio gets the largest |log q~ - log p~| within 8 h of the data.
double quadrature_1d(fkind f, const Mat& x, const Mat& y, const Vec& lwy, double h, kern k,
                     double* max_abs_log_ratio = nullptr) {
  static constexpr std::array<double, 5> gx{0.0, -0.5384693101056831, 0.5384693101056831,
                                            -0.9061798459386640, 0.9061798459386640};
  static constexpr std::array<double, 5> gw{0.5688888888888889, 0.4786286704993665, 0.4786286704993665,
                                            0.2369268850561891, 0.2369268850561891};
  std::vector<double> br(x.data(), x.data() + x.size());
  br.insert(br.end(), y.data(), y.data() + y.size());
  std::sort(br.begin(), br.end());
  br.insert(br.begin(), br.front() - 45 * h);
  br.push_back(br.back() + 45 * h);
  const Vec lwx = uniform_log(x.cols());
  double sum = 0, top = 0;
  for (std::size_t b = 0; b + 1 < br.size(); ++b) {
    const double len = br[b + 1] - br[b];
    if (len <= 0) continue;
    const int pieces = static_cast<int>(std::ceil(len / (h / 8)));
    const double w = len / pieces;
    for (int p = 0; p < pieces; ++p) {
      const double mid = br[b] + (p + 0.5) * w;
      for (std::size_t g = 0; g < 5; ++g) {
        const double z = mid + 0.5 * w * gx[g];
        const double lq = log_kde(x, lwx, &z, h, k), lp = log_kde(y, lwy, &z, h, k);
        if (z >= br[1] - 8 * h && z <= br[br.size() - 2] + 8 * h) top = std::max(top, std::abs(lq - lp));
        sum += 0.5 * w * gw[g] * integrand(f, lq, lp);
      }
    }
  }
  if (max_abs_log_ratio) *max_abs_log_ratio = top;
  return sum;
}

// F in 2-D (Gaussian kernel): the trapezoid rule on a grid of spacing h/5 over the bounding box
// of both clouds padded by 8 h (spectrally accurate for these smooth, decaying integrands).
// max_abs_log_ratio gets the largest |log q~ - log p~| on the grid.
double quadrature_2d(fkind f, const Mat& x, const Mat& y, const Vec& lwy, double h,
                     double* max_abs_log_ratio = nullptr) {
  const double step = h / 5;
  std::array<double, 2> lo{}, n{};
  for (int a = 0; a < 2; ++a) {
    lo[a] = std::min(x.row(a).minCoeff(), y.row(a).minCoeff()) - 8 * h;
    const double hi = std::max(x.row(a).maxCoeff(), y.row(a).maxCoeff()) + 8 * h;
    n[a] = std::ceil((hi - lo[a]) / step);
  }
  const Vec lwx = uniform_log(x.cols());
  double sum = 0, top = 0;
  for (int i = 0; i <= static_cast<int>(n[0]); ++i)
    for (int j = 0; j <= static_cast<int>(n[1]); ++j) {
      const std::array<double, 2> z{lo[0] + i * step, lo[1] + j * step};
      const double lq = log_kde(x, lwx, z.data(), h, kern::gaussian);
      const double lp = log_kde(y, lwy, z.data(), h, kern::gaussian);
      top = std::max(top, std::abs(lq - lp));
      sum += integrand(f, lq, lp);  // the integrand is ~1e-14 of its peak at the box's edge
    }
  if (max_abs_log_ratio) *max_abs_log_ratio = top;
  return sum * step * step;
}

// -N dF/dx_i by central differences of F(x), every coordinate of every particle.
Mat fd_velocity(const std::function<double(const Mat&)>& F, const Mat& x, double step) {
  Mat v(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.cols(); ++i)
    for (Eigen::Index a = 0; a < x.rows(); ++a) {
      Mat xp = x, xm = x;
      xp(a, i) += step;
      xm(a, i) -= step;
      v(a, i) = -static_cast<double>(x.cols()) * (F(xp) - F(xm)) / (2 * step);
    }
  return v;
}

// max |a - b| / max |b|: a relative error of a whole field.
double rel(const Mat& a, const Mat& b) { return (a - b).cwiseAbs().maxCoeff() / b.cwiseAbs().maxCoeff(); }

// The velocity of divergence `div` (and its estimate) on the problem (x, y, lw, kernel, h, t).
template <class D, class K = gfd::gaussian, class E = gfd::exact_evaluator>
Mat velocity_of(const D& div, const Mat& x, const Mat& y, const Vec& lw, double h, double t = 0,
                double* estimate = nullptr, K k = {}, E ev = {}) {
  const gfd::flow_problem<double, Eigen::Dynamic, K, E> pb{x, y, lw, k, ev, h, t};
  Mat v;
  const double e = div.velocity(pb, v, estimate != nullptr);
  if (estimate) *estimate = e;
  return v;
}

gfd::smoothed_options lattice_options(double spacing = 1.0 / 3) {
  gfd::smoothed_options o;
  o.method = est::lattice;
  o.lattice_spacing = spacing;
  return o;
}

gfd::smoothed_options mc_options(std::uint64_t seed, int samples = 32, bool pathwise = true,
                                 bool orthogonal = true) {
  gfd::smoothed_options o;
  o.method = est::monte_carlo;
  o.seed = seed;
  o.samples = samples;
  o.pathwise = pathwise;
  o.orthogonal = orthogonal;
  return o;
}

// The clouds of the 1-D and 2-D checks: N = 6 particles, M = 8 weighted targets, h = 0.5.
struct clouds {
  Mat x, y;
  Vec lw;
  double h = 0.5;
};
clouds cloud_1d() { return {random_cloud(1, 6, 101, 1.0, 0.4), random_cloud(1, 8, 102, 0.8, -0.3), random_log_weights(8, 103)}; }
clouds cloud_2d() { return {random_cloud(2, 6, 201, 1.0, 0.3), random_cloud(2, 8, 202, 0.8, -0.2), random_log_weights(8, 203)}; }

}  // namespace

TEST_CASE("Smoothed f-divergence, 1-D: the lattice velocity is -N dF/dx_i of the quadrature of D_f(k*q || k*p)",
          "[smoothed]") {
  const auto c = cloud_1d();
  // B = 60 keeps every log ratio within the lattice's reach inside the clamp (checked), so the
  // smoothed reverse KL is reverse KL itself and not its extension beyond e^{+-B} (with the
  // default B = 10 they differ in the tails, where the particles are absent). KL's weight
  // phi = 1 is the same either side of the clamp.
  const gfd::ratio_policy wide{.max_log_ratio = 60};
  for (fkind f : {fkind::kl, fkind::reverse_kl}) {
    INFO((f == fkind::kl ? "kl" : "reverse-kl"));
    const gfd::smoothed_f_divergence div(make_f(f, wide), lattice_options());
    double top = 0;
    (void)quadrature_1d(f, c.x, c.y, c.lw, c.h, kern::gaussian, &top);
    if (f != fkind::kl) REQUIRE(top < 60);
    auto F = [&](const Mat& x) { return quadrature_1d(f, x, c.y, c.lw, c.h, kern::gaussian); };
    const Mat fd = fd_velocity(F, c.x, 1e-4);
    double estimate = 0;
    const Mat v = velocity_of(div, c.x, c.y, c.lw, c.h, 0, &estimate);
    INFO("lattice vs finite differences: " << rel(v, fd) << ", estimate " << estimate << " vs F " << F(c.x));
    CHECK(rel(v, fd) <= 1e-6);
    CHECK(estimate == Approx(F(c.x)).epsilon(1e-8));
    CHECK(F(c.x) > 0);
    // The velocity does not depend on whether the estimate is wanted (the lattice then covers
    // the targets' box too, and only the part near the particles moves them).
    CHECK(rel(velocity_of(div, c.x, c.y, c.lw, c.h), v) <= 1e-14);
    // kl_exact() is this divergence for KL.
    if (f == fkind::kl) CHECK(rel(velocity_of(gfd::kl_exact(lattice_options()), c.x, c.y, c.lw, c.h), v) <= 1e-14);
  }
}

TEST_CASE("Smoothed f-divergence, 2-D: the lattice velocity is -N dF/dx_i for KL and chi^2", "[smoothed]") {
  const auto c = cloud_2d();
  // chi^2: B = 40 keeps every log ratio on the lattice inside the clamp (checked), so the
  // smoothed divergence is chi^2 itself and not its extension beyond e^B.
  const gfd::ratio_policy wide{.max_log_ratio = 40};
  for (fkind f : {fkind::kl, fkind::chi2}) {
    INFO((f == fkind::kl ? "kl" : "chi2"));
    const gfd::smoothed_f_divergence div(make_f(f, wide), lattice_options());
    double top = 0;
    const double F0 = quadrature_2d(f, c.x, c.y, c.lw, c.h, &top);
    REQUIRE(top < 40);
    auto F = [&](const Mat& x) { return quadrature_2d(f, x, c.y, c.lw, c.h); };
    const Mat fd = fd_velocity(F, c.x, 5e-5);
    double estimate = 0;
    const Mat v = velocity_of(div, c.x, c.y, c.lw, c.h, 0, &estimate);
    INFO("lattice vs finite differences: " << rel(v, fd) << ", estimate " << estimate << " vs F " << F0);
    CHECK(rel(v, fd) <= 1e-6);
    CHECK(estimate == Approx(F0).epsilon(1e-8));
  }
}

TEST_CASE("Smoothed KL: the plug-in field gfd::kl() is not the gradient of KL(k*q || k*p)", "[smoothed]") {
  // The plug-in velocity s_p~ - s_q~ (DESIGN 1.2, the drifting field) takes the flow of KL
  // between the true densities, v = -grad log(q/p), and puts the KDE scores in: it is
  // -grad log(q~/p~) at x_i. The gradient of the divergence the KDEs actually have is
  // -grad (k * log(q~/p~))(x_i) (DESIGN 1.7): the log ratio is smoothed once more by the kernel.
  // With h comparable to the clouds' spread the two differ at first order; only as h -> 0 do
  // they meet. Both are in the same units (1/length), so the difference is a real one.
  for (int dim : {1, 2}) {
    INFO("d = " << dim);
    const auto c = dim == 1 ? cloud_1d() : cloud_2d();
    const Mat exact = velocity_of(gfd::kl_exact(lattice_options()), c.x, c.y, c.lw, c.h);
    const Mat plug_in = velocity_of(gfd::kl(), c.x, c.y, c.lw, c.h);
    INFO("relative difference " << rel(plug_in, exact));
    CHECK(rel(plug_in, exact) > 0.05);
    // Where log(q~/p~) is linear, smoothing it once more adds a constant only, and the two
    // fields agree: one particle and one target (two Gaussians of the same width) give
    // v = (y - x) / h^2 for both. This checks the units: the exact field is not off from the
    // plug-in one by a factor (h^2, N) and a flow steps both the same way.
    const Mat x1 = random_cloud(dim, 1, 303, 0.3), y1 = random_cloud(dim, 1, 304, 0.3, 0.2);
    const Mat e1 = velocity_of(gfd::kl_exact(lattice_options()), x1, y1, uniform_log(1), c.h);
    const Mat p1 = velocity_of(gfd::kl(), x1, y1, uniform_log(1), c.h);
    INFO("one particle, one target: exact " << e1.transpose() << ", plug-in " << p1.transpose());
    CHECK(rel(p1, Mat((y1 - x1) / (c.h * c.h))) <= 1e-12);
    CHECK(rel(e1, p1) <= 1e-8);
  }
}

TEST_CASE("Smoothed KL: Monte Carlo agrees with the lattice within its standard error; seeding", "[smoothed][mc]") {
  for (int dim : {1, 2}) {
    const auto c = dim == 1 ? cloud_1d() : cloud_2d();
    double lattice_estimate = 0;
    const Mat ref = velocity_of(gfd::kl_exact(lattice_options()), c.x, c.y, c.lw, c.h, 0, &lattice_estimate);
    for (bool pathwise : {true, false})
      for (bool orthogonal : {true, false}) {
        INFO("d = " << dim << ", pathwise " << pathwise << ", orthogonal " << orthogonal);
        const int seeds = 200;
        Mat sum = Mat::Zero(c.x.rows(), c.x.cols()), sum2 = sum;
        double esum = 0, esum2 = 0;
        for (int s = 0; s < seeds; ++s) {
          double e = 0;
          const Mat v = velocity_of(gfd::kl_exact(mc_options(static_cast<std::uint64_t>(s), 32, pathwise, orthogonal)),
                                    c.x, c.y, c.lw, c.h, 0, &e);
          REQUIRE(v.allFinite());
          sum += v;
          sum2 += v.cwiseAbs2();
          esum += e;
          esum2 += e * e;
        }
        const Mat mean = sum / seeds;
        const Mat sd = ((sum2 / seeds - mean.cwiseAbs2()) * (seeds / (seeds - 1.0))).cwiseMax(0.0).cwiseSqrt();
        const Mat se = sd / std::sqrt(static_cast<double>(seeds));
        const double scale = ref.cwiseAbs().maxCoeff();
        INFO("relative standard error of one call (samples = 32): " << sd.maxCoeff() / scale
             << " (max), " << sd.mean() / scale << " (mean); mean vs lattice " << rel(mean, ref));
        CHECK(sd.maxCoeff() > 0);
        for (Eigen::Index i = 0; i < ref.size(); ++i)
          CHECK(std::abs(mean.data()[i] - ref.data()[i]) <= 4 * se.data()[i] + 1e-3 * scale);
        // The estimate of F (a mean of f(r~)/r~ over draws from q~) is unbiased too.
        const double emean = esum / seeds;
        const double ese = std::sqrt(std::max(0.0, esum2 / seeds - emean * emean) / (seeds - 1.0));
        CHECK(std::abs(emean - lattice_estimate) <= 4 * ese + 1e-6);
      }

    // Seeding: the same (seed, time) repeats exactly; another seed or another time draws afresh.
    const auto div = gfd::kl_exact(mc_options(7));
    const Mat a = velocity_of(div, c.x, c.y, c.lw, c.h, 0.25);
    CHECK((velocity_of(div, c.x, c.y, c.lw, c.h, 0.25) - a).cwiseAbs().maxCoeff() == 0.0);
    CHECK((velocity_of(gfd::kl_exact(mc_options(8)), c.x, c.y, c.lw, c.h, 0.25) - a).cwiseAbs().maxCoeff() > 0.0);
    CHECK((velocity_of(div, c.x, c.y, c.lw, c.h, 0.5) - a).cwiseAbs().maxCoeff() > 0.0);
  }
}

#ifdef _OPENMP
TEST_CASE("Smoothed KL: Monte Carlo and the lattice give the same bits with 1 and 2 threads", "[smoothed][threads]") {
  const Mat x = random_cloud(2, 400, 401), y = random_cloud(2, 300, 402, 0.8, 0.5);
  const Vec lw = uniform_log(300);
  auto run = [&](int threads, const gfd::smoothed_options& o) {
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    const Mat v = velocity_of(gfd::kl_exact(o), x, y, lw, 0.3, 1.5);
    omp_set_num_threads(before);
    return v;
  };
  for (const auto& o : {mc_options(3), lattice_options()}) {
    INFO("method " << static_cast<int>(o.method));
    const Mat one = run(1, o), two = run(2, o);
    CHECK((one - two).cwiseAbs().maxCoeff() == 0.0);
  }
}
#endif

TEST_CASE("Smoothed KL with the Laplacian kernel: the lattice against the quadrature, first order", "[smoothed]") {
  // The Laplacian's kinks at the data points make the trapezoid rule of the lattice first or
  // second order in the spacing; the reference integrates between the kinks (Gauss-Legendre).
  const auto c = cloud_1d();
  const gfd::laplacian lap{};
  auto F = [&](const Mat& x) { return quadrature_1d(fkind::kl, x, c.y, c.lw, c.h, kern::laplacian); };
  const Mat fd = fd_velocity(F, c.x, 1e-5);
  double previous = INFINITY;
  for (double spacing : {0.2, 0.05, 0.0125}) {
    double estimate = 0;
    const Mat v = velocity_of(gfd::kl_exact(lattice_options(spacing)), c.x, c.y, c.lw, c.h, 0, &estimate, lap);
    const double err = rel(v, fd);
    INFO("spacing " << spacing << " h: lattice vs finite differences " << err << ", estimate "
         << estimate << " vs F " << F(c.x));
    CHECK(v.allFinite());
    // The error falls at least as the spacing to the first order (the jump of grad k at x_i
    // itself, in 1-D): a factor 4 in the spacing divides it by more than 2.
    CHECK(err < previous / 2);
    CHECK(estimate == Approx(F(c.x)).epsilon(5 * spacing * spacing));
    previous = err;
  }
  CHECK(previous <= 0.03);
}

TEST_CASE("Smoothed f-divergence: bad input throws gfd::invalid_argument naming it", "[smoothed][errors]") {
  auto throws_naming = [](auto&& f) {
    try {
      f();
    } catch (const gfd::invalid_argument& e) {
      INFO(e.what());
      return std::string(e.what()).find("gfd::smoothed_f_divergence") != std::string::npos;
    }
    return false;
  };
  const auto c = cloud_1d();
  // Monte Carlo needs the Gaussian kernel.
  CHECK(throws_naming([&] {
    (void)velocity_of(gfd::kl_exact(mc_options(1)), c.x, c.y, c.lw, c.h, 0, nullptr, gfd::laplacian{});
  }));
  // The lattice needs d <= 3; automatic in d = 4 with a non-Gaussian kernel has no estimator.
  const Mat x4 = random_cloud(4, 5, 501), y4 = random_cloud(4, 6, 502);
  CHECK(throws_naming([&] { (void)velocity_of(gfd::kl_exact(lattice_options()), x4, y4, uniform_log(6), 0.5); }));
  CHECK(throws_naming([&] {
    (void)velocity_of(gfd::kl_exact(), x4, y4, uniform_log(6), 0.5, 0, nullptr, gfd::epanechnikov{});
  }));
  // automatic in d = 4 with the Gaussian is Monte Carlo, and works.
  CHECK(velocity_of(gfd::kl_exact(), x4, y4, uniform_log(6), 0.5).allFinite());
  // A lattice larger than max_lattice_points.
  auto small = lattice_options();
  small.max_lattice_points = 10;
  CHECK(throws_naming([&] { (void)velocity_of(gfd::kl_exact(small), c.x, c.y, c.lw, c.h); }));
  // Bad options.
  for (int s : {0, -3}) {
    gfd::smoothed_options o;
    o.samples = s;
    CHECK(throws_naming([&] { (void)gfd::kl_exact(o); }));
  }
  for (double d : {0.0, -0.5, double(NAN), double(INFINITY)}) {
    gfd::smoothed_options o;
    o.lattice_spacing = d;
    CHECK(throws_naming([&] { (void)gfd::kl_exact(o); }));
  }
  {
    gfd::smoothed_options o;
    o.max_lattice_points = 0;
    CHECK(throws_naming([&] { (void)gfd::kl_exact(o); }));
  }
  CHECK(throws_naming([&] { (void)gfd::smoothed_f_divergence(gfd::kl({.max_log_ratio = 10, .normalise = true})); }));
}

TEST_CASE("Smoothed KL: a flow from noise moves toward the target; the tree evaluator gives the exact velocity",
          "[smoothed][flow]") {
  const Mat y = gfd::toy::sample("8gaussians", 200, 601);
  const Mat x0 = random_cloud(2, 150, 602, 0.5);
  gfd::flow_options o;
  o.bandwidth = gfd::bandwidth_schedule::fixed(0.4);
  o.max_steps = 40;
  o.dt = 0.5;
  o.observe_every = 0;
  const auto div = gfd::kl_exact();
  const gfd::flow<gfd::gaussian, double, Eigen::Dynamic, gfd::exact_evaluator> f(y, o);
  Mat v0;
  const double before = f.velocity(div, x0, 0.4, 0.0, v0, true);
  const auto [x, rep] = f.run_from(x0, div);
  Mat v1;
  const double after = f.velocity(div, x, 0.4, 0.0, v1, true);
  INFO("KL(k*q || k*p): " << before << " -> " << after << "; energy distance "
       << gfd::energy_distance(x0, y) << " -> " << gfd::energy_distance(x, y));
  CHECK(x.allFinite());
  CHECK(v0.allFinite());
  CHECK(std::isfinite(rep.estimate));
  CHECK(after < 0.5 * before);
  CHECK(gfd::energy_distance(x, y) < 0.5 * gfd::energy_distance(x0, y));

  // The lattice through the tree evaluator at a tight tolerance: the same velocity.
  const Vec lw = uniform_log(y.cols());
  const Mat ve = velocity_of(gfd::kl_exact(lattice_options()), x, y, lw, 0.4);
  const Mat vt = velocity_of(gfd::kl_exact(lattice_options()), x, y, lw, 0.4, 0, nullptr, gfd::gaussian{},
                             gfd::tree_evaluator(1e-10));
  INFO("tree vs exact " << rel(vt, ve));
  CHECK(rel(vt, ve) <= 1e-6);
}
