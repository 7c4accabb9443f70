// SPDX-License-Identifier: MIT
/// @file bench_flow.cpp
/// @brief One full flow step (both KDE passes, the divergence, the step) against the two bare
///        KDE passes it contains, in one run: the overhead of the flow layer.
///
/// `flow_step/N` times gfd::flow::run for one Euler step of KL(q||p) (fixed bandwidth, so no
/// bandwidth rule runs) with N particles and M = N targets in 2D; `two_passes/N` times the two
/// exact-evaluator calls that step makes (particles against targets, particles against
/// themselves). The ratio of the two is the overhead of divergence, validation and stepping.
///
/// The manifold layer: `flow_step` runs gfd::flow with its default manifold, gfd::euclidean;
/// `euler_by_hand/N` computes the same velocity (flow::velocity) and applies x += dt h^2 v
/// directly, with no manifold, displacement cap or report. Equal times show that the Euclidean
/// default costs nothing. `sphere_step/N` is the same step on S^2 (vMF targets): tangent
/// projection and exponential map, for scale.
#include <benchmark/benchmark.h>

#include <gfd/flow.hpp>
#include <gfd/sphere.hpp>
#include <gfd/toy.hpp>

namespace {

/// One step with a fixed bandwidth, no observer: what the timed runs use.
gfd::flow_options one_step_options() {
  gfd::flow_options o;
  o.max_steps = 1;
  o.observe_every = 0;
  o.bandwidth = gfd::bandwidth_schedule::fixed(0.3);
  return o;
}

/// Times flow.run for one KL step from x0 (reset before every iteration).
template <class Flow>
void time_one_step(benchmark::State& state, const Flow& f, const Eigen::MatrixXd& x0) {
  Eigen::MatrixXd x = x0;
  for (auto _ : state) {
    x = x0;
    benchmark::DoNotOptimize(f.run(x, gfd::kl()));
  }
  state.counters["steps/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
}

void flow_step(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const Eigen::MatrixXd y = gfd::toy::sample("8gaussians", n, 1);
  time_one_step(state, gfd::flow<>(y, one_step_options()), gfd::toy::gaussian(2, n, 2));
}

void euler_by_hand(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const Eigen::MatrixXd y = gfd::toy::sample("8gaussians", n, 1);
  const Eigen::MatrixXd x0 = gfd::toy::gaussian(2, n, 2);
  const gfd::flow_options o = one_step_options();
  const gfd::flow<> f(y, o);
  const double h = 0.3, step = o.dt * h * h;
  Eigen::MatrixXd x = x0, v;
  for (auto _ : state) {
    x = x0;
    f.velocity(gfd::kl(), x, h, 0.0, v, false);
    x += step * v;
    benchmark::DoNotOptimize(x.data());
  }
  state.counters["steps/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
}

void sphere_step(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const Eigen::MatrixXd y = gfd::sphere::vmf_mixture(3, 6, 50.0, n, 1).points;
  time_one_step(state,
                gfd::flow<gfd::gaussian, double, Eigen::Dynamic, gfd::exact_evaluator, gfd::unit_sphere>(
                    y, one_step_options()),
                gfd::sphere::uniform(3, n, 2));
}

void two_passes(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const Eigen::MatrixXd y = gfd::toy::sample("8gaussians", n, 1);
  const Eigen::MatrixXd x = gfd::toy::gaussian(2, n, 2);
  const Eigen::VectorXd lw = Eigen::VectorXd::Constant(n, -std::log(static_cast<double>(n)));
  const gfd::exact_evaluator ev;
  gfd::kernel_sums<double> sp, sq;
  for (auto _ : state) {
    ev.sums(x, y, lw, gfd::gaussian{}, 0.3, {}, sp);
    ev.sums(x, x, lw, gfd::gaussian{}, 0.3, {}, sq);
    benchmark::DoNotOptimize(sp.field.data());
    benchmark::DoNotOptimize(sq.field.data());
  }
  state.counters["steps/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(flow_step)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(two_passes)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(euler_by_hand)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(sphere_step)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
