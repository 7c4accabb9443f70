// SPDX-License-Identifier: MIT
// Results do not depend on the number of OpenMP threads: every divergence's flow (a smooth and
// the Laplacian kernel, exact and tree evaluators, the three steppers, R^d and the sphere), the
// drifting field alone, both paths of the exact evaluator, the KDE, the metrics and generator
// training, each run with 1, 2, 3 and 4 threads and compared bit for bit. More threads than the
// machine has cores still split every parallel loop differently, which is what is tested.
#include <gfd/generator.hpp>
#include <gfd/gfd.hpp>
#include <gfd/metrics_sphere.hpp>
#include <gfd/registry.hpp>

#include <cmath>
#include <cstring>
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

#ifdef _OPENMP

// Same shape and the same bytes (NaN-safe; -0 and +0 differ).
template <class A>
bool same_bits(const A& a, const A& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(typename A::Scalar) * static_cast<std::size_t>(a.size())) == 0;
}

// Sets the thread count for a scope and restores it (also when a check throws).
struct thread_count {
  int before = omp_get_max_threads();
  explicit thread_count(int t) { omp_set_num_threads(t); }
  ~thread_count() { omp_set_num_threads(before); }
  thread_count(const thread_count&) = delete;
  thread_count& operator=(const thread_count&) = delete;
};

// The thread counts among 2, 3, 4 for which f() differs from its result with one thread.
template <class F>
std::vector<int> differing_thread_counts(F&& f) {
  const auto one = [&] {
    thread_count t(1);
    return f();
  }();
  std::vector<int> bad;
  for (int n : {2, 3, 4}) {
    thread_count t(n);
    if (!same_bits(one, f())) bad.push_back(n);
  }
  return bad;
}

// Final particles of a short flow, then its estimate and final bandwidth.
template <class K, class E, class M = gfd::euclidean, class D>
Vec flow_result(const D& divergence, const Mat& y, const Mat& x0, gfd::stepper method, K kernel = {},
                E evaluator = {}, M manifold = {}, long steps = 6) {
  gfd::flow_options o;
  o.max_steps = steps;
  o.method = method;
  o.observe_every = 0;
  const gfd::flow<K, double, Eigen::Dynamic, E, M> f(y, o, kernel, evaluator, manifold);
  const auto [x, rep] = f.run_from(x0, divergence);
  Vec out(x.size() + 2);
  out.head(x.size()) = x.reshaped();
  out(x.size()) = rep.estimate;
  out(x.size() + 1) = rep.bandwidth;
  return out;
}

// Points on the unit sphere S^{d-1}: normalised Gaussian vectors, shifted towards e_0 for the
// targets so that the flow has somewhere to go.
Mat sphere_cloud(Eigen::Index d, Eigen::Index n, std::uint64_t seed, double shift) {
  Mat x = gfd_test::random_cloud(d, n, seed);
  x.row(0).array() += shift;
  return x.colwise().normalized();
}

#endif  // _OPENMP

}  // namespace

#ifndef _OPENMP
TEST_CASE("thread determinism (built without OpenMP: nothing to compare)", "[threads]") {
  WARN("built without OpenMP: every result is single-threaded, the thread-count tests are skipped");
  SUCCEED();
}
#else

// Sizes: every parallel loop runs in parallel (exact evaluator from N M d >= 2e5, the tree from
// 256 queries, the drifting field's dense loops from N (M + N) d >= 2e5).
TEST_CASE("every divergence's flow is the same for 1, 2, 3 and 4 threads", "[threads][flow]") {
  const Mat y = gfd::toy::sample("moons", 350, 1);
  const Mat x0 = gfd_test::random_cloud(2, 400, 2, 1.5);
  for (const std::string& name : gfd::registry::divergence_names()) {
    // The costly fields (Sinkhorn: up to 100 rounds per step, on the grid at h^2 = eps; the
    // exact KL's lattice, 30 h wide for the Laplacian) take 2 steps: a cold start and a warm one.
    const long steps = name == "sinkhorn" || name == "sinkhorn-drift" || name == "kl-exact" ? 2 : 6;
    gfd::registry::with_divergence(name, {}, [&](const auto& div) {
      for (const std::string& ev : gfd::registry::evaluator_names()) {
        gfd::registry::with_evaluator(ev, {}, [&](auto evaluator) {
          using E = decltype(evaluator);
          INFO(name << ", " << ev << " evaluator");
          CHECK(differing_thread_counts([&] {
                  return flow_result<gfd::gaussian, E>(div, y, x0, gfd::stepper::euler, {}, evaluator,
                                                       gfd::euclidean{}, steps);
                }).empty());
        });
      }
      // The Laplacian kernel (non-smooth, its own SIMD path) once per divergence.
      INFO(name << ", exact evaluator, Laplacian kernel");
      CHECK(differing_thread_counts([&] {
              return flow_result<gfd::laplacian, gfd::exact_evaluator>(div, y, x0, gfd::stepper::euler, {}, {},
                                                                      gfd::euclidean{}, steps);
            }).empty());
    });
  }
}

TEST_CASE("Heun, adaptive, other kernels and high d are the same for any thread count", "[threads][flow]") {
  const Mat y = gfd::toy::sample("8gaussians", 350, 3);
  const Mat x0 = gfd_test::random_cloud(2, 400, 4, 2.0);
  const gfd::drifting_field deng(gfd::deng_drifting_options());
  for (gfd::stepper method : {gfd::stepper::heun, gfd::stepper::adaptive}) {
    INFO("stepper " << static_cast<int>(method));
    CHECK(differing_thread_counts([&] {
            return flow_result<gfd::laplacian, gfd::exact_evaluator>(deng, y, x0, method);
          }).empty());
    CHECK(differing_thread_counts([&] {
            return flow_result<gfd::gaussian, gfd::tree_evaluator>(gfd::mixture(gfd::reverse_kl(), gfd::chi2(), 1.0, 1.0),
                                                                   y, x0, method);
          }).empty());
  }
  CHECK(differing_thread_counts([&] {
          return flow_result<gfd::epanechnikov, gfd::exact_evaluator>(gfd::reverse_kl(), y, x0, gfd::stepper::euler);
        }).empty());
  CHECK(differing_thread_counts([&] {
          return flow_result<gfd::inverse_multiquadric, gfd::tree_evaluator>(deng, y, x0, gfd::stepper::euler);
        }).empty());
  // d = 24: the exact evaluator's matrix-product path.
  const Mat y24 = gfd_test::random_cloud(24, 300, 5), x24 = gfd_test::random_cloud(24, 250, 6, 1.0, 0.5);
  CHECK(differing_thread_counts([&] {
          return flow_result<gfd::gaussian, gfd::exact_evaluator>(gfd::kl(), y24, x24, gfd::stepper::euler);
        }).empty());
  CHECK(differing_thread_counts([&] {
          return flow_result<gfd::laplacian, gfd::exact_evaluator>(deng, y24, x24, gfd::stepper::euler);
        }).empty());
}

TEST_CASE("flows on the sphere are the same for any thread count", "[threads][sphere]") {
  const gfd::drifting_field deng(gfd::deng_drifting_options());
  for (Eigen::Index d : {3, 20}) {
    const Mat y = sphere_cloud(d, 350, 7, 2.0), x0 = sphere_cloud(d, 400, 8, 0.0);
    INFO("S^" << d - 1);
    const auto check = [&](const auto& div) {
      CHECK(differing_thread_counts([&] {
              return flow_result<gfd::gaussian, gfd::exact_evaluator, gfd::unit_sphere>(div, y, x0, gfd::stepper::heun);
            }).empty());
      CHECK(differing_thread_counts([&] {
              return flow_result<gfd::laplacian, gfd::tree_evaluator, gfd::unit_sphere>(div, y, x0, gfd::stepper::euler);
            }).empty());
    };
    check(gfd::kl());
    check(gfd::mmd{});
    check(gfd::mixture(gfd::reverse_kl(), gfd::chi2(), 1.0, 1.0));
    check(deng);
  }
}

TEST_CASE("the drifting field alone is the same for any thread count", "[threads][drifting]") {
  const Mat x = gfd_test::random_cloud(2, 450, 9, 0.5);
  const Mat y = gfd_test::random_cloud(2, 500, 10, 1.0, 0.5);
  const Vec lw = Vec::Constant(500, -std::log(500.0));
  std::vector<gfd::drifting_options> options(5);
  options[1].norm = gfd::drifting_options::normalisation::joint;
  options[1].self_mask = true;
  options[2].kernel_gradient = true;
  options[3] = gfd::deng_drifting_options();  // with the affinity floor: the dense loop
  options[4] = gfd::deng_drifting_options();
  options[4].affinity_floor = 0;  // the factored kernel passes
  const auto field = [&](const auto& kernel, const auto& evaluator, const gfd::drifting_options& o) {
    using K = std::decay_t<decltype(kernel)>;
    using E = std::decay_t<decltype(evaluator)>;
    const gfd::flow_problem<double, Eigen::Dynamic, K, E> pb{x, y, lw, kernel, evaluator, 0.7, 0.0};
    return Mat(gfd::drifting_field(o).field(pb));
  };
  for (std::size_t i = 0; i < options.size(); ++i) {
    INFO("options " << i);
    CHECK(differing_thread_counts([&] { return field(gfd::laplacian{}, gfd::exact_evaluator{}, options[i]); }).empty());
    CHECK(differing_thread_counts([&] { return field(gfd::gaussian{}, gfd::exact_evaluator{}, options[i]); }).empty());
    CHECK(differing_thread_counts([&] { return field(gfd::laplacian{}, gfd::tree_evaluator{}, options[i]); }).empty());
  }
}

TEST_CASE("the exact evaluator's sums are the same for any thread count, in low and high d", "[threads][exact]") {
  // (d, queries, sources): 2D; high d with the sum threaded over query blocks; high d on the
  // calling thread (N M d < 2e5), where Eigen's own GEMM would thread itself.
  struct shape {
    Eigen::Index d, n, m;
  };
  for (const shape s : {shape{2, 400, 600}, shape{20, 300, 400}, shape{16, 16, 600}, shape{64, 12, 200}}) {
    INFO("d " << s.d << ", " << s.n << " queries, " << s.m << " sources");
    const Mat y = gfd_test::random_cloud(s.d, s.m, 11), x = gfd_test::random_cloud(s.d, s.n, 12, 1.2);
    const Vec lw = Vec::Constant(s.m, -std::log(static_cast<double>(s.m)));
    const double h = std::sqrt(static_cast<double>(s.d));
    // The self-masked sums take the sources as queries.
    const auto sums = [&](const auto& kernel, gfd::field_kind field, bool self) {
      using K = std::decay_t<decltype(kernel)>;
      const auto prep = gfd::exact_evaluator{}.prepare(y, lw, gfd::bound_kernel<K, double>(kernel, h, "test"));
      gfd::kernel_sums<double, Eigen::Dynamic> out;
      const Mat& q = self ? y : x;
      prep.sums(q, gfd::sum_options{.field = field, .exclude_self = self}, out);
      Mat all(s.d + 1, q.cols());
      all.topRows(s.d) = out.field;
      all.row(s.d) = out.log_sum.transpose();
      return all;
    };
    CHECK(differing_thread_counts([&] { return sums(gfd::gaussian{}, gfd::field_kind::mean_shift, false); }).empty());
    CHECK(differing_thread_counts([&] { return sums(gfd::laplacian{}, gfd::field_kind::score, false); }).empty());
    CHECK(differing_thread_counts([&] { return sums(gfd::inverse_multiquadric{}, gfd::field_kind::score, true); }).empty());
    // float: the same code in single precision.
    const Eigen::MatrixXf yf = y.cast<float>(), xf = x.cast<float>();
    const Eigen::VectorXf lwf = lw.cast<float>();
    CHECK(differing_thread_counts([&] {
            const auto prep = gfd::exact_evaluator{}.prepare(
                yf, lwf, gfd::bound_kernel<gfd::gaussian, float>(gfd::gaussian{}, static_cast<float>(h), "test"));
            gfd::kernel_sums<float, Eigen::Dynamic> out;
            prep.sums(xf, gfd::sum_options{.field = gfd::field_kind::score}, out);
            return Eigen::MatrixXf(out.field);
          }).empty());
  }
}

TEST_CASE("the KDE is the same for any thread count, exact and tree", "[threads][kde]") {
  const Mat y = gfd::toy::sample("swissroll", 2000, 13);
  const Mat q = gfd_test::random_cloud(2, 1500, 14, 2.0);
  const auto densities = [&](const auto& p) {
    Mat all(3, q.cols());
    all.row(0) = p.log_density(q).transpose();
    all.bottomRows(2) = p.score(q);
    return all;
  };
  CHECK(differing_thread_counts([&] { return densities(gfd::kde<>(y, 0.3)); }).empty());
  CHECK(differing_thread_counts([&] {
          return densities(gfd::kde<gfd::laplacian, double, Eigen::Dynamic, gfd::tree_evaluator>(y, 0.3));
        }).empty());
  const Mat ys = sphere_cloud(3, 2000, 15, 1.0), qs = sphere_cloud(3, 1500, 16, 0.0);
  CHECK(differing_thread_counts([&] {
          const gfd::kde<gfd::gaussian, double, Eigen::Dynamic, gfd::exact_evaluator, gfd::unit_sphere> p(ys, 0.4);
          Mat all(4, qs.cols());
          all.row(0) = p.log_density(qs).transpose();
          all.bottomRows(3) = p.score(qs);
          return all;
        }).empty());
}

TEST_CASE("the metrics are the same for any thread count", "[threads][metrics]") {
  const Mat x = gfd::toy::sample("8gaussians", 1200, 17);
  const Mat y = gfd::toy::sample("8gaussians", 1000, 18);
  CHECK(differing_thread_counts([&] {
          const auto r = gfd::two_sample_report(x, y);
          const auto mix = gfd::toy::mixture_of("8gaussians");
          const auto c = gfd::mode_coverage(x, mix->centres, mix->stddev);
          Vec v(8);
          v << r.bandwidth, r.mmd2_unbiased, r.energy_distance, r.sliced_w2, gfd::mmd2_biased(x, y, 0.5),
              c.modes_covered, c.fraction_near, gfd::sliced_wasserstein2_squared(x, y, 300, 7);
          return v;
        }).empty());
  // The sphere: its MMD with both kernels, and geodesic mode coverage, whose cosines are one
  // N x K matrix product (large enough for Eigen to thread it).
  const Mat xs = sphere_cloud(3, 6000, 19, 0.5), ys = sphere_cloud(3, 1500, 20, 0.5);
  const Mat centres = sphere_cloud(3, 12, 21, 0.0);
  CHECK(differing_thread_counts([&] {
          const auto c = gfd::sphere::mode_coverage(xs, centres, 0.5);
          Vec v(4);
          v << gfd::sphere::mmd2_unbiased(xs.leftCols(1500), ys, 0.5),
              gfd::sphere::mmd2_unbiased(xs.leftCols(1500), ys, 0.5, gfd::sphere::mmd_kernel::geodesic_gaussian),
              c.modes_covered, c.fraction_near;
          return v;
        }).empty());
}

TEST_CASE("generator training and sampling are the same for any thread count", "[threads][generator]") {
  // The default network (4 x 128) at batch 512: the backward pass's weight gradients are
  // 128 x 512 x 128 products, which Eigen's own GEMM rounds differently for 1 and 2 threads.
  const Mat data = gfd::toy::sample("8gaussians", 3000, 22);
  const auto trained = [&](auto divergence, auto kernel) {
    gfd::generator_options o;
    o.steps = 4;
    o.warmup = 2;
    o.holdout = 500;
    o.observe_every = 2;  // the hold-out sliced W2 as well
    std::vector<double> sw2;
    const auto model = gfd::train_generator<decltype(kernel)>(
        data, o, divergence, [&](const gfd::generator_progress& p) { sw2.push_back(p.sliced_w2); });
    const Mat samples = model.generate(3000, 5);
    const Vec& theta = model.network().parameters();
    const Vec& ema = model.ema().parameters();
    Vec all(theta.size() + ema.size() + samples.size() + static_cast<Eigen::Index>(sw2.size()));
    all << theta, ema, samples.reshaped(), Eigen::Map<const Vec>(sw2.data(), static_cast<Eigen::Index>(sw2.size()));
    return all;
  };
  CHECK(differing_thread_counts([&] { return trained(gfd::deng_drifting_field{}, gfd::laplacian{}); }).empty());
  CHECK(differing_thread_counts([&] { return trained(gfd::kl(), gfd::gaussian{}); }).empty());
}

#endif  // _OPENMP
