// SPDX-License-Identifier: MIT
/// @file generator/nn.hpp
/// @brief A small multilayer perceptron on Eigen for gfd's one-step generator: SiLU hidden
///        layers, linear output, batched forward and hand-written backward pass, Adam.
///
/// Not a general deep-learning layer: exactly what gfd::generator_trainer needs, in double, with
/// one flat parameter vector so that Adam, the moving average and the file format handle every
/// weight the same way. Namespace gfd::nn (gfd::nn::mlp, gfd::nn::mlp_workspace, gfd::nn::adam):
/// public because a generator_model exposes its networks, apart so that the names do not read
/// as general gfd vocabulary. Part of the generator module (<gfd/generator.hpp>).
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include "../detail/fixed_product.hpp"
#include "../error.hpp"
#include "../toy.hpp"

namespace gfd::nn {

/// Activations of one forward pass, kept for the backward pass. Reused between calls (no
/// allocation once the batch size is fixed). Not shared between threads.
struct mlp_workspace {
  std::vector<Eigen::MatrixXd> pre;  ///< z_l = W_l a_{l-1} + b_l, l = 1..L (stored at l - 1)
  std::vector<Eigen::MatrixXd> act;  ///< a_0 = input, a_l = silu(z_l) for the hidden layers
  Eigen::MatrixXd delta, delta_prev;  ///< backward scratch
  /// The output f(input) of the last forward pass (out x B): the last pre-activation.
  [[nodiscard]] const Eigen::MatrixXd& output() const { return pre.back(); }
};

/// A fully connected network f: R^{n_0} -> R^{n_L} with layer sizes n_0, n_1, ..., n_L:
///
///     a_0 = e,   z_l = W_l a_{l-1} + b_l,   a_l = silu(z_l) (l < L),   f(e) = z_L,
///
/// silu(z) = z sigmoid(z) (Elfwing et al. 2018; "swish"), W_l of shape n_l x n_{l-1}. Inputs are
/// batches with one sample per column (n_0 x B), so each layer is one matrix product (Eigen GEMM).
///
/// Parameters live in one flat vector, layer by layer: W_l column-major (n_l * n_{l-1} values),
/// then b_l (n_l values). parameter_count() = sum_l (n_{l-1} + 1) n_l.
///
/// Complexity: forward and backward O(B sum_l n_{l-1} n_l) each (backward twice the forward
/// flops). Memory O(B sum_l n_l) in the workspace. Thread-safety: const member functions are
/// safe when each thread passes its own workspace. With OpenMP the products run in parallel over
/// fixed panels of the output (gfd::detail::fixed_product), so forward, backward and training
/// are bitwise the same for any number of threads.
class mlp {
public:
  mlp() = default;

  /// @param sizes n_0 (input), the hidden widths, n_L (output): at least 2 entries, each in
  ///        [1, 2^20]. Parameters start at zero; call initialise().
  /// @throws gfd::invalid_argument on fewer than 2 sizes, a size out of range or more than 2^31
  ///         parameters.
  explicit mlp(std::vector<int> sizes) : sizes_(std::move(sizes)) {
    constexpr std::string_view where = "gfd::mlp";  // the name of old: messages stay unchanged
    if (sizes_.size() < 2) detail::fail(where, "needs at least an input and an output size, got ", sizes_.size(), " sizes");
    if (sizes_.size() > max_layers + 1)
      detail::fail(where, "at most ", max_layers, " layers, got ", sizes_.size() - 1);
    for (std::size_t l = 0; l < sizes_.size(); ++l)
      if (sizes_[l] < 1 || sizes_[l] > max_width)
        detail::fail(where, "layer size ", l, " must be in [1, ", max_width, "], got ", sizes_[l]);
    const std::uint64_t count = count_parameters(sizes_);
    if (count > max_parameters)
      detail::fail(where, "too many parameters: ", count, " (at most ", max_parameters, ")");
    theta_ = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(count));
  }

  static constexpr int max_width = 1 << 20;
  static constexpr std::size_t max_layers = 256;
  static constexpr std::uint64_t max_parameters = std::uint64_t{1} << 31;

  /// sum_l (n_{l-1} + 1) n_l for sizes n_0..n_L, computed in 64 bits (sizes <= 2^20 and at most
  /// 256 layers cannot overflow it).
  [[nodiscard]] static std::uint64_t count_parameters(const std::vector<int>& sizes) {
    std::uint64_t count = 0;
    for (std::size_t l = 1; l < sizes.size(); ++l)
      count += (static_cast<std::uint64_t>(sizes[l - 1]) + 1) * static_cast<std::uint64_t>(sizes[l]);
    return count;
  }

  [[nodiscard]] const std::vector<int>& sizes() const noexcept { return sizes_; }
  [[nodiscard]] int layers() const noexcept { return static_cast<int>(sizes_.size()) - 1; }
  [[nodiscard]] int input_dim() const noexcept { return sizes_.empty() ? 0 : sizes_.front(); }
  [[nodiscard]] int output_dim() const noexcept { return sizes_.empty() ? 0 : sizes_.back(); }
  [[nodiscard]] Eigen::Index parameter_count() const noexcept { return theta_.size(); }

  /// The flat parameter vector (layout in the class comment).
  [[nodiscard]] const Eigen::VectorXd& parameters() const noexcept { return theta_; }
  [[nodiscard]] Eigen::VectorXd& parameters() noexcept { return theta_; }

  /// W_l (n_l x n_{l-1}) and b_l of layer l in 1..L, as views into parameters() (or into any
  /// vector `p` with the same layout, e.g. a gradient).
  [[nodiscard]] Eigen::Map<const Eigen::MatrixXd> weight(int l) const { return weight_in(theta_, l); }
  [[nodiscard]] Eigen::Map<const Eigen::VectorXd> bias(int l) const { return bias_in(theta_, l); }
  [[nodiscard]] Eigen::Map<Eigen::MatrixXd> weight_in(Eigen::VectorXd& p, int l) const {
    return {p.data() + offset(l), sizes_[static_cast<std::size_t>(l)], sizes_[static_cast<std::size_t>(l - 1)]};
  }
  [[nodiscard]] Eigen::Map<const Eigen::MatrixXd> weight_in(const Eigen::VectorXd& p, int l) const {
    return {p.data() + offset(l), sizes_[static_cast<std::size_t>(l)], sizes_[static_cast<std::size_t>(l - 1)]};
  }
  [[nodiscard]] Eigen::Map<Eigen::VectorXd> bias_in(Eigen::VectorXd& p, int l) const {
    return {p.data() + offset(l) + n_weights(l), sizes_[static_cast<std::size_t>(l)]};
  }
  [[nodiscard]] Eigen::Map<const Eigen::VectorXd> bias_in(const Eigen::VectorXd& p, int l) const {
    return {p.data() + offset(l) + n_weights(l), sizes_[static_cast<std::size_t>(l)]};
  }

  /// LeCun-normal initialisation: W_l ~ N(0, gain^2 / n_{l-1}) entrywise, b_l = 0, drawn in the
  /// parameter order from `rng` (portable: gfd's own Box-Muller, see toy.hpp). The output layer
  /// takes `output_gain` in place of `gain`.
  ///
  /// With `input_scale` s > 0 the first hidden layer (if there is one) instead starts at
  /// W_1 ~ N(0, s^2 / n_0), b_1 ~ N(0, s^2): unit l of it switches along the hyperplane
  /// w_l . e + b_l = 0, whose distance to the origin |b_l| / |w_l| is of order 1 whatever s, so
  /// the switches are spread through the bulk of N(0, I) noise (with b = 0 every one passes
  /// through the origin), and s sets how sharp they are (a SiLU bends over |w . e + b| ~ 1, i.e.
  /// over a width ~ 1 / s of noise space). This is the random-Fourier-feature idea for a map that
  /// has to tear its input into separate pieces (a generator of a multi-modal target).
  /// O(P). Throws nothing (the caller checks the gains).
  void initialise(std::mt19937_64& rng, double gain = 1.0, double output_gain = 1.0, double input_scale = 0.0) {
    gfd::normal_source normal(rng);
    for (int l = 1; l <= layers(); ++l) {
      const bool scaled_input = input_scale > 0 && l == 1 && layers() > 1;
      const double g = (scaled_input ? input_scale : l == layers() ? output_gain : gain) /
                       std::sqrt(static_cast<double>(sizes_[static_cast<std::size_t>(l - 1)]));
      auto w = weight_in(theta_, l);
      for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = g * normal();
      auto b = bias_in(theta_, l);
      if (scaled_input)
        for (Eigen::Index i = 0; i < b.size(); ++i) b(i) = input_scale * normal();
      else
        b.setZero();
    }
  }

  /// f(input) with the parameters `p` (this network's by default), keeping the activations in
  /// `ws` for backward(). input: n_0 x B. Returns ws.output() (n_L x B).
  const Eigen::MatrixXd& forward(const Eigen::Ref<const Eigen::MatrixXd>& input, mlp_workspace& ws,
                                 const Eigen::VectorXd* p = nullptr) const {
    const Eigen::VectorXd& th = p ? *p : theta_;
    const auto n_layers = static_cast<std::size_t>(layers());
    ws.pre.resize(n_layers);
    ws.act.resize(n_layers);
    ws.act[0] = input;
    for (int l = 1; l <= layers(); ++l) {
      const auto k = static_cast<std::size_t>(l - 1);
      Eigen::MatrixXd& z = ws.pre[k];
      z.resize(sizes_[static_cast<std::size_t>(l)], ws.act[k].cols());
      gfd::detail::fixed_product(z, weight_in(th, l), ws.act[k]);
      z.colwise() += bias_in(th, l);
      if (l < layers()) ws.act[k + 1] = silu(z);
    }
    return ws.pre.back();
  }

  /// f(input) without keeping the activations for a backward pass, in column chunks of
  /// `chunk` samples (bounded memory for large n). input: n_0 x n. Returns n_L x n.
  [[nodiscard]] Eigen::MatrixXd evaluate(const Eigen::Ref<const Eigen::MatrixXd>& input,
                                         const Eigen::VectorXd* p = nullptr,
                                         Eigen::Index chunk = 4096) const {
    Eigen::MatrixXd out(output_dim(), input.cols());
    mlp_workspace ws;
    for (Eigen::Index c = 0; c < input.cols(); c += chunk) {
      const Eigen::Index m = std::min(chunk, input.cols() - c);
      out.middleCols(c, m) = forward(input.middleCols(c, m), ws, p);
    }
    return out;
  }

  /// Gradient of a scalar loss L with respect to every parameter, given G = dL/df (n_L x B) at
  /// the outputs of the last forward pass in `ws` (made with the same parameters):
  ///
  ///     delta_L = G,  dL/dW_l = delta_l a_{l-1}^T,  dL/db_l = delta_l 1,
  ///     delta_{l-1} = (W_l^T delta_l) .* silu'(z_{l-1}),
  ///
  /// with silu'(z) = s (1 + z (1 - s)), s = sigmoid(z). Writes `grad` (resized to
  /// parameter_count(), same layout as parameters()). Two GEMMs per layer.
  void backward(mlp_workspace& ws, const Eigen::Ref<const Eigen::MatrixXd>& grad_out,
                Eigen::VectorXd& grad, const Eigen::VectorXd* p = nullptr) const {
    const Eigen::VectorXd& th = p ? *p : theta_;
    grad.resize(theta_.size());
    ws.delta = grad_out;
    for (int l = layers(); l >= 1; --l) {
      const auto k = static_cast<std::size_t>(l - 1);
      gfd::detail::fixed_product(weight_in(grad, l), ws.delta, ws.act[k].transpose());
      bias_in(grad, l) = ws.delta.rowwise().sum();
      if (l == 1) break;
      ws.delta_prev.resize(sizes_[static_cast<std::size_t>(l - 1)], ws.delta.cols());
      gfd::detail::fixed_product(ws.delta_prev, weight_in(th, l).transpose(), ws.delta);
      ws.delta_prev.array() *= silu_derivative(ws.pre[k - 1]).array();
      std::swap(ws.delta, ws.delta_prev);
    }
  }

  /// silu(z) = z / (1 + e^{-z}); for z -> -inf, e^{-z} = inf gives -0, never NaN.
  [[nodiscard]] static Eigen::MatrixXd silu(const Eigen::MatrixXd& z) {
    return (z.array() / (1.0 + (-z.array()).exp())).matrix();
  }
  /// silu'(z) = s (1 + z (1 - s)), s = sigmoid(z).
  [[nodiscard]] static Eigen::MatrixXd silu_derivative(const Eigen::MatrixXd& z) {
    const Eigen::ArrayXXd s = 1.0 / (1.0 + (-z.array()).exp());
    return (s * (1.0 + z.array() * (1.0 - s))).matrix();
  }

private:
  // Offset of W_l in the flat vector.
  [[nodiscard]] Eigen::Index offset(int l) const {
    Eigen::Index off = 0;
    for (int j = 1; j < l; ++j)
      off += (static_cast<Eigen::Index>(sizes_[static_cast<std::size_t>(j - 1)]) + 1) *
             sizes_[static_cast<std::size_t>(j)];
    return off;
  }
  [[nodiscard]] Eigen::Index n_weights(int l) const {
    return static_cast<Eigen::Index>(sizes_[static_cast<std::size_t>(l)]) *
           sizes_[static_cast<std::size_t>(l - 1)];
  }

  std::vector<int> sizes_;
  Eigen::VectorXd theta_;
};

/// Adam (Kingma & Ba 2015, Alg. 1) on a flat parameter vector:
///
///     m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,
///     theta <- theta - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
///
/// O(P) per step. Not thread-safe (it holds the moments).
class adam {
public:
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;

  adam() = default;
  adam(double b1, double b2, double e) : beta1(b1), beta2(b2), eps(e) {}

  /// One update of `theta` with gradient `g` and learning rate `lr`.
  void step(Eigen::VectorXd& theta, const Eigen::VectorXd& g, double lr) {
    if (m_.size() != theta.size()) {
      m_ = Eigen::VectorXd::Zero(theta.size());
      v_ = Eigen::VectorXd::Zero(theta.size());
      t_ = 0;
    }
    ++t_;
    m_ = beta1 * m_ + (1.0 - beta1) * g;
    v_ = beta2 * v_ + (1.0 - beta2) * g.cwiseAbs2();
    const double c1 = 1.0 - std::pow(beta1, static_cast<double>(t_));
    const double c2 = 1.0 - std::pow(beta2, static_cast<double>(t_));
    theta.array() -= (lr / c1) * m_.array() / ((v_.array() / c2).sqrt() + eps);
  }
  [[nodiscard]] long steps() const noexcept { return t_; }

private:
  Eigen::VectorXd m_, v_;
  long t_ = 0;
};

}  // namespace gfd::nn
