// SPDX-License-Identifier: MIT
/// @file test_concepts.cpp
/// @brief Static tests of every concept (positive and near-miss negative, as mp-units does) and
///        the two-phase evaluator lifecycle at run time.
#include <gfd/evaluators/tree.hpp>
#include <gfd/gfd.hpp>

#include "catch.hpp"
#include "util.hpp"

namespace {

using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;

// --- Kernel: a profile without its slope, or a name of the wrong type, is not a kernel.
struct no_slope {
  static constexpr std::string_view name = "no-slope";
  static constexpr bool constant_slope = true;
  template <class S> S log_profile(S t) const { return -t; }
  template <class A> auto log_profile_array(const Eigen::ArrayBase<A>& t) const { return -t.derived(); }
  template <class A> auto slope_array(const Eigen::ArrayBase<A>& t) const { return t.derived(); }
  double support_radius() const { return 1; }
  double log_normaliser(int) const { return 0; }
};
static_assert(gfd::Kernel<gfd::gaussian> && gfd::Kernel<gfd::laplacian> &&
              gfd::Kernel<gfd::epanechnikov> && gfd::Kernel<gfd::inverse_multiquadric> &&
              gfd::Kernel<gfd::geodesic_gaussian>);
static_assert(!gfd::Kernel<no_slope> && !gfd::Kernel<int> && !gfd::Kernel<gfd::exact_evaluator>);

// --- BandwidthBoundKernel: with_bandwidth must return the kernel's own type.
struct binds_to_other : gfd::gaussian {
  gfd::gaussian with_bandwidth(double) const { return {}; }
};
static_assert(gfd::BandwidthBoundKernel<gfd::geodesic_gaussian>);
static_assert(!gfd::BandwidthBoundKernel<gfd::gaussian> && !gfd::BandwidthBoundKernel<binds_to_other>);

// --- Evaluator / PreparedSources: the old single-shot shape (sums with sources) is not enough;
// a prepared type must offer rebound and reweighted of its own type.
struct single_shot_only {
  template <gfd::Kernel K, class Scalar, int Dim>
  void sums(const Eigen::Ref<const gfd::positions<Scalar, Dim>>&, const Eigen::Ref<const gfd::positions<Scalar, Dim>>&,
            const Eigen::Ref<const gfd::vector<Scalar>>&, const K&, Scalar, const gfd::sum_options&,
            gfd::kernel_sums<Scalar, Dim>&) const {}
};
struct prepared_without_rebound {
  using scalar_type = double;
  using kernel_type = gfd::gaussian;
  Eigen::Index size() const { return 0; }
  Eigen::Index dim() const { return 0; }
  double bandwidth() const { return 1; }
  void sums(const Mat&, const gfd::sum_options&, gfd::kernel_sums<double>&) const {}
  prepared_without_rebound reweighted(const Vec&) const { return *this; }
};
struct prepares_without_rebound {
  template <gfd::Kernel K, class Scalar>
  using prepared = prepared_without_rebound;
  template <class K, class S>
  prepared_without_rebound prepare(const Mat&, const Vec&, const gfd::bound_kernel<K, S>&) const { return {}; }
};
static_assert(gfd::Evaluator<gfd::exact_evaluator> && gfd::Evaluator<gfd::tree_evaluator>);
static_assert(gfd::PreparedSources<gfd::exact_evaluator::prepared<gfd::laplacian, double>> &&
              gfd::PreparedSources<gfd::tree_evaluator::prepared<gfd::epanechnikov, float>>);
static_assert(!gfd::Evaluator<single_shot_only> && !gfd::Evaluator<prepares_without_rebound> &&
              !gfd::Evaluator<gfd::gaussian>);
static_assert(!gfd::PreparedSources<prepared_without_rebound> && !gfd::PreparedSources<Mat>);

// --- Stepper: a name and a validate.
struct unnamed_stepper {
  void validate(std::string_view) const {}
};
static_assert(gfd::Stepper<gfd::euler_stepper> && gfd::Stepper<gfd::heun_stepper> &&
              gfd::Stepper<gfd::adaptive_heun_stepper>);
static_assert(!gfd::Stepper<unnamed_stepper> && !gfd::Stepper<gfd::gaussian>);

// --- Manifold.
static_assert(gfd::Manifold<gfd::euclidean> && gfd::Manifold<gfd::unit_sphere>);
static_assert(!gfd::Manifold<gfd::gaussian> && !gfd::Manifold<int>);

// --- Divergences: local ones need field(), add_velocity and estimate; any divergence velocity().
using problem = gfd::flow_problem<double, Eigen::Dynamic, gfd::gaussian, gfd::exact_evaluator>;
struct velocity_only {
  template <class P, class V>
  double velocity(const P&, V& v, bool) const {
    v.setZero();
    return 0;
  }
};
static_assert(gfd::LocalDivergence<gfd::f_divergence> && gfd::LocalDivergence<gfd::mmd>);
static_assert(!gfd::LocalDivergence<gfd::drifting_field> && !gfd::LocalDivergence<velocity_only>);
static_assert(gfd::Divergence<gfd::drifting_field, problem> && gfd::Divergence<velocity_only, problem> &&
              gfd::Divergence<gfd::f_divergence, problem>);
static_assert(!gfd::Divergence<gfd::gaussian, problem> && !gfd::Divergence<int, problem>);

}  // namespace

TEST_CASE("prepared sources give the one-shot sums, rebound and reweighted included", "[evaluators][concepts]") {
  const Mat y = gfd_test::random_cloud(2, 300, 1), x = gfd_test::random_cloud(2, 120, 2);
  const Vec lw = Vec::Constant(300, -std::log(300.0));
  const Vec lw2 = (gfd_test::random_cloud(1, 300, 3).row(0).transpose().array() * 0.5).matrix();
  auto check = [&](const auto& evaluator, double tol) {
    const auto p = evaluator.prepare(y, lw, gfd::bound_kernel<gfd::laplacian>(gfd::laplacian{}, 0.3));
    for (double h : {0.3, 0.7}) {
      for (const Vec* w : {&lw, &lw2}) {
        gfd::kernel_sums<double> a, b;
        p.rebound(h).reweighted(*w).sums(x, {}, a);
        gfd::exact_evaluator{}.sums(x, y, *w, gfd::laplacian{}, h, {}, b);
        CHECK((a.log_sum - b.log_sum).cwiseAbs().maxCoeff() < tol);
        CHECK((a.field - b.field).cwiseAbs().maxCoeff() < tol * (1 + b.field.cwiseAbs().maxCoeff()) * 10);
      }
    }
    // The prepared object owns what it needs: the caller's matrices may go.
    Mat tmp = y;
    const auto q = evaluator.prepare(tmp, lw, gfd::bound_kernel<gfd::gaussian>(gfd::gaussian{}, 0.5));
    tmp.setConstant(1e300);
    gfd::kernel_sums<double> a, b;
    q.sums(x, {}, a);
    gfd::exact_evaluator{}.sums(x, y, lw, gfd::gaussian{}, 0.5, {}, b);
    CHECK((a.log_sum - b.log_sum).cwiseAbs().maxCoeff() < tol);
  };
  check(gfd::exact_evaluator{}, 1e-13);
  check(gfd::tree_evaluator(1e-6), 1e-5);
}

TEST_CASE("prepared sources check their inputs", "[evaluators][errors]") {
  const Mat y = gfd_test::random_cloud(2, 10, 4);
  const gfd::bound_kernel<gfd::gaussian> k(gfd::gaussian{}, 1.0);
  REQUIRE_THROWS_WITH(gfd::exact_evaluator{}.prepare(y, Vec::Zero(9), k),
                      gfd_test::contains_substring("9 log-weights for 10 sources"));
  REQUIRE_THROWS_WITH(gfd::tree_evaluator{}.prepare(y, Vec::Zero(10), k).reweighted(Vec::Zero(3)),
                      gfd_test::contains_substring("3 log-weights for 10 sources"));
  REQUIRE_THROWS_WITH(gfd::bound_kernel<gfd::gaussian>(gfd::gaussian{}, 0.0),
                      gfd_test::contains_substring("bandwidth must be finite and > 0, got 0"));
  REQUIRE_THROWS_WITH(gfd::exact_evaluator{}.prepare(y, Vec::Zero(10), k).rebound(-1.0),
                      gfd_test::contains_substring("bandwidth must be finite and > 0, got -1"));
  gfd::kernel_sums<double> out;
  REQUIRE_THROWS_WITH(gfd::exact_evaluator{}.prepare(y, Vec::Zero(10), k).sums(Mat(Mat::Zero(3, 4)), {}, out),
                      gfd_test::contains_substring("dimension mismatch: queries 3, sources 2"));
  // A bound kernel re-binds a bandwidth-bound kernel: no caller has to.
  const gfd::bound_kernel<gfd::geodesic_gaussian> g(gfd::geodesic_gaussian(1.0), 0.25);
  CHECK(g.kernel.bandwidth == 0.25);
  CHECK(g.rebound(0.5).kernel.bandwidth == 0.5);
}

namespace {
// An evaluator that counts what it prepares, to check the lifecycle the flow follows.
struct counting_evaluator {
  struct counts {
    int prepares = 0;
  };
  std::shared_ptr<counts> n = std::make_shared<counts>();
  template <gfd::Kernel K, class Scalar>
  using prepared = gfd::exact_evaluator::prepared<K, Scalar>;
  template <gfd::Kernel K, class Scalar>
  prepared<K, Scalar> prepare(const std::type_identity_t<Eigen::Ref<const gfd::positions<Scalar>>>& y,
                              const std::type_identity_t<Eigen::Ref<const gfd::vector<Scalar>>>& lw,
                              const gfd::bound_kernel<K, Scalar>& k) const {
    ++n->prepares;
    return gfd::exact_evaluator{}.prepare(y, lw, k);
  }
};
static_assert(gfd::Evaluator<counting_evaluator>);
}  // namespace

TEST_CASE("a flow prepares the targets once per bandwidth, the particles once per velocity", "[flow][evaluators]") {
  const Mat y = gfd_test::random_cloud(2, 200, 5), x0 = gfd_test::random_cloud(2, 50, 6, 0.3);
  gfd::flow_options o;
  o.max_steps = 7;
  o.bandwidth = gfd::bandwidth_schedule::fixed(0.4);
  const counting_evaluator ev;
  gfd::flow<gfd::gaussian, double, Eigen::Dynamic, counting_evaluator> f(y, o, {}, ev);
  Mat x = x0;
  const auto rep = f.run(x, gfd::kl());
  REQUIRE(rep.steps == 7);
  // 1 for the targets, one particle pass per velocity: 7 steps, no extra estimate (the last step
  // computed it).
  CHECK(ev.n->prepares == 1 + 7);
  // The same flow with an exact_evaluator gives the same particles to the last bit.
  Mat x2 = x0;
  gfd::flow<>(y, o).run(x2, gfd::kl());
  CHECK(x == x2);
}
