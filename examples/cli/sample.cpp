// SPDX-License-Identifier: MIT
/// @file sample.cpp
/// @brief `gfd sample`: write samples of a toy distribution, a Gaussian or a uniform box.

#include "common.hpp"

#include <gfd/random.hpp>
#include <gfd/toy.hpp>

#include <iostream>
#include <memory>

namespace gfd_cli {
namespace {


struct sample_args {
  std::string name;
  long n = 1000;
  long dim = 2;
  std::uint64_t seed = 0;
  std::string out, png;
  bool list = false;
  bool labels = false;
  double label_noise = 0;  // probability of a uniformly drawn other label
};

int cmd_sample(const sample_args& a) {
  if (a.list) {
    for (const auto& n : gfd::toy::names()) std::cout << n << "\n";
    std::cout << "gaussian\nuniform\n";
    return exit_ok;
  }
  if (a.name.empty())
    throw usage_error("sample: give a NAME (" + toy_list() + ", gaussian, uniform)");
  if (a.out.empty() && a.png.empty())
    throw usage_error("sample: give --out FILE (and/or --png FILE)");
  check_output(a.out, "--out", false);
  check_output(a.png, "--png", true);
  check_png_available(a.png, "--png");
  check_distinct_files({}, {{"--out", a.out}, {"--png", a.png}});
  Eigen::MatrixXd x;
  std::mt19937_64 rng(a.seed);
  if (a.name == "gaussian") {
    x = gfd::toy::gaussian(a.dim, a.n, rng);
  } else if (a.name == "uniform") {
    x = gfd::toy::uniform_box(a.dim, a.n, rng);
  } else if (is_toy(a.name)) {
    if (a.dim != 2)
      throw usage_error("sample: the toy " + a.name + " is 2-D; --dim is for gaussian and uniform");
    x = gfd::toy::sample(a.name, a.n, a.seed);
  } else {
    throw usage_error("sample: unknown distribution '" + a.name + "' (valid: " + toy_list() +
                      ", gaussian, uniform)");
  }
  if (a.labels) {
    if (!is_toy(a.name) || gfd::toy::class_count(a.name) == 0)
      throw usage_error("sample --labels: " + a.name + " has no classes (the toys with classes: " +
                        labelled_toys() + ")");
    if (a.out.empty()) throw usage_error("sample --labels: give --out FILE for the label column");
  }
  if (a.label_noise > 0 && !a.labels) throw usage_error("sample --label-noise: give --labels too");
  if (!a.out.empty() && a.labels) {
    // A third column: the class of each point (gfd::toy::sample_labels replays the same draws).
    std::vector<int> labels = gfd::toy::sample_labels(a.name, a.n, a.seed);
    if (a.label_noise > 0) {
      // Overlapping classes: each label becomes one of the other classes, uniformly, with
      // probability --label-noise (its own stream, so the points are unchanged).
      gfd::rng_engine noise_rng(a.seed ^ 0x2545f4914f6cdd1dULL);
      const auto k = static_cast<std::uint64_t>(gfd::toy::class_count(a.name));
      for (int& l : labels)
        if (gfd::uniform01(noise_rng) < a.label_noise)
          l = static_cast<int>((static_cast<std::uint64_t>(l) + 1 + gfd::uniform_index(noise_rng, k - 1)) % k);
    }
    Eigen::MatrixXd table(x.rows() + 1, x.cols());
    table.topRows(x.rows()) = x;
    for (Eigen::Index i = 0; i < x.cols(); ++i) table(x.rows(), i) = labels[static_cast<std::size_t>(i)];
    gfd::write_points(a.out, table, {"x0", "x1", "label"});
    std::cout << "wrote " << a.n << " points of " << a.name << " with their labels (" << gfd::toy::class_count(a.name)
              << " classes" << (a.label_noise > 0 ? ", " + num(100 * a.label_noise) + "% relabelled at random" : std::string())
              << ", seed " << a.seed << ") to " << a.out << "\n";
  } else if (!a.out.empty()) {
    gfd::write_points(a.out, x);
    std::cout << "wrote " << a.n << " points of " << a.name << " (d = " << x.rows() << ", seed "
              << a.seed << ") to " << a.out << "\n";
  }
  if (!a.png.empty()) {
    write_samples_png(a.png, x, a.name, std::to_string(a.n) + " samples, seed " + std::to_string(a.seed));
    std::cout << "wrote " << a.png << "\n";
  }
  return exit_ok;
}

}  // namespace

command add_sample_command(CLI::App& app) {
  auto args = std::make_shared<sample_args>();
  sample_args& a = *args;
  sample_args sa;
  auto* sample = app.add_subcommand("sample", "Write samples of a toy distribution");
  sample->add_option("name", a.name, "Toy name (" + toy_list() + "), gaussian or uniform");
  sample->add_option("--n", a.n, "Number of points")
      ->check(CLI::Range(1L, 100000000L))
      ->capture_default_str();
  sample->add_option("--dim", a.dim, "Dimension of gaussian / uniform")
      ->check(CLI::Range(1L, 100000L))
      ->capture_default_str();
  sample->add_option("--seed", a.seed, "Seed")->check(seed_check())
      ->capture_default_str();
  sample->add_option("--out", a.out, "Output file (.csv or .npy)");
  sample->add_option("--png", a.png, "Also draw the sample (.png)");
  sample->add_flag("--list", a.list, "List the distributions");
  sample->add_flag("--labels", a.labels,
                   "Add a label column: each point's class (the mixture component, the moon, "
                   "the cell, the ring or the arm; " + labelled_toys() + ")");

  sample->add_option("--label-noise", a.label_noise,
                     "With --labels: give each point another class, drawn uniformly, with this "
                     "probability (classes that overlap)")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();

  return {sample, [args] { return cmd_sample(*args); }};
}

}  // namespace gfd_cli
