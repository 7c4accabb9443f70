// SPDX-License-Identifier: MIT
/// @file generator/model.hpp
/// @brief The one-step generator model: network, moving average and data scaling; sampling.
///
/// Part of the generator module (target gfd::generator, umbrella <gfd/generator.hpp>). The file
/// format of the model (to_bytes, from_bytes, save_generator, load_generator) is in
/// generator/model_file.hpp, included at the end of this header.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "../toy.hpp"
#include "nn.hpp"

namespace gfd {

/// How training data are standardised before the network and the drift see them.
enum class data_scaling {
  none,            ///< mean 0, scale 1: the data as given
  pooled,          ///< subtract the mean, divide every coordinate by one pooled standard
                   ///< deviation sqrt(mean_k var_k): shapes (angles, distance ratios) are kept
  per_coordinate,  ///< subtract the mean, divide coordinate k by its standard deviation
};

/// A trained one-step generator: x = mean + scale .* f_ema(e), e ~ N(0, I_k); a conditional
/// one (classes() = K > 0) takes the class c and the guidance scale omega as inputs too,
/// x = mean + scale .* f_ema(e, onehot(c), log omega) (a one-hot input to the first layer is a
/// learned class embedding added to its pre-activation).
///
/// Holds the network being trained (`network()`), its exponential moving average used for
/// sampling (`ema()`), and the data scaling. Cheap to copy (a few vectors).
///
/// File format (save_generator / load_generator; all integers unsigned little-endian, all reals
/// IEEE-754 binary64 little-endian, so a file is exact and portable). Version 1 is an
/// unconditional model; version 2 (written only for a conditional model, so that unconditional
/// files stay readable by every build) adds the rows marked 2:
///
/// | offset | type      | field                                                              |
/// |--------|-----------|--------------------------------------------------------------------|
/// | 0      | u8[8]     | magic 89 47 46 44 47 45 4E 0A ("\x89GFDGEN\n")                      |
/// | 8      | u32       | format version, 1 or 2                                              |
/// | 12     | u32       | activation of the hidden layers, 1 = SiLU (output layer linear)     |
/// | 16     | u32       | noise distribution, 1 = standard normal N(0, I_k)                   |
/// | 20     | u32       | d, data dimension = network output, in [1, 2^20]                    |
/// | 24     | u32       | k, noise dimension, in [1, 2^20]                                    |
/// | 2: 28  | u32       | K, number of classes, in [1, 2^16]                                  |
/// | 2: 32  | u32       | conditioning code, 1 = input (e, onehot(c), log omega)              |
/// | 2: 36  | f64[2]    | guidance scales seen in training, omega_min <= omega_max            |
/// |        | u32       | H, number of hidden layers, in [0, 255]                             |
/// |        | u32[H]    | hidden widths, each in [1, 2^20]                                    |
/// |        | u64       | P, number of parameters = sum_l (n_{l-1} + 1) n_l, n = (input,      |
/// |        |           | widths, d), input = k (version 1) or k + K + 1 (version 2)          |
/// |        | u64       | training steps done                                                 |
/// |        | f64[d]    | data mean                                                           |
/// |        | f64[d]    | data scale (> 0)                                                    |
/// |        | f64[P]    | parameters, layer by layer: W_l column-major (n_l x n_{l-1}), b_l   |
/// |        | f64[P]    | EMA parameters, same layout                                         |
/// |        | u64       | FNV-1a 64-bit hash of every preceding byte                          |
///
/// Readers check every size against its bound and against the bytes left *before* allocating,
/// then the hash, and reject trailing bytes, so a truncated, corrupt or foreign file is a
/// gfd::invalid_argument naming the file and what is wrong, never a crash or a huge allocation.
class generator_model {
public:
  /// The newest format version this build writes and reads (it reads 1 and 2).
  static constexpr std::uint32_t format_version = 2;
  /// The largest number of classes of a conditional model.
  static constexpr int max_classes = 1 << 16;
  /// The 8 magic bytes that open a generator file.
  static constexpr std::string_view magic{"\x89GFDGEN\n", 8};

  generator_model() = default;

  /// A fresh model: network with sizes (noise_dim + condition, hidden..., mean.size()), zero
  /// parameters, EMA equal to them; `classes` > 0 makes it conditional (condition = classes + 1
  /// inputs: the one-hot class and log omega). @throws gfd::invalid_argument on a bad
  /// architecture, a mean and a scale of different sizes, a non-finite mean, a scale that is not
  /// finite and > 0, or classes outside [0, max_classes].
  generator_model(int noise_dim, const std::vector<int>& hidden, Eigen::VectorXd mean,
                  Eigen::VectorXd scale, int classes = 0)
      : mean_(std::move(mean)), scale_(std::move(scale)), classes_(classes) {
    constexpr std::string_view where = "gfd::generator_model";
    if (mean_.size() < 1 || mean_.size() > nn::mlp::max_width)
      detail::fail(where, "data dimension must be in [1, ", nn::mlp::max_width, "], got ", mean_.size());
    if (scale_.size() != mean_.size())
      detail::fail(where, "scale has ", scale_.size(), " entries for dimension ", mean_.size());
    for (Eigen::Index k = 0; k < mean_.size(); ++k) {
      if (!std::isfinite(mean_(k))) detail::fail(where, "mean ", k, " is not finite: ", mean_(k));
      detail::require_positive(where, "scale", scale_(k));
    }
    if (classes < 0 || classes > max_classes)
      detail::fail(where, "classes must be in [0, ", max_classes, "] (0 = unconditional), got ", classes);
    if (noise_dim < 1 || noise_dim > nn::mlp::max_width)
      detail::fail(where, "noise dimension must be in [1, ", nn::mlp::max_width, "], got ", noise_dim);
    std::vector<int> sizes{noise_dim + condition_dim()};
    sizes.insert(sizes.end(), hidden.begin(), hidden.end());
    sizes.push_back(static_cast<int>(mean_.size()));
    net_ = nn::mlp(std::move(sizes));
    ema_ = net_;
  }

  [[nodiscard]] int dim() const noexcept { return net_.output_dim(); }
  /// k, the dimension of the noise (the network's input without the condition).
  [[nodiscard]] int noise_dim() const noexcept { return net_.input_dim() - condition_dim(); }
  /// K, the number of classes of a conditional model; 0 = unconditional.
  [[nodiscard]] int classes() const noexcept { return classes_; }
  [[nodiscard]] bool conditional() const noexcept { return classes_ > 0; }
  /// Inputs after the noise: K + 1 (one-hot class, log omega) for a conditional model, else 0.
  [[nodiscard]] int condition_dim() const noexcept { return classes_ > 0 ? classes_ + 1 : 0; }
  /// The guidance scales the model was trained on (conditional models; {1, 1} otherwise).
  [[nodiscard]] std::pair<double, double> guidance_range() const noexcept { return guidance_; }
  /// Records the guidance scales of training. @throws gfd::invalid_argument unless
  /// 0 < lo <= hi, both finite.
  void set_guidance_range(double lo, double hi) {
    if (!(lo > 0 && lo <= hi && std::isfinite(hi)))
      detail::fail("gfd::generator_model::set_guidance_range", "need 0 < omega_min <= omega_max, got ", lo,
                   " and ", hi);
    guidance_ = {lo, hi};
  }
  /// Hidden widths (the architecture between noise and output).
  [[nodiscard]] std::vector<int> hidden() const {
    const auto& s = net_.sizes();
    return s.size() < 2 ? std::vector<int>{} : std::vector<int>(s.begin() + 1, s.end() - 1);
  }
  [[nodiscard]] const Eigen::VectorXd& mean() const noexcept { return mean_; }
  [[nodiscard]] const Eigen::VectorXd& scale() const noexcept { return scale_; }
  [[nodiscard]] long steps_trained() const noexcept { return steps_; }
  void set_steps_trained(long s) noexcept { steps_ = s; }
  /// The network being trained and its moving average (the one generate() uses).
  [[nodiscard]] const nn::mlp& network() const noexcept { return net_; }
  [[nodiscard]] nn::mlp& network() noexcept { return net_; }
  [[nodiscard]] const nn::mlp& ema() const noexcept { return ema_; }
  [[nodiscard]] nn::mlp& ema() noexcept { return ema_; }

  /// Data units -> standardised units: (x - mean) ./ scale. d x n -> d x n.
  [[nodiscard]] Eigen::MatrixXd standardise(const Eigen::Ref<const Eigen::MatrixXd>& x) const {
    return ((x.colwise() - mean_).array().colwise() / scale_.array()).matrix();
  }
  /// Standardised units -> data units: mean + scale .* z.
  [[nodiscard]] Eigen::MatrixXd unstandardise(const Eigen::Ref<const Eigen::MatrixXd>& z) const {
    return ((z.array().colwise() * scale_.array()).colwise() + mean_.array()).matrix();
  }

  /// n samples in data units (d x n): mean + scale .* f(e_i), e_i ~ N(0, I_k) drawn from
  /// gfd::rng_engine(seed) with gfd's portable Box-Muller (random.hpp), one noise vector per column
  /// in order, so a seed gives the same noise on every platform and the same samples for the
  /// same n (bit for bit, for a given build); the first m columns of generate(n, s) equal
  /// generate(m, s) up to round-off (matrix products of different widths may round
  /// differently). `use_ema` = false samples the raw trained network.
  /// O(n P) time, O(n d + 4096 max width) memory.
  /// @throws gfd::invalid_argument if n < 0, the model is empty or conditional (give a class).
  [[nodiscard]] Eigen::MatrixXd generate(Eigen::Index n, std::uint64_t seed,
                                         bool use_ema = true) const {
    if (conditional())
      detail::fail("gfd::generator_model::generate", "the model is conditional (", classes_,
                   " classes): give a class and a guidance scale");
    return sample(n, seed, -1, 1.0, use_ema, "gfd::generator_model::generate");
  }

  /// n samples of class `cls` at guidance scale `omega` (omega = 1: the class's distribution;
  /// omega > 1: classifier-free guidance, omega p_c - (omega - 1) p). The same noise as
  /// generate(n, seed) (same seed, same e_i). Scales outside guidance_range() are allowed (the
  /// network then extrapolates). @throws gfd::invalid_argument if the model is unconditional,
  /// cls is not in [0, classes()), omega is not finite and > 0, or n < 0.
  [[nodiscard]] Eigen::MatrixXd generate(Eigen::Index n, std::uint64_t seed, int cls, double omega,
                                         bool use_ema = true) const {
    constexpr std::string_view where = "gfd::generator_model::generate";
    check_condition(where, cls, omega);
    return sample(n, seed, cls, omega, use_ema, where);
  }

  /// Samples for given noise (k x n) in data units; a conditional model needs cls and omega.
  /// @throws gfd::invalid_argument if noise does not have noise_dim() rows or the condition is
  ///         missing or bad.
  [[nodiscard]] Eigen::MatrixXd generate_from_noise(const Eigen::Ref<const Eigen::MatrixXd>& noise,
                                                    bool use_ema = true, int cls = -1,
                                                    double omega = 1.0) const {
    constexpr std::string_view where = "gfd::generator_model::generate_from_noise";
    if (noise.rows() != noise_dim() || dim() == 0)
      detail::fail(where, "noise has ", noise.rows(), " rows, the model's noise dimension is ", noise_dim());
    if (conditional()) check_condition(where, cls, omega);
    return unstandardise((use_ema ? ema_ : net_).evaluate(with_condition(noise, cls, omega)));
  }

  /// The network's input for noise e (k x n): e itself, or for a conditional model e stacked
  /// over onehot(cls) and log(omega) ((k + K + 1) x n). No checks (the trainer's hot path).
  [[nodiscard]] Eigen::MatrixXd with_condition(const Eigen::Ref<const Eigen::MatrixXd>& noise, int cls,
                                               double omega) const {
    if (!conditional()) return noise;
    Eigen::MatrixXd in = Eigen::MatrixXd::Zero(noise.rows() + condition_dim(), noise.cols());
    in.topRows(noise.rows()) = noise;
    in.row(noise.rows() + cls).setOnes();
    in.row(in.rows() - 1).setConstant(std::log(omega));
    return in;
  }

  /// The model in the file format above (in memory). O(P).
  [[nodiscard]] std::string to_bytes() const;
  /// Parses the file format; `name` (the file name) is quoted in error messages.
  /// @throws gfd::invalid_argument naming `where`, `name` and the fault (bad magic, unsupported
  ///         version or activation, truncation with the offset and field, a size out of range, a
  ///         parameter count that does not match the architecture, a non-finite value, a bad
  ///         hash, trailing bytes).
  [[nodiscard]] static generator_model from_bytes(std::string_view bytes, std::string_view name,
                                                  std::string_view where = "gfd::generator_model::from_bytes");

private:
  void check_condition(std::string_view where, int cls, double omega) const {
    if (!conditional()) detail::fail(where, "the model is unconditional: no class or guidance scale");
    if (cls < 0 || cls >= classes_) detail::fail(where, "class must be in [0, ", classes_, "), got ", cls);
    if (!(omega > 0) || !std::isfinite(omega))
      detail::fail(where, "guidance scale omega must be finite and > 0, got ", omega);
  }

  Eigen::MatrixXd sample(Eigen::Index n, std::uint64_t seed, int cls, double omega, bool use_ema,
                         std::string_view where) const {
    if (n < 0) detail::fail(where, "number of samples must be >= 0, got ", n);
    if (dim() == 0) detail::fail(where, "the model is empty (default-constructed)");
    std::mt19937_64 rng(seed);
    gfd::normal_source normal(rng);
    Eigen::MatrixXd out(dim(), n);
    Eigen::MatrixXd e;
    nn::mlp_workspace ws;
    const nn::mlp& net = use_ema ? ema_ : net_;
    constexpr Eigen::Index chunk = 4096;
    for (Eigen::Index c = 0; c < n; c += chunk) {
      const Eigen::Index m = std::min(chunk, n - c);
      e.resize(noise_dim(), m);
      for (Eigen::Index i = 0; i < e.size(); ++i) e.data()[i] = normal();
      if (conditional())
        out.middleCols(c, m) = unstandardise(net.forward(with_condition(e, cls, omega), ws));
      else
        out.middleCols(c, m) = unstandardise(net.forward(e, ws));
    }
    return out;
  }

  nn::mlp net_, ema_;
  Eigen::VectorXd mean_, scale_;
  long steps_ = 0;
  int classes_ = 0;
  std::pair<double, double> guidance_{1.0, 1.0};
};

}  // namespace gfd

// The definitions of generator_model::to_bytes and from_bytes (the file format).
#include "model_file.hpp"
