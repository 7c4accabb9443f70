// SPDX-License-Identifier: MIT
/// @file bench_kde.cpp
/// @brief Exact Gaussian KDE score, in pair evaluations per second: gfd's exact evaluator beside
///        a hand-written vectorised loop and (d >= 16) a matrix-product baseline, in one run.
///
/// Every benchmark computes the same thing, the score of the Gaussian KDE of M sources at N
/// queries, grad log p(x_i) = (sum_j e_ij y_j / sum_j e_ij - x_i) / h^2, e_ij = exp(-|x_i - y_j|^2
/// / 2h^2), and reports N*M per wall-clock second as `pairs/s` (and per second of process CPU
/// time as `pairs/cpu_s`). Names read `<impl><type>/d:<d>/n:<N>`:
///
/// - `gfd`  : gfd::kde<gfd::gaussian, Scalar>::score, the user-facing call (validation, centring,
///            log-domain sums: safe for queries far from every source).
/// - `loop` : the loop one writes by hand, `#pragma omp parallel for` over queries and
///            `#pragma omp simd` reductions over sources (d = 2: one fused loop; otherwise chunks
///            of 256 sources); no maximum subtracted (the data below keep every exp far from
///            underflow, so it is numerically valid here, not in general). Source in
///            loop_baseline.hpp.
/// - `fastloop`: the same loop compiled with `-ffast-math` added (loop_fast_math.cpp), as such
///            loops usually are; gfd itself is compiled without it.
/// - `gemm` : d >= 16 only: squared distances |x|^2 + |y|^2 - 2 X^T Y by an Eigen matrix product
///            per block, exp, and a second product for sum_j e_ij y_j.
///
/// All four are cross-checked on a small problem before any timing; a mismatch exits with 1.
/// The console output ends with a table of medians and gfd / baseline ratios (summary_reporter).

#include <benchmark/benchmark.h>

#include "common.hpp"

#include <gfd/kde.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <type_traits>
#include <vector>


#define GFD_LOOP_NAMESPACE plain
#include "loop_baseline.hpp"
#undef GFD_LOOP_NAMESPACE

// The same loop compiled with -ffast-math (loop_fast_math.cpp), instantiated there.
namespace fast_math {
template <class S>
void score_loop(const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>& x,
                const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>& y, S h,
                Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>& score);
extern template void score_loop<float>(const Eigen::MatrixXf&, const Eigen::MatrixXf&, float,
                                       Eigen::MatrixXf&);
extern template void score_loop<double>(const Eigen::MatrixXd&, const Eigen::MatrixXd&, double,
                                        Eigen::MatrixXd&);
}  // namespace fast_math

namespace {

using Index = Eigen::Index;
template <class S>
using mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
template <class S>
using arr = Eigen::Array<S, Eigen::Dynamic, 1>;

/// N queries and M = N sources, both standard normal in R^d (different seeds), bandwidth
/// sqrt(d): then |x - y|^2 / 2h^2 is about 1 and stays below ~40 even at d = 2, so the
/// baselines' exp never underflows, in float included.
template <class S>
struct problem {
  mat<S> x;  ///< d x n queries
  mat<S> y;  ///< d x m sources
  S h;
};

template <class S>
problem<S> make_problem(Index d, Index n) {
  std::mt19937_64 rng(20260101);
  std::normal_distribution<double> normal;
  problem<S> p{mat<S>(d, n), mat<S>(d, n), static_cast<S>(std::sqrt(static_cast<double>(d)))};
  for (Index j = 0; j < n; ++j)
    for (Index k = 0; k < d; ++k) p.y(k, j) = static_cast<S>(normal(rng));
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < d; ++k) p.x(k, i) = static_cast<S>(normal(rng));
  return p;
}

// ---------------------------------------------------------------------------------------------
// (b) Matrix products: per block of queries and sources, X.Y by GEMM, exp elementwise, then
// sum_j e_ij y_j by a second GEMM. Eigen runs its products single-threaded inside an OpenMP
// parallel region, so threads split query blocks, as in gfd.

template <class S>
void score_gemm(const mat<S>& x, const mat<S>& y, S h, mat<S>& score) {
  const Index d = x.rows(), n = x.cols(), m = y.cols();
  const S c = S(1) / (S(2) * h * h);
  const S inv_h2 = S(1) / (h * h);
  constexpr Index qblock = 128, sblock = 512;  // a 512 x 128 tile of e: 256 KiB in double
  const arr<S> ynorm = y.colwise().squaredNorm().transpose();
  const Index nblocks = (n + qblock - 1) / qblock;
  score.resize(d, n);
#ifdef _OPENMP
#pragma omp parallel
#endif
  {
    mat<S> g(sblock, qblock), acc(d, qblock);
    arr<S> s(qblock), xnorm(qblock);
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (Index blk = 0; blk < nblocks; ++blk) {
      const Index i0 = blk * qblock, q = std::min(qblock, n - i0);
      const auto xb = x.middleCols(i0, q);
      xnorm.head(q) = xb.colwise().squaredNorm().transpose();
      acc.leftCols(q).setZero();
      s.head(q).setZero();
      for (Index j0 = 0; j0 < m; j0 += sblock) {
        const Index b = std::min(sblock, m - j0);
        auto gb = g.topLeftCorner(b, q);
        gb.noalias() = y.middleCols(j0, b).transpose() * xb;
        // e = exp(-c (|y|^2 + |x|^2 - 2 x.y)), in place.
        gb.array() = (((S(2) * gb.array()).colwise() - ynorm.segment(j0, b)).rowwise() -
                      xnorm.head(q).transpose()) *
                     c;
        gb.array() = gb.array().exp();
        s.head(q) += gb.colwise().sum().transpose().array();
        acc.leftCols(q).noalias() += y.middleCols(j0, b) * gb;
      }
      score.middleCols(i0, q) =
          (acc.leftCols(q) * s.head(q).inverse().matrix().asDiagonal() - xb) * inv_h2;
    }
  }
}

// ---------------------------------------------------------------------------------------------

template <class S>
void score_gfd(const gfd::kde<gfd::gaussian, S>& kde, const mat<S>& x, mat<S>& score) {
  score = kde.score(x);
}

enum class impl { gfd, loop, fastloop, gemm };

template <class S>
void run(benchmark::State& state, impl which, Index d, Index n) {
  const problem<S> p = make_problem<S>(d, n);
  const gfd::kde<gfd::gaussian, S> kde(p.y, p.h);
  mat<S> score;
  const std::clock_t cpu0 = std::clock();  // process CPU time: all threads
  for (auto _ : state) {
    switch (which) {
      case impl::gfd: score_gfd(kde, p.x, score); break;
      case impl::loop: plain::score_loop(p.x, p.y, p.h, score); break;
      case impl::fastloop: fast_math::score_loop(p.x, p.y, p.h, score); break;
      case impl::gemm: score_gemm(p.x, p.y, p.h, score); break;
    }
    benchmark::DoNotOptimize(score.data());
    benchmark::ClobberMemory();
  }
  const double cpu_seconds = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
  const double pairs = static_cast<double>(n) * static_cast<double>(n);
  state.counters["pairs/s"] =
      benchmark::Counter(pairs, benchmark::Counter::kIsIterationInvariantRate);
  // Throughput per CPU-second of the whole process: on a machine shared with other jobs, time
  // slices lost to them inflate wall time but not this (spinning OpenMP waits still count).
  state.counters["pairs/cpu_s"] =
      pairs * static_cast<double>(state.iterations()) / std::max(cpu_seconds, 1e-9);
}

/// All implementations agree with each other (relative to the largest score) before we time them.
template <class S>
bool cross_check(Index d) {
  const problem<S> p = make_problem<S>(d, 700);
  const gfd::kde<gfd::gaussian, S> kde(p.y, p.h);
  mat<S> a, b, f, g;
  score_gfd(kde, p.x, a);
  plain::score_loop(p.x, p.y, p.h, b);
  fast_math::score_loop(p.x, p.y, p.h, f);
  score_gemm(p.x, p.y, p.h, g);
  const double tol = std::is_same_v<S, float> ? 1e-4 : 1e-10;
  const double scale = static_cast<double>(a.cwiseAbs().maxCoeff());
  const double e_loop = static_cast<double>((a - b).cwiseAbs().maxCoeff()) / scale;
  const double e_fast = static_cast<double>((a - f).cwiseAbs().maxCoeff()) / scale;
  const double e_gemm = static_cast<double>((a - g).cwiseAbs().maxCoeff()) / scale;
  const bool ok = e_loop < tol && e_fast < tol && e_gemm < tol;
  if (!ok)
    std::fprintf(stderr,
                 "cross-check FAILED (%s, d = %ld): |gfd - loop| = %.3g, |gfd - fastloop| = %.3g, "
                 "|gfd - gemm| = %.3g\n",
                 std::is_same_v<S, float> ? "float" : "double", static_cast<long>(d), e_loop, e_fast,
                 e_gemm);
  return ok;
}

template <class S>
void register_all(const char* type) {
  for (const Index d : {2, 16, 128}) {
    for (const Index n : {1000, 4000, 16384}) {
      // Interleaved per size, so that the implementations compared run close together in time.
      for (const impl which : {impl::gfd, impl::loop, impl::fastloop, impl::gemm}) {
        if (which == impl::gemm && d < 16) continue;
        // The plain loop streams all sources from memory for every query once they outgrow the
        // caches: a minute per call at d = 128, N = 16384, with nothing left to learn from it.
        if ((which == impl::loop || which == impl::fastloop) && d == 128 && n > 4000) continue;
        const char* name = which == impl::gfd        ? "gfd"
                           : which == impl::loop     ? "loop"
                           : which == impl::fastloop ? "fastloop"
                                                     : "gemm";
        const std::string full = std::string(name) + "<" + type + ">/d:" + std::to_string(d) +
                                 "/n:" + std::to_string(n);
        benchmark::RegisterBenchmark(full.c_str(), [which, d, n](benchmark::State& st) {
          run<S>(st, which, d, n);
        })
            // Threads run inside the call: CPU time of the main thread would hide them.
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond)
            ->MinTime(0.3);
      }
    }
  }
}

/// The console output, then the table the targets are stated in: per type, d and N, the median
/// pairs/s of each implementation (median over --benchmark_repetitions) and gfd's ratio to each
/// baseline, from wall time and from process CPU time (the latter is steadier on a shared machine).
class summary_reporter : public benchmark::ConsoleReporter {
public:
  // No colour: escape codes would end up in logs and pipes (it also ignores --benchmark_color).
  summary_reporter() : ConsoleReporter(OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      const bool aggregate = r.run_type == Run::RT_Aggregate;
      if (aggregate && r.aggregate_name != "median") continue;
      const std::string& name = r.run_name.function_name;  // e.g. gfd<float>/d:2/n:1000
      const std::size_t cut = name.find('<');
      if (cut == std::string::npos) continue;
      const std::string key = name.substr(cut), impl_name = name.substr(0, cut);
      if (std::find(keys_.begin(), keys_.end(), key) == keys_.end()) keys_.push_back(key);
      auto& m = results_[key][impl_name];
      const double wall = r.counters.at("pairs/s").value, cpu = r.counters.at("pairs/cpu_s").value;
      if (aggregate) {
        m.median_wall = wall;
        m.median_cpu = cpu;
      } else {
        m.wall.push_back(wall);
        m.cpu.push_back(cpu);
      }
    }
  }

  void Finalize() override {
    std::ostream& out = GetOutputStream();
    out << "\nSummary: median pairs/s (wall clock), gfd / baseline ratios from wall and CPU time\n";
    char line[200];
    std::snprintf(line, sizeof line, "%-22s %9s %9s %9s %9s %9s %6s %9s %6s %9s %6s\n", "case",
                  "gfd", "loop", "fastloop", "gemm", "gfd/loop", "(cpu)", "gfd/fast", "(cpu)",
                  "gfd/gemm", "(cpu)");
    out << line;
    for (const std::string& key : keys_) {
      auto& row = results_[key];
      const auto value = [&](const std::string& impl_name, bool cpu) {
        auto it = row.find(impl_name);
        return it == row.end() ? std::nan("") : it->second.median(cpu);
      };
      const auto ratio = [&](const std::string& base, bool cpu) {
        return value("gfd", cpu) / value(base, cpu);
      };
      // "<float>/d:2/n:1000" -> "float d:2 n:1000"
      std::string label = key.substr(1);
      std::replace(label.begin(), label.end(), '/', ' ');
      label.erase(label.find('>'), 1);
      std::snprintf(line, sizeof line,
                    "%-22s %9.3g %9.3g %9.3g %9.3g %9.2f %6.2f %9.2f %6.2f %9.2f %6.2f\n",
                    label.c_str(), value("gfd", false), value("loop", false),
                    value("fastloop", false), value("gemm", false), ratio("loop", false),
                    ratio("loop", true), ratio("fastloop", false), ratio("fastloop", true),
                    ratio("gemm", false), ratio("gemm", true));
      out << line;
    }
  }

private:
  struct measured {
    std::vector<double> wall, cpu;
    double median_wall = std::nan(""), median_cpu = std::nan("");
    double median(bool use_cpu) {
      const double agg = use_cpu ? median_cpu : median_wall;
      std::vector<double>& v = use_cpu ? cpu : wall;
      if (!std::isnan(agg) || v.empty()) return agg;
      std::sort(v.begin(), v.end());
      const std::size_t k = v.size() / 2;
      return v.size() % 2 ? v[k] : 0.5 * (v[k - 1] + v[k]);
    }
  };
  std::vector<std::string> keys_;
  std::map<std::string, std::map<std::string, measured>> results_;
};

}  // namespace

int main(int argc, char** argv) {
  bool ok = true;
  for (const Index d : {2, 16, 128}) ok = cross_check<float>(d) && cross_check<double>(d) && ok;
  if (!ok) return 1;

  register_all<float>("float");
  register_all<double>("double");

  // The summary table only makes sense on the console; other formats keep their own reporter.
  bool console = true;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]).rfind("--benchmark_format=", 0) == 0 &&
        std::string(argv[i]) != "--benchmark_format=console")
      console = false;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  gfd_bench::add_build_context();
  benchmark::AddCustomContext("loop_exp", GFD_BENCH_LIBMVEC ? "libmvec (vectorised)" : "libm (scalar)");
  if (console) {
    summary_reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
  } else {
    benchmark::RunSpecifiedBenchmarks();
  }
  benchmark::Shutdown();
  return 0;
}
