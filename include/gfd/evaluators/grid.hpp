// SPDX-License-Identifier: MIT
/// @file evaluators/grid.hpp
/// @brief Kernel sums on a regular grid for d <= 3: the sources spread onto the grid, convolved
///        with the kernel by FFT (Eigen's FFT module, kissfft), read back at the queries; queries
///        the grid cannot resolve fall back to exact sums.
#pragma once

#include <Eigen/Core>
#include <unsupported/Eigen/FFT>

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <concepts>
#include <limits>
#include <memory>
#include <mutex>
#include <numbers>
#include <type_traits>
#include <vector>

#include "../core/bound_kernel.hpp"
#include "../core/evaluator.hpp"
#include "../core/instances.hpp"
#include "../core/sums.hpp"
#include "../error.hpp"
#include "../kernels.hpp"
#include "../particles.hpp"
#include "detail/simd_sums.hpp"
#include "exact.hpp"
#include "tree.hpp"

namespace gfd {

namespace detail {

/// A regular grid over a box: cell i (multi-index) sits at lo + i delta; axis 0 varies fastest.
struct grid_geometry {
  int d = 1;
  double delta = 1;
  std::array<double, 3> lo{0, 0, 0};
  std::array<Eigen::Index, 3> n{1, 1, 1};
  [[nodiscard]] Eigen::Index cells() const { return n[0] * n[1] * n[2]; }
  [[nodiscard]] Eigen::Index index(Eigen::Index i0, Eigen::Index i1, Eigen::Index i2) const {
    return i0 + n[0] * (i1 + n[1] * i2);
  }
};

/// The smallest size >= n whose prime factors are 2, 3 and 5 (kissfft's fast radices).
inline Eigen::Index fft_size(Eigen::Index n) {
  for (Eigen::Index m = std::max<Eigen::Index>(n, 1);; ++m) {
    Eigen::Index r = m;
    for (Eigen::Index p : {2, 3, 5})
      while (r % p == 0) r /= p;
    if (r == 1) return m;
  }
}

/// In-place d-dimensional complex FFT of an array laid out with sizes p (axis 0 fastest), by 1D
/// transforms along each axis (Eigen::FFT, kissfft backend). `inverse` includes the 1/size scale.
inline void fft_nd(std::vector<std::complex<double>>& a, const std::array<Eigen::Index, 3>& p, int d,
                   bool inverse) {
  Eigen::FFT<double> fft;
  std::vector<std::complex<double>> line, out;
  for (int axis = 0; axis < d; ++axis) {
    const Eigen::Index len = p[static_cast<std::size_t>(axis)];
    if (len == 1) continue;
    const Eigen::Index stride = axis == 0 ? 1 : (axis == 1 ? p[0] : p[0] * p[1]);
    const Eigen::Index total = p[0] * p[1] * p[2];
    line.resize(static_cast<std::size_t>(len));
    out.resize(static_cast<std::size_t>(len));
    for (Eigen::Index base = 0; base < total; ++base) {
      // `base` enumerates the starts of the lines: those whose coordinate along `axis` is 0.
      if ((base / stride) % len != 0) continue;
      for (Eigen::Index k = 0; k < len; ++k) line[static_cast<std::size_t>(k)] = a[static_cast<std::size_t>(base + k * stride)];
      if (inverse)
        fft.inv(out, line);
      else
        fft.fwd(out, line);
      for (Eigen::Index k = 0; k < len; ++k) a[static_cast<std::size_t>(base + k * stride)] = out[static_cast<std::size_t>(k)];
    }
  }
}

/// Linear convolution of the grid values `w` (geometry g) with `channels` kernels sampled at cell
/// offsets v (|v_a| <= radius[a]) by `sample(v, values)`: out[c][i] = sum_j w[j] K_c(i - j).
/// Zero padding to an FFT size >= n + radius per axis removes the wrap-around.
/// @throws gfd::invalid_argument naming `where` when the padded grid exceeds max_cells.
template <class Sample>
std::vector<std::vector<double>> convolve_grid(const char* where, const std::vector<double>& w,
                                               const grid_geometry& g,
                                               const std::array<Eigen::Index, 3>& radius,
                                               int channels, Eigen::Index max_cells,
                                               const Sample& sample) {
  std::array<Eigen::Index, 3> p{1, 1, 1};
  double padded = 1;
  for (int a = 0; a < g.d; ++a) {
    const auto ua = static_cast<std::size_t>(a);
    p[ua] = fft_size(g.n[ua] + radius[ua]);
    padded *= static_cast<double>(p[ua]);
  }
  if (padded > static_cast<double>(max_cells))
    fail(where, "the padded FFT grid would have ", padded, " cells, above max_cells = ", max_cells,
         " (raise the tolerance, the bandwidth or max_cells)");
  const auto total = static_cast<std::size_t>(p[0] * p[1] * p[2]);
  std::vector<std::complex<double>> wf(total, 0.0);
  for (Eigen::Index i2 = 0; i2 < g.n[2]; ++i2)
    for (Eigen::Index i1 = 0; i1 < g.n[1]; ++i1)
      for (Eigen::Index i0 = 0; i0 < g.n[0]; ++i0)
        wf[static_cast<std::size_t>(i0 + p[0] * (i1 + p[1] * i2))] = w[static_cast<std::size_t>(g.index(i0, i1, i2))];
  fft_nd(wf, p, g.d, false);

  // One channel at a time: a single kernel buffer besides the sources' transform.
  std::vector<std::complex<double>> k;
  std::vector<double> values(static_cast<std::size_t>(channels));
  std::array<double, 3> v{0, 0, 0};
  std::vector<std::vector<double>> out(static_cast<std::size_t>(channels));
  for (int c = 0; c < channels; ++c) {
    k.assign(total, 0.0);
    for (Eigen::Index o2 = -radius[2]; o2 <= radius[2]; ++o2)
      for (Eigen::Index o1 = -radius[1]; o1 <= radius[1]; ++o1)
        for (Eigen::Index o0 = -radius[0]; o0 <= radius[0]; ++o0) {
          v = {static_cast<double>(o0), static_cast<double>(o1), static_cast<double>(o2)};
          sample(v, values.data());
          const Eigen::Index j0 = (o0 + p[0]) % p[0], j1 = (o1 + p[1]) % p[1], j2 = (o2 + p[2]) % p[2];
          k[static_cast<std::size_t>(j0 + p[0] * (j1 + p[1] * j2))] = values[static_cast<std::size_t>(c)];
        }
    fft_nd(k, p, g.d, false);
    for (std::size_t i = 0; i < total; ++i) k[i] *= wf[i];
    fft_nd(k, p, g.d, true);
    auto& o = out[static_cast<std::size_t>(c)];
    o.resize(static_cast<std::size_t>(g.cells()));
    for (Eigen::Index i2 = 0; i2 < g.n[2]; ++i2)
      for (Eigen::Index i1 = 0; i1 < g.n[1]; ++i1)
        for (Eigen::Index i0 = 0; i0 < g.n[0]; ++i0)
          o[static_cast<std::size_t>(g.index(i0, i1, i2))] = k[static_cast<std::size_t>(i0 + p[0] * (i1 + p[1] * i2))].real();
  }
  return out;
}

/// out[q] = exp(-(q - f)^2 a) for q = 0..width-1 with two exponentials instead of `width`
/// (Greengard & Lee 2004, "fast Gaussian gridding"): exp(-f^2 a) (exp(2 f a))^q exp(-q^2 a), the
/// last factor tabulated in `sq`. With f <= width and a < 1 nothing overflows.
inline void gaussian_row(double f, double a, const std::vector<double>& sq, Eigen::Index width,
                         double* out) {
  double p = std::exp(-f * f * a);
  const double step = std::exp(2.0 * f * a);
  for (Eigen::Index q = 0; q < width; ++q) {
    out[q] = p * sq[static_cast<std::size_t>(q)];
    p *= step;
  }
}

/// The evaluator's settings a prepared grid keeps (for rebound and reweighted).
struct grid_settings {
  double tolerance = 1e-3;
  Eigen::Index max_cells = 1;
  double exact_fallback_pairs = 2e8;
};

/// What a grid evaluator prepares: the geometry, the convolved grids and the constants needed
/// to read them back.
struct grid_data {
  grid_geometry geom;
  bool gaussian_scheme = false;
  // Gaussian (NUFFT-like) scheme: F = e_s * (spread of the sources with e_tau), read back with
  // e_tau; `stencil` cells each side of a query; `scale` turns the read-back into k_h sums.
  double tau = 1, scale = 1;
  Eigen::Index stencil = 1;
  double a = 1;            // delta^2 / (2 tau^2): the spreading Gaussian per cell^2
  std::vector<double> sq;  // exp(-q^2 a), q = 0 .. 2 stencil + 1
  std::vector<double> es;  // the convolution's e_s at offsets -(width - 1) .. width - 1 cells (0 beyond its radius)
  std::vector<double> f;
  // Linear scheme: channel 0 the kernel sum, 1..d the score numerators, d+1..2d the mean-shift
  // numerators (kernels with a constant slope store only channel 0 and the mean shift).
  std::vector<std::vector<double>> channels;
  bool score_from_mean_shift = false;
  double slope0 = 0;     // phi'(0) for constant-slope kernels
  double self_value = 1; // exp(phi(0)), the kernel at zero offset
  // Both schemes: weights are exp(log w - log_w_max); `floor` the smallest resolved sum.
  double log_w_max = 0, w_total = 0, floor = 0;
  std::vector<double> w;  // the rescaled weights per source (for self-exclusion)
};

}  // namespace detail

/// The grid evaluator: kernel sums in d = 1, 2, 3 in O(m w^d + G log G) to prepare and
/// O(n w^d) to sum (w the spreading stencil width in cells, G the number of grid cells), for
/// every Kernel. The FFT is Eigen's unsupported FFT module (kissfft backend, header-only, ships
/// with Eigen; no other dependency), d-dimensional by 1D transforms along each axis.
///
/// Two schemes, chosen by the kernel:
/// - **Gaussian** (the NUFFT approach of Greengard & Lee 2004, with Gaussian spreading): with
///   tau = h/2 and s = h/sqrt(2) (so h^2 = 2 tau^2 + s^2), k_h is e_tau * e_s * e_tau up to a
///   constant. Each source is spread on the grid with the Gaussian of width tau, the grid is
///   convolved with the Gaussian of width s by FFT, and a query reads the grid back with the
///   width-tau Gaussian; the read-back's gradient gives the score (mean shift = h^2 score).
///   The errors are the lattice (trapezoid) errors of the two Gaussian integrals, which Poisson
///   summation makes relative to each term: exp(-2 pi^2 sigma^2 / delta^2) per dimension with
///   sigma^2 = 3h^2/16 the smallest variance of the integrand; and the truncation of the
///   spreading Gaussians at r tau. Rule: delta = sigma pi sqrt(2 / ln(100 d / tol)) (0.55 h at
///   tol = 1e-3 in 2D, 0.47 h at 1e-6), which puts the lattice error of the sums at tol / (100 d)
///   per dimension and that of the score (the gradient, 2 pi h / delta times larger) within tol;
///   r = sqrt(2 ln(1e4 / tol)), so the truncation is below 1e-4 tol of the mass within a few h
///   and harmless above the floor below. About 0.55 h spacing, (2 ceil(r tau / delta) + 2)^d
///   cells per source and query (14^2 in 2D at 1e-3).
/// - **every other kernel** (Laplacian, Epanechnikov, inverse multiquadric, user kernels): linear
///   (cloud-in-cell) binning onto the grid, FFT convolution with the kernel, its gradient and its
///   first moment sampled on the grid (2d + 1 channels), multilinear interpolation at the
///   queries. Error O(delta^2 / h^2) where the kernel is smooth. Rule: delta = sqrt(tol) h for
///   smooth unbounded kernels (imq: measured 0.2 tol); delta = 0.6 sqrt(tol) h for a cusp at 0
///   (the Laplacian: the error is first order within a cell of a source, weighted by that
///   source's share of the sum; measured up to 0.7 tol on weighted clouds); delta =
///   0.5 sqrt(tol) h for compact kernels (Epanechnikov: kink at the edge, first order there). Unbounded kernels are convolved over the whole grid (no
///   truncation), compact ones over their support.
///
/// **Bound** (what tests/test_grid.cpp checks against the exact evaluator): where the grid
/// serves a query, the relative error of its kernel sum is at most `tolerance` and the field
/// error at most tolerance (|field| + 1/h) for the score, tolerance (|field| + h) for the mean
/// shift. Exceptions, documented and tested as such: the Laplacian score within two cells of a
/// source (the score jumps there; a grid blurs the jump over a cell; farther away the bound
/// holds); Epanechnikov sums hold it inside the cloud (where no support edge carries a large
/// share of the sum), scores within 5 tolerance there.
///
/// **Far field and fallback**: the grid covers the sources' box with a margin of the kernel's
/// reach (Gaussian: spreading, convolution and read-back stencils; compact kernels: the support;
/// others: 2h). A query outside it, or whose grid sum is below the floor 1e-9 W (W the total
/// source weight relative to the largest; for compact kernels at least 4 delta / h, twice one
/// source's edge error; with self-exclusion, the sum without the query's own term, which both
/// schemes subtract exactly as the grid sees it), is summed exactly
/// (a loop in double over every source, skipping the query's own with self-exclusion; O(m) per
/// such query), so far queries get the exact evaluator's log-sums (-inf outside a compact
/// support) and fields (toward the nearest mass), to round-off. When those queries times the
/// sources exceed `exact_fallback_pairs` (2e8) pairs (particles far from the targets at the start of a large flow),
/// they go instead to a gfd::tree_evaluator at the same tolerance, built once per prepared
/// object on first need (same far-field contract, relative error <= tolerance).
///
/// Memory: the grid holds G cells per channel (1 for the Gaussian, 2d + 1 otherwise) and, while
/// preparing, two padded complex FFT buffers of up to max_cells entries (16 bytes each; each
/// axis padded by the kernel's reach); `prepare` refuses a grid or padded grid above
/// `max_cells` (default 2^24) with gfd::invalid_argument naming the sizes.
///
/// Lifecycle: `prepare` grids and convolves (the heavy part); `sums` only reads back; `rebound`
/// and `reweighted` regrid (the spacing follows h, the grid values the weights).
///
/// Thread-safety: `prepare` and `sums` are const and reentrant; with OpenMP the read-back is
/// split over threads (each query independent: results do not depend on the thread count).
struct grid_evaluator {
  double tolerance = 1e-3;                       ///< bound on the relative error of each sum
  Eigen::Index max_cells = Eigen::Index(1) << 24;  ///< cap on the padded FFT grid
  /// Queries off the grid times sources above which the fallback is the tree evaluator (at the
  /// same tolerance) rather than an exact loop.
  double exact_fallback_pairs = 2e8;

  grid_evaluator() = default;
  /// @throws gfd::invalid_argument for a tolerance outside (0, 1) or max_cells < 1.
  explicit grid_evaluator(double tol, Eigen::Index cells = Eigen::Index(1) << 24)
      : tolerance(tol), max_cells(cells) {
    check("gfd::grid_evaluator");
  }

  /// Sources gridded for sums with kernel K (see PreparedSources).
  template <Kernel K, class Scalar>
  class prepared {
  public:
    using scalar_type = Scalar;
    using kernel_type = K;

    [[nodiscard]] Eigen::Index size() const noexcept { return points_->cols(); }
    [[nodiscard]] Eigen::Index dim() const noexcept { return points_->rows(); }
    [[nodiscard]] Scalar bandwidth() const noexcept { return kernel_.h; }
    [[nodiscard]] const bound_kernel<K, Scalar>& kernel() const noexcept { return kernel_; }
    /// The grid's geometry (spacing, corner, cells per axis), for diagnostics.
    [[nodiscard]] const detail::grid_geometry& geometry() const noexcept { return data_->geom; }

    /// Kernel sums at `queries` (d x n) into `out`.
    /// @throws gfd::invalid_argument on a dimension mismatch, exclude_self with another number of
    ///         queries than sources, or queries without sources.
    template <int Dim>
    void sums(const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& queries,
              const sum_options& opt, kernel_sums<Scalar, Dim>& out) const;

    [[nodiscard]] prepared rebound(Scalar h) const {
      return prepared(settings_, points_, log_w_,
                      kernel_.rebound(h, "gfd::grid_evaluator::prepared::rebound"));
    }
    [[nodiscard]] prepared reweighted(const std::type_identity_t<Eigen::Ref<const vector<Scalar>>>& log_w) const {
      detail::check_prepare("gfd::grid_evaluator::prepared::reweighted", *points_, log_w);
      return prepared(settings_, points_, std::make_shared<const vector<Scalar>>(log_w), kernel_);
    }

  private:
    friend struct grid_evaluator;
    prepared(detail::grid_settings settings, std::shared_ptr<const positions<Scalar>> points,
             std::shared_ptr<const vector<Scalar>> log_w, bound_kernel<K, Scalar> k)
        : settings_(settings), points_(std::move(points)), log_w_(std::move(log_w)), kernel_(std::move(k)),
          data_(build()) {}

    std::shared_ptr<const detail::grid_data> build() const;
    // Grid sum of one query (double coordinates): false when the grid cannot serve it.
    bool read(const double* x, Eigen::Index self, const sum_options& opt, double& log_sum,
              double* field) const;

    detail::grid_settings settings_;
    std::shared_ptr<const positions<Scalar>> points_;
    std::shared_ptr<const vector<Scalar>> log_w_;
    bound_kernel<K, Scalar> kernel_;
    std::shared_ptr<const detail::grid_data> data_;
    // The tree over the sources, built on first need by a large fallback (many queries off the
    // grid), then shared by the copies and reused by every later call.
    // Likewise the exact evaluator's layout of the sources, built on first need by a small
    // fallback (a copy of the sources: at 1e7 of them, rebuilding it on every call would cost
    // more than the few queries it serves).
    struct lazy_fallbacks {
      std::once_flag once, once_exact;
      std::unique_ptr<const tree_evaluator::prepared<K, Scalar>> tree;
      std::unique_ptr<const exact_evaluator::prepared<K, Scalar>> exact;
    };
    std::shared_ptr<lazy_fallbacks> fallbacks_ = std::make_shared<lazy_fallbacks>();
  };

  /// Grids `sources` (d x m, d <= 3) with log-weights (m, not necessarily normalised) for sums
  /// with the bound kernel. O(m s^d + G log G).
  /// @throws gfd::invalid_argument for d > 3, a tolerance outside (0, 1), log-weights that do not
  ///         match the sources, non-finite sources, or a grid above max_cells.
  template <Kernel K, class Scalar>
  [[nodiscard]] prepared<K, Scalar> prepare(
      const std::type_identity_t<Eigen::Ref<const positions<Scalar>>>& sources,
      const std::type_identity_t<Eigen::Ref<const vector<Scalar>>>& source_log_weights,
      const bound_kernel<K, Scalar>& kernel) const {
    constexpr const char* where = "gfd::grid_evaluator::prepare";
    check(where);
    detail::check_prepare(where, sources, source_log_weights);
    if (sources.rows() < 1 || sources.rows() > 3)
      detail::fail(where, "the grid evaluator works in dimension 1, 2 or 3, got dimension ", sources.rows());
    if (!sources.allFinite()) detail::fail(where, "sources must be finite");
    return prepared<K, Scalar>(detail::grid_settings{tolerance, max_cells, exact_fallback_pairs}, std::make_shared<const positions<Scalar>>(sources),
                               std::make_shared<const vector<Scalar>>(source_log_weights), kernel);
  }

  /// One-shot sums: prepare (grid and FFT), then sum once.
  /// @throws gfd::invalid_argument as prepare and prepared::sums, and for a bandwidth not > 0.
  template <Kernel K, class Scalar, int Dim>
  void sums(const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& queries,
            const std::type_identity_t<Eigen::Ref<const positions<Scalar>>>& sources,
            const std::type_identity_t<Eigen::Ref<const vector<Scalar>>>& source_log_weights,
            const K& kernel, Scalar h, const sum_options& opt, kernel_sums<Scalar, Dim>& out) const {
    prepare(sources, source_log_weights, bound_kernel<K, Scalar>(kernel, h, "gfd::grid_evaluator::sums"))
        .sums(queries, opt, out);
  }

private:
  void check(const char* where) const {
    if (!(std::isfinite(tolerance) && tolerance > 0 && tolerance < 1))
      detail::fail(where, "tolerance must be in (0, 1), got ", tolerance);
    if (max_cells < 1) detail::fail(where, "max_cells must be >= 1, got ", max_cells);
  }
};

template <Kernel K, class Scalar>
std::shared_ptr<const detail::grid_data> grid_evaluator::prepared<K, Scalar>::build() const {
  using Index = Eigen::Index;
  constexpr const char* where = "gfd::grid_evaluator::prepare";
  const positions<Scalar>& y = *points_;
  const vector<Scalar>& lw = *log_w_;
  const Index m = y.cols();
  const int d = static_cast<int>(y.rows());
  const double h = static_cast<double>(kernel_.h);
  const double tol = settings_.tolerance;
  const K& k = kernel_.kernel;
  auto data = std::make_shared<detail::grid_data>();
  detail::grid_data& g = *data;
  g.geom.d = d;
  if (m == 0) return data;

  // Weights relative to the largest (no overflow, no underflow of the bulk).
  g.log_w_max = static_cast<double>(lw.maxCoeff());
  g.w.resize(static_cast<std::size_t>(m));
  const bool uniform = std::isfinite(g.log_w_max) && detail::uniform_weights(lw);
  if (uniform) {  // equal weights (a flow's particles): all 1, no exponentials
    std::fill(g.w.begin(), g.w.end(), 1.0);
    g.w_total = static_cast<double>(m);
  } else {
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (m >= 65536)
#endif
    for (Index j = 0; j < m; ++j)
      g.w[static_cast<std::size_t>(j)] =
          std::isfinite(g.log_w_max) ? std::exp(static_cast<double>(lw(j)) - g.log_w_max) : 0.0;
    g.w_total = 0;
    for (Index j = 0; j < m; ++j) g.w_total += g.w[static_cast<std::size_t>(j)];
  }
  g.floor = 1e-9 * g.w_total;
  g.self_value = std::exp(static_cast<double>(k.log_profile(0.0)));

  std::array<double, 3> lo{0, 0, 0}, hi{0, 0, 0};
  for (int a = 0; a < d; ++a) {
    lo[static_cast<std::size_t>(a)] = static_cast<double>(y.row(a).minCoeff());
    hi[static_cast<std::size_t>(a)] = static_cast<double>(y.row(a).maxCoeff());
  }
  double margin = 0;
  constexpr bool gaussian_scheme = std::same_as<K, gaussian>;
  g.gaussian_scheme = gaussian_scheme;
  if constexpr (gaussian_scheme) {
    const double sigma = std::sqrt(3.0 / 16.0) * h;  // smallest std of the lattice integrand
    g.geom.delta = sigma * std::numbers::pi * std::sqrt(2.0 / std::log(100.0 * d / tol));
    g.tau = 0.5 * h;
    const double s = h / std::sqrt(2.0);
    const double r = std::sqrt(2.0 * std::log(1e4 / tol));
    g.stencil = static_cast<Index>(std::ceil(r * g.tau / g.geom.delta));
    const Index conv_radius = static_cast<Index>(std::ceil(r * s / g.geom.delta));
    if (2 * g.stencil + 2 > 64)
      detail::fail(where, "tolerance ", tol, " needs a spreading stencil of ", 2 * g.stencil + 2,
                   " cells, above 64: use a tolerance >= 1e-12");
    // Spread (stencil) + convolution + read-back (stencil): beyond, the sum is below the floor.
    margin = static_cast<double>(2 * g.stencil + conv_radius + 1) * g.geom.delta;
    for (int a = 0; a < d; ++a) {
      const auto ua = static_cast<std::size_t>(a);
      g.geom.lo[ua] = lo[ua] - margin;
      g.geom.n[ua] = static_cast<Index>(std::ceil((hi[ua] - lo[ua] + 2 * margin) / g.geom.delta)) + 1;
    }
    if (static_cast<double>(g.geom.n[0]) * static_cast<double>(g.geom.n[1]) * static_cast<double>(g.geom.n[2]) >
        static_cast<double>(settings_.max_cells))
      detail::fail(where, "a grid of ", static_cast<double>(g.geom.n[0]) * static_cast<double>(g.geom.n[1]) * static_cast<double>(g.geom.n[2]),
                   " cells exceeds max_cells = ", settings_.max_cells,
                   " (the sources span too many bandwidths: raise the tolerance, the bandwidth or max_cells)");
    // Spread: each source with e_tau over the (2 stencil + 2)^d cells around it, separably. The
    // sources are cut into a fixed number of chunks (not one per thread), each spread on its own
    // grid, and the grids added in chunk order: the result does not depend on the thread count.
    const Index width = 2 * g.stencil + 2;
    g.a = g.geom.delta * g.geom.delta / (2.0 * g.tau * g.tau);
    g.sq.resize(static_cast<std::size_t>(width));
    for (Index q = 0; q < width; ++q) g.sq[static_cast<std::size_t>(q)] = std::exp(-static_cast<double>(q * q) * g.a);
    const Index chunks = std::clamp<Index>(m / 65536, 1, 8);
    const auto cells = static_cast<std::size_t>(g.geom.cells());
    std::vector<std::vector<double>> grids(static_cast<std::size_t>(chunks));
#if defined(_OPENMP)
#pragma omp parallel for schedule(static, 1) if (chunks > 1)
#endif
    for (Index c = 0; c < chunks; ++c) {
      std::vector<double>& spread = grids[static_cast<std::size_t>(c)];
      spread.assign(cells, 0.0);
      std::array<std::array<double, 64>, 3> wts;
      std::array<Index, 3> first{0, 0, 0};
      for (auto& v : wts) v.fill(0.0);
      const Index j0 = m * c / chunks, j1 = m * (c + 1) / chunks;
      for (Index j = j0; j < j1; ++j) {
        for (int ax = 0; ax < 3; ++ax) {
          const auto ua = static_cast<std::size_t>(ax);
          if (ax >= d) {
            first[ua] = 0;
            wts[ua][0] = 1;
            continue;
          }
          const double u = (static_cast<double>(y(ax, j)) - g.geom.lo[ua]) / g.geom.delta;
          first[ua] = static_cast<Index>(std::floor(u)) - g.stencil;
          detail::gaussian_row(u - static_cast<double>(first[ua]), g.a, g.sq, width, wts[ua].data());
        }
        const double wj = g.w[static_cast<std::size_t>(j)];
        const Index w1 = d > 1 ? width : 1, w2 = d > 2 ? width : 1;
        for (Index q2 = 0; q2 < w2; ++q2)
          for (Index q1 = 0; q1 < w1; ++q1) {
            const double c12 = wj * wts[1][static_cast<std::size_t>(q1)] * wts[2][static_cast<std::size_t>(q2)];
            double* row = spread.data() + g.geom.index(first[0], first[1] + q1, first[2] + q2);
            for (Index q0 = 0; q0 < width; ++q0) row[q0] += c12 * wts[0][static_cast<std::size_t>(q0)];
          }
      }
    }
    std::vector<double> spread = std::move(grids[0]);
    for (Index c = 1; c < chunks; ++c) {
      const std::vector<double>& other = grids[static_cast<std::size_t>(c)];
      for (std::size_t i = 0; i < cells; ++i) spread[i] += other[i];
    }
    grids.clear();
    const double inv2s2 = 1.0 / (2.0 * s * s);
    g.es.assign(static_cast<std::size_t>(2 * width - 1), 0.0);
    for (Index o = -(width - 1); o <= width - 1; ++o)
      if (std::abs(o) <= conv_radius) {
        const double t = static_cast<double>(o * o) * g.geom.delta * g.geom.delta;
        g.es[static_cast<std::size_t>(o + width - 1)] = std::exp(-t * inv2s2);
      }
    std::array<Index, 3> radius{0, 0, 0};
    for (int a = 0; a < d; ++a) radius[static_cast<std::size_t>(a)] = conv_radius;
    const double dl = g.geom.delta;
    auto conv = detail::convolve_grid(where, spread, g.geom, radius, 1, settings_.max_cells,
                                      [&](const std::array<double, 3>& v, double* out) {
                                        const double t = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) * dl * dl;
                                        out[0] = std::exp(-t * inv2s2);
                                      });
    g.f = std::move(conv[0]);
    // k_h = (2 pi h^2)^{d/2} G_h and G_h = delta^{2d} sum sum G_tau G_s G_tau (G normalised).
    g.scale = std::pow(h * h * std::pow(dl, 4) / (4.0 * std::numbers::pi * std::numbers::pi * std::pow(g.tau, 4) * s * s), 0.5 * d);
  } else {
    // Compact kernels (the kink at the edge) and kernels with a cusp at 0 (phi'(0) reported as
    // 0 where phi is not differentiable: the Laplacian) get a finer spacing than smooth ones.
    const bool compact = std::isfinite(k.support_radius());
    const bool cusp = !K::constant_slope && k.slope(0.0) == 0.0;
    g.geom.delta = (compact ? 0.5 : (cusp ? 0.6 : 1.0)) * std::sqrt(tol) * h;
    const double support = k.support_radius();
    margin = (std::isfinite(support) ? support * h : 2.0 * h) + 2 * g.geom.delta;
    // A compact kernel's edge moves by up to a cell: one source's error there is about
    // 2 delta / h of its weight. Sums below twice that are not resolved (-inf may be the truth).
    if (std::isfinite(support)) g.floor = std::max(g.floor, 4.0 * g.geom.delta / h * g.self_value);
    for (int a = 0; a < d; ++a) {
      const auto ua = static_cast<std::size_t>(a);
      g.geom.lo[ua] = lo[ua] - margin;
      g.geom.n[ua] = static_cast<Index>(std::ceil((hi[ua] - lo[ua] + 2 * margin) / g.geom.delta)) + 2;
    }
    const double cells = static_cast<double>(g.geom.n[0]) * static_cast<double>(g.geom.n[1]) * static_cast<double>(g.geom.n[2]);
    if (cells > static_cast<double>(settings_.max_cells))
      detail::fail(where, "a grid of ", cells, " cells exceeds max_cells = ", settings_.max_cells,
                   " (the sources span too many bandwidths: raise the tolerance, the bandwidth or max_cells)");
    // Cloud-in-cell binning.
    std::vector<double> bins(static_cast<std::size_t>(g.geom.cells()), 0.0);
    for (Index j = 0; j < m; ++j) {
      std::array<Index, 3> i0{0, 0, 0};
      std::array<double, 3> fr{0, 0, 0};
      for (int a = 0; a < d; ++a) {
        const auto ua = static_cast<std::size_t>(a);
        const double u = (static_cast<double>(y(a, j)) - g.geom.lo[ua]) / g.geom.delta;
        i0[ua] = static_cast<Index>(std::floor(u));
        fr[ua] = u - static_cast<double>(i0[ua]);
      }
      const double wj = g.w[static_cast<std::size_t>(j)];
      for (int corner = 0; corner < (1 << d); ++corner) {
        double c = wj;
        std::array<Index, 3> at = i0;
        for (int a = 0; a < d; ++a) {
          const bool up = (corner >> a) & 1;
          c *= up ? fr[static_cast<std::size_t>(a)] : 1.0 - fr[static_cast<std::size_t>(a)];
          at[static_cast<std::size_t>(a)] += up;
        }
        bins[static_cast<std::size_t>(g.geom.index(at[0], at[1], at[2]))] += c;
      }
    }
    std::array<Index, 3> radius{0, 0, 0};
    for (int a = 0; a < d; ++a) {
      const auto ua = static_cast<std::size_t>(a);
      radius[ua] = std::isfinite(support)
                       ? std::min<Index>(g.geom.n[ua] - 1, static_cast<Index>(std::ceil(support * h / g.geom.delta)) + 1)
                       : g.geom.n[ua] - 1;
    }
    g.score_from_mean_shift = K::constant_slope;
    g.slope0 = k.slope(0.0);
    const int channels = K::constant_slope ? 1 + d : 1 + 2 * d;
    const double dl = g.geom.delta, inv_h2 = 1.0 / (h * h);
    g.channels = detail::convolve_grid(
        where, bins, g.geom, radius, channels, settings_.max_cells,
        [&](const std::array<double, 3>& v, double* out) {
          const double t = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) * dl * dl * inv_h2;
          const double kv = std::exp(k.log_profile(t));
          out[0] = kv;
          // u = x - y = v delta: mean-shift numerator (y - x) k = -u k.
          const int ms = K::constant_slope ? 1 : 1 + d;
          for (int a = 0; a < d; ++a) out[ms + a] = -v[static_cast<std::size_t>(a)] * dl * kv;
          if constexpr (!K::constant_slope) {
            const double sl = kv > 0 ? 2.0 * k.slope(t) * inv_h2 * kv : 0.0;
            for (int a = 0; a < d; ++a) out[1 + a] = sl * v[static_cast<std::size_t>(a)] * dl;
          }
        });
  }
  return data;
}

template <Kernel K, class Scalar>
bool grid_evaluator::prepared<K, Scalar>::read(const double* x, Eigen::Index self,
                                               const sum_options& opt, double& log_sum,
                                               double* field) const {
  using Index = Eigen::Index;
  const detail::grid_data& g = *data_;
  const int d = g.geom.d;
  const double h = static_cast<double>(kernel_.h);
  double s = 0;
  std::array<double, 3> num{0, 0, 0};  // score (Gaussian, linear non-constant) or mean-shift numerators
  double self_grid = 0;                  // the grid's own value of the query's source at the query
  if (g.gaussian_scheme) {
    const Index width = 2 * g.stencil + 2;
    std::array<std::array<double, 64>, 3> wv, gv;
    std::array<Index, 3> first{0, 0, 0};
    if (width > 64) return false;  // (prepare refuses such stencils)
    const double inv_t2 = 1.0 / (g.tau * g.tau);
    for (int a = 0; a < 3; ++a) {
      const auto ua = static_cast<std::size_t>(a);
      if (a >= d) {
        first[ua] = 0;
        wv[ua][0] = 1;
        gv[ua][0] = 0;
        continue;
      }
      const double u = (x[a] - g.geom.lo[ua]) / g.geom.delta;
      if (!(u >= static_cast<double>(g.stencil) && u < static_cast<double>(g.geom.n[ua] - g.stencil - 1)))
        return false;
      first[ua] = static_cast<Index>(std::floor(u)) - g.stencil;
      const double f = u - static_cast<double>(first[ua]);
      detail::gaussian_row(f, g.a, g.sq, width, wv[ua].data());
      for (Index q = 0; q < width; ++q) {
        const double dist = (static_cast<double>(q) - f) * g.geom.delta;  // c - x
        gv[ua][static_cast<std::size_t>(q)] = dist * inv_t2 * wv[ua][static_cast<std::size_t>(q)];  // d/dx e_tau(x - c)
      }
    }
    const Index w1 = d > 1 ? width : 1, w2 = d > 2 ? width : 1;
    for (Index q2 = 0; q2 < w2; ++q2)
      for (Index q1 = 0; q1 < w1; ++q1) {
        const double* row = g.f.data() + g.geom.index(first[0], first[1] + q1, first[2] + q2);
        double r0 = 0, r0g = 0;
        for (Index q0 = 0; q0 < width; ++q0) {
          r0 += row[q0] * wv[0][static_cast<std::size_t>(q0)];
          r0g += row[q0] * gv[0][static_cast<std::size_t>(q0)];
        }
        const double a1 = wv[1][static_cast<std::size_t>(q1)], a2 = wv[2][static_cast<std::size_t>(q2)];
        s += r0 * a1 * a2;
        num[0] += r0g * a1 * a2;
        if (d > 1) num[1] += r0 * gv[1][static_cast<std::size_t>(q1)] * a2;
        if (d > 2) num[2] += r0 * a1 * gv[2][static_cast<std::size_t>(q2)];
      }
    s *= g.scale;
    for (int a = 0; a < d; ++a) num[static_cast<std::size_t>(a)] *= g.scale;
    if (self >= 0) {
      // The grid's own value of a unit source at x read back at x, and its gradient: spread,
      // convolution and read-back are separable, so each is a product over the axes of
      // width^2 terms; subtracting them removes the self term exactly (up to the FFT's
      // round-off), field included (its lattice asymmetry would dominate a small remainder).
      std::array<double, 3> t{1, 1, 1}, tg{0, 0, 0};
      for (int ax = 0; ax < d; ++ax) {
        const auto ua = static_cast<std::size_t>(ax);
        double a0 = 0, a1 = 0;
        for (Index q = 0; q < width; ++q) {
          double inner = 0;
          for (Index q2 = 0; q2 < width; ++q2)
            inner += g.es[static_cast<std::size_t>(q - q2 + width - 1)] * wv[ua][static_cast<std::size_t>(q2)];
          a0 += wv[ua][static_cast<std::size_t>(q)] * inner;
          a1 += gv[ua][static_cast<std::size_t>(q)] * inner;
        }
        t[ua] = a0;
        tg[ua] = a1;
      }
      self_grid = g.scale * t[0] * t[1] * t[2];
      const double wi = g.w[static_cast<std::size_t>(self)];
      for (int ax = 0; ax < d; ++ax) {
        double grad = g.scale * tg[static_cast<std::size_t>(ax)];
        for (int b = 0; b < d; ++b)
          if (b != ax) grad *= t[static_cast<std::size_t>(b)];
        num[static_cast<std::size_t>(ax)] -= wi * grad;
      }
    }
  } else {
    std::array<Index, 3> i0{0, 0, 0};
    std::array<double, 3> fr{0, 0, 0};
    for (int a = 0; a < d; ++a) {
      const auto ua = static_cast<std::size_t>(a);
      const double u = (x[a] - g.geom.lo[ua]) / g.geom.delta;
      if (!(u >= 0 && u < static_cast<double>(g.geom.n[ua] - 1))) return false;
      i0[ua] = static_cast<Index>(std::floor(u));
      fr[ua] = u - static_cast<double>(i0[ua]);
    }
    const bool want_ms = opt.field == field_kind::mean_shift || g.score_from_mean_shift;
    const int base = want_ms ? (g.score_from_mean_shift ? 1 : 1 + d) : 1;
    for (int corner = 0; corner < (1 << d); ++corner) {
      double c = 1;
      std::array<Index, 3> at = i0;
      for (int a = 0; a < d; ++a) {
        const bool up = (corner >> a) & 1;
        c *= up ? fr[static_cast<std::size_t>(a)] : 1.0 - fr[static_cast<std::size_t>(a)];
        at[static_cast<std::size_t>(a)] += up;
      }
      const auto idx = static_cast<std::size_t>(g.geom.index(at[0], at[1], at[2]));
      s += c * g.channels[0][idx];
      for (int a = 0; a < d; ++a) num[static_cast<std::size_t>(a)] += c * g.channels[static_cast<std::size_t>(base + a)][idx];
    }
    if (self >= 0) {
      // The grid's own value of a unit source at x read back at x: the bilinear weights twice
      // through the sampled kernel, so that subtracting it removes the self term exactly.
      const double dl = g.geom.delta;
      const K& k = kernel_.kernel;
      for (int c1 = 0; c1 < (1 << d); ++c1)
        for (int c2 = 0; c2 < (1 << d); ++c2) {
          double c = 1, t = 0;
          for (int a = 0; a < d; ++a) {
            const auto ua = static_cast<std::size_t>(a);
            const bool u1 = (c1 >> a) & 1, u2 = (c2 >> a) & 1;
            c *= (u1 ? fr[ua] : 1.0 - fr[ua]) * (u2 ? fr[ua] : 1.0 - fr[ua]);
            const double off = (static_cast<double>(u1) - static_cast<double>(u2)) * dl;
            t += off * off;
          }
          self_grid += c * std::exp(k.log_profile(t / (h * h)));
        }
    }
  }
  if (self >= 0) {
    const double wi = g.w[static_cast<std::size_t>(self)];
    const double rest = s - wi * self_grid;
    // Both schemes remove the grid's own self term exactly: the floor is the only condition.
    if (!(rest >= g.floor)) return false;
    s = rest;
  }
  if (!(s >= g.floor) || !std::isfinite(s)) return false;
  log_sum = std::log(s) + g.log_w_max;
  const double inv_s = 1.0 / s;
  if (g.gaussian_scheme) {
    // num = grad S: score = grad S / S, mean shift = h^2 score.
    const double f = opt.field == field_kind::mean_shift ? h * h : 1.0;
    for (int a = 0; a < d; ++a) field[a] = f * num[static_cast<std::size_t>(a)] * inv_s;
  } else if (opt.field == field_kind::score && g.score_from_mean_shift) {
    // constant slope c: score = -(2 c / h^2) mean shift.
    for (int a = 0; a < d; ++a) field[a] = -2.0 * g.slope0 / (h * h) * num[static_cast<std::size_t>(a)] * inv_s;
  } else {
    for (int a = 0; a < d; ++a) field[a] = num[static_cast<std::size_t>(a)] * inv_s;
  }
  return true;
}

template <Kernel K, class Scalar>
template <int Dim>
void grid_evaluator::prepared<K, Scalar>::sums(
    const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& queries,
    const sum_options& opt, kernel_sums<Scalar, Dim>& out) const {
  using Index = Eigen::Index;
  constexpr const char* where = "gfd::grid_evaluator::sums";
  const Index n = queries.cols(), m = size(), d = queries.rows();
  if (!detail::begin_sums(where, queries, m, dim(), opt, out)) return;
  std::vector<Index> missed;
  std::vector<char> ok(static_cast<std::size_t>(n), 0);
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (n >= 4096)
#endif
  for (Index i = 0; i < n; ++i) {
    std::array<double, 3> x{0, 0, 0}, f{0, 0, 0};
    for (Index a = 0; a < d; ++a) x[static_cast<std::size_t>(a)] = static_cast<double>(queries(a, i));
    double ls = 0;
    if (read(x.data(), opt.exclude_self ? i : -1, opt, ls, f.data())) {
      ok[static_cast<std::size_t>(i)] = 1;
      out.log_sum(i) = static_cast<Scalar>(ls);
      for (Index a = 0; a < d; ++a) out.field(a, i) = static_cast<Scalar>(f[static_cast<std::size_t>(a)]);
    }
  }
  for (Index i = 0; i < n; ++i)
    if (!ok[static_cast<std::size_t>(i)]) missed.push_back(i);
  if (missed.empty()) return;
  const auto nm = static_cast<Index>(missed.size());
  const double pairs = static_cast<double>(nm) * static_cast<double>(m);
  if (!opt.exclude_self && pairs > settings_.exact_fallback_pairs) {
    // Many queries off the grid (particles far from the targets at the start of a flow): the
    // tree evaluator at the same relative tolerance, built once.
    std::call_once(fallbacks_->once, [&] {
      fallbacks_->tree = std::make_unique<const tree_evaluator::prepared<K, Scalar>>(
          tree_evaluator(settings_.tolerance).prepare(*points_, *log_w_, kernel_));
    });
    positions<Scalar> xq(d, nm);
    for (Index r = 0; r < nm; ++r) xq.col(r) = queries.col(missed[static_cast<std::size_t>(r)]);
    kernel_sums<Scalar> ex;
    fallbacks_->tree->sums(xq, opt, ex);
    for (Index r = 0; r < nm; ++r) {
      out.log_sum(missed[static_cast<std::size_t>(r)]) = ex.log_sum(r);
      out.field.col(missed[static_cast<std::size_t>(r)]) = ex.field.col(r);
    }
    return;
  }
  const K& k = kernel_.kernel;
  const double h = static_cast<double>(kernel_.h), inv_h2 = 1.0 / (h * h);
  const positions<Scalar>& y = *points_;
  const vector<Scalar>& lw = *log_w_;
  constexpr double inf = std::numeric_limits<double>::infinity();
  positions<Scalar> xq(d, nm);
  for (Index r = 0; r < nm; ++r) xq.col(r) = queries.col(missed[static_cast<std::size_t>(r)]);
  kernel_sums<Scalar> ex;
  std::vector<Index> todo;  // queries left for the scalar loop below
  // The log-domain sum at x over the sources that `for_each_source` visits, in double: the
  // largest term first, then the terms scaled by it and their field (both fallbacks below).
  struct partial_sum {
    double top = -inf, sum = 0;
    Eigen::Vector3d field = Eigen::Vector3d::Zero();
  };
  const auto log_domain_sum = [&](const Eigen::Vector3d& x, const auto& for_each_source) {
    partial_sum p;
    for_each_source([&](Index j) {
      double t = 0;
      for (Index a = 0; a < d; ++a) {
        const double u = x(a) - static_cast<double>(y(a, j));
        t += u * u;
      }
      p.top = std::max(p.top, static_cast<double>(lw(j)) + k.log_profile(t * inv_h2));
    });
    if (!std::isfinite(p.top)) return p;
    for_each_source([&](Index j) {
      Eigen::Vector3d u = Eigen::Vector3d::Zero();
      for (Index a = 0; a < d; ++a) u(a) = x(a) - static_cast<double>(y(a, j));
      const double t = u.squaredNorm() * inv_h2;
      const double e = std::exp(static_cast<double>(lw(j)) + k.log_profile(t) - p.top);
      if (!(e > 0)) return;
      p.sum += e;
      if (opt.field == field_kind::mean_shift)
        p.field -= e * u;
      else
        p.field += e * 2.0 * k.slope(t) * inv_h2 * u;
    });
    return p;
  };
  if (!opt.exclude_self) {
    // Exact sums by the exact evaluator (vectorised, threaded), prepared once.
    std::call_once(fallbacks_->once_exact, [&] {
      fallbacks_->exact = std::make_unique<const exact_evaluator::prepared<K, Scalar>>(
          exact_evaluator{}.prepare(*points_, *log_w_, kernel_));
    });
    fallbacks_->exact->sums(xq, opt, ex);
    for (Index r = 0; r < nm; ++r) {
      out.log_sum(missed[static_cast<std::size_t>(r)]) = ex.log_sum(r);
      out.field.col(missed[static_cast<std::size_t>(r)]) = ex.field.col(r);
    }
    return;
  }
  if (static_cast<double>(nm) * static_cast<double>(nm) <= 1e8) {
    // Self-excluded: the exact evaluator over the sources without the missed ones (their
    // log-weights -inf), then the missed sources among themselves (each without itself) by a
    // small loop, the two parts joined in the log domain.
    vector<Scalar> lw2 = lw;
    for (const Index i : missed) lw2(i) = -std::numeric_limits<Scalar>::infinity();
    const sum_options plain{.field = opt.field, .exclude_self = false};
    exact_evaluator{}.prepare(*points_, lw2, kernel_).sums(xq, plain, ex);
    std::vector<char> left(static_cast<std::size_t>(nm), 0);
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 16) if (nm >= 256)
#endif
    for (Index r = 0; r < nm; ++r) {
      const Index i = missed[static_cast<std::size_t>(r)];
      Eigen::Vector3d x = Eigen::Vector3d::Zero();
      for (Index a = 0; a < d; ++a) x(a) = static_cast<double>(queries(a, i));
      // The missed sources among themselves, each query without itself.
      const partial_sum p = log_domain_sum(x, [&](const auto& f) {
        for (const Index j : missed)
          if (j != i) f(j);
      });
      const double s2 = p.sum;
      const Eigen::Vector3d& acc = p.field;
      const double l1 = static_cast<double>(ex.log_sum(r));
      const double l2 = s2 > 0 ? p.top + std::log(s2) : -inf;
      const double top = std::max(l1, l2);
      if (!std::isfinite(top)) {  // every term zero: the nearest source, by the loop below
        left[static_cast<std::size_t>(r)] = 1;
        continue;
      }
      const double a1 = std::isfinite(l1) ? std::exp(l1 - top) : 0.0;
      const double a2 = std::isfinite(l2) ? std::exp(l2 - top) : 0.0;
      out.log_sum(i) = static_cast<Scalar>(top + std::log(a1 + a2));
      const double b1 = a1 / (a1 + a2), b2 = a2 / (a1 + a2);
      for (Index a = 0; a < d; ++a)
        out.field(a, i) = static_cast<Scalar>(b1 * static_cast<double>(ex.field(a, r)) +
                                              (s2 > 0 ? b2 * acc(a) / s2 : 0.0));
    }
    for (Index r = 0; r < nm; ++r)
      if (left[static_cast<std::size_t>(r)]) todo.push_back(missed[static_cast<std::size_t>(r)]);
  } else {
    todo = missed;
  }
  // Exact fallback: a loop in double over every source (skipping the query's own), with the
  // exact evaluator's conventions (log domain, nearest source when every term is zero).
  const auto nt = static_cast<Index>(todo.size());
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) if (nt * m >= 1000000)
#endif
  for (Index r = 0; r < nt; ++r) {
    const Index i = todo[static_cast<std::size_t>(r)];
    const Index self = opt.exclude_self ? i : -1;
    Eigen::Vector3d x = Eigen::Vector3d::Zero();
    for (Index a = 0; a < d; ++a) x(a) = static_cast<double>(queries(a, i));
    const partial_sum p = log_domain_sum(x, [&](const auto& f) {
      for (Index j = 0; j < m; ++j)
        if (j != self) f(j);
    });
    const double s = p.sum;
    if (!(s > 0)) {
      out.log_sum(i) = -std::numeric_limits<Scalar>::infinity();
      Index best = -1;
      double best_d = std::numeric_limits<double>::infinity();
      for (Index j = 0; j < m; ++j) {
        if (j == self) continue;
        double t = 0;
        for (Index a = 0; a < d; ++a) {
          const double u = x(a) - static_cast<double>(y(a, j));
          t += u * u;
        }
        if (t < best_d || best < 0) {
          best_d = t;
          best = j;
        }
      }
      const double f = opt.field == field_kind::mean_shift ? 1.0 : inv_h2;
      for (Index a = 0; a < d; ++a)
        out.field(a, i) = best < 0 ? Scalar(0) : static_cast<Scalar>(f * (static_cast<double>(y(a, best)) - x(a)));
      continue;
    }
    out.log_sum(i) = static_cast<Scalar>(p.top + std::log(s));
    for (Index a = 0; a < d; ++a) out.field(a, i) = static_cast<Scalar>(p.field(a) / s);
  }
}

static_assert(Evaluator<grid_evaluator>);
static_assert(PreparedSources<grid_evaluator::prepared<gaussian, float>>);

#ifdef GFD_EXTERN_TEMPLATES
// Compiled once elsewhere (core/instances.hpp).
GFD_SUMS_INSTANCES(extern template, grid_evaluator, double)
GFD_SUMS_INSTANCES(extern template, grid_evaluator, float)
#endif

}  // namespace gfd
