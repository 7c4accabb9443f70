// SPDX-License-Identifier: MIT
// Quickstart: drift Gaussian noise to the two-moons toy along the KL(q||p) flow with the
// library's defaults, and check the result is as close to the target as a fresh sample is.
#include <gfd/divergences.hpp>
#include <gfd/flow.hpp>
#include <gfd/metrics.hpp>
#include <gfd/toy.hpp>

#include <cstdio>
#include <random>

int main() {
  // Clouds are 2 x N Eigen matrices, one point per column.
  const Eigen::MatrixXd targets = gfd::toy::sample("moons", 1000, 1);  // M = 1000 targets
  std::mt19937_64 rng(2);
  Eigen::MatrixXd x = gfd::toy::gaussian(2, 1000, rng);  // N = 1000 particles of N(0, I) noise

  const gfd::flow<> flow(targets);                    // Gaussian kernel, annealed bandwidth, Euler
  const gfd::flow_report r = flow.run(x, gfd::kl());  // moves x in place

  // Judge against data the flow never saw, and compare to the two-sample noise floor: the
  // distance between two independent samples of the target of the same size.
  const Eigen::MatrixXd heldout = gfd::toy::sample("moons", 1000, 3);
  const double sw2 = gfd::sliced_wasserstein2(x, heldout);
  const double floor = gfd::sliced_wasserstein2(gfd::toy::sample("moons", 1000, 4), heldout);
  std::printf("%ld steps, final bandwidth %.3f\n", r.steps, r.bandwidth);
  std::printf("sliced W2 to held-out data: %.4f (noise floor %.4f, ratio %.2f)\n", sw2, floor,
              sw2 / floor);
  return sw2 < 1.5 * floor ? 0 : 1;  // as good as a fresh sample, up to a factor 1.5
}
