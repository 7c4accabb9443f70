// SPDX-License-Identifier: MIT
// Tree evaluator: the documented error bound against the exact evaluator on random clouds,
// far queries, self-masking, weights, and a flow run with it.
#include <gfd/evaluators/tree.hpp>
#include <gfd/flow.hpp>
#include <gfd/kde.hpp>
#include <gfd/toy.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
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

template <class K>
void compare(const K& k, Eigen::Index d, double h, double tol, bool weighted, gfd::field_kind field,
             bool self) {
  INFO(K::name << " d=" << d << " h=" << h << " tol=" << tol << " weighted=" << weighted << " self=" << self);
  const Mat y = random_cloud(d, 3000, 1);
  const Mat x = self ? y : random_cloud(d, 400, 2, 1.5);
  Vec lw = Vec::Constant(3000, -std::log(3000.0));
  if (weighted) lw = (random_cloud(1, 3000, 3).transpose().array() * 2.0).matrix();  // unnormalised
  const gfd::sum_options opt{.field = field, .exclude_self = self};
  gfd::kernel_sums<double> ex, tr;
  gfd::exact_evaluator{}.sums(x, y, lw, k, h, opt, ex);
  gfd::tree_evaluator(tol).sums(x, y, lw, k, h, opt, tr);
  // Documented bound: relative error of each kernel sum <= tol.
  const Vec rel = ((tr.log_sum - ex.log_sum).array().exp() - 1).abs().matrix();
  CHECK(rel.maxCoeff() <= tol * (1 + 1e-9));
  // Truncation removes only positive terms: never above the exact sum.
  CHECK((tr.log_sum - ex.log_sum).maxCoeff() <= 1e-12);
  // Fields: softmax weights within total variation 2 tol, so the field error is below
  // 2 tol times the largest |grad log k| or |y - x| among the sources that matter.
  const double scale = field == gfd::field_kind::score ? ex.field.colwise().norm().maxCoeff() + 10.0 / h
                                                        : ex.field.colwise().norm().maxCoeff() + 10.0 * h;
  CHECK((tr.field - ex.field).colwise().norm().maxCoeff() <= 2 * tol * scale);
}
}  // namespace

TEST_CASE("tree sums stay within the documented tolerance of the exact sums", "[tree]") {
  for (double tol : {1e-2, 1e-3, 1e-6}) {
    compare(gfd::gaussian{}, 2, 0.2, tol, false, gfd::field_kind::score, false);
    compare(gfd::gaussian{}, 3, 0.3, tol, true, gfd::field_kind::mean_shift, false);
    compare(gfd::laplacian{}, 2, 0.2, tol, true, gfd::field_kind::score, false);
    compare(gfd::inverse_multiquadric{}, 2, 0.1, tol, false, gfd::field_kind::score, false);
    compare(gfd::gaussian{}, 2, 0.1, tol, false, gfd::field_kind::score, true);
  }
}

TEST_CASE("compact kernels are summed exactly", "[tree]") {
  const Mat y = random_cloud(2, 2000, 4);
  const Mat x = random_cloud(2, 300, 5, 2.0);
  const Vec lw = Vec::Constant(2000, -std::log(2000.0));
  gfd::kernel_sums<double> ex, tr;
  gfd::exact_evaluator{}.sums(x, y, lw, gfd::epanechnikov{}, 0.3, {}, ex);
  gfd::tree_evaluator(1e-3).sums(x, y, lw, gfd::epanechnikov{}, 0.3, {}, tr);
  for (Eigen::Index i = 0; i < x.cols(); ++i) {
    if (std::isinf(ex.log_sum(i))) {
      CHECK(std::isinf(tr.log_sum(i)));
    } else {
      CHECK(tr.log_sum(i) == Approx(ex.log_sum(i)).epsilon(1e-12));
    }
    CHECK((tr.field.col(i) - ex.field.col(i)).norm() <= 1e-9 * (1 + ex.field.col(i).norm()));
  }
}

TEMPLATE_TEST_CASE("far queries get the nearest mass from the tree too", "[tree]", float, double) {
  using M = gfd::positions<TestType>;
  M y(2, 3);
  y << 0, 1, 0, 0, 0, 1;
  M x(2, 2);
  x << 10, -100, 0, -100;  // 100 and 1000 bandwidths away with h = 0.1
  const gfd::vector<TestType> lw = gfd::vector<TestType>::Constant(3, -std::log(TestType(3)));
  gfd::kernel_sums<TestType> ex, tr;
  gfd::exact_evaluator{}.sums(x, y, lw, gfd::gaussian{}, TestType(0.1), {}, ex);
  gfd::tree_evaluator(1e-3).sums(x, y, lw, gfd::gaussian{}, TestType(0.1), {}, tr);
  REQUIRE(tr.log_sum.allFinite());
  REQUIRE(tr.field.allFinite());
  CHECK(static_cast<double>(tr.log_sum(0)) == Approx(static_cast<double>(ex.log_sum(0))).epsilon(1e-5));
  CHECK((tr.field - ex.field).norm() <= 1e-3 * ex.field.norm());
}

TEST_CASE("a flow with the tree evaluator follows the exact flow", "[tree][flow]") {
  const Mat y = gfd::toy::sample("moons", 800, 6);
  const Mat x0 = gfd::toy::gaussian(2, 400, 7);
  gfd::flow_options o;
  o.max_steps = 100;
  const auto [xe, re] = gfd::flow<>(y, o).run_from(x0, gfd::kl());
  const auto [xt, rt] = gfd::flow<gfd::gaussian, double, Eigen::Dynamic, gfd::tree_evaluator>(
                            y, o, {}, gfd::tree_evaluator(1e-6))
                            .run_from(x0, gfd::kl());
  CHECK((xe - xt).cwiseAbs().maxCoeff() < 1e-3);
  CHECK(rt.steps == 100);
}

TEST_CASE("the tree evaluator rejects bad settings", "[tree][errors]") {
  REQUIRE_THROWS_WITH(gfd::tree_evaluator(0.0), gfd_test::contains_substring("tolerance must be in (0, 1), got 0"));
  REQUIRE_THROWS_WITH(gfd::tree_evaluator(1.5), gfd_test::contains_substring("got 1.5"));
  const Mat y = random_cloud(2, 10, 8);
  gfd::kernel_sums<double> out;
  REQUIRE_THROWS_WITH(gfd::tree_evaluator{}.sums(y, y, Vec::Zero(10), gfd::gaussian{}, -1.0, {}, out),
                      gfd_test::contains_substring("bandwidth must be finite and > 0"));
}

TEST_CASE("tree sums hold the bound on clustered, duplicated and sparse clouds", "[tree]") {
  // 300 copies of one point (a block of identical queries, zero extent), two tight clusters far
  // apart, and a sparse tail: blocks of every shape, several search passes, self-masking.
  Mat y(2, 3000);
  y.leftCols(300).colwise() = Eigen::Vector2d(0.5, -0.5);
  y.middleCols(300, 1200) = random_cloud(2, 1200, 11, 0.05, 0);
  y.middleCols(1500, 1200) = random_cloud(2, 1200, 12, 0.05, 20.0);
  y.rightCols(300) = random_cloud(2, 300, 13, 10.0, 0);
  const Vec lw = (random_cloud(1, 3000, 14).transpose().array()).matrix();
  for (const bool self : {false, true}) {
    const Mat x = self ? y : random_cloud(2, 2000, 15, 8.0, 5.0);
    const gfd::sum_options opt{.field = gfd::field_kind::score, .exclude_self = self};
    for (const double tol : {1e-2, 1e-6}) {
      INFO("self=" << self << " tol=" << tol);
      gfd::kernel_sums<double> ex, tr;
      gfd::exact_evaluator{}.sums(x, y, lw, gfd::gaussian{}, 0.02, opt, ex);
      gfd::tree_evaluator(tol).sums(x, y, lw, gfd::gaussian{}, 0.02, opt, tr);
      REQUIRE(ex.log_sum.allFinite());
      REQUIRE(tr.log_sum.allFinite());
      REQUIRE(tr.field.allFinite());
      const Vec rel = ((tr.log_sum - ex.log_sum).array().exp() - 1).abs().matrix();
      CHECK(rel.maxCoeff() <= tol * (1 + 1e-9));
      // Never above the exact sum, up to the round-off of sums over thousands of terms.
      const Eigen::ArrayXd excess = (tr.log_sum - ex.log_sum).array() / (1 + ex.log_sum.array().abs());
      CHECK(excess.maxCoeff() <= 1e-12);
    }
  }
}

TEST_CASE("the block partition is the same for any number of threads", "[tree]") {
  // Large enough for the partition's tasks (ranges of 16384+ points go to other threads).
  const Eigen::MatrixXd x = random_cloud(2, 120000, 31);
  const Eigen::MatrixXd x3 = random_cloud(3, 70000, 32);
#ifdef _OPENMP
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
#endif
  const auto one = gfd::detail::partition_points(x, 64, 0.05);
  const auto one3 = gfd::detail::partition_points(x3, 16, std::numeric_limits<double>::infinity());
#ifdef _OPENMP
  omp_set_num_threads(std::max(2, threads));
#endif
  const auto many = gfd::detail::partition_points(x, 64, 0.05);
  const auto many3 = gfd::detail::partition_points(x3, 16, std::numeric_limits<double>::infinity());
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
  CHECK(one.order == many.order);
  CHECK(one.begin == many.begin);
  CHECK(one3.order == many3.order);
  CHECK(one3.begin == many3.begin);
  // A partition: every point once, blocks of at most 64.
  std::vector<Eigen::Index> sorted = many.order;
  std::sort(sorted.begin(), sorted.end());
  for (Eigen::Index i = 0; i < x.cols(); ++i) REQUIRE(sorted[static_cast<std::size_t>(i)] == i);
  for (std::size_t b = 0; b + 1 < many.begin.size(); ++b) CHECK(many.begin[b + 1] - many.begin[b] <= 64);
}
