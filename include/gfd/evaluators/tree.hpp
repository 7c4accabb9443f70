// SPDX-License-Identifier: MIT
/// @file evaluators/tree.hpp
/// @brief Truncated kernel sums over a nanoflann k-d tree, with an a-posteriori error bound.
#pragma once

#include <Eigen/Core>
#include <nanoflann.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/bound_kernel.hpp"
#include "../core/evaluator.hpp"
#include "../core/instances.hpp"
#include "../core/sums.hpp"
#include "../error.hpp"
#include "../kernels.hpp"
#include "../particles.hpp"
#include "detail/simd_sums.hpp"

namespace gfd {

namespace detail {

// nanoflann 1.5 renamed SearchParams to SearchParameters; findNeighbors is the same otherwise.
#if defined(NANOFLANN_VERSION) && NANOFLANN_VERSION >= 0x150
using tree_search_params = nanoflann::SearchParameters;
#else
using tree_search_params = nanoflann::SearchParams;
#endif

/// nanoflann dataset adaptor over an owned d x m column-major copy of the sources.
template <class Scalar>
struct tree_points {
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> y;
  [[nodiscard]] std::size_t kdtree_get_point_count() const { return static_cast<std::size_t>(y.cols()); }
  [[nodiscard]] Scalar kdtree_get_pt(std::size_t i, std::size_t k) const {
    return y(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(i));
  }
  template <class BBox>
  bool kdtree_get_bbox(BBox&) const { return false; }
};

template <class Scalar>
using kd_tree = nanoflann::KDTreeSingleIndexAdaptor<
    nanoflann::L2_Simple_Adaptor<Scalar, tree_points<Scalar>, Scalar, std::size_t>, tree_points<Scalar>, -1,
    std::size_t>;

/// A tree with the data it was built on. The copy is stored in a spatial (k-d) order, so that
/// the sources a radius search returns sit close together in memory and gathering them is
/// cheap: source `original[k]` is stored at column k, and `position[j]` is where source j went.
template <class Scalar>
struct tree_entry {
  tree_points<Scalar> points;
  std::vector<Eigen::Index> original, position;
  std::unique_ptr<kd_tree<Scalar>> tree;
};

/// Source weights in the tree's storage order, as the gathers read them, with what the error
/// bound needs: the total weight and each source's share of it.
template <class Scalar>
struct tree_weights {
  bool uniform = true;
  Scalar log_offset = 0;       ///< the common log-weight when uniform
  double log_w_total = 0;      ///< log sum_j w_j
  vector<Scalar> lw_stored;    ///< log w in storage order (empty when uniform)
  Eigen::VectorXd w_norm;      ///< w_j / sum w in storage order
};

/// Result sets in the form nanoflann's findNeighbors expects (1.4 and 1.5 alike), squared
/// Euclidean distances (nanoflann's L2 adaptors return squares).
template <class Scalar>
struct within_radius {
  Scalar radius2;
  std::vector<std::pair<std::size_t, Scalar>>* out;
  void init() {}
  void clear() { out->clear(); }
  [[nodiscard]] std::size_t size() const { return out->size(); }
  [[nodiscard]] bool full() const { return true; }
  bool addPoint(Scalar d2, std::size_t i) {
    if (d2 < radius2) out->emplace_back(i, d2);
    return true;
  }
  [[nodiscard]] Scalar worstDist() const { return radius2; }
};

template <class Scalar>
struct nearest_one {
  std::size_t skip;  // exclude_self: the query's own index (or npos)
  Scalar best = std::numeric_limits<Scalar>::infinity();
  std::size_t index = static_cast<std::size_t>(-1);
  void init() {}
  [[nodiscard]] std::size_t size() const { return index == static_cast<std::size_t>(-1) ? 0 : 1; }
  [[nodiscard]] bool full() const { return true; }
  bool addPoint(Scalar d2, std::size_t i) {
    if (i != skip && d2 < best) {
      best = d2;
      index = i;
    }
    return true;
  }
  [[nodiscard]] Scalar worstDist() const { return best; }
};

/// Points (queries, or the sources a tree stores) grouped into spatially compact blocks: a k-d
/// split (median of the widest coordinate) until a block holds at most `max_block` points and its
/// bounding box has half-diagonal at most `max_half_diagonal` (blocks of 8 or fewer are never
/// split). Block b is the points order[begin[b]] .. order[begin[b + 1] - 1].
struct point_blocks {
  std::vector<Eigen::Index> order;
  std::vector<Eigen::Index> begin;
};

/// Buffers of one thread's splits.
struct partition_scratch {
  std::vector<std::pair<double, Eigen::Index>> keyed;
  Eigen::MatrixXd moved;
  std::vector<Eigen::Index> moved_order;
};

using leaf_list = std::vector<std::pair<Eigen::Index, Eigen::Index>>;

/// One range [a, b) of the partition, done by one thread: splits it until every piece is a
/// leaf, then adds its leaves to `all` (under a lock). `pts` holds the points in the current
/// order (columns a..b are this range's alone, so ranges proceed in parallel); `order` likewise.
/// Halves of at least `spawn` points become tasks of their own.
inline void partition_range(Eigen::MatrixXd& pts, std::vector<Eigen::Index>& order, Eigen::Index a0,
                            Eigen::Index b0, Eigen::Index max_block, double max_half_diagonal,
                            Eigen::Index spawn, leaf_list* all);

/// Splits [a, b) once (median of the widest coordinate, the range reordered to match), or
/// reports it as a leaf: returns the cut, or -1 for a leaf (appended to `leaves`).
inline Eigen::Index split_range(Eigen::MatrixXd& pts, std::vector<Eigen::Index>& order, Eigen::Index a,
                                Eigen::Index b, Eigen::Index max_block, double max_half_diagonal,
                                partition_scratch& tmp, leaf_list& leaves) {
  using Index = Eigen::Index;
  const Index d = pts.rows();
  const auto range = pts.middleCols(a, b - a);
  const Eigen::VectorXd extent = range.rowwise().maxCoeff() - range.rowwise().minCoeff();
  Index widest = 0;
  const double width = extent.maxCoeff(&widest);
  const bool small = b - a <= max_block && (b - a <= 8 || 0.5 * extent.norm() <= max_half_diagonal);
  if (small) {
    leaves.emplace_back(a, b);
    return -1;
  }
  if (!(width > 0)) {  // identical points: cut into whole blocks
    for (Index k = a; k < b; k += max_block) leaves.emplace_back(k, std::min(b, k + max_block));
    return -1;
  }
  const Index mid = a + (b - a) / 2;
  auto& keyed = tmp.keyed;
  auto& moved = tmp.moved;
  auto& moved_order = tmp.moved_order;
  keyed.resize(static_cast<std::size_t>(b - a));
  for (Index k = a; k < b; ++k) keyed[static_cast<std::size_t>(k - a)] = {pts(widest, k), k};
  std::nth_element(keyed.begin(), keyed.begin() + (mid - a), keyed.end(),
                   [](const auto& u, const auto& v) { return u.first < v.first; });
  moved.resize(d, b - a);
  moved_order.resize(static_cast<std::size_t>(b - a));
  for (Index k = 0; k < b - a; ++k) {
    const Index from = keyed[static_cast<std::size_t>(k)].second;
    moved.col(k) = pts.col(from);
    moved_order[static_cast<std::size_t>(k)] = order[static_cast<std::size_t>(from)];
  }
  pts.middleCols(a, b - a) = moved;
  std::copy(moved_order.begin(), moved_order.end(), order.begin() + a);
  return mid;
}

inline void partition_range(Eigen::MatrixXd& pts, std::vector<Eigen::Index>& order, Eigen::Index a0,
                            Eigen::Index b0, Eigen::Index max_block, double max_half_diagonal,
                            Eigen::Index spawn, leaf_list* all) {
  using Index = Eigen::Index;
#ifndef _OPENMP
  (void)spawn;  // the threshold for handing a half to another thread
#endif
  std::vector<std::pair<Index, Index>> todo{{a0, b0}};
  partition_scratch tmp;
  leaf_list mine;
  while (!todo.empty()) {
    const Index a = todo.back().first, b = todo.back().second;
    todo.pop_back();
    const Index mid = split_range(pts, order, a, b, max_block, max_half_diagonal, tmp, mine);
    if (mid < 0) continue;
#ifdef _OPENMP
    if (mid - a >= spawn) {
      // The lower half goes to another thread; the partition is the same whoever splits it,
      // and the leaves are sorted at the end.
#pragma omp task default(none) firstprivate(a, mid, max_block, max_half_diagonal, spawn, all) shared(pts, order)
      partition_range(pts, order, a, mid, max_block, max_half_diagonal, spawn, all);
      todo.emplace_back(mid, b);
      continue;
    }
#endif
    todo.emplace_back(mid, b);
    todo.emplace_back(a, mid);
  }
#ifdef _OPENMP
#pragma omp critical(gfd_partition_leaves)
#endif
  all->insert(all->end(), mine.begin(), mine.end());
}

/// The partition of the points x (d x n) into blocks. Deterministic: the same blocks in the same
/// order for any number of threads. O(n log n); with OpenMP the halves of large ranges are split
/// by different threads (tasks), so the serial part is the first few splits.
template <class Q>
point_blocks partition_points(const Q& x, Eigen::Index max_block, double max_half_diagonal) {
  using Index = Eigen::Index;
  const Index n = x.cols();
  point_blocks qb;
  qb.order.resize(static_cast<std::size_t>(n));
  // A copy of the points kept in the current order, so that every pass over a range reads
  // memory sequentially (indexing the original through `order` misses the cache at every point).
  Eigen::MatrixXd pts(x.rows(), n);
  leaf_list leaves;
  // Ranges below `spawn` points are split by the thread that holds them: a task costs about a
  // microsecond, a range of 16384 points some hundreds.
  constexpr Index spawn = 16384;
  [[maybe_unused]] const bool parallel = n >= 2 * spawn;
#ifdef _OPENMP
#pragma omp parallel if (parallel)
#pragma omp single
#endif
  {
#ifdef _OPENMP
#pragma omp taskgroup
#endif
    {
#ifdef _OPENMP
#pragma omp taskloop if (parallel) grainsize(65536)
#endif
      for (Index i = 0; i < n; ++i) {
        qb.order[static_cast<std::size_t>(i)] = i;
        pts.col(i) = x.col(i).template cast<double>();
      }
      partition_range(pts, qb.order, 0, n, max_block, max_half_diagonal, spawn, &leaves);
    }
  }
  std::sort(leaves.begin(), leaves.end());
  for (const auto& leaf : leaves) qb.begin.push_back(leaf.first);
  qb.begin.push_back(n);
  return qb;
}

}  // namespace detail

/// Kernel sums truncated to the sources near each query, found with a nanoflann k-d tree.
///
/// Error bound (a posteriori, per query). With t = |x - y|^2 / h^2, the sum is split into the
/// sources inside a radius T (in t) and those outside. Since the profile is non-increasing, the
/// neglected part is at most W_out k(T), W_out the weight outside; the evaluator keeps
/// enlarging T until W_out k(T) <= tolerance * S_in, S_in the included sum. So the relative
/// error of every kernel sum (density) is at most `tolerance`, and the softmax weights a_j of
/// the score and mean shift are those of the exact sum up to a total variation of
/// 2 tolerance. A query far from every source still gets its nearest mass (never 0/0). Compact
/// kernels (Epanechnikov) are summed exactly over their support, and fall back to the nearest
/// source outside it, like exact_evaluator.
///
/// Algorithm. Queries are grouped into blocks of at most 64 nearby ones (a k-d split). Each
/// block makes one radius search around its centre, large enough for every member's bound in
/// typical data, and sums the sources found densely, with the exact evaluator's vectorised
/// inner loop (sources gathered into its layout). Members whose bound does not hold yet get the
/// shell of a larger ball added (sums are additive), until it holds for all. Every source
/// within the kernel's reach of a member is thus summed exactly; sources a little farther are
/// included too, which only makes the sums more accurate.
///
/// Lifecycle: `prepare` builds the tree once, on a copy of the sources stored in k-d order (so
/// a search's sources sit together in memory), O(m log m); the index does not depend on the
/// bandwidth or the weights, so `rebound(h)` and `reweighted(lw)` share it (a fixed target
/// cloud is indexed once per flow; particles, which move, once per step: nanoflann cannot refit
/// a tree to moved points, and a rebuild costs a few percent of a flow step,
/// benchmarks/bench_scale). Memory is O((n + m) d).
///
/// Thread-safety: `prepare` and `sums` are const and reentrant; blocks run in parallel with
/// OpenMP when available; results do not depend on the number of threads.
struct tree_evaluator {
  double tolerance = 1e-3;         ///< bound on the relative error of each kernel sum
  std::size_t leaf_size = 16;      ///< nanoflann leaf size

  tree_evaluator() = default;
  explicit tree_evaluator(double tol, std::size_t leaf = 16) : tolerance(tol), leaf_size(leaf) {
    if (!(std::isfinite(tol) && tol > 0 && tol < 1))
      detail::fail("gfd::tree_evaluator", "tolerance must be in (0, 1), got ", tol);
    if (leaf == 0) detail::fail("gfd::tree_evaluator", "leaf size must be > 0");
  }

  /// Sources indexed for truncated sums with kernel K (see PreparedSources).
  template <Kernel K, class Scalar>
  class prepared {
  public:
    using scalar_type = Scalar;
    using kernel_type = K;

    [[nodiscard]] Eigen::Index size() const noexcept { return index_->points.y.cols(); }
    [[nodiscard]] Eigen::Index dim() const noexcept { return index_->points.y.rows(); }
    [[nodiscard]] Scalar bandwidth() const noexcept { return kernel_.h; }
    [[nodiscard]] const bound_kernel<K, Scalar>& kernel() const noexcept { return kernel_; }

    /// Kernel sums at `queries` (d x n) into `out`, each within the relative tolerance.
    /// @throws gfd::invalid_argument on a dimension mismatch, exclude_self with another number of
    ///         queries than sources, or queries without sources.
    template <int Dim>
    void sums(const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& queries,
              const sum_options& opt, kernel_sums<Scalar, Dim>& out) const;

    [[nodiscard]] prepared rebound(Scalar h) const {
      prepared p = *this;
      p.kernel_ = kernel_.rebound(h, "gfd::tree_evaluator::prepared::rebound");
      return p;
    }
    [[nodiscard]] prepared reweighted(const std::type_identity_t<Eigen::Ref<const vector<Scalar>>>& log_w) const {
      detail::check_prepare("gfd::tree_evaluator::prepared::reweighted", index_->points.y, log_w);
      prepared p = *this;
      p.weights_ = make_weights(*index_, log_w);
      return p;
    }

  private:
    friend struct tree_evaluator;
    using entry_type = detail::tree_entry<Scalar>;
    using weights_type = detail::tree_weights<Scalar>;

    prepared(double tolerance, std::shared_ptr<const entry_type> index,
             std::shared_ptr<const weights_type> weights, bound_kernel<K, Scalar> k)
        : tolerance_(tolerance), index_(std::move(index)), weights_(std::move(weights)), kernel_(std::move(k)) {}

    static std::shared_ptr<const weights_type> make_weights(
        const entry_type& entry, const Eigen::Ref<const vector<Scalar>>& log_w);

    template <int D, bool Weighted, bool Slope, int Dim>
    void block_sums(const Eigen::Ref<const positions<Scalar, Dim>>& queries, const sum_options& opt,
                    kernel_sums<Scalar, Dim>& out) const;

    double tolerance_ = 1e-3;  // the evaluator's bound
    std::shared_ptr<const entry_type> index_;
    std::shared_ptr<const weights_type> weights_;
    bound_kernel<K, Scalar> kernel_;
  };

  /// Builds the k-d tree of `sources` (d x m) with log-weights (m, not necessarily normalised)
  /// for sums with the bound kernel. O(m log m).
  /// @throws gfd::invalid_argument on a tolerance outside (0, 1) or log-weights that do not
  ///         match the sources.
  template <Kernel K, class Scalar>
  [[nodiscard]] prepared<K, Scalar> prepare(
      const std::type_identity_t<Eigen::Ref<const positions<Scalar>>>& sources,
      const std::type_identity_t<Eigen::Ref<const vector<Scalar>>>& source_log_weights,
      const bound_kernel<K, Scalar>& kernel) const;

  /// One-shot sums: prepare (build the tree), then sum once.
  /// @throws gfd::invalid_argument as prepare and prepared::sums, and for a bandwidth not > 0.
  template <Kernel K, class Scalar, int Dim>
  void sums(const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& queries,
            const std::type_identity_t<Eigen::Ref<const positions<Scalar>>>& sources,
            const std::type_identity_t<Eigen::Ref<const vector<Scalar>>>& source_log_weights,
            const K& kernel, Scalar h, const sum_options& opt, kernel_sums<Scalar, Dim>& out) const {
    prepare(sources, source_log_weights, bound_kernel<K, Scalar>(kernel, h, "gfd::tree_evaluator::sums"))
        .sums(queries, opt, out);
  }
};

template <Kernel K, class Scalar>
tree_evaluator::prepared<K, Scalar> tree_evaluator::prepare(
    const std::type_identity_t<Eigen::Ref<const positions<Scalar>>>& y,
    const std::type_identity_t<Eigen::Ref<const vector<Scalar>>>& source_log_weights,
    const bound_kernel<K, Scalar>& kernel) const {
  constexpr const char* where = "gfd::tree_evaluator::prepare";
  if (!(tolerance > 0 && tolerance < 1)) detail::fail(where, "tolerance must be in (0, 1), got ", tolerance);
  detail::check_prepare(where, y, source_log_weights);
  auto fresh = std::make_shared<detail::tree_entry<Scalar>>();
  // k-d order with leaves of about nanoflann's leaf size (no size limit on their extent).
  fresh->original = detail::partition_points(y, static_cast<Eigen::Index>(leaf_size),
                                              std::numeric_limits<double>::infinity())
                        .order;
  fresh->position.resize(fresh->original.size());
  fresh->points.y.resize(y.rows(), y.cols());
  [[maybe_unused]] const bool parallel_copy = y.cols() >= 65536;
#ifdef _OPENMP
#pragma omp parallel for if (parallel_copy)
#endif
  for (Eigen::Index k = 0; k < y.cols(); ++k) {
    const Eigen::Index j = fresh->original[static_cast<std::size_t>(k)];
    fresh->points.y.col(k) = y.col(j);
    fresh->position[static_cast<std::size_t>(j)] = k;
  }
  if (y.cols() > 0)
    fresh->tree = std::make_unique<detail::kd_tree<Scalar>>(
        static_cast<int>(y.rows()), fresh->points, nanoflann::KDTreeSingleIndexAdaptorParams(leaf_size));
  auto weights = prepared<K, Scalar>::make_weights(*fresh, source_log_weights);
  return prepared<K, Scalar>(tolerance, std::move(fresh), std::move(weights), kernel);
}

template <Kernel K, class Scalar>
auto tree_evaluator::prepared<K, Scalar>::make_weights(const entry_type& entry,
                                                      const Eigen::Ref<const vector<Scalar>>& log_w)
    -> std::shared_ptr<const weights_type> {
  auto w = std::make_shared<weights_type>();
  const Eigen::Index m = log_w.size();
  if (m == 0) return w;
  w->uniform = detail::uniform_weights(log_w);
  w->log_offset = w->uniform ? log_w(0) : Scalar(0);
  // Total weight, in the log domain (log-weights need not be normalised).
  const double lw_max = static_cast<double>(log_w.maxCoeff());
  w->log_w_total = lw_max + std::log((log_w.template cast<double>().array() - lw_max).exp().sum());
  if (!w->uniform) w->lw_stored.resize(m);
  w->w_norm.resize(m);
  for (Eigen::Index k = 0; k < m; ++k) {
    const Eigen::Index j = entry.original[static_cast<std::size_t>(k)];
    if (!w->uniform) w->lw_stored(k) = log_w(j);
    w->w_norm(k) = std::exp(static_cast<double>(log_w(j)) - w->log_w_total);
  }
  return w;
}

template <Kernel K, class Scalar>
template <int Dim>
void tree_evaluator::prepared<K, Scalar>::sums(
    const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& queries,
    const sum_options& opt, kernel_sums<Scalar, Dim>& out) const {
  constexpr const char* where = "gfd::tree_evaluator::sums";
  const Eigen::Index d = queries.rows();
  if (!detail::begin_sums(where, queries, size(), dim(), opt, out)) return;

  const bool per_pair_slope = !K::constant_slope && opt.field == field_kind::score;
  detail::dispatch_terms<K>(!weights_->uniform, per_pair_slope, [&]<bool Weighted, bool Slope>() {
    if constexpr (Dim != Eigen::Dynamic)
      block_sums<Dim, Weighted, Slope>(queries, opt, out);
    else if (d == 2)
      block_sums<2, Weighted, Slope>(queries, opt, out);
    else
      block_sums<Eigen::Dynamic, Weighted, Slope>(queries, opt, out);
  });
}

template <Kernel K, class Scalar>
template <int D, bool Weighted, bool Slope, int Dim>
void tree_evaluator::prepared<K, Scalar>::block_sums(
    const Eigen::Ref<const positions<Scalar, Dim>>& queries, const sum_options& opt,
    kernel_sums<Scalar, Dim>& out) const {
  using Index = Eigen::Index;
  using Vec = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using Mat = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  constexpr double neg_inf = -std::numeric_limits<double>::infinity();
  constexpr std::size_t none = static_cast<std::size_t>(-1);
  const Index n = queries.cols(), m = size(), d = queries.rows();
  const K& kernel = kernel_.kernel;
  const Scalar h = kernel_.h;
  const double tolerance = tolerance_;
  const entry_type* entry = index_.get();
  const auto& tree = *entry->tree;
  const double hd = static_cast<double>(h);
  const weights_type& weights = *weights_;
  const double log_w_total = weights.log_w_total;
  const double log_tol = std::log(tolerance);
  const double phi0 = static_cast<double>(kernel.log_profile(0.0));
  const double support = kernel.support_radius();
  const bool compact = std::isfinite(support);
  // t at which the profile falls to `target_log` (doubling search then bisection to 1 %; the
  // profile is non-increasing; a radius twice too large costs four times the sources in 2D).
  auto t_where = [&](double target_log) {
    double hi = 1.0;
    while (static_cast<double>(kernel.log_profile(hi)) > target_log && hi < 1e300) hi *= 2;
    double lo = hi / 2;
    while (hi - lo > 0.01 * hi)
      (static_cast<double>(kernel.log_profile(0.5 * (lo + hi))) > target_log ? lo : hi) = 0.5 * (lo + hi);
    return hi;
  };
  // Radius (in units of h) that covers a compact support, or where the kernel falls to
  // `tolerance` of its peak.
  const double r_tol = compact ? support : std::sqrt(t_where(phi0 + log_tol));
  // First search radius (in h): the bound compares the left-out weight with the included sum,
  // about (sources within a few h) / m of the total, so it needs the kernel to fall by a further
  // factor of about m / 16 beyond `tolerance`. One search usually suffices then; a second pass
  // adds the missing shell where it does not (sparse regions).
  const double r_first =
      compact ? support
              : std::max(r_tol, std::sqrt(t_where(phi0 + log_tol -
                                                  std::log(std::max(1.0, static_cast<double>(m) / 16)))));
  // Normalised linear weights (the bound needs the weight a block's search left out) and
  // log-weights, in the tree's storage order (see tree_entry), as the gathers read them.
  const auto& stored = entry->points.y;
  const vector<Scalar>& lw_stored = weights.lw_stored;
  const Eigen::VectorXd& w_norm = weights.w_norm;
  const Scalar log_offset = weights.log_offset;
  // Blocks of nearby queries share one radius search: at most 64 queries, half-diagonal at most
  // the first radius, so a block's candidates are at most about four times any member's own. A
  // kernel sum costs far less per source than a search returning it (measured: 64 queries and
  // 1x the radius beat 0.5x or 2x, and 128 queries, at N = M = 1e6 in 2D).
  const detail::point_blocks blocks = detail::partition_points(queries, 64, r_first * hd);
  const Index nblocks = static_cast<Index>(blocks.begin.size()) - 1;
  const Index tile_len = detail::tile_length<Scalar>(512);
  [[maybe_unused]] const bool parallel = n >= 256;

#ifdef _OPENMP
#pragma omp parallel if (parallel)
#endif
  {
    std::vector<std::pair<std::size_t, Scalar>> found;
    std::vector<Index> slot(opt.exclude_self ? static_cast<std::size_t>(m) : 0, -1);
    Mat ysub;
    Vec lwsub, centre(d), xs(d), acc(d), lo(d), hi(d);
    Eigen::Matrix<Scalar, D, 1> xk(d);
    detail::lane_sums<Scalar, D> tile_sums;
    tile_sums.acc.resize(detail::block_lanes<Scalar>, d);
    std::vector<double> dist;
    std::vector<char> settled;  // members whose bound holds: no further sources are added
    std::vector<detail::lse_state<Scalar>> state;  // per member, over every pass so far
    Mat accs;                                      // per member: sum_j e_j g_j y~_j, so far
    const detail::tree_search_params params;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1) nowait
#endif
    for (Index b = 0; b < nblocks; ++b) {
      const Index a0 = blocks.begin[static_cast<std::size_t>(b)];
      const Index a1 = blocks.begin[static_cast<std::size_t>(b) + 1];
      const auto nb = static_cast<std::size_t>(a1 - a0);
      auto query = [&](Index k) { return blocks.order[static_cast<std::size_t>(k)]; };
      // The block's centre (of its bounding box) and each member's distance to it.
      lo = queries.col(query(a0));
      hi = lo;
      for (Index k = a0 + 1; k < a1; ++k) {
        lo = lo.cwiseMin(queries.col(query(k)));
        hi = hi.cwiseMax(queries.col(query(k)));
      }
      centre = (lo + hi) / Scalar(2);
      dist.resize(nb);
      double rho = 0;
      for (Index k = a0; k < a1; ++k)
        rho = std::max(rho, dist[static_cast<std::size_t>(k - a0)] =
                                static_cast<double>((queries.col(query(k)) - centre).norm()));
      settled.assign(nb, 0);
      state.assign(nb, {});
      accs.setZero(d, static_cast<Index>(nb));
      // Passes over growing balls around the centre, radius R: every source within r_tol h of a
      // member is in the first, and every source left out is farther than R - dist_i from member
      // i. A pass sums only the shell its ball adds to the previous one (sums are additive), and
      // only for the members whose error bound does not hold yet.
      double R = r_first * hd + rho, R_done = 0, w_in = 0;
      Index included = 0;  // sources in the balls so far
      for (;;) {
        found.clear();
        detail::within_radius<Scalar> rs{static_cast<Scalar>(R * R * (1 + 1e-12)), &found};
        tree.findNeighbors(rs, centre.data(), params);
        if (R_done > 0) {  // keep the new shell: exactly the sources the previous ball missed
          const auto done2 = static_cast<Scalar>(R_done * R_done * (1 + 1e-12));
          std::erase_if(found, [done2](const auto& fj) { return fj.second < done2; });
        }
        if (included == 0 && found.empty() && !compact) {
          // Nothing near the block (far particles): reach its nearest source, then the kernel
          // radius beyond it, so every member sees mass.
          detail::nearest_one<Scalar> nn{none};
          tree.findNeighbors(nn, centre.data(), params);
          R = std::max(1.1 * R, std::sqrt(static_cast<double>(nn.best)) + r_tol * hd + rho);
          continue;
        }
        // Gather the shell, laid out as the exact evaluator lays out its sources, scaled about the
        // block centre in every pass so that the passes' sums add up.
        const Index kc = static_cast<Index>(found.size());
        ysub.resize(d, kc);
        if constexpr (Weighted) lwsub.resize(kc);
        for (Index f = 0; f < kc; ++f) {
          const auto j = static_cast<Index>(found[static_cast<std::size_t>(f)].first);
          ysub.col(f) = stored.col(j);
          if constexpr (Weighted) lwsub(f) = lw_stored(j);
          w_in += w_norm(j);
          if (opt.exclude_self) slot[static_cast<std::size_t>(j)] = f;
        }
        included += kc;
        const detail::scaled_sources<Scalar> src(ysub, lwsub, !Weighted, h, centre);
        const detail::block_core<K, Scalar, Weighted, Slope> core{kernel,
                                                                  Weighted ? src.log_w.data() : nullptr};
        const double w_out = std::max(0.0, 1.0 - w_in);
        double needed = R;  // the radius the members' bounds ask for
        for (Index k = a0; k < a1; ++k) {
          const auto km = static_cast<std::size_t>(k - a0);
          if (settled[km]) continue;
          const Index i = query(k);
          auto& st = state[km];
          if (kc > 0) {
            xk = (queries.col(i) - centre) * src.inv_h;
            const Index self =
                opt.exclude_self ? slot[static_cast<std::size_t>(entry->position[static_cast<std::size_t>(i)])] : -1;
            const detail::lse_state<Scalar> shell =
                detail::sweep_query(core, src, xk, self, tile_len, tile_sums, acc);
            detail::lse_merge(st, accs.col(static_cast<Index>(km)), shell, acc);
          }
          if (!(st.s > Scalar(0))) {
            // Every included term is zero: outside a compact support (the nearest source
            // decides below), or only the query itself was found (search further).
            if (!compact && included < m) needed = std::max(needed, 2 * R);
            continue;
          }
          if (compact || included >= m || w_out <= 0) {  // exact for this member
            settled[km] = 1;
            continue;
          }
          // Bound on the neglected part relative to the included sum: W_out k(T_i) / S_in, with
          // T_i the squared distance (in h) beyond which every left-out source lies.
          const double di = dist[km];
          const double T = (R - di) * (R - di) / (hd * hd);
          const double phi_T = static_cast<double>(kernel.log_profile(T));
          const double log_s = static_cast<double>(st.mx + std::log(st.s) + log_offset);
          const double log_bound = log_w_total + std::log(w_out) + phi_T - log_s;
          if (log_bound <= log_tol) {
            settled[km] = 1;
            continue;
          }
          const double T_need = std::max(1.1 * T, t_where(phi_T - (log_bound - log_tol)));
          needed = std::max(needed, std::sqrt(T_need) * hd + di);
        }
        if (opt.exclude_self)
          for (const auto& fj : found) slot[fj.first] = -1;
        if (!(needed > R)) break;
        R_done = R;
        R = needed;
      }
      for (Index k = a0; k < a1; ++k) {
        const auto km = static_cast<std::size_t>(k - a0);
        const Index i = query(k);
        if (state[km].s > Scalar(0)) {
          xs = (queries.col(i) - centre) * (Scalar(1) / h);
          detail::finish_query(kernel, h, log_offset, opt, state[km], xs,
                               accs.col(static_cast<Index>(km)), ysub, i, out);
        } else {
          out.log_sum(i) = static_cast<Scalar>(neg_inf);
          out.field.col(i).setZero();
        }
      }
      if (!compact) continue;
      // Compact kernels: members outside every support take the field of their nearest source,
      // as exact_evaluator does.
      for (Index k = a0; k < a1; ++k) {
        const Index i = query(k);
        if (out.log_sum(i) != -std::numeric_limits<Scalar>::infinity()) continue;
        const Vec x = queries.col(i);
        detail::nearest_one<Scalar> nn{
            opt.exclude_self ? static_cast<std::size_t>(entry->position[static_cast<std::size_t>(i)]) : none};
        tree.findNeighbors(nn, x.data(), params);
        if (nn.index == none) {
          out.field.col(i).setZero();
          continue;
        }
        const Vec y = stored.col(static_cast<Index>(nn.index));
        out.field.col(i) = opt.field == field_kind::mean_shift ? Vec(y - x) : Vec((y - x) / (h * h));
      }
    }
  }
}

static_assert(Evaluator<tree_evaluator>);
static_assert(PreparedSources<tree_evaluator::prepared<gaussian, float>>);

#ifdef GFD_EXTERN_TEMPLATES
// Compiled once elsewhere (core/instances.hpp).
GFD_SUMS_INSTANCES(extern template, tree_evaluator, double)
GFD_SUMS_INSTANCES(extern template, tree_evaluator, float)
#endif

}  // namespace gfd
