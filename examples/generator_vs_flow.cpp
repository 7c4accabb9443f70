// SPDX-License-Identifier: MIT
// Particle flow against one-step generator on the same 2D target (DESIGN 1.3; Deng et al. 2026,
// "Generative Modeling via Drifting", Eq. 6).
//
// The flow moves one fixed cloud of particles to the target; the generator learns a network f
// with f(noise) ~ target, trained by the same kind of drift, after which every new sample costs
// one forward pass. We run both on one toy, then print, side by side, the sliced Wasserstein-2
// and energy distances to held-out data (with the noise floor of a fresh sample), mode coverage
// for the mixture toys, and the cost of each. With --png FILE (and Cairo at build time) the
// three clouds are drawn side by side.
//
// Usage: generator_vs_flow [TOY] [--png FILE]     TOY: a gfd::toy name, default 8gaussians.
// Exits non-zero if either method is far from the target (sliced W2 over 3x the noise floor) or
// misses a mode.
#include <gfd/divergences.hpp>
#include <gfd/flow.hpp>
#include <gfd/generator.hpp>
#include <gfd/metrics.hpp>
#include <gfd/toy.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <random>
#include <string>

#include "plot.hpp"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct row {
  const char* name;
  double sw2, energy;
  int modes = -1;
  double near = 0;
};

}  // namespace

int main(int argc, char** argv) try {
  std::string name = "8gaussians", png;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--png" && i + 1 < argc) png = argv[++i];
    else name = a;
  }
  const Eigen::Index n = 1000;
  const Eigen::MatrixXd data = gfd::toy::sample(name, 2 * n, 1);  // what both methods see
  const Eigen::MatrixXd held = gfd::toy::sample(name, n, 2);      // what we judge them on
  const Eigen::MatrixXd fresh = gfd::toy::sample(name, n, 3);     // the noise floor

  // 1. Particle flow: N(0, I) particles along the KL(q||p) flow (the library's defaults).
  auto t0 = std::chrono::steady_clock::now();
  std::mt19937_64 rng(4);
  const Eigen::MatrixXd start = gfd::toy::gaussian(2, n, rng);
  const auto [flowed, report] = gfd::flow<>(data).run_from(start, gfd::kl());
  const double flow_seconds = seconds_since(t0);

  // 2. One-step generator: the library's defaults (Deng's drifting field with the Laplacian
  //    kernel, 4 x 128 SiLU network with a scaled first layer, batch 512), with a third of the
  //    default steps to keep this example quick.
  gfd::generator_options opt;
  opt.steps = 1000;
  t0 = std::chrono::steady_clock::now();
  const gfd::generator_model model = gfd::train_generator(data, opt);
  const double train_seconds = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  const Eigen::MatrixXd many = model.generate(100000, 5);  // sampling speed, one forward pass
  const double sample_rate = 100000 / seconds_since(t0);
  const Eigen::MatrixXd generated = many.leftCols(n);

  // 3. The table.
  const auto mix = gfd::toy::mixture_of(name);
  auto judge = [&](const char* label, const Eigen::MatrixXd& x) {
    row r{label, gfd::sliced_wasserstein2(x, held), gfd::energy_distance(x, held)};
    if (mix) {
      const gfd::coverage c = gfd::mode_coverage(x, mix->centres, mix->stddev);
      r.modes = c.modes_covered;
      r.near = c.fraction_near;
    }
    return r;
  };
  const row rows[] = {judge("fresh sample", fresh), judge("particle flow", flowed),
                      judge("generator", generated)};
  std::printf("target %s: %ld points seen by both methods, judged on %ld held-out points\n\n",
              name.c_str(), static_cast<long>(data.cols()), static_cast<long>(n));
  std::printf("%-14s %10s %12s %8s %12s\n", "", "sliced W2", "energy dist", "modes", "within 3sd");
  for (const row& r : rows) {
    std::printf("%-14s %10.4f %12.5f", r.name, r.sw2, r.energy);
    if (r.modes >= 0) std::printf(" %5d/%-2ld %12.3f\n", r.modes, static_cast<long>(mix->centres.cols()), r.near);
    else std::printf(" %8s %12s\n", "-", "-");
  }
  std::printf("\ncost: flow %ld steps in %.1f s (moves these %ld particles only);\n", report.steps,
              flow_seconds, static_cast<long>(n));
  std::printf("      generator %ld training steps in %.1f s, then %.2g samples/s (any number)\n",
              model.steps_trained(), train_seconds, sample_rate);

  if (!png.empty()) {
    if (!plot::available) {
      std::fprintf(stderr, "--png: this build has no Cairo, no picture written\n");
    } else {
      plot::figure fig;
      fig.title = "particle flow vs one-step generator: " + name;
      fig.subtitle = "grey: held-out target sample; red: " + std::to_string(n) + " points";
      auto panel = [&](const std::string& title, const Eigen::MatrixXd& x, double sw2) {
        plot::panel p;
        p.title = title;
        plot::layer t;
        t.points = held;
        t.colour = plot::colours::target;
        p.layers.push_back(t);
        if (x.size() > 0) {
          plot::layer l;
          l.points = x;
          p.layers.push_back(l);
          char note[64];
          std::snprintf(note, sizeof note, "sliced W2 %.3f", sw2);
          p.notes.emplace_back(note);
        }
        return p;
      };
      fig.panels = {panel("target", Eigen::MatrixXd(), 0), panel("particle flow", flowed, rows[1].sw2),
                    panel("generator f(noise)", generated, rows[2].sw2)};
      plot::write_png(png, fig);
      std::printf("picture: %s\n", png.c_str());
    }
  }

  bool ok = true;
  for (const row& r : rows) {
    if (r.sw2 > 3 * rows[0].sw2) ok = false;
    if (mix && r.modes != static_cast<int>(mix->centres.cols())) ok = false;
  }
  std::printf("\n%s\n", ok ? "OK: both reach the target; the generator also samples anew in one pass"
                           : "FAIL: a method is far from the target or misses a mode");
  return ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "generator_vs_flow: %s\n", e.what());
  return 2;
}
