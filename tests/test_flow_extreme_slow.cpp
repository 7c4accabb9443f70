// SPDX-License-Identifier: MIT
// 10,000 steps from extreme starts (all particles at one point, clouds 1e3 bandwidths apart,
// float coordinates near 1e6) never produce NaN or Inf. Labelled slow: skipped under sanitizers.
#include <gfd/flow.hpp>

#include <cmath>
#include <random>

#include "catch.hpp"
#include "util.hpp"

namespace {
using Mat = Eigen::MatrixXd;

using gfd_test::random_cloud;
}  // namespace

TEST_CASE("10,000 steps from extreme starts never produce NaN or Inf", "[flow][extreme]") {
  const Mat y = random_cloud(2, 40, 9, 0.5);
  gfd::flow_options o;
  o.max_steps = 10000;
  o.observe_every = 0;
  SECTION("every particle at one point") {
    const Mat x0 = Mat::Constant(2, 30, 0.25);
    for (const auto& d : {gfd::kl(), gfd::reverse_kl(), gfd::chi2()}) {
      auto [x, rep] = gfd::flow<>(y, o).run_from(x0, d);
      CHECK(x.allFinite());
      CHECK(std::isfinite(rep.estimate));
    }
  }
  SECTION("clouds 1e3 bandwidths apart, fixed bandwidth") {
    gfd::flow_options f = o;
    f.bandwidth = gfd::bandwidth_schedule::fixed(0.1);
    const Mat x0 = random_cloud(2, 30, 10, 0.5, 100.0);  // 1e3 bandwidths away
    for (const auto& d : {gfd::kl(), gfd::reverse_kl(), gfd::chi2(), gfd::reverse_chi2()}) {
      auto [x, rep] = gfd::flow<>(y, f).run_from(x0, d);
      CHECK(x.allFinite());
    }
    auto [xm, repm] = gfd::flow<>(y, f).run_from(x0, gfd::mmd{});
    CHECK(xm.allFinite());
    auto [xd, repd] = gfd::flow<gfd::laplacian>(y, f).run_from(x0, gfd::drifting_field(gfd::deng_drifting_options()));
    CHECK(xd.allFinite());
  }
  SECTION("a float cloud with coordinates near 1e6") {
    const Eigen::MatrixXf yf = (random_cloud(2, 40, 11, 0.5).array() + 1e6).cast<float>();
    const Eigen::MatrixXf x0 = (random_cloud(2, 30, 12, 2.0).array() + 1e6).cast<float>();
    gfd::flow_options f = o;
    f.max_steps = 10000;
    auto [x, rep] = gfd::flow<gfd::gaussian, float>(yf, f).run_from(x0, gfd::kl());
    CHECK(x.allFinite());
    CHECK(std::isfinite(rep.estimate));
  }
}

