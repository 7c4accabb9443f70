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
#include <limits>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "../kernels.hpp"
#include "../particles.hpp"
#include "exact.hpp"

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

/// A tree with the data it was built on, identified by a hash of that data.
template <class Scalar>
struct tree_entry {
  std::uint64_t hash = 0;
  tree_points<Scalar> points;
  std::unique_ptr<kd_tree<Scalar>> tree;
};

/// FNV-1a over the bytes of the matrix and its shape: O(m d), far cheaper than any search.
template <class Ref>
std::uint64_t hash_matrix(const Ref& y) {
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const unsigned char* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  };
  const Eigen::Index shape[2] = {y.rows(), y.cols()};
  mix(reinterpret_cast<const unsigned char*>(shape), sizeof shape);
  for (Eigen::Index j = 0; j < y.cols(); ++j)
    mix(reinterpret_cast<const unsigned char*>(y.col(j).data()),
        static_cast<std::size_t>(y.rows()) * sizeof(typename Ref::Scalar));
  return h;
}

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

}  // namespace detail

/// Kernel sums truncated to the sources near each query, found with a nanoflann k-d tree.
///
/// Error bound (a posteriori, per query). With t = |x - y|^2 / h^2, the sum is split into the
/// sources inside a radius T (in t) and those outside. Since the profile is non-increasing, the
/// neglected part is at most W_out k(T), W_out the weight outside; the evaluator keeps
/// enlarging T until W_out k(T) <= tolerance * S_in, S_in the included sum. So the relative
/// error of every kernel sum (density) is at most `tolerance`, and the softmax weights a_j of
/// the score and mean shift are those of the exact sum up to a total variation of
/// 2 tolerance. The first radius is the nearest source's t plus the t at which the kernel falls
/// to `tolerance` of its peak, so a query far from every source still gets its nearest mass
/// (never 0/0). Compact kernels (Epanechnikov) are summed exactly over their support, and fall
/// back to the nearest source outside it, like exact_evaluator.
///
/// Trees are built on a copy of the sources and cached by a hash of their content: a fixed
/// target cloud is indexed once per flow, particles (which move) once per step. Building is
/// O(m log m); a query costs O(log m + k) for k sources within its radius.
///
/// Thread-safety: `sums` may be called concurrently; the cache is guarded by a mutex and
/// queries run in parallel with OpenMP when available. Copies share the cache.
struct tree_evaluator {
  double tolerance = 1e-3;         ///< bound on the relative error of each kernel sum
  std::size_t leaf_size = 16;      ///< nanoflann leaf size

  tree_evaluator() = default;
  explicit tree_evaluator(double tol, std::size_t leaf = 16) : tolerance(tol), leaf_size(leaf) {
    if (!(std::isfinite(tol) && tol > 0 && tol < 1))
      detail::fail("gfd::tree_evaluator", "tolerance must be in (0, 1), got ", tol);
    if (leaf == 0) detail::fail("gfd::tree_evaluator", "leaf size must be > 0");
  }

  template <Kernel K, class Scalar, int Dim>
  void sums(const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& queries,
            const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& sources,
            const std::type_identity_t<Eigen::Ref<const vector<Scalar>>>& source_log_weights,
            const K& kernel, Scalar h, const sum_options& opt, kernel_sums<Scalar, Dim>& out) const;

private:
  struct cache_type {
    std::mutex mutex;
    std::vector<std::shared_ptr<void>> entries;  // tree_entry<float> / tree_entry<double>, newest last
  };
  std::shared_ptr<cache_type> cache_ = std::make_shared<cache_type>();

  template <class Scalar, class Ref>
  std::shared_ptr<const detail::tree_entry<Scalar>> tree_for(const Ref& y) const;
};

template <class Scalar, class Ref>
std::shared_ptr<const detail::tree_entry<Scalar>> tree_evaluator::tree_for(const Ref& y) const {
  using entry = detail::tree_entry<Scalar>;
  const std::uint64_t hash = detail::hash_matrix(y);
  std::lock_guard lock(cache_->mutex);
  auto& entries = cache_->entries;
  for (const auto& e : entries) {
    auto typed = std::static_pointer_cast<entry>(e);
    if (typed->hash == hash && typed->points.y.rows() == y.rows() && typed->points.y.cols() == y.cols() &&
        typed->points.y == y)
      return typed;
  }
  auto fresh = std::make_shared<entry>();
  fresh->hash = hash;
  fresh->points.y = y;
  fresh->tree = std::make_unique<detail::kd_tree<Scalar>>(
      static_cast<int>(y.rows()), fresh->points, nanoflann::KDTreeSingleIndexAdaptorParams(leaf_size));
  // Keep the last few trees: targets, particles, and the tree of a second flow or precision.
  if (entries.size() >= 4) entries.erase(entries.begin());
  entries.push_back(std::static_pointer_cast<void>(fresh));
  return fresh;
}

template <Kernel K, class Scalar, int Dim>
void tree_evaluator::sums(
    const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& queries,
    const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& sources,
    const std::type_identity_t<Eigen::Ref<const vector<Scalar>>>& source_log_weights,
    const K& kernel, Scalar h, const sum_options& opt, kernel_sums<Scalar, Dim>& out) const {
  using Index = Eigen::Index;
  using Vec = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  constexpr const char* where = "gfd::tree_evaluator::sums";
  constexpr double neg_inf = -std::numeric_limits<double>::infinity();
  const Index n = queries.cols(), m = sources.cols(), d = queries.rows();
  detail::require_positive(where, "bandwidth", h);
  if (!(tolerance > 0 && tolerance < 1)) detail::fail(where, "tolerance must be in (0, 1), got ", tolerance);
  if (sources.rows() != d) detail::fail(where, "dimension mismatch: queries ", d, ", sources ", sources.rows());
  if (source_log_weights.size() != m) detail::fail(where, source_log_weights.size(), " log-weights for ", m, " sources");
  if (opt.exclude_self && n != m)
    detail::fail(where, "exclude_self needs queries == sources, got ", n, " queries and ", m, " sources");
  out.log_sum.resize(n);
  out.field.resize(d, n);
  if (n == 0) return;
  if (m == 0) detail::fail(where, "no sources");

  const auto entry = tree_for<Scalar>(sources);
  const auto& tree = *entry->tree;
  const double hd = static_cast<double>(h), h2 = hd * hd;
  // Total weight, in the log domain (log-weights need not be normalised).
  const double lw_max = static_cast<double>(source_log_weights.maxCoeff());
  const double log_w_total =
      lw_max + std::log((source_log_weights.template cast<double>().array() - lw_max).exp().sum());
  const double log_tol = std::log(tolerance);
  const double phi0 = static_cast<double>(kernel.log_profile(0.0));
  const double support = kernel.support_radius();
  const bool compact = std::isfinite(support);
  // t at which the kernel has fallen to `tolerance` of its peak (doubling search; the profile is
  // non-increasing).
  auto t_where = [&](double target_log) {
    double hi = 1.0;
    while (static_cast<double>(kernel.log_profile(hi)) > target_log && hi < 1e300) hi *= 2;
    double lo = hi / 2;  // bisect to 1 %: a radius twice too large costs four times the sources
    while (hi - lo > 0.01 * hi)
      (static_cast<double>(kernel.log_profile(0.5 * (lo + hi))) > target_log ? lo : hi) = 0.5 * (lo + hi);
    return hi;
  };
  const double t_tol = compact ? support * support : t_where(phi0 + log_tol);
  // Normalised linear weights, once: the bound needs the included weight of every query.
  const Eigen::VectorXd w_norm = (source_log_weights.template cast<double>().array() - log_w_total).exp().matrix();
  [[maybe_unused]] const bool parallel = n >= 64;

#ifdef _OPENMP
#pragma omp parallel if (parallel)
#endif
  {
    std::vector<std::pair<std::size_t, Scalar>> found;
    std::vector<double> e;  // log-terms, then exp(l_j - max) of the found sources
    Vec x(d), acc(d);
    const detail::tree_search_params params;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 64)
#endif
    for (Index i = 0; i < n; ++i) {
      x = queries.col(i);
      const std::size_t self = opt.exclude_self ? static_cast<std::size_t>(i) : static_cast<std::size_t>(-1);
      // First radius: where the kernel falls to `tolerance` of its peak. A query with no source
      // there looks up its nearest source and starts again from it (far particles).
      detail::nearest_one<Scalar> nn{self};
      bool have_nn = false;
      double T = t_tol, log_s = neg_inf, s = 0;
      for (;;) {
        found.clear();
        // Slightly inflated so round-off never drops a source that is inside T.
        detail::within_radius<Scalar> rs{static_cast<Scalar>(T * h2 * (1 + 1e-12)), &found};
        tree.findNeighbors(rs, x.data(), params);
        // Included sum and weight, max-subtracted; each term's exp is kept for the field.
        e.resize(found.size());
        double mx = neg_inf, w_in = 0;
        for (std::size_t f = 0; f < found.size(); ++f) {
          const auto [j, d2] = found[f];
          e[f] = j == self ? neg_inf
                           : static_cast<double>(source_log_weights(static_cast<Index>(j))) +
                                 static_cast<double>(kernel.log_profile(static_cast<double>(d2) / h2));
          mx = std::max(mx, e[f]);
          if (j != self) w_in += w_norm(static_cast<Index>(j));
        }
        s = 0;
        for (double& v : e) s += (v = std::exp(v - mx));
        log_s = mx == neg_inf ? neg_inf : mx + std::log(s);
        if (log_s == neg_inf && !have_nn) {
          tree.findNeighbors(nn, x.data(), params);
          have_nn = true;
          if (nn.index == static_cast<std::size_t>(-1)) break;  // no source but itself
          if (!compact) {
            T = static_cast<double>(nn.best) / h2 + t_tol;
            continue;
          }
        }
        if (compact || found.size() >= static_cast<std::size_t>(m)) break;  // exact
        // Bound on the neglected part relative to the included sum: W_out k(T) / S_in.
        const double w_out = std::max(0.0, 1.0 - w_in);
        if (w_out <= 0) break;
        const double phi_T = static_cast<double>(kernel.log_profile(T));
        const double log_bound = log_w_total + std::log(w_out) + phi_T - log_s;
        if (log_bound <= log_tol) break;
        // The radius at which the kernel is small enough for this query's included sum.
        T = std::max(1.1 * T, t_where(phi_T - (log_bound - log_tol)));
      }
      if (log_s == neg_inf) {  // outside every support: the nearest source, as exact_evaluator
        out.log_sum(i) = static_cast<Scalar>(neg_inf);
        if (nn.index == static_cast<std::size_t>(-1)) {
          out.field.col(i).setZero();
          continue;
        }
        const auto y = sources.col(static_cast<Index>(nn.index));
        out.field.col(i) = opt.field == field_kind::mean_shift ? Vec(y - x) : Vec((y - x) / (h * h));
        continue;
      }
      // Softmax-weighted field over the included sources, a_j = e_j / s.
      acc.setZero();
      for (std::size_t f = 0; f < found.size(); ++f) {
        if (e[f] == 0) continue;
        const auto [j, d2] = found[f];
        const auto diff = sources.col(static_cast<Index>(j)) - x;  // y - x
        if (opt.field == field_kind::mean_shift)
          acc += static_cast<Scalar>(e[f]) * diff;
        else  // grad log k = 2 phi'(t) (x - y) / h^2
          acc -= static_cast<Scalar>(e[f] * 2 * static_cast<double>(kernel.slope(static_cast<double>(d2) / h2)) / h2) * diff;
      }
      out.log_sum(i) = static_cast<Scalar>(log_s);
      out.field.col(i) = acc / static_cast<Scalar>(s);
    }
  }
}

static_assert(Evaluator<tree_evaluator>);

}  // namespace gfd
