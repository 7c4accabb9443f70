// SPDX-License-Identifier: MIT
/// @file generator/model_file.hpp
/// @brief The generator file format: generator_model::to_bytes / from_bytes (the table is in
///        generator_model's comment), save_generator and load_generator.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "../io.hpp"
#include "model.hpp"
#include "nn.hpp"

namespace gfd {

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
  w.u32(conditional() ? 2 : 1);  // version 1 for an unconditional model: every build reads it
  w.u32(1);  // SiLU
  w.u32(1);  // standard normal noise
  w.u32(static_cast<std::uint32_t>(dim()));
  w.u32(static_cast<std::uint32_t>(noise_dim()));
  if (conditional()) {
    w.u32(static_cast<std::uint32_t>(classes_));
    w.u32(1);  // input (e, onehot(c), log omega)
    w.f64(guidance_.first);
    w.f64(guidance_.second);
  }
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
  if (version < 1 || version > format_version)
    r.error("unsupported format version ", version, " (this build reads versions 1 to ", format_version, ")");
  const std::uint32_t activation = r.u32("the activation code");
  if (activation != 1) r.error("unknown activation code ", activation, " (1 = SiLU)");
  const std::uint32_t noise_kind = r.u32("the noise code");
  if (noise_kind != 1) r.error("unknown noise distribution code ", noise_kind, " (1 = standard normal)");
  const auto max_width = static_cast<std::uint32_t>(nn::mlp::max_width);
  const std::uint32_t d = r.u32("the data dimension");
  if (d < 1 || d > max_width) r.error("data dimension ", d, " out of range [1, ", max_width, "]");
  const std::uint32_t k = r.u32("the noise dimension");
  if (k < 1 || k > max_width) r.error("noise dimension ", k, " out of range [1, ", max_width, "]");
  std::uint32_t classes = 0;
  std::pair<double, double> guidance{1.0, 1.0};
  if (version >= 2) {
    classes = r.u32("the number of classes");
    if (classes < 1 || classes > static_cast<std::uint32_t>(max_classes))
      r.error("number of classes ", classes, " out of range [1, ", max_classes, "]");
    const std::uint32_t conditioning = r.u32("the conditioning code");
    if (conditioning != 1) r.error("unknown conditioning code ", conditioning, " (1 = one-hot class and log omega)");
    Eigen::VectorXd range;
    r.f64s(range, 2, "guidance range");
    if (!(range(0) > 0 && range(0) <= range(1)))
      r.error("guidance range [", range(0), ", ", range(1), "] is not 0 < omega_min <= omega_max");
    guidance = {range(0), range(1)};
  }
  const std::uint32_t n_hidden = r.u32("the number of hidden layers");
  if (n_hidden > nn::mlp::max_layers - 1)
    r.error("number of hidden layers ", n_hidden, " out of range [0, ", nn::mlp::max_layers - 1, "]");
  r.need(4ULL * n_hidden, "the hidden widths");
  if (static_cast<std::uint64_t>(k) + classes + (classes > 0 ? 1 : 0) > max_width)
    r.error("network input of ", k, " noise and ", classes, " classes + 1 exceeds ", max_width);
  std::vector<int> sizes{static_cast<int>(k + (classes > 0 ? classes + 1 : 0))};
  for (std::uint32_t l = 0; l < n_hidden; ++l) {
    const std::uint32_t width = r.u32("a hidden width");
    if (width < 1 || width > max_width)
      r.error("hidden width ", l, " = ", width, " out of range [1, ", max_width, "]");
    sizes.push_back(static_cast<int>(width));
  }
  sizes.push_back(static_cast<int>(d));
  const std::uint64_t expected = nn::mlp::count_parameters(sizes);
  if (expected > nn::mlp::max_parameters)
    r.error("architecture has ", expected, " parameters, more than the maximum ", nn::mlp::max_parameters);
  const std::uint64_t count = r.u64("the parameter count");
  if (count != expected)
    r.error("parameter count ", count, " does not match the architecture (", expected, ")");
  const std::uint64_t steps = r.u64("the step count");
  // Everything that follows has a known size: check it in one go before any allocation.
  r.need(16ULL * d + 16ULL * count + 8ULL, "the scaling, the parameters and the hash");
  generator_model m;
  m.classes_ = static_cast<int>(classes);
  m.guidance_ = guidance;
  r.f64s(m.mean_, d, "mean");
  r.f64s(m.scale_, d, "scale");
  for (Eigen::Index i = 0; i < m.scale_.size(); ++i)
    if (!(m.scale_(i) > 0)) r.error("scale ", i, " must be > 0, got ", m.scale_(i));
  m.net_ = nn::mlp(sizes);
  m.ema_ = nn::mlp(sizes);
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

}  // namespace gfd
