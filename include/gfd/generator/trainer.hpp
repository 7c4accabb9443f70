// SPDX-License-Identifier: MIT
/// @file generator/trainer.hpp
/// @brief Training a one-step generator (Deng et al. 2026, Eq. 6): per-step statistics, the
///        trainer with Adam and the moving average, and train_generator.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <optional>
#include <random>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "../bandwidth.hpp"
#include "../flow/schedule.hpp"
#include "../error.hpp"
#include "../evaluators/exact.hpp"
#include "../kernels.hpp"
#include "../metrics.hpp"
#include "../particles.hpp"
#include "../toy.hpp"
#include "../drifting.hpp"
#include "drift.hpp"
#include "memory_bank.hpp"
#include "model.hpp"
#include "nn.hpp"
#include "options.hpp"

namespace gfd {

/// Samples of a conditional model with the classes of `labels`: column i is of class labels[i]
/// at guidance scale omega (class c's columns come from model.generate(count of c, seed + c, c,
/// omega), in order). O(n P). @throws gfd::invalid_argument as generator_model::generate.
[[nodiscard]] inline Eigen::MatrixXd generate_like(const generator_model& model, const std::vector<int>& labels,
                                                   double omega, std::uint64_t seed) {
  std::vector<Eigen::Index> count(static_cast<std::size_t>(std::max(0, model.classes())), 0);
  for (int c : labels) {
    if (c < 0 || c >= model.classes())
      detail::fail("gfd::generate_like", "label ", c, " is not a class of the model (", model.classes(), " classes)");
    ++count[static_cast<std::size_t>(c)];
  }
  Eigen::MatrixXd out(model.dim(), static_cast<Eigen::Index>(labels.size()));
  std::vector<Eigen::MatrixXd> per(count.size());
  for (std::size_t c = 0; c < count.size(); ++c)
    if (count[c] > 0) per[c] = model.generate(count[c], seed + c, static_cast<int>(c), omega);
  std::vector<Eigen::Index> used(count.size(), 0);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto c = static_cast<std::size_t>(labels[i]);
    out.col(static_cast<Eigen::Index>(i)) = per[c].col(used[c]++);
  }
  return out;
}

/// Statistics of one training step (standardised units).
struct generator_step {
  long step = 0;          ///< 1-based index of the step
  double loss = 0;        ///< Eq. 6: eta^2 mean_i |V_i|^2 (the value of the stop-gradient loss)
  double drift2 = 0;      ///< mean_i |V_i|^2
  double bandwidth = 0;   ///< h of this step
  double lr = 0;          ///< learning rate used
  double grad_norm = 0;   ///< global gradient norm before clipping
};

/// What an observer sees.
struct generator_progress {
  long step = 0, steps = 0;  ///< steps done, steps planned
  double loss = 0;           ///< of the last step
  double drift2 = 0;         ///< mean |V|^2 of the last step (standardised units)
  double sliced_w2 = std::numeric_limits<double>::quiet_NaN();  ///< EMA samples vs hold-out, data
                                                                ///< units (NaN without hold-out)
  double bandwidth = 0;      ///< h of the last step
  double lr = 0;             ///< learning rate of the last step
  double seconds = 0;        ///< wall time since the trainer was built
  const generator_model* model = nullptr;
};

/// The default observer of generator_trainer::run and train_generator: does nothing. (The
/// generator has its own, so that it needs nothing of the particle flow.)
struct no_generator_observer {
  void operator()(const generator_progress&) const noexcept {}
};

/// Where the time of training went (seconds, wall clock).
struct generator_timing {
  double drift = 0;    ///< target batch, bandwidth, drift V (the kernel sums)
  double network = 0;  ///< noise, forward, backward, Adam, EMA
  double monitor = 0;  ///< sliced W2 to the hold-out at observations
};

/// Trains a generator_model against data with a gfd velocity field.
///
/// One step (Deng et al. 2026, Eq. 6 and Alg. 1):
///  1. e ~ N(0, I_k)^B, x = f(e) (standardised units);
///  2. y = M data points drawn uniformly with replacement, h = the bandwidth rule on y (or fixed);
///  3. V = generator_drift(divergence, x, y, h, multipliers);
///  4. loss = eta^2 mean |V|^2; its gradient G = dloss/df = -(2 eta / B) V (the target
///     f + eta V is held fixed: stop-gradient), then the backward pass;
///  5. Adam step with the learning rate lr_t (linear warm-up, then cosine decay to lr lr_final);
///  6. EMA: theta_ema <- beta_t theta_ema + (1 - beta_t) theta with
///     beta_t = min(ema, (1 + t) / (10 + t)) (the usual warm-up of the average).
///
/// Cost per step: the drift, O(B (M + B) d) per kernel pass, plus the network,
/// O(B sum_l n_{l-1} n_l) for the forward and twice that backward. Not thread-safe.
/// @throws gfd::invalid_argument on bad options or data (fewer than 2 points after the hold-out,
///         a non-finite coordinate); gfd::numerical_error from step() when the drift or the
///         network output becomes non-finite (naming the step).
///
/// Conditional training (the constructor with labels): classes are 0..K-1, K = the largest
/// label + 1; the network takes (e, onehot(c), log omega). A step draws G = batch / class_batch
/// groups, each a class c (the label of a uniformly drawn training point, so classes come in
/// proportion to the data) and omega in [cfg_min, cfg_max] (density ~ omega^-cfg_power); pushes
/// target_batch (0 = batch) random training points into the per-class memory bank and the
/// unconditional one; generates class_batch samples per group; and drifts them with
/// grouped_drifting_field (the divergence must be a drifting_field; its options are used):
/// positives drawn from c's bank, negatives the group's own samples (self-masked) and
/// `negatives` unconditional points weighted (class_batch - 1)(omega - 1) / negatives (Deng et
/// al.'s public train.py; grouped_drifting_field derives the guided distribution
/// omega p_c - (omega - 1) p). The rest of the step (loss, Adam, EMA) is as above. The hold-out
/// keeps its labels: sliced W2 compares it with samples of the same classes at omega = 1.
template <Kernel K = laplacian, Evaluator E = exact_evaluator>
class generator_trainer {
public:
  generator_trainer(const Eigen::Ref<const Eigen::MatrixXd>& data, generator_options options = {},
                    K kernel = {}, E evaluator = {})
      : generator_trainer(data, std::vector<int>{}, std::move(options), std::move(kernel), std::move(evaluator)) {}

  /// A conditional trainer: `labels` (one per data column, >= 0) are the classes; empty labels =
  /// the unconditional trainer. @throws gfd::invalid_argument as the other constructor, and on
  /// labels of the wrong count or < 0 or > generator_model::max_classes - 1, or conditional
  /// options out of range.
  generator_trainer(const Eigen::Ref<const Eigen::MatrixXd>& data, const std::vector<int>& labels,
                    generator_options options = {}, K kernel = {}, E evaluator = {})
      : opt_(std::move(options)), kernel_(std::move(kernel)), eval_(std::move(evaluator)),
        rng_(opt_.seed), schedule_(opt_.bandwidth, opt_.steps), start_(std::chrono::steady_clock::now()) {
    constexpr std::string_view where = "gfd::generator_trainer";
    check_options(opt_);
    cloud_view<double>(data).validate(where, "data");
    int classes = 0;
    if (!labels.empty()) {
      if (static_cast<Eigen::Index>(labels.size()) != data.cols())
        detail::fail(where, labels.size(), " labels for ", data.cols(), " data points");
      for (std::size_t i = 0; i < labels.size(); ++i) {
        if (labels[i] < 0 || labels[i] >= generator_model::max_classes)
          detail::fail(where, "label ", i, " must be in [0, ", generator_model::max_classes, "), got ", labels[i]);
        classes = std::max(classes, labels[i] + 1);
      }
      check_conditional_options(opt_);
    }
    if (opt_.holdout >= data.cols() - 1)
      detail::fail(where, "holdout (", opt_.holdout, ") leaves fewer than 2 of the ", data.cols(),
                   " data points for training");
    // Seeded split: a Fisher-Yates shuffle of the columns; the last `holdout` are held out.
    std::vector<Eigen::Index> order(static_cast<std::size_t>(data.cols()));
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<Eigen::Index>(i);
    if (opt_.holdout > 0) {
      std::mt19937_64 split(opt_.seed ^ 0x5851f42d4c957f2dULL);
      for (std::size_t i = order.size() - 1; i > 0; --i)
        std::swap(order[i], order[gfd::uniform_index(split, i + 1)]);
    }
    const Eigen::Index n_train = data.cols() - opt_.holdout;
    Eigen::MatrixXd train(data.rows(), n_train);
    for (Eigen::Index i = 0; i < n_train; ++i) train.col(i) = data.col(order[static_cast<std::size_t>(i)]);
    holdout_.resize(data.rows(), opt_.holdout);
    for (Eigen::Index i = 0; i < opt_.holdout; ++i)
      holdout_.col(i) = data.col(order[static_cast<std::size_t>(n_train + i)]);
    if (classes > 0) {
      for (Eigen::Index i = 0; i < n_train; ++i) labels_.push_back(labels[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])]);
      for (Eigen::Index i = 0; i < opt_.holdout; ++i)
        holdout_labels_.push_back(labels[static_cast<std::size_t>(order[static_cast<std::size_t>(n_train + i)])]);
    }

    auto [mean, scale] = scaling_of(train, opt_.scaling);
    std::vector<int> hidden = opt_.widths;
    if (hidden.empty()) hidden.assign(static_cast<std::size_t>(opt_.depth), opt_.width);
    const int noise_dim = opt_.noise_dim > 0 ? opt_.noise_dim : static_cast<int>(data.rows());
    model_ = generator_model(noise_dim, hidden, std::move(mean), std::move(scale), classes);
    if (classes > 0) {
      model_.set_guidance_range(opt_.cfg_min, opt_.cfg_max);
      positive_bank_.emplace(data.rows(), classes, opt_.positive_bank);
      negative_bank_.emplace(data.rows(), 1, opt_.negative_bank);
    }
    model_.network().initialise(rng_, opt_.init_gain, opt_.output_gain, opt_.input_scale);
    model_.ema() = model_.network();
    data_ = model_.standardise(train);
    adam_ = nn::adam(opt_.beta1, opt_.beta2, opt_.adam_eps);
  }

  [[nodiscard]] const generator_options& options() const noexcept { return opt_; }
  [[nodiscard]] const generator_model& model() const noexcept { return model_; }
  [[nodiscard]] generator_model& model() noexcept { return model_; }
  /// Training data in standardised units (d x N_train).
  [[nodiscard]] const Eigen::MatrixXd& training_data() const noexcept { return data_; }
  /// The held-out points in data units (d x holdout).
  [[nodiscard]] const Eigen::MatrixXd& holdout() const noexcept { return holdout_; }
  [[nodiscard]] long steps_done() const noexcept { return t_; }
  [[nodiscard]] const generator_timing& timing() const noexcept { return timing_; }
  /// Labels of the training data and of the hold-out (empty for an unconditional trainer).
  [[nodiscard]] const std::vector<int>& training_labels() const noexcept { return labels_; }
  [[nodiscard]] const std::vector<int>& holdout_labels() const noexcept { return holdout_labels_; }

  /// Learning rate of step t (1-based): lr min(1, t / warmup) before the warm-up ends, then
  /// lr (lr_final + (1 - lr_final) (1 + cos(pi s)) / 2), s the fraction of the remaining steps.
  [[nodiscard]] double learning_rate(long t) const {
    if (opt_.warmup > 0 && t <= opt_.warmup)
      return opt_.lr * static_cast<double>(t) / static_cast<double>(opt_.warmup);
    const long span = std::max(1L, opt_.steps - opt_.warmup);
    const double s = std::clamp(static_cast<double>(t - opt_.warmup) / static_cast<double>(span), 0.0, 1.0);
    return opt_.lr * (opt_.lr_final + (1.0 - opt_.lr_final) * 0.5 * (1.0 + std::cos(std::numbers::pi * s)));
  }

  /// One training step with `divergence` (see the class comment). Steps past options().steps
  /// are allowed and keep the final learning rate.
  template <class D>
  generator_step step(const D& divergence) {
    if (model_.conditional()) {
      if constexpr (std::is_base_of_v<drifting_field, D>) {
        return conditional_step(divergence.options());
      } else {
        detail::fail("gfd::generator_trainer::step", "conditional training uses Deng et al.'s grouped field with "
                     "weighted negatives: give a drifting field (e.g. gfd::deng_drifting_field), got '",
                     divergence.name(), "'");
      }
    }
    using clock = std::chrono::steady_clock;
    const Eigen::Index batch = opt_.batch;
    const Eigen::Index m = opt_.target_batch > 0 ? opt_.target_batch : batch;
    const long t = ++t_;
    auto t0 = clock::now();
    gfd::normal_source normal(rng_);
    noise_.resize(model_.noise_dim(), batch);
    for (Eigen::Index i = 0; i < noise_.size(); ++i) noise_.data()[i] = normal();
    const Eigen::MatrixXd& x = model_.network().forward(noise_, ws_);
    if (!x.allFinite())
      throw numerical_error(detail::message("gfd::generator_trainer::step", "network output is not finite at step ", t));
    auto t1 = clock::now();

    y_.resize(data_.rows(), m);
    const auto n_data = static_cast<std::uint64_t>(data_.cols());
    for (Eigen::Index j = 0; j < m; ++j)
      y_.col(j) = data_.col(static_cast<Eigen::Index>(gfd::uniform_index(rng_, n_data)));
    // The schedule's targets are the step's data batch, its particles the generated batch.
    if (t == 1) schedule_.start(cloud_view<double>(y_), x);
    const double h = schedule_.at(t - 1, cloud_view<double>(y_), x);
    v_ = opt_.float_drift
             ? generator_drift_in<float>(divergence, x, y_, h, opt_.bandwidth.multipliers, kernel_, eval_)
             : generator_drift_in<double>(divergence, x, y_, h, opt_.bandwidth.multipliers, kernel_, eval_);
    if (!v_.allFinite())
      throw numerical_error(detail::message("gfd::generator_trainer::step", "drift is not finite at step ", t,
                                            " (bandwidth ", h, ")"));
    auto t2 = clock::now();

    return finish_step(t, h, batch, t0, t1, t2);
  }

  /// Sliced W2 (data units) between holdout().cols() EMA samples (fixed seed, so successive
  /// values are comparable) and the hold-out; NaN without hold-out. O(n P + projections n log n).
  [[nodiscard]] double holdout_sliced_w2() const {
    if (holdout_.cols() < 1) return std::numeric_limits<double>::quiet_NaN();
    const std::uint64_t seed = opt_.seed ^ 0x9e3779b97f4a7c15ULL;
    const Eigen::MatrixXd x = model_.conditional() ? generate_like(model_, holdout_labels_, 1.0, seed)
                                                   : model_.generate(holdout_.cols(), seed);
    return sliced_wasserstein2(x, holdout_, opt_.sw2_projections, opt_.seed);
  }

  /// Runs options().steps - steps_done() steps, calling `observer(const generator_progress&)`
  /// every observe_every steps and after the last; an observer returning false stops the run.
  /// Returns the number of steps taken by this call.
  template <class D, class Observer = no_generator_observer>
  long run(const D& divergence, Observer&& observer = {}) {
    using progress_result = std::invoke_result_t<Observer, const generator_progress&>;
    static_assert(std::is_void_v<progress_result> || std::is_convertible_v<progress_result, bool>,
                  "an observer takes const gfd::generator_progress& and returns void or bool");
    long taken = 0;
    while (t_ < opt_.steps) {
      const generator_step st = step(divergence);
      ++taken;
      const bool last = t_ == opt_.steps;
      if (!(last || (opt_.observe_every > 0 && t_ % opt_.observe_every == 0))) continue;
      generator_progress p;
      p.step = t_;
      p.steps = opt_.steps;
      p.loss = st.loss;
      p.drift2 = st.drift2;
      p.bandwidth = st.bandwidth;
      p.lr = st.lr;
      const auto m0 = std::chrono::steady_clock::now();
      p.sliced_w2 = holdout_sliced_w2();
      timing_.monitor += std::chrono::duration<double>(std::chrono::steady_clock::now() - m0).count();
      p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      p.model = &model_;
      if constexpr (std::is_void_v<progress_result>) {
        observer(std::as_const(p));
      } else {
        if (!static_cast<bool>(observer(std::as_const(p)))) break;
      }
    }
    return taken;
  }

private:
  // Steps 4-6 of the class comment, the same for both trainers: v_ holds V of the forward pass
  // in ws_; t0..t2 the clock at the start, after the forward pass and after the drift.
  generator_step finish_step(long t, double h, Eigen::Index batch, std::chrono::steady_clock::time_point t0,
                             std::chrono::steady_clock::time_point t1, std::chrono::steady_clock::time_point t2) {
    using clock = std::chrono::steady_clock;
    generator_step st;
    st.step = t;
    st.bandwidth = h;
    st.drift2 = v_.squaredNorm() / static_cast<double>(batch);
    st.loss = opt_.eta * opt_.eta * st.drift2;
    // d/df of (1/B) sum |f - stopgrad(f + eta V)|^2 = (2/B)(f - (f + eta V)) = -(2 eta / B) V.
    v_ *= -2.0 * opt_.eta / static_cast<double>(batch);
    model_.network().backward(ws_, v_, grad_);
    st.grad_norm = grad_.norm();
    if (!std::isfinite(st.grad_norm))
      throw numerical_error(detail::message("gfd::generator_trainer::step", "gradient is not finite at step ", t));
    if (opt_.grad_clip > 0 && st.grad_norm > opt_.grad_clip) grad_ *= opt_.grad_clip / st.grad_norm;
    st.lr = learning_rate(t);
    adam_.step(model_.network().parameters(), grad_, st.lr);
    const double beta = std::min(opt_.ema, (1.0 + static_cast<double>(t)) / (10.0 + static_cast<double>(t)));
    model_.ema().parameters() = beta * model_.ema().parameters() + (1.0 - beta) * model_.network().parameters();
    model_.set_steps_trained(model_.steps_trained() + 1);
    auto t3 = clock::now();
    timing_.network += std::chrono::duration<double>((t1 - t0) + (t3 - t2)).count();
    timing_.drift += std::chrono::duration<double>(t2 - t1).count();
    return st;
  }

  // One conditional step (the class comment's "Conditional training").
  generator_step conditional_step(const drifting_options& field) {
    using clock = std::chrono::steady_clock;
    constexpr std::string_view where = "gfd::generator_trainer::step";
    const Eigen::Index cg = opt_.class_batch, groups = opt_.batch / cg, batch = groups * cg;
    const Eigen::Index m = opt_.target_batch > 0 ? opt_.target_batch : opt_.batch;
    const Eigen::Index d = data_.rows(), k = model_.noise_dim();
    const long t = ++t_;
    auto t0 = clock::now();
    const auto n_data = static_cast<std::uint64_t>(data_.cols());
    // The data batch goes into the banks; the groups' classes are those of random data points.
    for (Eigen::Index j = 0; j < m; ++j) {
      const auto i = static_cast<Eigen::Index>(gfd::uniform_index(rng_, n_data));
      positive_bank_->push(data_.col(i), labels_[static_cast<std::size_t>(i)]);
      negative_bank_->push(data_.col(i), 0);
    }
    group_class_.resize(static_cast<std::size_t>(groups));
    group_omega_.resize(static_cast<std::size_t>(groups));
    for (Eigen::Index b = 0; b < groups; ++b) {
      group_class_[static_cast<std::size_t>(b)] =
          labels_[static_cast<std::size_t>(gfd::uniform_index(rng_, n_data))];
      group_omega_[static_cast<std::size_t>(b)] = draw_omega();
    }
    // Network input (e, onehot(c), log omega) per group.
    gfd::normal_source normal(rng_);
    noise_ = Eigen::MatrixXd::Zero(k + model_.condition_dim(), batch);
    for (Eigen::Index b = 0; b < groups; ++b)
      for (Eigen::Index i = b * cg; i < (b + 1) * cg; ++i) {
        for (Eigen::Index r = 0; r < k; ++r) noise_(r, i) = normal();
        noise_(k + group_class_[static_cast<std::size_t>(b)], i) = 1.0;
        noise_(noise_.rows() - 1, i) = std::log(group_omega_[static_cast<std::size_t>(b)]);
      }
    const Eigen::MatrixXd& x = model_.network().forward(noise_, ws_);
    if (!x.allFinite())
      throw numerical_error(detail::message(where, "network output is not finite at step ", t));
    auto t1 = clock::now();
    groups_.groups = groups;
    groups_.generated = x;
    groups_.positives.resize(d, groups * opt_.positives);
    groups_.negatives.resize(d, groups * opt_.negatives);
    groups_.negative_weights.resize(groups * opt_.negatives);
    for (Eigen::Index b = 0; b < groups; ++b) {
      positive_bank_->sample(group_class_[static_cast<std::size_t>(b)], opt_.positives, rng_, groups_.positives,
                             b * opt_.positives);
      if (opt_.negatives > 0) {
        negative_bank_->sample(0, opt_.negatives, rng_, groups_.negatives, b * opt_.negatives);
        const double w = static_cast<double>(cg - 1) * (group_omega_[static_cast<std::size_t>(b)] - 1.0) /
                         static_cast<double>(opt_.negatives);
        groups_.negative_weights.segment(b * opt_.negatives, opt_.negatives).setConstant(w);
      }
    }
    v_ = grouped_drifting_field(groups_, field, kernel_);
    if (!v_.allFinite()) throw numerical_error(detail::message(where, "drift is not finite at step ", t));
    auto t2 = clock::now();
    return finish_step(t, std::numeric_limits<double>::quiet_NaN(), batch, t0, t1, t2);
  }

  // omega in [cfg_min, cfg_max] with density ~ omega^-cfg_power, by inversion (Deng et al.'s
  // train.py: log-uniform for power 1, else (lo^q + u (hi^q - lo^q))^(1/q), q = 1 - power).
  double draw_omega() {
    const double lo = opt_.cfg_min, hi = opt_.cfg_max, u = gfd::uniform01(rng_);
    if (lo == hi) return lo;
    const double q = 1.0 - opt_.cfg_power;
    if (std::abs(q) < 1e-12) return std::exp(std::log(lo) + u * (std::log(hi) - std::log(lo)));
    return std::pow(std::pow(lo, q) + u * (std::pow(hi, q) - std::pow(lo, q)), 1.0 / q);
  }

  static void check_options(const generator_options& o) {
    constexpr std::string_view where = "gfd::generator_trainer";
    if (o.noise_dim < 0 || o.noise_dim > nn::mlp::max_width)
      detail::fail(where, "noise_dim must be in [0, ", nn::mlp::max_width, "] (0 = the data dimension), got ",
                   o.noise_dim);
    if (o.widths.empty()) {
      if (o.depth < 0 || o.depth > 255) detail::fail(where, "depth must be in [0, 255], got ", o.depth);
      if (o.depth > 0 && (o.width < 1 || o.width > nn::mlp::max_width))
        detail::fail(where, "width must be in [1, ", nn::mlp::max_width, "], got ", o.width);
    }
    if (o.batch < 2) detail::fail(where, "batch must be >= 2, got ", o.batch);
    if (o.target_batch < 0 || o.target_batch == 1)
      detail::fail(where, "target_batch must be 0 (= batch) or >= 2, got ", o.target_batch);
    if (o.steps < 0) detail::fail(where, "steps must be >= 0, got ", o.steps);
    if (o.warmup < 0) detail::fail(where, "warmup must be >= 0, got ", o.warmup);
    // Adam moves each parameter by about lr per step: beyond 1 the network leaves every sane
    // range within a step or two and fails later with a non-finite output.
    if (!(o.lr > 0 && o.lr <= 1))
      detail::fail(where, "lr must be in (0, 1] (Adam moves each parameter by about lr per step), got ",
                   detail::short_number(o.lr));
    if (!(o.lr_final >= 0 && o.lr_final <= 1)) detail::fail(where, "lr_final must be in [0, 1], got ", o.lr_final);
    if (!(o.beta1 >= 0 && o.beta1 < 1)) detail::fail(where, "beta1 must be in [0, 1), got ", o.beta1);
    if (!(o.beta2 >= 0 && o.beta2 < 1)) detail::fail(where, "beta2 must be in [0, 1), got ", o.beta2);
    detail::require_positive(where, "adam_eps", o.adam_eps);
    // A finite, non-negative knob whose 0 switches something off.
    const auto require_finite_nonnegative = [&](std::string_view name, double v, std::string_view zero_means) {
      if (!(v >= 0) || std::isinf(v))
        detail::fail(where, name, " must be finite and >= 0 (0 = ", zero_means, "), got ", v);
    };
    require_finite_nonnegative("grad_clip", o.grad_clip, "off");
    // The loss is eta^2 |V|^2: up to 1e6 it and its gradient stay far from overflow.
    if (!(o.eta > 0 && o.eta <= 1e6))
      detail::fail(where, "eta must be in (0, 1e6] (the loss is eta^2 |V|^2), got ", detail::short_number(o.eta));
    if (!(o.ema >= 0 && o.ema < 1)) detail::fail(where, "ema must be in [0, 1), got ", o.ema);
    detail::require_positive(where, "init_gain", o.init_gain);
    detail::require_positive(where, "output_gain", o.output_gain);
    require_finite_nonnegative("input_scale", o.input_scale, "LeCun with zero biases");
    if (o.holdout < 0) detail::fail(where, "holdout must be >= 0, got ", o.holdout);
    if (o.sw2_projections < 1) detail::fail(where, "sw2_projections must be >= 1, got ", o.sw2_projections);
    if (o.observe_every < 0) detail::fail(where, "observe_every must be >= 0, got ", o.observe_every);
    o.bandwidth.validate(where);
  }

  static void check_conditional_options(const generator_options& o) {
    constexpr std::string_view where = "gfd::generator_trainer";
    if (o.class_batch < 2 || o.class_batch > o.batch)
      detail::fail(where, "class_batch must be in [2, batch = ", o.batch, "], got ", o.class_batch);
    if (o.positives < 1) detail::fail(where, "positives must be >= 1, got ", o.positives);
    if (o.negatives < 0) detail::fail(where, "negatives must be >= 0, got ", o.negatives);
    if (o.positive_bank < 1) detail::fail(where, "positive_bank must be >= 1, got ", o.positive_bank);
    if (o.negative_bank < 1) detail::fail(where, "negative_bank must be >= 1, got ", o.negative_bank);
    if (!(o.cfg_min >= 1 && o.cfg_min <= o.cfg_max && std::isfinite(o.cfg_max)))
      detail::fail(where, "need 1 <= cfg_min <= cfg_max, finite, got ", o.cfg_min, " and ", o.cfg_max);
    if (!std::isfinite(o.cfg_power)) detail::fail(where, "cfg_power must be finite, got ", o.cfg_power);
    if (o.negatives == 0 && o.cfg_max > 1)
      detail::fail(where, "guidance (cfg_max = ", o.cfg_max, ") needs negatives > 0");
  }

  static std::pair<Eigen::VectorXd, Eigen::VectorXd> scaling_of(const Eigen::MatrixXd& x, data_scaling s) {
    const Eigen::Index d = x.rows();
    if (s == data_scaling::none) return {Eigen::VectorXd::Zero(d), Eigen::VectorXd::Ones(d)};
    const Eigen::VectorXd mean = x.rowwise().mean();
    Eigen::VectorXd sd =
        ((x.colwise() - mean).array().square().rowwise().sum() / static_cast<double>(x.cols())).sqrt().matrix();
    if (s == data_scaling::pooled) sd.setConstant(std::sqrt(sd.squaredNorm() / static_cast<double>(d)));
    // A constant coordinate (or round-off spread) is left unscaled rather than divided by ~0.
    const double tiny = 1e-12 * (1.0 + x.cwiseAbs().maxCoeff());
    for (Eigen::Index k = 0; k < d; ++k)
      if (!(sd(k) > tiny)) sd(k) = 1.0;
    return {mean, sd};
  }

  generator_options opt_;
  K kernel_;
  E eval_;
  std::mt19937_64 rng_;
  bandwidth_scheduler schedule_;
  std::chrono::steady_clock::time_point start_;
  generator_model model_;
  Eigen::MatrixXd data_, holdout_;
  nn::adam adam_;
  long t_ = 0;
  generator_timing timing_;
  // Per-step buffers, reused.
  nn::mlp_workspace ws_;
  Eigen::MatrixXd noise_, y_, v_;
  Eigen::VectorXd grad_;
  // Conditional training.
  std::vector<int> labels_, holdout_labels_;
  std::optional<class_memory_bank> positive_bank_, negative_bank_;
  drift_groups groups_;
  std::vector<int> group_class_;
  std::vector<double> group_omega_;
};

/// Trains a one-step generator on `data` (d x N, one point per column, data units) with the
/// drift of `divergence` and the kernel K, and returns the model; see generator_trainer for the
/// step and generator_options for the knobs. The default is the paper's own field
/// (deng_drifting_field with gfd::laplacian). `observer(const generator_progress&)` is called
/// every options.observe_every steps and after the last (return false to stop early).
///
/// Examples:
///
///     auto model = gfd::train_generator(data);                    // Deng et al.'s field
///     Eigen::MatrixXd samples = model.generate(10000, 1);         // 10000 new samples
///     // The KL(q||p) flow's drift h^2 (s_p - s_q) with a Gaussian kernel and a fixed h:
///     gfd::generator_options o;
///     o.bandwidth = gfd::bandwidth_schedule::fixed(0.3);
///     auto kl_model = gfd::train_generator<gfd::gaussian>(data, o, gfd::kl());
///
/// Cost: options.steps training steps (generator_trainer). Thread-safety: reentrant.
/// @throws as generator_trainer.
template <Kernel K = laplacian, class D = deng_drifting_field, class Observer = no_generator_observer,
          Evaluator E = exact_evaluator>
[[nodiscard]] generator_model train_generator(const Eigen::Ref<const Eigen::MatrixXd>& data,
                                              const generator_options& options = {},
                                              const D& divergence = {}, Observer&& observer = {},
                                              K kernel = {}, E evaluator = {}) {
  generator_trainer<K, E> trainer(data, options, std::move(kernel), std::move(evaluator));
  trainer.run(divergence, std::forward<Observer>(observer));
  return trainer.model();
}

}  // namespace gfd
