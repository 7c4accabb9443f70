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

/// A trained one-step generator: x = mean + scale .* f_ema(e), e ~ N(0, I_k).
///
/// Holds the network being trained (`network()`), its exponential moving average used for
/// sampling (`ema()`), and the data scaling. Cheap to copy (a few vectors).
///
/// File format (save_generator / load_generator; all integers unsigned little-endian, all reals
/// IEEE-754 binary64 little-endian, so a file is exact and portable):
///
/// | offset | type      | field                                                              |
/// |--------|-----------|--------------------------------------------------------------------|
/// | 0      | u8[8]     | magic 89 47 46 44 47 45 4E 0A ("\x89GFDGEN\n")                      |
/// | 8      | u32       | format version, 1                                                   |
/// | 12     | u32       | activation of the hidden layers, 1 = SiLU (output layer linear)     |
/// | 16     | u32       | noise distribution, 1 = standard normal N(0, I_k)                   |
/// | 20     | u32       | d, data dimension = network output, in [1, 2^20]                    |
/// | 24     | u32       | k, noise dimension = network input, in [1, 2^20]                    |
/// | 28     | u32       | H, number of hidden layers, in [0, 255]                             |
/// | 32     | u32[H]    | hidden widths, each in [1, 2^20]                                    |
/// |        | u64       | P, number of parameters = sum_l (n_{l-1} + 1) n_l, n = (k, widths, d)|
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
  /// The format version this build writes and reads.
  static constexpr std::uint32_t format_version = 1;
  /// The 8 magic bytes that open a generator file.
  static constexpr std::string_view magic{"\x89GFDGEN\n", 8};

  generator_model() = default;

  /// A fresh model: network with sizes (noise_dim, hidden..., mean.size()), zero parameters, EMA
  /// equal to them. @throws gfd::invalid_argument on a bad architecture, a mean and a scale of
  /// different sizes, a non-finite mean or a scale that is not finite and > 0.
  generator_model(int noise_dim, const std::vector<int>& hidden, Eigen::VectorXd mean,
                  Eigen::VectorXd scale)
      : mean_(std::move(mean)), scale_(std::move(scale)) {
    constexpr std::string_view where = "gfd::generator_model";
    if (mean_.size() < 1 || mean_.size() > nn::mlp::max_width)
      detail::fail(where, "data dimension must be in [1, ", nn::mlp::max_width, "], got ", mean_.size());
    if (scale_.size() != mean_.size())
      detail::fail(where, "scale has ", scale_.size(), " entries for dimension ", mean_.size());
    for (Eigen::Index k = 0; k < mean_.size(); ++k) {
      if (!std::isfinite(mean_(k))) detail::fail(where, "mean ", k, " is not finite: ", mean_(k));
      detail::require_positive(where, "scale", scale_(k));
    }
    std::vector<int> sizes{noise_dim};
    sizes.insert(sizes.end(), hidden.begin(), hidden.end());
    sizes.push_back(static_cast<int>(mean_.size()));
    net_ = nn::mlp(std::move(sizes));
    ema_ = net_;
  }

  [[nodiscard]] int dim() const noexcept { return net_.output_dim(); }
  [[nodiscard]] int noise_dim() const noexcept { return net_.input_dim(); }
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
  /// @throws gfd::invalid_argument if n < 0 or the model is empty.
  [[nodiscard]] Eigen::MatrixXd generate(Eigen::Index n, std::uint64_t seed,
                                         bool use_ema = true) const {
    constexpr std::string_view where = "gfd::generator_model::generate";
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
      out.middleCols(c, m) = unstandardise(net.forward(e, ws));
    }
    return out;
  }

  /// Samples for given noise (k x n) in data units.
  /// @throws gfd::invalid_argument if noise does not have noise_dim() rows.
  [[nodiscard]] Eigen::MatrixXd generate_from_noise(const Eigen::Ref<const Eigen::MatrixXd>& noise,
                                                    bool use_ema = true) const {
    if (noise.rows() != noise_dim() || dim() == 0)
      detail::fail("gfd::generator_model::generate_from_noise", "noise has ", noise.rows(),
                   " rows, the model's noise dimension is ", noise_dim());
    return unstandardise((use_ema ? ema_ : net_).evaluate(noise));
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
  nn::mlp net_, ema_;
  Eigen::VectorXd mean_, scale_;
  long steps_ = 0;
};

}  // namespace gfd

// The definitions of generator_model::to_bytes and from_bytes (the file format).
#include "model_file.hpp"
