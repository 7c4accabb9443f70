// SPDX-License-Identifier: MIT
/// @file bench_fft.cpp
/// @brief The grid evaluator's FFT against the rest of its work, and kissfft (Eigen's FFT module,
///        what gfd uses) against FFTW3 on the same transforms, in one run.
///
/// Names read `<what>/<size>`:
///
/// - `kissfft/n`: a forward and an inverse 2D complex transform of n x n cells by
///   gfd::detail::fft_nd (Eigen::FFT with its default kissfft backend, 1D transforms along each
///   axis), what `grid_evaluator::prepare` runs per convolution.
/// - `fftw/n`: the same transforms by FFTW3 (fftw_plan_dft_2d, FFTW_ESTIMATE, planned once
///   outside the timing), when the build found FFTW3 (`libfftw3-dev`; GFD_HAVE_FFTW).
/// - `grid_prepare/N`: what the FFT sits in: `grid_evaluator(1e-3).prepare` of N moons points
///   at h = Scott / 4 (spreading every point on its 14 x 14 stencil, the FFT convolution of a grid
///   of `cells` cells, the counter), and `grid_sums/N` one read-back at N queries.
/// - `scheme_gaussian_gridding/N/t` and `scheme_linear_binning/N/t`: the two spreading schemes
///   on the Gaussian kernel at tolerance 10^-t (preparation and one read-back at N queries), with
///   the max relative error of the sums against the exact evaluator at 2000 queries
///   (`max_rel_err`): the evidence for giving the Gaussian its own scheme. Linear binning needs a
///   spacing of sqrt(tol) h: at 1e-3 its grid (2.2e7 cells here) already exceeds max_cells, so it
///   runs at 1e-2 only.
///
/// Both transforms are checked against each other before any timing (max difference relative
/// to the largest coefficient below 1e-12, else exit 1).

#include <benchmark/benchmark.h>

#include <gfd/bandwidth.hpp>
#include <gfd/evaluators/exact.hpp>
#include <gfd/evaluators/grid.hpp>
#include <gfd/toy.hpp>

#include <Eigen/Core>

#include <cmath>
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string_view>
#include <vector>

#ifdef GFD_HAVE_FFTW
#include <fftw3.h>
#endif

namespace {

std::vector<std::complex<double>> random_grid(Eigen::Index n) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> g;
  std::vector<std::complex<double>> a(static_cast<std::size_t>(n * n));
  for (auto& v : a) v = {g(rng), 0.0};
  return a;
}

void BM_kissfft(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const auto a0 = random_grid(n);
  auto a = a0;
  const std::array<Eigen::Index, 3> p{n, n, 1};
  for (auto _ : state) {
    gfd::detail::fft_nd(a, p, 2, false);
    gfd::detail::fft_nd(a, p, 2, true);
    benchmark::DoNotOptimize(a.data());
  }
  state.counters["cells"] = static_cast<double>(n * n);
}
BENCHMARK(BM_kissfft)->Name("kissfft")->Arg(256)->Arg(512)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

#ifdef GFD_HAVE_FFTW
struct fftw_pair {
  fftw_complex* buf;
  fftw_plan fwd, inv;
  explicit fftw_pair(int n) {
    buf = fftw_alloc_complex(static_cast<std::size_t>(n) * static_cast<std::size_t>(n));
    fwd = fftw_plan_dft_2d(n, n, buf, buf, FFTW_FORWARD, FFTW_ESTIMATE);
    inv = fftw_plan_dft_2d(n, n, buf, buf, FFTW_BACKWARD, FFTW_ESTIMATE);
  }
  ~fftw_pair() {
    fftw_destroy_plan(fwd);
    fftw_destroy_plan(inv);
    fftw_free(buf);
  }
  fftw_pair(const fftw_pair&) = delete;
  fftw_pair& operator=(const fftw_pair&) = delete;
  void load(const std::vector<std::complex<double>>& a) const {
    for (std::size_t i = 0; i < a.size(); ++i) {
      buf[i][0] = a[i].real();
      buf[i][1] = a[i].imag();
    }
  }
};

void BM_fftw(benchmark::State& state) {
  const auto n = static_cast<int>(state.range(0));
  const fftw_pair f(n);
  f.load(random_grid(n));
  const double scale = 1.0 / (static_cast<double>(n) * static_cast<double>(n));
  for (auto _ : state) {
    fftw_execute(f.fwd);
    fftw_execute(f.inv);
    for (std::size_t i = 0; i < static_cast<std::size_t>(n) * static_cast<std::size_t>(n); ++i) {
      f.buf[i][0] *= scale;  // FFTW's inverse is unscaled; fft_nd's includes 1 / size
      f.buf[i][1] *= scale;
    }
    benchmark::DoNotOptimize(f.buf);
  }
  state.counters["cells"] = static_cast<double>(n) * n;
}
BENCHMARK(BM_fftw)->Name("fftw")->Arg(256)->Arg(512)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

/// The forward transforms of both libraries agree (else the comparison is void).
bool transforms_agree() {
  const int n = 96;  // 2^5 x 3: kissfft's mixed radices
  auto a = random_grid(n);
  const fftw_pair f(n);
  f.load(a);
  fftw_execute(f.fwd);
  gfd::detail::fft_nd(a, {n, n, 1}, 2, false);
  double worst = 0, top = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::abs(a[i] - std::complex<double>(f.buf[i][0], f.buf[i][1])));
    top = std::max(top, std::abs(a[i]));
  }
  std::printf("kissfft vs FFTW, %d x %d forward: max difference %.2e of the largest coefficient\n", n, n,
              worst / top);
  return worst <= 1e-12 * top;
}
#endif

struct grid_case {
  Eigen::MatrixXd y, x;
  Eigen::VectorXd lw;
  double h;
  explicit grid_case(Eigen::Index n)
      : y(gfd::toy::sample("moons", n, 1)), x(gfd::toy::sample("moons", n, 3)),
        lw(Eigen::VectorXd::Constant(n, -std::log(static_cast<double>(n)))),
        h(gfd::scott_bandwidth(gfd::cloud_view<double>(y)) / 4) {}
};

void BM_grid_prepare(benchmark::State& state) {
  const grid_case c(state.range(0));
  const gfd::grid_evaluator ev(1e-3);
  const gfd::bound_kernel<gfd::gaussian> bk(gfd::gaussian{}, c.h);
  double cells = 0;
  for (auto _ : state) {
    const auto p = ev.prepare(c.y, c.lw, bk);
    cells = static_cast<double>(p.geometry().cells());
    benchmark::DoNotOptimize(&p);
  }
  state.counters["cells"] = cells;
}
BENCHMARK(BM_grid_prepare)->Name("grid_prepare")->Arg(1000000)->Arg(10000000)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

void BM_grid_sums(benchmark::State& state) {
  const grid_case c(state.range(0));
  const gfd::bound_kernel<gfd::gaussian> bk(gfd::gaussian{}, c.h);
  const auto p = gfd::grid_evaluator(1e-3).prepare(c.y, c.lw, bk);
  gfd::kernel_sums<double> out;
  p.sums(c.x, gfd::sum_options{}, out);  // warm-up: the outputs' memory, the lazy fallback
  for (auto _ : state) {
    p.sums(c.x, gfd::sum_options{}, out);
    benchmark::DoNotOptimize(out.log_sum.data());
  }
}
BENCHMARK(BM_grid_sums)->Name("grid_sums")->Arg(1000000)->Arg(10000000)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

/// The Gaussian kernel under another name: the grid evaluator's Gaussian scheme is chosen by
/// type, so this one goes the way of every other kernel (linear binning with spacing sqrt(tol)
/// h, an FFT convolution per channel, multilinear read-back): the other scheme, same sums.
struct gaussian_binned : gfd::gaussian {
  static constexpr std::string_view name = "gaussian-binned";
};

/// Max relative error of the grid's kernel sums against the exact evaluator at 2000 queries.
template <class K>
double max_relative_error(const grid_case& c, const gfd::grid_evaluator& ev) {
  const Eigen::MatrixXd q = c.x.leftCols(2000);
  const gfd::bound_kernel<K> bk(K{}, c.h);
  gfd::kernel_sums<double> g, e;
  ev.prepare(c.y, c.lw, bk).sums(q, gfd::sum_options{}, g);
  gfd::exact_evaluator{}.prepare(c.y, c.lw, bk).sums(q, gfd::sum_options{}, e);
  return ((g.log_sum - e.log_sum).array().exp() - 1).abs().maxCoeff();
}

/// Both spreading schemes for the Gaussian kernel at one tolerance: preparation plus one
/// read-back at N queries, and the accuracy they reach.
template <class K>
void BM_scheme(benchmark::State& state) {
  const grid_case c(state.range(0));
  const double tol = std::pow(10.0, -static_cast<double>(state.range(1)));
  const gfd::grid_evaluator ev(tol);
  const gfd::bound_kernel<K> bk(K{}, c.h);
  gfd::kernel_sums<double> out;
  double cells = 0;
  for (auto _ : state) {
    const auto p = ev.prepare(c.y, c.lw, bk);
    p.sums(c.x, gfd::sum_options{}, out);
    cells = static_cast<double>(p.geometry().cells());
    benchmark::DoNotOptimize(out.log_sum.data());
  }
  state.counters["cells"] = cells;
  state.counters["max_rel_err"] = max_relative_error<K>(c, ev);
  state.counters["tolerance"] = tol;
}
BENCHMARK(BM_scheme<gfd::gaussian>)->Name("scheme_gaussian_gridding")->Args({1000000, 2})->Args({1000000, 3})->Args({1000000, 6})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
BENCHMARK(BM_scheme<gaussian_binned>)->Name("scheme_linear_binning")->Args({1000000, 2})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);

}  // namespace

int main(int argc, char** argv) {
#ifdef GFD_HAVE_FFTW
  if (!transforms_agree()) return 1;
#else
  std::printf("built without FFTW3 (libfftw3-dev): kissfft only\n");
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
