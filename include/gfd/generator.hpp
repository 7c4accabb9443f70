// SPDX-License-Identifier: MIT
/// @file generator.hpp
/// @brief One-step generator trained by drifting (Deng et al. 2026, Eq. 6): a small MLP f with
///        f(noise) distributed as the data, trained against any gfd velocity field; sampling,
///        and a versioned binary file format.
///
/// The particle flow (flow.hpp) moves one fixed set of samples. A generator instead learns a map
/// f: R^k -> R^d from standard normal noise e to data space, so that after training a new sample
/// costs one forward pass. Training follows Deng et al. (2026), "Generative Modeling via
/// Drifting", Eq. 6: at each step
///
///     x_i = f(e_i) (i = 1..B),  V = drift of the generated batch {x_i} toward a data batch {y_j},
///     loss = (1/B) sum_i |f(e_i) - stopgrad(f(e_i) + eta V(x_i))|^2 = eta^2 (1/B) sum_i |V_i|^2,
///
/// whose gradient with respect to the parameters is -(2 eta / B) sum_i V_i^T df(e_i)/dtheta:
/// gradient descent moves every output along its drift, the particle flow's step "pulled back"
/// through the network. The parameters follow Adam; sampling uses an exponential moving average
/// (EMA) of them.
///
/// The drift comes from any gfd velocity field `D` (a type with `velocity(problem, v, want)`,
/// see divergences.hpp): the problem's targets are the data batch, its particles the generated
/// batch, so every divergence of gfd can train a generator. gfd velocities are rates (a flow
/// step is dt h^2 v, flow.hpp), so the drift is V = h^2 v: for the drifting field this is Deng's
/// V itself (drifting_field::velocity divides by h^2), for KL(q||p) with a Gaussian kernel it is
/// h^2 (s_p - s_q) = m_p - m_q, the same field (DESIGN 1.3), and for every other divergence it is
/// the displacement of one flow step of dt = 1 in the flow's units. So eta means the same for
/// all: the fraction of the drift the regression target moves each output by. (Adam is invariant
/// to a constant scale of the gradient up to its eps, so eta mostly matters for the reported loss
/// and with gradient clipping; the relative sizes of the V_i are what train the network.)
///
/// Default: Deng et al.'s own field, deng_drifting_field with the Laplacian kernel (see there for
/// why); any other field is one template argument away.
///
/// The data are standardised internally (x -> (x - mean) / scale, per coordinate by default); the
/// network, the drift and the bandwidth live in those units, and the model stores the scaling so
/// that generate() returns points in data units.
///
/// Everything is double. Thread-safety: a generator_model's const functions are safe; a
/// generator_trainer is not (it holds the optimiser state). With OpenMP, Eigen's matrix products
/// and gfd's kernel sums use threads. A seed gives bit-identical training and samples for a
/// given build and thread count; another thread count may change the last bits (Eigen chooses
/// its GEMM blocking by thread count), and a trained model can drift from there.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "bandwidth.hpp"
#include "detail/mlp.hpp"
#include "divergences.hpp"
#include "error.hpp"
#include "evaluators/exact.hpp"
#include "flow.hpp"
#include "io.hpp"
#include "kernels.hpp"
#include "metrics.hpp"
#include "particles.hpp"
#include "toy.hpp"

namespace gfd {

// ---------------------------------------------------------------------------------------------
// The model: network, moving average, data scaling; sampling and the file format
// ---------------------------------------------------------------------------------------------

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
    if (mean_.size() < 1 || mean_.size() > mlp::max_width)
      detail::fail(where, "data dimension must be in [1, ", mlp::max_width, "], got ", mean_.size());
    if (scale_.size() != mean_.size())
      detail::fail(where, "scale has ", scale_.size(), " entries for dimension ", mean_.size());
    for (Eigen::Index k = 0; k < mean_.size(); ++k) {
      if (!std::isfinite(mean_(k))) detail::fail(where, "mean ", k, " is not finite: ", mean_(k));
      detail::require_positive(where, "scale", scale_(k));
    }
    std::vector<int> sizes{noise_dim};
    sizes.insert(sizes.end(), hidden.begin(), hidden.end());
    sizes.push_back(static_cast<int>(mean_.size()));
    net_ = mlp(std::move(sizes));
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
  [[nodiscard]] const mlp& network() const noexcept { return net_; }
  [[nodiscard]] mlp& network() noexcept { return net_; }
  [[nodiscard]] const mlp& ema() const noexcept { return ema_; }
  [[nodiscard]] mlp& ema() noexcept { return ema_; }

  /// Data units -> standardised units: (x - mean) ./ scale. d x n -> d x n.
  [[nodiscard]] Eigen::MatrixXd standardise(const Eigen::Ref<const Eigen::MatrixXd>& x) const {
    return ((x.colwise() - mean_).array().colwise() / scale_.array()).matrix();
  }
  /// Standardised units -> data units: mean + scale .* z.
  [[nodiscard]] Eigen::MatrixXd unstandardise(const Eigen::Ref<const Eigen::MatrixXd>& z) const {
    return ((z.array().colwise() * scale_.array()).colwise() + mean_.array()).matrix();
  }

  /// n samples in data units (d x n): mean + scale .* f(e_i), e_i ~ N(0, I_k) drawn from
  /// std::mt19937_64(seed) with gfd's portable Box-Muller (toy.hpp), one noise vector per column
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
    mlp_workspace ws;
    const mlp& net = use_ema ? ema_ : net_;
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
  mlp net_, ema_;
  Eigen::VectorXd mean_, scale_;
  long steps_ = 0;
};

namespace detail::generator_io {

/// FNV-1a, 64 bits (Fowler, Noll, Vo): h = (h xor byte) * 0x100000001b3 from 0xcbf29ce484222325.
inline std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

class writer {
public:
  void bytes(std::string_view b) { out_.append(b); }
  void u32(std::uint32_t v) { le(v, 4); }
  void u64(std::uint64_t v) { le(v, 8); }
  void f64(double v) { le(std::bit_cast<std::uint64_t>(v), 8); }
  void f64s(const double* p, Eigen::Index n) {
    for (Eigen::Index i = 0; i < n; ++i) f64(p[i]);
  }
  [[nodiscard]] std::string& str() { return out_; }

private:
  void le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

class reader {
public:
  reader(std::string_view bytes, std::string_view where, std::string_view name)
      : b_(bytes), where_(where), name_(name) {}

  /// Throws unless `n` more bytes are available for `field`.
  void need(std::uint64_t n, std::string_view field) const {
    const std::uint64_t left = b_.size() - pos_;
    if (n > left)
      fail(where_, name_, ": truncated file: ", n, " bytes of ", field, " expected at offset ",
           pos_, ", only ", left, " remain (file has ", b_.size(), " bytes)");
  }
  std::string_view bytes(std::size_t n, std::string_view field) {
    need(n, field);
    auto s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::uint32_t u32(std::string_view field) { return static_cast<std::uint32_t>(le(4, field)); }
  std::uint64_t u64(std::string_view field) { return le(8, field); }
  /// Reads n doubles into `out` (resized after the bounds check), each finite. Callers bound n
  /// (<= 2^31), so 8 n cannot overflow.
  void f64s(Eigen::VectorXd& out, std::uint64_t n, std::string_view field) {
    need(8 * n, field);
    out.resize(static_cast<Eigen::Index>(n));
    for (Eigen::Index i = 0; i < out.size(); ++i) {
      out(i) = std::bit_cast<double>(le(8, field));
      if (!std::isfinite(out(i)))
        fail(where_, name_, ": ", field, " ", i, " is not finite (", out(i), ") at offset ", pos_ - 8);
    }
  }
  [[nodiscard]] std::size_t position() const noexcept { return pos_; }
  [[nodiscard]] std::size_t size() const noexcept { return b_.size(); }
  template <class... Parts>
  [[noreturn]] void error(const Parts&... parts) const {
    fail(where_, name_, ": ", parts...);
  }

private:
  std::uint64_t le(int n, std::string_view field) {
    need(static_cast<std::uint64_t>(n), field);
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i)
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(b_[pos_ + static_cast<std::size_t>(i)]))
           << (8 * i);
    pos_ += static_cast<std::size_t>(n);
    return v;
  }
  std::string_view b_;
  std::string_view where_, name_;
  std::size_t pos_ = 0;
};

inline std::string hex_bytes(std::string_view b) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    if (!s.empty()) s += ' ';
    s += hex[c >> 4];
    s += hex[c & 0xf];
  }
  return s;
}

}  // namespace detail::generator_io

inline std::string generator_model::to_bytes() const {
  if (dim() == 0) detail::fail("gfd::generator_model::to_bytes", "the model is empty (default-constructed)");
  detail::generator_io::writer w;
  w.bytes(magic);
  w.u32(format_version);
  w.u32(1);  // SiLU
  w.u32(1);  // standard normal noise
  w.u32(static_cast<std::uint32_t>(dim()));
  w.u32(static_cast<std::uint32_t>(noise_dim()));
  const std::vector<int> h = hidden();
  w.u32(static_cast<std::uint32_t>(h.size()));
  for (int width : h) w.u32(static_cast<std::uint32_t>(width));
  w.u64(static_cast<std::uint64_t>(net_.parameter_count()));
  w.u64(static_cast<std::uint64_t>(std::max(0L, steps_)));
  w.f64s(mean_.data(), mean_.size());
  w.f64s(scale_.data(), scale_.size());
  w.f64s(net_.parameters().data(), net_.parameter_count());
  w.f64s(ema_.parameters().data(), ema_.parameter_count());
  w.u64(detail::generator_io::fnv1a(w.str()));
  return std::move(w.str());
}

inline generator_model generator_model::from_bytes(std::string_view bytes, std::string_view name,
                                                   std::string_view where) {
  using detail::generator_io::hex_bytes;
  detail::generator_io::reader r(bytes, where, name);
  if (bytes.empty()) r.error("empty file (not a gfd generator file)");
  const std::size_t have = std::min<std::size_t>(bytes.size(), magic.size());
  if (bytes.substr(0, have) != magic.substr(0, have))
    r.error("not a gfd generator file (bad magic: expected ", hex_bytes(magic), ", got ",
            hex_bytes(bytes.substr(0, have)), ")");
  r.bytes(magic.size(), "the magic number");
  const std::uint32_t version = r.u32("the format version");
  if (version != format_version)
    r.error("unsupported format version ", version, " (this build reads version ", format_version, ")");
  const std::uint32_t activation = r.u32("the activation code");
  if (activation != 1) r.error("unknown activation code ", activation, " (1 = SiLU)");
  const std::uint32_t noise_kind = r.u32("the noise code");
  if (noise_kind != 1) r.error("unknown noise distribution code ", noise_kind, " (1 = standard normal)");
  const auto max_width = static_cast<std::uint32_t>(mlp::max_width);
  const std::uint32_t d = r.u32("the data dimension");
  if (d < 1 || d > max_width) r.error("data dimension ", d, " out of range [1, ", max_width, "]");
  const std::uint32_t k = r.u32("the noise dimension");
  if (k < 1 || k > max_width) r.error("noise dimension ", k, " out of range [1, ", max_width, "]");
  const std::uint32_t n_hidden = r.u32("the number of hidden layers");
  if (n_hidden > mlp::max_layers - 1)
    r.error("number of hidden layers ", n_hidden, " out of range [0, ", mlp::max_layers - 1, "]");
  r.need(4ULL * n_hidden, "the hidden widths");
  std::vector<int> sizes{static_cast<int>(k)};
  for (std::uint32_t l = 0; l < n_hidden; ++l) {
    const std::uint32_t width = r.u32("a hidden width");
    if (width < 1 || width > max_width)
      r.error("hidden width ", l, " = ", width, " out of range [1, ", max_width, "]");
    sizes.push_back(static_cast<int>(width));
  }
  sizes.push_back(static_cast<int>(d));
  const std::uint64_t expected = mlp::count_parameters(sizes);
  if (expected > mlp::max_parameters)
    r.error("architecture has ", expected, " parameters, more than the maximum ", mlp::max_parameters);
  const std::uint64_t count = r.u64("the parameter count");
  if (count != expected)
    r.error("parameter count ", count, " does not match the architecture (", expected, ")");
  const std::uint64_t steps = r.u64("the step count");
  // Everything that follows has a known size: check it in one go before any allocation.
  r.need(16ULL * d + 16ULL * count + 8ULL, "the scaling, the parameters and the hash");
  generator_model m;
  r.f64s(m.mean_, d, "mean");
  r.f64s(m.scale_, d, "scale");
  for (Eigen::Index i = 0; i < m.scale_.size(); ++i)
    if (!(m.scale_(i) > 0)) r.error("scale ", i, " must be > 0, got ", m.scale_(i));
  m.net_ = mlp(sizes);
  m.ema_ = mlp(sizes);
  r.f64s(m.net_.parameters(), count, "parameter");
  r.f64s(m.ema_.parameters(), count, "EMA parameter");
  const std::uint64_t computed = detail::generator_io::fnv1a(bytes.substr(0, r.position()));
  const std::uint64_t stored = r.u64("the hash");
  if (stored != computed)
    r.error("hash mismatch (stored ", stored, ", computed ", computed, "): the file is corrupt");
  if (r.position() != r.size())
    r.error(r.size() - r.position(), " unexpected bytes after the end of the model at offset ", r.position());
  m.steps_ = static_cast<long>(std::min<std::uint64_t>(steps, static_cast<std::uint64_t>(
                                                                  std::numeric_limits<long>::max())));
  return m;
}

/// Writes `model` to `path` in the format of generator_model, atomically (a temporary file renamed
/// over `path`, as io.hpp). O(P). Thread-safety: concurrent calls on different paths are safe.
/// @throws gfd::invalid_argument naming gfd::save_generator and the path when the model is empty
///         or the file cannot be written.
inline void save_generator(const generator_model& model, const std::string& path) {
  constexpr std::string_view where = "gfd::save_generator";
  if (model.dim() == 0) detail::fail(where, path, ": the model is empty (default-constructed)");
  detail::io::write_atomically(where, path, model.to_bytes());
}

/// Reads a model written by save_generator. O(file size).
/// @throws gfd::invalid_argument naming gfd::load_generator, the path and the fault (see
///         generator_model::from_bytes; also a file that cannot be opened or read).
[[nodiscard]] inline generator_model load_generator(const std::string& path) {
  constexpr std::string_view where = "gfd::load_generator";
  const std::string bytes = detail::io::read_file(where, path);
  return generator_model::from_bytes(bytes, path, where);
}

// ---------------------------------------------------------------------------------------------
// The drift of a generated batch
// ---------------------------------------------------------------------------------------------

/// The drift V of a generated batch x (d x B) toward a target batch y (d x M, uniform weights),
/// from any gfd velocity field:
///
///     V = sum_m (h c_m)^2 v_m(x),   v_m = divergence.velocity of the problem
///                                   {particles x, targets y, kernel, evaluator, bandwidth h c_m},
///
/// c_m the `multipliers` (default {1}). gfd velocities are rates in the flow's units (a step is
/// dt h^2 v), so h^2 v is the displacement of one step with dt = 1: for drifting_field, Deng et
/// al.'s V exactly (its velocity is V / h^2); for kl() with a Gaussian kernel h^2 (s_p - s_q) =
/// m_p - m_q, the same field (DESIGN 1.3); with several multipliers, the sum of the fields at each
/// bandwidth (Deng's multi-temperature sum without the per-temperature normalisation; use
/// drifting_field(deng_drifting_options()) for that, whose temperatures ignore h).
///
/// Cost: the divergence's, per multiplier (two kernel passes, O(B (M + B) d), for local
/// divergences). Thread-safety: as the divergence (all of gfd's are const-safe).
/// @throws gfd::invalid_argument on a dimension mismatch, an empty batch or h not > 0.
template <class D, Kernel K = gaussian, Evaluator E = exact_evaluator>
[[nodiscard]] Eigen::MatrixXd generator_drift(const D& divergence,
                                              const Eigen::Ref<const Eigen::MatrixXd>& x,
                                              const Eigen::Ref<const Eigen::MatrixXd>& y, double h,
                                              const std::vector<double>& multipliers = {1.0},
                                              const K& kernel = {}, const E& evaluator = {}) {
  constexpr std::string_view where = "gfd::generator_drift";
  detail::require_same_dim(where, x, "generated batch", y, "target batch");
  if (x.cols() < 1 || y.cols() < 1 || x.rows() < 1)
    detail::fail(where, "empty batch (", x.cols(), " generated, ", y.cols(), " targets)");
  detail::require_positive(where, "bandwidth", h);
  if (multipliers.empty()) detail::fail(where, "bandwidth multipliers are empty");
  using problem = flow_problem<double, Eigen::Dynamic, K, E>;
  static_assert(Divergence<D, problem>,
                "a divergence needs velocity(problem, v, want_estimate) -> double");
  const Eigen::VectorXd log_w = Eigen::VectorXd::Constant(y.cols(), -std::log(static_cast<double>(y.cols())));
  Eigen::MatrixXd total = Eigen::MatrixXd::Zero(x.rows(), x.cols());
  Eigen::MatrixXd v;
  for (double c : multipliers) {
    detail::require_positive(where, "bandwidth multiplier", c);
    const double hm = h * c;
    const problem pb{x, y, log_w, kernel, evaluator, hm, 0.0};
    divergence.velocity(pb, v, false);
    total += (hm * hm) * v;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Options, progress, trainer
// ---------------------------------------------------------------------------------------------

/// The bandwidth of the drift at each training step, in standardised units.
///
/// - fixed: h.
/// - rule: `factor` times `rule` (Scott, Silverman, median heuristic; bandwidth.hpp) applied to
///   the step's target batch; re-chosen every step, cheap (O(M d), the median O(20000 d)).
///
/// `multipliers` sum the drift over several bandwidths h c_m (generator_drift). Deng's
/// normalised temperatures (0.02, 0.05, 0.2 times the mean distance, each field divided by its
/// RMS) are a property of the field: pass drifting_field(deng_drifting_options()) with
/// gfd::laplacian; its temperatures then replace h.
struct generator_bandwidth {
  enum class mode { fixed, rule };
  mode kind = mode::rule;
  double h = std::numeric_limits<double>::quiet_NaN();  ///< fixed value (standardised units)
  bandwidth_rule rule = bandwidth_rule::silverman;
  double factor = 1.0;                                   ///< multiplies the rule's value
  std::vector<double> multipliers{1.0};

  static generator_bandwidth fixed(double h, std::vector<double> multipliers = {1.0}) {
    generator_bandwidth b;
    b.kind = mode::fixed;
    b.h = h;
    b.multipliers = std::move(multipliers);
    return b;
  }
  static generator_bandwidth by_rule(bandwidth_rule r, double factor = 1.0,
                                     std::vector<double> multipliers = {1.0}) {
    generator_bandwidth b;
    b.kind = mode::rule;
    b.rule = r;
    b.factor = factor;
    b.multipliers = std::move(multipliers);
    return b;
  }
};

/// Deng et al.'s drifting field with the paper's settings as its default construction
/// (deng_drifting_options(): joint "mutual softmax" normalisation, self-mask, temperatures 0.02,
/// 0.05 and 0.2 times the mean pairwise distance, each field divided by its RMS; Deng et al.
/// 2026, Sec. 3 and Alg. 2). The default field of train_generator, with gfd::laplacian, the
/// paper's kernel. Its temperatures replace the bandwidth h, and its per-temperature RMS
/// normalisation keeps mean |V|^2 near (number of temperatures) x (mean distance)^2 / d
/// throughout training: with it, watch the sliced W2 to held-out data, not |V|^2.
///
/// Why it is the default: on the 2D toys the joint normalisation (each target spreads one unit of
/// attraction over the generated points, so unclaimed data pull hardest) and the small
/// temperature separate modes that a single-bandwidth Gaussian drift leaves joined by a smooth
/// ring, which the network finds easy to fit and slow to tear.
struct deng_drifting_field : drifting_field {
  deng_drifting_field() : drifting_field(deng_drifting_options()) {}
};

/// Options of train_generator / generator_trainer. The defaults (with the default field,
/// deng_drifting_field and gfd::laplacian) train a 4 x 128 SiLU network, batch 512, in about two
/// minutes on 2 cores (3000 steps) to the held-out sliced-W2 noise floor on every 2D toy of
/// toy.hpp; README "One-step generator" has the measured table. rings stays visibly blurrier
/// than its target (71 % of the samples within 2 sd of a ring radius, a fresh sample 95 %).
///
/// Why input_scale: a generator of a multi-modal target must tear the noise into separate pieces
/// (25 on 25gaussians), so the map has to switch sharply along lines placed inside the bulk of
/// the noise. With LeCun weights and zero biases every first-layer switch passes through the
/// origin and bends over the whole unit scale of the noise, and Adam did not grow them sharp
/// enough: on 25gaussians 21-23/25 modes with 20-30 % of the samples within 3 sd of a mode,
/// although the averaged drift E[V] there pointed to the nearest mode with |E[V]| about ten
/// times the distance (the field was right; the network could not follow). input_scale = 5 alone
/// gave 25/25 and 48-58 %, batch 512, lr 1e-2 and a fourth layer alone 49 %, both 80-85 %.
/// Thin bridges between neighbouring modes remain: a continuous map of connected noise has a
/// connected image.
struct generator_options {
  // Architecture.
  int noise_dim = 0;             ///< k, dimension of the N(0, I) noise; 0 = the data dimension
  int width = 128;               ///< hidden width (when `widths` is empty)
  int depth = 4;                 ///< number of hidden layers (when `widths` is empty)
  std::vector<int> widths{};     ///< explicit hidden widths; overrides width and depth
  // Batches.
  Eigen::Index batch = 512;      ///< B, generated samples per step
  Eigen::Index target_batch = 0; ///< M, data samples per step (drawn with replacement); 0 = B
  // Optimisation.
  long steps = 3000;
  double lr = 1e-2;              ///< Adam learning rate (peak)
  long warmup = 100;             ///< linear warm-up steps
  double lr_final = 0.05;        ///< cosine decay to lr * lr_final at the last step (1 = constant)
  double beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8;
  double grad_clip = 0;          ///< clip the global gradient norm (0 = off)
  double eta = 1.0;              ///< drift scale in the regression target f + eta V (Eq. 6)
  double ema = 0.999;            ///< EMA decay of the sampling weights, see generator_trainer
  double init_gain = 1.0;        ///< LeCun-normal gain of the hidden layers
  double output_gain = 1.0;      ///< ... and of the output layer
  double input_scale = 5.0;      ///< s of the first hidden layer, W ~ N(0, s^2 / k), b ~ N(0, s^2)
                                 ///< (mlp::initialise); 0 = LeCun with zero biases like the rest
  std::uint64_t seed = 0;        ///< seeds initialisation, noise, batches and the hold-out split
  // Data and drift.
  data_scaling scaling = data_scaling::per_coordinate;
  generator_bandwidth bandwidth = generator_bandwidth::by_rule(bandwidth_rule::silverman);
  // Monitoring.
  Eigen::Index holdout = 0;      ///< data points held out (seeded split) for the sliced W2; 0 = none
  int sw2_projections = 128;     ///< directions of the sliced W2
  long observe_every = 100;      ///< observer period in steps (and after the last); 0 = last only
};

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
template <Kernel K = laplacian, Evaluator E = exact_evaluator>
class generator_trainer {
public:
  generator_trainer(const Eigen::Ref<const Eigen::MatrixXd>& data, generator_options options = {},
                    K kernel = {}, E evaluator = {})
      : opt_(std::move(options)), kernel_(std::move(kernel)), eval_(std::move(evaluator)),
        rng_(opt_.seed), start_(std::chrono::steady_clock::now()) {
    constexpr std::string_view where = "gfd::generator_trainer";
    check_options(opt_);
    cloud_view<double>(data).validate(where, "data");
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

    auto [mean, scale] = scaling_of(train, opt_.scaling);
    std::vector<int> hidden = opt_.widths;
    if (hidden.empty()) hidden.assign(static_cast<std::size_t>(opt_.depth), opt_.width);
    const int noise_dim = opt_.noise_dim > 0 ? opt_.noise_dim : static_cast<int>(data.rows());
    model_ = generator_model(noise_dim, hidden, std::move(mean), std::move(scale));
    model_.network().initialise(rng_, opt_.init_gain, opt_.output_gain, opt_.input_scale);
    model_.ema() = model_.network();
    data_ = model_.standardise(train);
    adam_ = adam(opt_.beta1, opt_.beta2, opt_.adam_eps);
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

  /// Learning rate of step t (1-based): lr min(1, t / warmup) before the warm-up ends, then
  /// lr (lr_final + (1 - lr_final) (1 + cos(pi s)) / 2), s the fraction of the remaining steps.
  [[nodiscard]] double learning_rate(long t) const {
    if (opt_.warmup > 0 && t <= opt_.warmup)
      return opt_.lr * static_cast<double>(t) / static_cast<double>(opt_.warmup);
    const long span = std::max(1L, opt_.steps - opt_.warmup);
    const double s = std::clamp(static_cast<double>(t - opt_.warmup) / static_cast<double>(span), 0.0, 1.0);
    return opt_.lr * (opt_.lr_final + (1.0 - opt_.lr_final) * 0.5 * (1.0 + std::cos(std::numbers::pi * s)));
  }

  /// The bandwidth for a target batch y (standardised units).
  [[nodiscard]] double bandwidth_for(const Eigen::Ref<const Eigen::MatrixXd>& y) const {
    const auto& b = opt_.bandwidth;
    if (b.kind == generator_bandwidth::mode::fixed) return b.h;
    return b.factor * choose_bandwidth(b.rule, cloud_view<double>(y));
  }

  /// One training step with `divergence` (see the class comment). Steps past options().steps
  /// are allowed and keep the final learning rate.
  template <class D>
  generator_step step(const D& divergence) {
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
    const double h = bandwidth_for(y_);
    v_ = generator_drift(divergence, x, y_, h, opt_.bandwidth.multipliers, kernel_, eval_);
    if (!v_.allFinite())
      throw numerical_error(detail::message("gfd::generator_trainer::step", "drift is not finite at step ", t,
                                            " (bandwidth ", h, ")"));
    auto t2 = clock::now();

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

  /// Sliced W2 (data units) between holdout().cols() EMA samples (fixed seed, so successive
  /// values are comparable) and the hold-out; NaN without hold-out. O(n P + projections n log n).
  [[nodiscard]] double holdout_sliced_w2() const {
    if (holdout_.cols() < 1) return std::numeric_limits<double>::quiet_NaN();
    const Eigen::MatrixXd x = model_.generate(holdout_.cols(), opt_.seed ^ 0x9e3779b97f4a7c15ULL);
    return sliced_wasserstein2(x, holdout_, opt_.sw2_projections, opt_.seed);
  }

  /// Runs options().steps - steps_done() steps, calling `observer(const generator_progress&)`
  /// every observe_every steps and after the last; an observer returning false stops the run.
  /// Returns the number of steps taken by this call.
  template <class D, class Observer = no_observer>
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
  static void check_options(const generator_options& o) {
    constexpr std::string_view where = "gfd::generator_trainer";
    if (o.noise_dim < 0 || o.noise_dim > mlp::max_width)
      detail::fail(where, "noise_dim must be in [0, ", mlp::max_width, "] (0 = the data dimension), got ",
                   o.noise_dim);
    if (o.widths.empty()) {
      if (o.depth < 0 || o.depth > 255) detail::fail(where, "depth must be in [0, 255], got ", o.depth);
      if (o.depth > 0 && (o.width < 1 || o.width > mlp::max_width))
        detail::fail(where, "width must be in [1, ", mlp::max_width, "], got ", o.width);
    }
    if (o.batch < 2) detail::fail(where, "batch must be >= 2, got ", o.batch);
    if (o.target_batch < 0 || o.target_batch == 1)
      detail::fail(where, "target_batch must be 0 (= batch) or >= 2, got ", o.target_batch);
    if (o.steps < 0) detail::fail(where, "steps must be >= 0, got ", o.steps);
    if (o.warmup < 0) detail::fail(where, "warmup must be >= 0, got ", o.warmup);
    detail::require_positive(where, "lr", o.lr);
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
    detail::require_positive(where, "eta", o.eta);
    if (!(o.ema >= 0 && o.ema < 1)) detail::fail(where, "ema must be in [0, 1), got ", o.ema);
    detail::require_positive(where, "init_gain", o.init_gain);
    detail::require_positive(where, "output_gain", o.output_gain);
    require_finite_nonnegative("input_scale", o.input_scale, "LeCun with zero biases");
    if (o.holdout < 0) detail::fail(where, "holdout must be >= 0, got ", o.holdout);
    if (o.sw2_projections < 1) detail::fail(where, "sw2_projections must be >= 1, got ", o.sw2_projections);
    if (o.observe_every < 0) detail::fail(where, "observe_every must be >= 0, got ", o.observe_every);
    const auto& b = o.bandwidth;
    if (b.kind == generator_bandwidth::mode::fixed) detail::require_positive(where, "bandwidth", b.h);
    else detail::require_positive(where, "bandwidth factor", b.factor);
    if (b.multipliers.empty()) detail::fail(where, "bandwidth multipliers are empty");
    for (double c : b.multipliers) detail::require_positive(where, "bandwidth multiplier", c);
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
  std::chrono::steady_clock::time_point start_;
  generator_model model_;
  Eigen::MatrixXd data_, holdout_;
  adam adam_;
  long t_ = 0;
  generator_timing timing_;
  // Per-step buffers, reused.
  mlp_workspace ws_;
  Eigen::MatrixXd noise_, y_, v_;
  Eigen::VectorXd grad_;
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
///     o.bandwidth = gfd::generator_bandwidth::fixed(0.3);
///     auto kl_model = gfd::train_generator<gfd::gaussian>(data, o, gfd::kl());
///
/// Cost: options.steps training steps (generator_trainer). Thread-safety: reentrant.
/// @throws as generator_trainer.
template <Kernel K = laplacian, class D = deng_drifting_field, class Observer = no_observer,
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
