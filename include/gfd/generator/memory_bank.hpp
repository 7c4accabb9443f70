// SPDX-License-Identifier: MIT
/// @file generator/memory_bank.hpp
/// @brief A per-class memory bank (ring buffer) of data points, as in Deng et al.'s public
///        training code (memory_bank.py): data batches are pushed in, positives and
///        unconditional negatives are drawn from it.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "../error.hpp"
#include "../random.hpp"

namespace gfd {

/// Per-class ring buffers of d-dimensional points, `capacity` per class: push() overwrites a
/// class's oldest point once its buffer is full; sample() draws uniformly from what a class
/// holds, without replacement when it holds at least n points, else with replacement (as the
/// public code's np.random.choice(valid, n, replace=valid < n)). A bank with one class is the
/// unconditional bank of CFG negatives.
///
/// Memory O(classes capacity d), allocated up front. Not thread-safe.
class class_memory_bank {
public:
  /// @throws gfd::invalid_argument unless dim, classes and capacity are >= 1 and
  ///         classes x capacity x dim fits in 2^31 doubles.
  class_memory_bank(Eigen::Index dim, int classes, Eigen::Index capacity)
      : store_(dim, check(dim, classes, capacity)), count_(static_cast<std::size_t>(classes), 0),
        next_(static_cast<std::size_t>(classes), 0), capacity_(capacity) {}

  [[nodiscard]] int classes() const noexcept { return static_cast<int>(count_.size()); }
  [[nodiscard]] Eigen::Index capacity() const noexcept { return capacity_; }
  /// Points class c holds now (<= capacity()).
  [[nodiscard]] Eigen::Index size(int c) const { return count_.at(static_cast<std::size_t>(c)); }

  /// Pushes point x (d) into class c's buffer. @throws gfd::invalid_argument on a bad class or
  /// dimension.
  void push(const Eigen::Ref<const Eigen::VectorXd>& x, int c) {
    constexpr std::string_view where = "gfd::class_memory_bank::push";
    if (c < 0 || c >= classes()) detail::fail(where, "class must be in [0, ", classes(), "), got ", c);
    if (x.size() != store_.rows()) detail::fail(where, "point has dimension ", x.size(), ", the bank ", store_.rows());
    const auto k = static_cast<std::size_t>(c);
    store_.col(c * capacity_ + next_[k]) = x;
    next_[k] = (next_[k] + 1) % capacity_;
    if (count_[k] < capacity_) ++count_[k];
  }

  /// Writes n points of class c into out.middleCols(col, n). @throws gfd::invalid_argument on a
  /// bad class, an empty class, or an `out` of the wrong shape.
  void sample(int c, Eigen::Index n, rng_engine& rng, Eigen::MatrixXd& out, Eigen::Index col) const {
    constexpr std::string_view where = "gfd::class_memory_bank::sample";
    if (c < 0 || c >= classes()) detail::fail(where, "class must be in [0, ", classes(), "), got ", c);
    const Eigen::Index have = count_[static_cast<std::size_t>(c)];
    if (have == 0) detail::fail(where, "class ", c, " holds no points yet");
    if (out.rows() != store_.rows() || col < 0 || col + n > out.cols())
      detail::fail(where, "output of ", out.rows(), " x ", out.cols(), " cannot take ", n, " points at column ", col);
    const Eigen::Index base = c * capacity_;
    if (have >= n) {
      // Partial Fisher-Yates over the class's slots: n distinct points.
      pick_.resize(static_cast<std::size_t>(have));
      for (Eigen::Index i = 0; i < have; ++i) pick_[static_cast<std::size_t>(i)] = i;
      for (Eigen::Index i = 0; i < n; ++i) {
        const auto j = i + static_cast<Eigen::Index>(gfd::uniform_index(rng, static_cast<std::uint64_t>(have - i)));
        std::swap(pick_[static_cast<std::size_t>(i)], pick_[static_cast<std::size_t>(j)]);
        out.col(col + i) = store_.col(base + pick_[static_cast<std::size_t>(i)]);
      }
    } else {
      for (Eigen::Index i = 0; i < n; ++i)
        out.col(col + i) = store_.col(base + static_cast<Eigen::Index>(gfd::uniform_index(rng, static_cast<std::uint64_t>(have))));
    }
  }

private:
  static Eigen::Index check(Eigen::Index dim, int classes, Eigen::Index capacity) {
    constexpr std::string_view where = "gfd::class_memory_bank";
    if (dim < 1) detail::fail(where, "dimension must be >= 1, got ", dim);
    if (classes < 1) detail::fail(where, "classes must be >= 1, got ", classes);
    if (capacity < 1) detail::fail(where, "capacity must be >= 1, got ", capacity);
    if (static_cast<double>(classes) * static_cast<double>(capacity) * static_cast<double>(dim) > 2147483648.0)
      detail::fail(where, classes, " classes x ", capacity, " points x dimension ", dim, " is too large");
    return static_cast<Eigen::Index>(classes) * capacity;
  }

  Eigen::MatrixXd store_;  // d x (classes capacity), class c in columns [c capacity, (c + 1) capacity)
  std::vector<Eigen::Index> count_, next_;
  Eigen::Index capacity_;
  mutable std::vector<Eigen::Index> pick_;
};

}  // namespace gfd
