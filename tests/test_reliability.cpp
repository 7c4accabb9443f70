// SPDX-License-Identifier: MIT
// The library side of the hostile user's cases (see tests/cli/hostile_input.sh for the tool's):
// extreme concentrations, steps and scales end in a finite result or a clear exception, never a
// hang, a silent no-op, NaN or Inf; ranges are checked up front; messages are short and escaped.
#include "catch.hpp"

#include <gfd/bandwidth.hpp>
#include <gfd/error.hpp>
#include <gfd/flow.hpp>
#include <gfd/generator.hpp>
#include <gfd/io.hpp>
#include <gfd/metrics.hpp>
#include <gfd/toy.hpp>
#include <gfd/toy_sphere.hpp>

#include "util.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

using Eigen::MatrixXd;
using gfd_test::random_cloud;

bool near_rel(double a, double b, double tol) { return std::abs(a - b) <= tol * std::abs(b); }

std::filesystem::path scratch(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "gfd_test_reliability";
  std::filesystem::create_directories(dir);
  return dir / name;
}

}  // namespace

TEST_CASE("Wood's vMF sampler: any finite kappa returns (no hang where 4 kappa^2 overflows)",
          "[reliability][sphere]") {
  Eigen::Vector3d mu(0, 0, 1);
  for (double kappa : {1e8, 1e154, 1e200, 1e308}) {
    const MatrixXd x = gfd::sphere::vmf(mu, kappa, 200, 7);
    REQUIRE(x.allFinite());
    for (Eigen::Index i = 0; i < x.cols(); ++i) {
      REQUIRE(std::abs(x.col(i).norm() - 1.0) < 1e-12);
      // E[1 - <x, mu>] = (d - 1) / (2 kappa) for large kappa: far below 1e-6 here.
      REQUIRE(1.0 - x.col(i).dot(mu) < 1e-6);
    }
  }
  // The rewritten constant b must keep the distribution: at kappa = 50 on S^2 the mean cosine is
  // coth(50) - 1/50 = 0.98.
  const MatrixXd y = gfd::sphere::vmf(mu, 50.0, 20000, 3);
  const double mean_cos = (mu.transpose() * y).mean();
  REQUIRE(std::abs(mean_cos - gfd::sphere::vmf_mean_cosine(3, 50.0)) < 2e-3);
  // kappa = 0 is the uniform distribution: mean cosine 0.
  const MatrixXd u = gfd::sphere::vmf(mu, 0.0, 20000, 4);
  REQUIRE(std::abs((mu.transpose() * u).mean()) < 0.02);
}

TEST_CASE("a step whose product with the velocity overflows is capped, not turned into a no-op",
          "[reliability][flow]") {
  const MatrixXd y = gfd::toy::sample("moons", 300, 1);
  const MatrixXd start = gfd::toy::gaussian(2, 200, 2);
  gfd::flow_options opt;
  opt.max_steps = 3;
  opt.dt = 1e200;
  opt.bandwidth = gfd::bandwidth_schedule::fixed(0.3);
  MatrixXd x = start;
  gfd::flow<>(y, opt).run(x, gfd::kl());
  REQUIRE(x.allFinite());
  // Every particle moved by exactly the cap (0.5 h) in the first step at least.
  double least = 1e300;
  for (Eigen::Index i = 0; i < x.cols(); ++i) least = std::min(least, (x.col(i) - start.col(i)).norm());
  REQUIRE(least > 0.0);
  // One step: each displacement is exactly the cap.
  MatrixXd x1 = start;
  opt.max_steps = 1;
  gfd::flow<>(y, opt).run(x1, gfd::kl());
  for (Eigen::Index i = 0; i < x1.cols(); ++i)
    REQUIRE(near_rel((x1.col(i) - start.col(i)).norm(), 0.5 * 0.3, 1e-12));
  // Without a cap the step is taken as asked (particles at ~1e199 after one step), the next one
  // overflows, and the flow says so at that step.
  opt.max_displacement = 0;
  opt.max_steps = 3;
  MatrixXd x2 = start;
  REQUIRE_THROWS_WITH(gfd::flow<>(y, opt).run(x2, gfd::kl()),
                      Catch::Matchers::Contains("is not finite at step 2"));
}

TEST_CASE("the flow refuses bandwidths outside [1e-152, 1e152] before any sum, with the range",
          "[reliability][flow]") {
  const MatrixXd y = gfd::toy::sample("moons", 100, 1);
  for (double h : {1e-300, 1e-160, 1e160, 1e300}) {
    gfd::flow_options opt;
    opt.max_steps = 2;
    opt.bandwidth = gfd::bandwidth_schedule::fixed(h);
    MatrixXd x = gfd::toy::gaussian(2, 50, 2);
    REQUIRE_THROWS_AS(gfd::flow<>(y, opt).run(x, gfd::kl()), gfd::invalid_argument);
    REQUIRE_THROWS_WITH(gfd::flow<>(y, opt).run(x, gfd::kl()),
                        Catch::Matchers::Contains("outside [1e-152, 1e+152]"));
  }
  REQUIRE(gfd::flow_bandwidth_range<float>().second < gfd::flow_bandwidth_range<double>().second);
}

TEST_CASE("divergence parameters that overflow the velocity are refused up front",
          "[reliability][divergences]") {
  REQUIRE_THROWS_WITH(gfd::alpha_divergence(1e6), Catch::Matchers::Contains("outside [-22, 24]"));
  REQUIRE_THROWS_AS(gfd::alpha_divergence(-50), gfd::invalid_argument);
  REQUIRE_NOTHROW(gfd::alpha_divergence(24));
  REQUIRE_NOTHROW(gfd::alpha_divergence(-22));
  // A wider clamp of the log ratio narrows the range.
  REQUIRE_THROWS_AS(gfd::alpha_divergence(5, gfd::ratio_policy{100.0, false}), gfd::invalid_argument);
  REQUIRE_THROWS_WITH(gfd::mixture(gfd::reverse_kl(), gfd::chi2(), 1e308, 1e308),
                      Catch::Matchers::Contains("|w| <= 1e6"));
  REQUIRE_NOTHROW(gfd::mixture(gfd::reverse_kl(), gfd::chi2(), 1e6, 0.0));

  // A user's f whose weight overflows fails with the particle and the ratio, not with an
  // infinite velocity three calls later.
  const gfd::f_divergence wild("wild", [](double r) { return std::exp(1000.0 * (r - 1.0)) / r; });
  const MatrixXd y = gfd::toy::sample("moons", 100, 1);
  MatrixXd x = gfd::toy::gaussian(2, 50, 2) * 3.0;
  gfd::flow_options opt;
  opt.max_steps = 1;
  REQUIRE_THROWS_WITH(gfd::flow<>(y, opt).run(x, wild), Catch::Matchers::Contains("phi(r) = r f''(r)"));
}

TEST_CASE("generator options: lr and eta beyond their usable range are refused with the range",
          "[reliability][generator]") {
  const MatrixXd data = gfd::toy::sample("moons", 200, 1);
  gfd::generator_options o;
  o.steps = 1;
  o.lr = 1e300;
  REQUIRE_THROWS_WITH(gfd::generator_trainer<>(data, o), Catch::Matchers::Contains("lr must be in (0, 1]"));
  o.lr = 1e-2;
  o.eta = 1e308;
  REQUIRE_THROWS_WITH(gfd::generator_trainer<>(data, o), Catch::Matchers::Contains("eta must be in (0, 1e6]"));
}

TEST_CASE("metrics are finite and scale-equivariant at coordinates from 1e-300 to 1e300",
          "[reliability][metrics]") {
  const MatrixXd x = random_cloud(3, 120, 1);
  const MatrixXd y = random_cloud(3, 100, 2, 1.0, 0.4);
  const double h = 0.8;
  const double mmd = gfd::mmd2_unbiased(x, y, h);
  const double mmdb = gfd::mmd2_biased(x, y, h);
  const double ed = gfd::energy_distance(x, y);
  const double sw = gfd::sliced_wasserstein2(x, y, 64, 3);
  const double med = gfd::pooled_median_distance(x, y);
  const auto rep = gfd::two_sample_report(x, y);
  for (double s : {1e-300, 1e-200, 1e154, 1e200, 1e300}) {
    CAPTURE(s);
    const MatrixXd xs = s * x, ys = s * y;
    REQUIRE(near_rel(gfd::mmd2_unbiased(xs, ys, s * h), mmd, 1e-9));
    REQUIRE(near_rel(gfd::mmd2_biased(xs, ys, s * h), mmdb, 1e-9));
    REQUIRE(near_rel(gfd::energy_distance(xs, ys), s * ed, 1e-9));
    REQUIRE(near_rel(gfd::sliced_wasserstein2(xs, ys, 64, 3), s * sw, 1e-9));
    REQUIRE(near_rel(gfd::pooled_median_distance(xs, ys), s * med, 1e-12));
    const auto r = gfd::two_sample_report(xs, ys);
    REQUIRE(near_rel(r.bandwidth, s * rep.bandwidth, 1e-12));
    REQUIRE(near_rel(r.mmd2_unbiased, rep.mmd2_unbiased, 1e-9));
    REQUIRE(near_rel(r.energy_distance, s * rep.energy_distance, 1e-9));
    REQUIRE(near_rel(r.sliced_w2, s * rep.sliced_w2, 1e-9));
    const MatrixXd centres = s * MatrixXd::Zero(3, 1);
    REQUIRE(gfd::mode_coverage(xs, centres, s * 1.0).fraction_near ==
            gfd::mode_coverage(x, centres, 1.0).fraction_near);
  }
  // The squared sliced distance at 1e200 is beyond the largest double: refused, not inf.
  REQUIRE_THROWS_AS(gfd::sliced_wasserstein2_squared(1e200 * x, 1e200 * y), gfd::numerical_error);
  REQUIRE(std::isfinite(gfd::sliced_wasserstein2_squared(1e100 * x, 1e100 * y)));
}

TEST_CASE("the MMD with a bandwidth whose 1/(2 h^2) overflows counts coincident points, no NaN",
          "[reliability][metrics]") {
  MatrixXd x(1, 4), y(1, 3);
  x << 0, 0, 1, 2;
  y << 0, 5, 5;
  // h = 1e-170: k = 1 for coincident points, 0 otherwise. Pairs within x: one coincident pair of
  // 6; within y: one of 3; across: two of 12.
  const double expected = 2.0 * 1 / 12.0 + 2.0 * 1 / 6.0 - 2.0 * 2 / 12.0;
  REQUIRE(gfd::mmd2_unbiased(x, y, 1e-170) == Catch::Approx(expected));
}

TEST_CASE("bandwidth rules at extreme scales: the bandwidth scales with the cloud, no false 'no spread'",
          "[reliability][bandwidth]") {
  const MatrixXd x = random_cloud(2, 300, 5);
  const double scott = gfd::scott_bandwidth(gfd::cloud_view<double>(x));
  const double med = gfd::median_distance(gfd::cloud_view<double>(x));
  for (double s : {1e-300, 1e-160, 1e160, 1e300}) {
    CAPTURE(s);
    const MatrixXd xs = s * x;
    REQUIRE(near_rel(gfd::scott_bandwidth(gfd::cloud_view<double>(xs)), s * scott, 1e-12));
    REQUIRE(near_rel(gfd::median_distance(gfd::cloud_view<double>(xs)), s * med, 1e-12));
  }
  const MatrixXd same = MatrixXd::Constant(2, 10, 3.0);
  REQUIRE_THROWS_WITH(gfd::scott_bandwidth(gfd::cloud_view<double>(same)),
                      Catch::Matchers::Contains("no spread"));
}

TEST_CASE("error messages abbreviate and escape what they quote", "[reliability][io]") {
  REQUIRE(gfd::detail::short_number(std::numeric_limits<double>::max()) == "1.79769e+308");
  REQUIRE(gfd::detail::short_number(std::nan("")) == "nan");
  REQUIRE(gfd::detail::quoted_excerpt("abc") == "'abc'");
  REQUIRE(gfd::detail::quoted_excerpt(std::string("a\0b\x1b", 4)) == "'a\\x00b\\x1b'");
  const std::string digits(200000, '7');
  const std::string q = gfd::detail::quoted_excerpt(digits);
  REQUIRE(q.size() < 80);
  REQUIRE(q.find("(200000 bytes)") != std::string::npos);

  // Through the CSV reader: a 200000-digit cell and a cell with a NUL byte.
  const auto path = scratch("long_cell.csv");
  {
    std::ofstream f(path, std::ios::binary);
    f << "x0,x1\n1," << digits << "\n";
  }
  try {
    (void)gfd::read_csv(path.string());
    FAIL("a 200000-digit cell was accepted");
  } catch (const gfd::invalid_argument& e) {
    const std::string m = e.what();
    REQUIRE(m.size() < 400);
    REQUIRE(m.find(":2:2: number out of range") != std::string::npos);
  }
  {
    std::ofstream f(path, std::ios::binary);
    f << "x0,x1\n1,2" << '\0' << "tail\n";
  }
  REQUIRE_THROWS_WITH(gfd::read_csv(path.string()), Catch::Matchers::Contains("'2\\x00tail'"));
}

TEST_CASE("an output path that is a symbolic link is written through; the link stays",
          "[reliability][io]") {
  const auto target = scratch("link_target.csv");
  const auto link = scratch("link.csv");
  std::filesystem::remove(target);
  std::filesystem::remove(link);
  std::filesystem::create_symlink(target.filename(), link);  // relative, as `ln -s` makes it
  const MatrixXd x = random_cloud(2, 5, 1);
  gfd::write_csv(link.string(), x);
  REQUIRE(std::filesystem::is_symlink(link));
  REQUIRE(std::filesystem::is_regular_file(target));
  REQUIRE(gfd::read_csv(target.string()) == x);
  REQUIRE(gfd::read_csv(link.string()) == x);
}
