// SPDX-License-Identifier: MIT
/// @file bench_generator.cpp
/// @brief Training steps per second of the one-step generator (generator.hpp) at batch 256, 1024
///        and 4096 for a 3 x 128 SiLU network in 2D, split into drift and network time, beside a
///        bare-GEMM baseline of the same network measured in the same run.
///
/// Names read `<field>/batch:<B>`:
///
/// - `drifting`: gfd::drifting_field{} with the Gaussian kernel (per-side mean shifts, two kernel
///   passes per step: the cheapest drift, V = h^2 (s_p - s_q)).
/// - `deng`: the paper's field, drifting_field(deng_drifting_options()) with gfd::laplacian
///   (joint normalisation, three temperatures: 19 kernel passes per step). The library default.
/// - `gemm`: the baseline. The matrix products of one training step of the same network and
///   batch (forward W a, backward delta a^T and W^T delta) with nothing else: no activation, no
///   drift, no optimiser.
///
/// Counters: `steps/s`; `drift_share` and `network_share`, the fractions of the step's time spent
/// in the drift (target batch, bandwidth, kernel sums) and in the network (noise, forward,
/// backward, Adam, EMA), from the trainer's own clocks; `net_GFLOP/s`, the network's matrix-product
/// flops over its time; `net_vs_gemm`, that rate over the baseline's (1 = the network runs at
/// bare-GEMM speed). Targets batch M = B, data 20000 points of 8gaussians.
#include <benchmark/benchmark.h>

#include "common.hpp"

#include <gfd/generator.hpp>
#include <gfd/toy.hpp>

#include <Eigen/Core>

#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>


namespace {

const std::vector<int> sizes{8, 128, 128, 128, 2};  // noise 8, 3 x 128, output 2

/// Flops of the matrix products of one step: forward 2 B n_{l-1} n_l per layer, backward the
/// same for dW and again for delta (every layer but the first).
double step_flops(double batch) {
  double f = 0;
  for (std::size_t l = 1; l < sizes.size(); ++l) {
    const double mn = static_cast<double>(sizes[l - 1]) * sizes[l];
    f += 2 * batch * mn * (l == 1 ? 2 : 3);
  }
  return f;
}

// Bare-GEMM GFLOP/s per batch, filled by the baseline benchmarks (they run first).
std::map<long, double> gemm_rate;
std::mutex gemm_mutex;

void bench_gemm(benchmark::State& state, Eigen::Index batch) {
  std::vector<Eigen::MatrixXd> w, a, z;
  for (std::size_t l = 0; l < sizes.size(); ++l) a.push_back(Eigen::MatrixXd::Random(sizes[l], batch));
  for (std::size_t l = 1; l < sizes.size(); ++l) w.push_back(Eigen::MatrixXd::Random(sizes[l], sizes[l - 1]) * 0.1);
  z.resize(sizes.size());
  Eigen::MatrixXd dw, delta, prev;
  for (auto _ : state) {
    for (std::size_t l = 1; l < sizes.size(); ++l) {
      a[l].noalias() = w[l - 1] * a[l - 1];
    }
    delta = a.back();
    for (std::size_t l = sizes.size() - 1; l >= 1; --l) {
      dw.noalias() = delta * a[l - 1].transpose();
      benchmark::DoNotOptimize(dw.data());
      if (l == 1) break;
      prev.noalias() = w[l - 1].transpose() * delta;
      std::swap(delta, prev);
    }
    benchmark::ClobberMemory();
  }
  const double flops = step_flops(static_cast<double>(batch));
  state.counters["steps/s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["net_GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

template <class K, class D>
void bench_train(benchmark::State& state, Eigen::Index batch, const D& field) {
  const Eigen::MatrixXd data = gfd::toy::sample("8gaussians", 20000, 1);
  gfd::generator_options o;
  o.noise_dim = sizes.front();
  o.width = 128;
  o.depth = 3;
  o.batch = batch;
  o.steps = 1 << 30;  // the learning-rate schedule never ends inside the benchmark
  gfd::generator_trainer<K> trainer(data, o);
  trainer.step(field);  // warm-up: buffers allocated
  const gfd::generator_timing t0 = trainer.timing();
  for (auto _ : state) {
    const auto st = trainer.step(field);
    benchmark::DoNotOptimize(st.loss);
  }
  const gfd::generator_timing& t1 = trainer.timing();
  const double drift = t1.drift - t0.drift, network = t1.network - t0.network;
  const double total = drift + network;
  const double steps = static_cast<double>(state.iterations());
  state.counters["steps/s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["drift_share"] = total > 0 ? drift / total : 0.0;
  state.counters["network_share"] = total > 0 ? network / total : 0.0;
  // Network time includes activations, noise, Adam and the EMA: the overhead over bare GEMMs.
  const double net_rate = network > 0 ? step_flops(static_cast<double>(batch)) * steps / network * 1e-9 : 0.0;
  state.counters["net_GFLOP/s"] = net_rate;
  double base = 0;
  {
    std::lock_guard<std::mutex> lock(gemm_mutex);
    auto it = gemm_rate.find(static_cast<long>(batch));
    if (it != gemm_rate.end()) base = it->second;
  }
  if (base > 0) state.counters["net_vs_gemm"] = net_rate / base;
}

/// Captures the baseline's GFLOP/s per batch so that the training benchmarks can report ratios.
class capture_reporter : public benchmark::ConsoleReporter {
public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      const std::string name = r.benchmark_name();
      if (name.rfind("gemm/", 0) != 0 || r.run_type != Run::RT_Iteration) continue;
      const auto it = r.counters.find("net_GFLOP/s");
      if (it == r.counters.end()) continue;
      const long batch = std::stol(name.substr(name.find("batch:") + 6));
      std::lock_guard<std::mutex> lock(gemm_mutex);
      gemm_rate[batch] = it->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const std::vector<long> batches{256, 1024, 4096};
  // Baselines first: the training benchmarks read their rates.
  // Threads run inside the calls: wall time, not the main thread's CPU time.
  for (long b : batches)
    benchmark::RegisterBenchmark(("gemm/batch:" + std::to_string(b)).c_str(),
                                 [b](benchmark::State& st) { bench_gemm(st, b); })
        ->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(0.3);
  for (long b : batches) {
    benchmark::RegisterBenchmark(("drifting/batch:" + std::to_string(b)).c_str(), [b](benchmark::State& st) {
      bench_train<gfd::gaussian>(st, b, gfd::drifting_field{});
    })->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(0.5);
    benchmark::RegisterBenchmark(("deng/batch:" + std::to_string(b)).c_str(), [b](benchmark::State& st) {
      bench_train<gfd::laplacian>(st, b, gfd::drifting_field(gfd::deng_drifting_options()));
    })->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(0.5);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  gfd_bench::add_build_context();
  benchmark::AddCustomContext("network", "noise 8, 3 x 128 SiLU, output 2 (double)");
  capture_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
