// SPDX-License-Identifier: MIT
// The exact evaluator's two engines give one result: the large-d pass (two matrix products per
// tile) against the per-query fused pass, in double to 1e-12 relative, for every kernel, field
// kind, weights, self-exclusion, far queries (tile recomputation) and several tiles; float
// against double to float precision in high dimension.
#include <gfd/evaluators/exact.hpp>
#include <gfd/kernels.hpp>

#include <algorithm>
#include <cmath>

#include "catch.hpp"
#include "util.hpp"

namespace {

using gfd_test::random_cloud;

// The same sums through the per-query pass (gemm_threshold above d) and the large-d pass
// (gemm_threshold 1).
template <class K, class Scalar = double>
std::pair<gfd::kernel_sums<Scalar>, gfd::kernel_sums<Scalar>> both_paths(
    const K& k, const Eigen::Matrix<Scalar, -1, -1>& y, const Eigen::Matrix<Scalar, -1, 1>& lw,
    const Eigen::Matrix<Scalar, -1, -1>& x, Scalar h, const gfd::sum_options& opt) {
  gfd::exact_evaluator fused, gemm;
  fused.gemm_threshold = y.rows() + 1;
  gemm.gemm_threshold = 1;
  gfd::kernel_sums<Scalar> a, b;
  const gfd::bound_kernel<K, Scalar> bk(k, h);
  fused.prepare(y, lw, bk).sums(x, opt, a);
  gemm.prepare(y, lw, bk).sums(x, opt, b);
  return {a, b};
}

// |log_sum difference| <= tol (a relative error of the sum) and, per query, the field within
// tol of the field's size (1 + |field|).
template <class Scalar>
void check_close(const gfd::kernel_sums<Scalar>& a, const gfd::kernel_sums<Scalar>& b, double tol) {
  REQUIRE(a.log_sum.size() == b.log_sum.size());
  for (Eigen::Index i = 0; i < a.log_sum.size(); ++i) {
    INFO("query " << i << ": log sums " << a.log_sum(i) << " and " << b.log_sum(i));
    if (std::isinf(a.log_sum(i))) {
      CHECK(a.log_sum(i) == b.log_sum(i));
    } else {
      CHECK(std::abs(static_cast<double>(a.log_sum(i) - b.log_sum(i))) <= tol);
    }
    const double fa = static_cast<double>(a.field.col(i).norm());
    CHECK(static_cast<double>((a.field.col(i) - b.field.col(i)).norm()) <= tol * (1 + fa));
  }
}

template <class K>
void check_kernel(const K& k, double h_factor) {
  for (Eigen::Index d : {3, 20, 130, 600}) {
    for (bool weighted : {false, true}) {
      for (auto field : {gfd::field_kind::score, gfd::field_kind::mean_shift}) {
        for (bool self : {false, true}) {
          INFO("kernel " << K::name << ", d = " << d << ", weighted " << weighted << ", field "
                         << (field == gfd::field_kind::score ? "score" : "mean shift")
                         << ", exclude_self " << self);
          // 2300 sources: two source tiles of the large-d pass from d = 256 (2048 sources
          // each), five below; several SIMD tiles of the per-query pass.
          const Eigen::Index m = 2300;
          const Eigen::MatrixXd y = random_cloud(d, m, 40 + static_cast<std::uint64_t>(d));
          const Eigen::MatrixXd x = self ? y : random_cloud(d, 70, 41, 1.2, 0.1);
          Eigen::VectorXd lw = Eigen::VectorXd::Constant(m, -std::log(double(m)));
          if (weighted) lw = random_cloud(m, 1, 42).col(0) * 0.5;
          const double h = h_factor * std::sqrt(static_cast<double>(d));
          const auto [a, b] = both_paths(k, y, lw, x, h, {.field = field, .exclude_self = self});
          check_close(a, b, 1e-12);
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("large-d matrix-product pass equals the per-query pass to 1e-12 (double)", "[exact]") {
  check_kernel(gfd::gaussian{}, 0.8);
  check_kernel(gfd::laplacian{}, 0.8);
  check_kernel(gfd::inverse_multiquadric{1.5}, 0.8);
  // Epanechnikov: a bandwidth wide enough that most pairs are inside the support.
  check_kernel(gfd::epanechnikov{}, 2.5);
}

TEST_CASE("large-d pass: far queries and sources sorted toward them (tile recomputation)", "[exact]") {
  // Sources sorted by distance from the far queries, farthest first, so that later tiles hold
  // logits far above the first tile's reference and must be recomputed; queries 100 bandwidths
  // away from every source still get a finite log-sum and the field toward the nearest mass.
  const Eigen::Index d = 520, m = 2600;
  Eigen::MatrixXd y = random_cloud(d, m, 50);
  const Eigen::MatrixXd x = random_cloud(d, 30, 51, 0.3, 0.0).colwise() +
                            Eigen::VectorXd::Constant(d, 100.0 / std::sqrt(double(d)) * 0.5);
  std::vector<std::pair<double, Eigen::Index>> key;
  for (Eigen::Index j = 0; j < m; ++j) key.emplace_back(-(y.col(j) - x.col(0)).squaredNorm(), j);
  std::sort(key.begin(), key.end());
  Eigen::MatrixXd sorted(d, m);
  for (Eigen::Index j = 0; j < m; ++j) sorted.col(j) = y.col(key[static_cast<std::size_t>(j)].second);
  const Eigen::VectorXd lw = Eigen::VectorXd::Zero(m);
  for (double h : {0.05, 0.5}) {
    INFO("h = " << h);
    const auto [a, b] = both_paths(gfd::gaussian{}, sorted, lw, x, h, {});
    REQUIRE(b.log_sum.allFinite());
    REQUIRE(b.field.allFinite());
    check_close(a, b, 1e-12 * (1 + a.log_sum.cwiseAbs().maxCoeff()));
    const auto [c, e] = both_paths(gfd::laplacian{}, sorted, lw, x, h, {.field = gfd::field_kind::mean_shift});
    check_close(c, e, 1e-12 * (1 + c.log_sum.cwiseAbs().maxCoeff()));
  }
}

TEST_CASE("large-d pass in float agrees with double to float precision", "[exact]") {
  for (Eigen::Index d : {128, 600}) {
    INFO("d = " << d);
    const Eigen::Index m = 1500;
    const Eigen::MatrixXd y = random_cloud(d, m, 60);
    const Eigen::MatrixXd x = random_cloud(d, 80, 61);
    const Eigen::VectorXd lw = Eigen::VectorXd::Constant(m, -std::log(double(m)));
    const double h = 0.7 * std::sqrt(static_cast<double>(d));
    gfd::exact_evaluator ev;
    gfd::kernel_sums<double> sd;
    gfd::kernel_sums<float> sf;
    ev.prepare(y, lw, gfd::bound_kernel<gfd::gaussian>(gfd::gaussian{}, h)).sums(x, {}, sd);
    const Eigen::MatrixXf yf = y.cast<float>(), xf = x.cast<float>();
    const Eigen::VectorXf lwf = lw.cast<float>();
    ev.prepare(yf, lwf, gfd::bound_kernel<gfd::gaussian, float>(gfd::gaussian{}, float(h))).sums(xf, {}, sf);
    // Logits of order |x - y|^2 / 2h^2 ~ 1 from products of order d: a few float ulps of d.
    CHECK((sf.log_sum.cast<double>() - sd.log_sum).cwiseAbs().maxCoeff() <= 1e-4);
    CHECK((sf.field.cast<double>() - sd.field).norm() <= 1e-4 * sd.field.norm());
  }
}
