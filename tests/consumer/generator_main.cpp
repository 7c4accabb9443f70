// SPDX-License-Identifier: MIT
// Downstream smoke test of the generator module: gfd::generator links, a model round-trips.
#include <gfd/generator.hpp>

#include <cstdio>

int main() {
  // A fresh model (zero parameters) maps all noise to the mean; its bytes load back unchanged.
  const gfd::generator_model m(2, {4}, Eigen::VectorXd::Constant(2, 3.0), Eigen::VectorXd::Ones(2));
  const gfd::generator_model back = gfd::generator_model::from_bytes(m.to_bytes(), "memory");
  const Eigen::MatrixXd x = back.generate(5, 1);
  if (back.to_bytes() != m.to_bytes() || (x.array() - 3.0).abs().maxCoeff() != 0.0) {
    std::printf("gfd generator consumer: the model did not round-trip\n");
    return 1;
  }
  std::printf("gfd generator consumer ok: %d -> %d network\n", back.noise_dim(), back.dim());
  return 0;
}
