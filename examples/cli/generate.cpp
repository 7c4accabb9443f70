// SPDX-License-Identifier: MIT
/// @file generate.cpp
/// @brief `gfd generate`: load a generator saved by `gfd train` and write new samples.

#include "common.hpp"

#include <gfd/generator.hpp>

#include <filesystem>
#include <iostream>
#include <memory>

namespace gfd_cli {
namespace {

struct generate_args {
  std::string model, out, png;
  long n = 1000;
  std::uint64_t seed = 0;
  int threads = 0;
};

int cmd_generate(const generate_args& a) {
  check_output(a.out, "--out", false);
  check_output(a.png, "--png", true);
  check_png_available(a.png, "--png");
  check_distinct_files({{"--model", a.model}}, {{"--out", a.out}, {"--png", a.png}});
  set_threads(a.threads);
  const gfd::generator_model model = gfd::load_generator(a.model);  // names the file on a fault
  const auto t0 = steady::now();
  const Eigen::MatrixXd x = model.generate(a.n, a.seed);
  const double seconds = seconds_since(t0);
  if (!x.allFinite())
    throw std::runtime_error(a.model + ": the model produced non-finite samples");
  std::vector<std::string> names;
  for (Eigen::Index k = 0; k < x.rows(); ++k) names.push_back(gfd::default_column_name(k));
  gfd::write_points(a.out, x, names);
  std::cout << "gfd generate: " << a.n << " samples (d = " << x.rows() << ") from " << a.model
            << " (" << architecture(model) << " SiLU network, " << model.steps_trained()
            << " training steps), seed " << a.seed << ", in " << fmt("%.3f", seconds) << " s\n"
            << "  wrote " << a.out << "\n";
  if (!a.png.empty()) {
    write_samples_png(a.png, x, "samples of " + std::filesystem::path(a.model).filename().string(),
                      std::to_string(a.n) + " samples, seed " + std::to_string(a.seed));
    std::cout << "  wrote " << a.png << "\n";
  }
  return exit_ok;
}

}  // namespace

command add_generate_command(CLI::App& app) {
  auto args = std::make_shared<generate_args>();
  generate_args& a = *args;
  generate_args ga;
  auto* generate = app.add_subcommand("generate", "Write samples of a model saved by `gfd train`");
  generate->add_option("--model", a.model, "Model file written by gfd train")->required();
  generate->add_option("--n", a.n, "Number of samples")
      ->check(CLI::Range(1L, 100000000L))
      ->capture_default_str();
  generate->add_option("--out", a.out, "Output file (.csv or .npy)")->required();
  generate->add_option("--png", a.png, "Also draw the samples (.png)");
  generate->add_option("--seed", a.seed, "Seed of the noise")->check(seed_check())
      ->capture_default_str();
  generate->add_option("--threads", a.threads, "OpenMP threads (default: all)")
      ->check(threads_check());

  return {generate, [args] { return cmd_generate(*args); }};
}

}  // namespace gfd_cli
