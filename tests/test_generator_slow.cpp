// SPDX-License-Identifier: MIT
// The one-step generator with its default options (Deng et al.'s drifting field, Laplacian
// kernel, 4 x 128 SiLU network, batch 512) on 8 Gaussians: every mode covered, most samples on a mode, and
// a sliced W2 to held-out data near the noise floor. Labelled slow (a full default training,
// two to four minutes on one core): skipped under sanitizers.
#include <gfd/generator.hpp>
#include <gfd/metrics.hpp>
#include <gfd/toy.hpp>

#include <chrono>

#include "catch.hpp"

TEST_CASE("default training on 8 Gaussians covers all 8 modes", "[generator][slow]") {
  const Eigen::MatrixXd data = gfd::toy::sample("8gaussians", 8000, 1);
  const auto t0 = std::chrono::steady_clock::now();
  const gfd::generator_model model = gfd::train_generator(data);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const Eigen::MatrixXd x = model.generate(4000, 7);
  const Eigen::MatrixXd held = gfd::toy::sample("8gaussians", 4000, 2);
  const double floor = gfd::sliced_wasserstein2(gfd::toy::sample("8gaussians", 4000, 3), held);
  const double sw2 = gfd::sliced_wasserstein2(x, held);
  const auto mix = gfd::toy::mixture_of("8gaussians");
  REQUIRE(mix.has_value());
  const gfd::coverage lenient = gfd::mode_coverage(x, mix->centres, mix->stddev);
  // A sizeable share: at least a tenth of a mode's fair share of the samples on every mode.
  const gfd::coverage strict = gfd::mode_coverage(x, mix->centres, mix->stddev, 4000 / (10 * 8));
  INFO("trained in " << seconds << " s; sliced W2 " << sw2 << " (floor " << floor << "); modes "
                     << lenient.modes_covered << " (strict " << strict.modes_covered
                     << "), within 3 sd " << lenient.fraction_near);
  CHECK(lenient.modes_covered == 8);
  CHECK(strict.modes_covered == 8);
  CHECK(lenient.fraction_near > 0.75);
  CHECK(sw2 < 2 * floor);
  CHECK(model.steps_trained() == gfd::generator_options{}.steps);
}
