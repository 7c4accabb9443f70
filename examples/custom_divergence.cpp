// SPDX-License-Identifier: MIT
// A divergence of your own, from f'' alone (DESIGN 1.2). An f-divergence D_f(q||p) = int p f(q/p)
// has the W2 flow velocity phi(r) (s_p - s_q) with phi(r) = r f''(r), r = q/p, so gfd needs
// nothing but f''. Here: the triangular discrimination (Vincze-Le Cam),
//     f(r) = (r - 1)^2 / (r + 1),   f''(r) = 8 / (r + 1)^3,   phi(r) = 8 r / (1 + r)^3,
// a bounded weight (at most 32/27): no ratio can make this flow stiff.
// We check that gfd's quadrature of f'' reproduces the closed-form f, then drift noise to the
// rings toy and compare with a fresh sample. Exits non-zero on a mismatch or a poor fit.
#include <gfd/divergences.hpp>
#include <gfd/flow.hpp>
#include <gfd/metrics.hpp>
#include <gfd/toy.hpp>

#include <cmath>
#include <cstdio>
#include <random>

int main() {
  // The user's part: f'' (required) and, optionally, f in closed form for the estimate.
  auto f2 = [](double r) { return 8.0 / ((r + 1) * (r + 1) * (r + 1)); };
  auto f = [](double r) { return (r - 1) * (r - 1) / (r + 1); };
  const gfd::f_divergence triangular("triangular", f2);  // f by quadrature of f''

  // 1. The library integrates f'' twice (f(1) = f'(1) = 0); compare with the closed form.
  double worst = 0;
  for (double r : {0.01, 0.3, 1.0, 2.5, 40.0})
    worst = std::max(worst, std::abs(triangular.f(r) - f(r)));
  std::printf("f from f'' by quadrature: max error %.1e on r in [0.01, 40]\n", worst);

  // 2. Run it like any built-in divergence: noise -> rings, default flow options.
  const Eigen::MatrixXd targets = gfd::toy::sample("rings", 800, 1);
  std::mt19937_64 rng(2);
  Eigen::MatrixXd x = gfd::toy::gaussian(2, 600, rng);
  const gfd::flow<> flow(targets);
  const auto report = flow.run(x, triangular);

  const Eigen::MatrixXd heldout = gfd::toy::sample("rings", 600, 3);
  const double sw2 = gfd::sliced_wasserstein2(x, heldout);
  const double floor = gfd::sliced_wasserstein2(gfd::toy::sample("rings", 600, 4), heldout);
  std::printf("triangular-discrimination flow to rings: %ld steps, estimate %.2e\n", report.steps,
              report.estimate);
  std::printf("sliced W2 to held-out data %.4f, noise floor %.4f (ratio %.2f)\n", sw2, floor,
              sw2 / floor);

  const bool ok = worst < 1e-6 && sw2 < 2.0 * floor;
  std::printf("%s\n", ok ? "OK" : "FAIL");
  return ok ? 0 : 1;
}
