// SPDX-License-Identifier: MIT
// Every threaded path of gfd once, on data just large enough to take it, with 4 OpenMP threads
// against 1: the exact evaluator (fused and matrix-product paths) and the tree evaluator, one
// flow step per divergence family, the drifting field (per-side, joint, floored joint with its
// mean distance), the metrics, and two training steps. The results must not depend on the
// number of threads: bit for bit wherever each query or particle is computed alone (the
// evaluators and metrics say so), to round-off where Eigen's own products may block the work
// by thread count (distances by matrix products, the network). Under GFD_TSAN (cmake --preset
// tsan) this file is what ThreadSanitizer watches first; elsewhere it is an ordinary unit test.
#include <gfd/evaluators/tree.hpp>
#include <gfd/flow.hpp>
#include <gfd/generator.hpp>
#include <gfd/metrics.hpp>
#include <gfd/toy.hpp>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <cmath>

#include "catch.hpp"
#include "util.hpp"

namespace {
using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;
using gfd_test::random_cloud;

constexpr int many = 4;  // more threads than the 2 cores of the CI machine: races need interleaving

/// Runs f() with `threads` OpenMP threads (no-op without OpenMP) and restores the previous count.
template <class F>
auto with_threads(int threads, F&& f) {
#ifdef _OPENMP
  const int before = omp_get_max_threads();
  omp_set_num_threads(threads);
  struct restore {
    int n;
    ~restore() { omp_set_num_threads(n); }
  } r{before};
#else
  (void)threads;
#endif
  return f();
}

/// f() with 1 thread and with `many`: the two results.
template <class F>
auto one_and_many(F&& f) {
  auto one = with_threads(1, f);
  auto par = with_threads(many, f);
  return std::pair{std::move(one), std::move(par)};
}

double max_rel(const Mat& a, const Mat& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  return (a - b).cwiseAbs().maxCoeff() / std::max(1e-300, a.cwiseAbs().maxCoeff());
}

template <class E, class K>
std::pair<gfd::kernel_sums<double>, gfd::kernel_sums<double>> sums_one_and_many(
    const E& evaluator, const Mat& x, const Mat& y, const K& k, double h, gfd::sum_options opt) {
  const Vec lw = (random_cloud(1, y.cols(), 9).transpose().array() * 0.5).matrix();  // weighted
  return one_and_many([&] {
    gfd::kernel_sums<double> s;
    evaluator.sums(x, y, lw, k, h, opt, s);
    return s;
  });
}
}  // namespace

TEST_CASE("threads: the runtime has more than one thread to give", "[threads]") {
#ifdef _OPENMP
  const int seen = with_threads(many, [] {
    int n = 0;
#pragma omp parallel
    {
#pragma omp single
      n = omp_get_num_threads();
    }
    return n;
  });
  CHECK(seen == many);
#else
  WARN("built without OpenMP: every path below runs on one thread");
#endif
}

TEST_CASE("threads: exact sums do not depend on the number of threads", "[threads][exact]") {
  // n m d >= 2e5 switches threads on; d = 2 takes the fused path, d = 24 the matrix products.
  for (Eigen::Index d : {2, 24}) {
    INFO("d = " << d);
    const Mat y = random_cloud(d, 700, 1);
    const Mat x = random_cloud(d, 600, 2, 1.5);
    for (bool self : {false, true}) {
      const Mat& q = self ? y : x;
      const auto [one, par] = sums_one_and_many(gfd::exact_evaluator{}, q, y, gfd::gaussian{}, 0.5,
                                                {.field = gfd::field_kind::score, .exclude_self = self});
      // Bit for bit on the fused path; the matrix-product path blocks queries by thread count.
      const double tol = d == 2 ? 0.0 : 1e-13;
      CHECK(max_rel(one.log_sum, par.log_sum) <= tol);
      CHECK(max_rel(one.field, par.field) <= tol);
    }
    const auto [one, par] = sums_one_and_many(gfd::exact_evaluator{}, x, y, gfd::laplacian{}, 0.5,
                                              {.field = gfd::field_kind::mean_shift});
    CHECK(max_rel(one.field, par.field) <= (d == 2 ? 0.0 : 1e-13));
  }
}

TEST_CASE("threads: tree sums do not depend on the number of threads", "[threads][tree]") {
  // Queries are split over threads from 256 on.
  const Mat y = random_cloud(2, 2000, 3);
  const Mat x = random_cloud(2, 700, 4, 1.5);
  for (double tol : {1e-2, 1e-6}) {
    const auto [one, par] = sums_one_and_many(gfd::tree_evaluator(tol), x, y, gfd::gaussian{}, 0.2,
                                              {.field = gfd::field_kind::score});
    CHECK(max_rel(one.log_sum, par.log_sum) == 0);
    CHECK(max_rel(one.field, par.field) == 0);
  }
  const auto [one, par] = sums_one_and_many(gfd::tree_evaluator(1e-3), y, y, gfd::epanechnikov{}, 0.3,
                                            {.field = gfd::field_kind::score, .exclude_self = true});
  CHECK(max_rel(one.field, par.field) == 0);
}

TEST_CASE("threads: one flow step per divergence family", "[threads][flow]") {
  const Mat y = gfd::toy::sample("8gaussians", 600, 5);
  const Mat x0 = gfd::toy::gaussian(2, 500, 6);
  gfd::flow_options o;
  o.max_steps = 1;
  o.method = gfd::stepper::heun;  // two velocity evaluations per step
  auto step = [&](const auto& divergence, auto kernel) {
    const auto [one, par] = one_and_many([&] {
      return gfd::flow<decltype(kernel)>(y, o, kernel).run_from(x0, divergence).first;
    });
    CHECK(max_rel(one, par) == 0);
  };
  step(gfd::kl(), gfd::gaussian{});
  step(gfd::reverse_kl(), gfd::gaussian{});
  step(gfd::chi2(), gfd::laplacian{});
  step(gfd::alpha_divergence(0.5), gfd::gaussian{});
  step(gfd::mmd(), gfd::gaussian{});
  step(gfd::mixture(gfd::reverse_kl(), gfd::chi2(), 1.0, 0.5), gfd::gaussian{});
  step(gfd::drifting_field{}, gfd::gaussian{});
  // With the tree evaluator.
  const auto [one, par] = one_and_many([&] {
    return gfd::flow<gfd::gaussian, double, Eigen::Dynamic, gfd::tree_evaluator>(
               y, o, {}, gfd::tree_evaluator(1e-4))
        .run_from(x0, gfd::kl())
        .first;
  });
  CHECK(max_rel(one, par) == 0);
}

TEST_CASE("threads: the drifting field, per-side, joint and floored joint", "[threads][drifting]") {
  // n (m + n) d >= 2e5 switches on the floored pass and the mean distance.
  const Mat y = gfd::toy::sample("moons", 500, 7);
  const Mat x0 = gfd::toy::gaussian(2, 400, 8);
  gfd::flow_options o;
  o.max_steps = 1;
  gfd::drifting_options joint;
  joint.norm = gfd::drifting_options::normalisation::joint;
  joint.self_mask = true;
  for (const gfd::drifting_options& opt : {gfd::drifting_options{}, joint, gfd::deng_drifting_options()}) {
    const gfd::drifting_field field(opt);
    const auto [one, par] = one_and_many([&] {
      return gfd::flow<gfd::laplacian>(y, o).run_from(x0, field).first;
    });
    CHECK(max_rel(one, par) == 0);
  }
}

TEST_CASE("threads: metrics are bitwise the same for any number of threads", "[threads][metrics]") {
  const Mat x = random_cloud(3, 400, 10);
  const Mat y = random_cloud(3, 300, 11, 1.2);
  const auto [one, par] = one_and_many([&] {
    return Vec((Vec(4) << gfd::mmd2_unbiased(x, y, 0.7), gfd::energy_distance(x, y),
                gfd::sliced_wasserstein2(x, y, 64, 3), gfd::mmd2_biased(x, y, 0.7))
                   .finished());
  });
  CHECK(max_rel(one, par) == 0);
}

TEST_CASE("threads: two training steps of the generator", "[threads][generator]") {
  const Mat data = gfd::toy::sample("8gaussians", 1000, 12);
  gfd::generator_options o;
  o.widths = {64, 64};
  o.batch = 400;  // B M d = 400 x 400 x 2 >= 2e5: the kernel sums are threaded
  o.steps = 2;
  o.warmup = 1;
  o.holdout = 200;  // and the sliced W2 of the observations
  o.observe_every = 1;
  auto train = [&](const auto& divergence, auto kernel) {
    return one_and_many([&] {
      return gfd::train_generator<decltype(kernel)>(data, o, divergence, gfd::no_generator_observer{}, kernel)
          .to_bytes();
    });
  };
  // Deng's field (floored joint pass) and KL through the exact evaluator's sums.
  for (const auto& [one, par] : {train(gfd::drifting_field(gfd::deng_drifting_options()), gfd::laplacian{}),
                                 train(gfd::kl(), gfd::gaussian{})}) {
    const auto a = gfd::generator_model::from_bytes(one, "one thread");
    const auto b = gfd::generator_model::from_bytes(par, "many threads");
    // Eigen may split the network's products by thread count: round-off apart.
    CHECK(max_rel(a.ema().parameters(), b.ema().parameters()) <= 1e-10);
  }
}
