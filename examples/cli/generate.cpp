// SPDX-License-Identifier: MIT
/// @file generate.cpp
/// @brief `gfd generate`: load a generator saved by `gfd train` and write new samples.

#include "common.hpp"

#include <gfd/generator.hpp>

#include <charconv>
#include <filesystem>
#include <iostream>
#include <memory>

namespace gfd_cli {
namespace {

struct generate_args {
  std::string model, out, png;
  std::string cls;          // conditional models: a class K or "all"
  std::string cfg = "1";    // conditional models: guidance scales W[,W2,...]
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
  if (!model.conditional()) {
    if (!a.cls.empty() || a.cfg != "1")
      throw usage_error(a.model + " is an unconditional model: --class and --cfg are for a model trained with --conditional");
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
  // A conditional model: n samples per class and guidance scale.
  const int classes = model.classes();
  if (a.cls.empty())
    throw usage_error(a.model + " is conditional (" + std::to_string(classes) +
                      " classes): give --class K (0 to " + std::to_string(classes - 1) + ") or --class all");
  std::vector<int> which;
  if (a.cls == "all") {
    for (int c = 0; c < classes; ++c) which.push_back(c);
  } else {
    int c = -1;
    const auto [end, ec] = std::from_chars(a.cls.data(), a.cls.data() + a.cls.size(), c);
    if (ec != std::errc() || end != a.cls.data() + a.cls.size() || c < 0 || c >= classes)
      throw usage_error("--class " + a.cls + ": the model has classes 0 to " + std::to_string(classes - 1) +
                        " (or give all)");
    which.push_back(c);
  }
  std::vector<double> scales;
  for (std::size_t start = 0;;) {
    const std::size_t comma = a.cfg.find(',', start);
    scales.push_back(positive_number(a.cfg.substr(start, comma == std::string::npos ? comma : comma - start), "--cfg"));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  const auto [lo, hi] = model.guidance_range();
  for (double w : scales)
    if (w < lo || w > hi)
      std::cerr << "gfd generate: note: --cfg " << num(w) << " is outside the guidance scales the model was trained on ["
                << num(lo) << ", " << num(hi) << "]: the network extrapolates\n";
  const auto t0 = steady::now();
  const Eigen::Index per = a.n;
  const auto total = static_cast<Eigen::Index>(which.size() * scales.size()) * per;
  Eigen::MatrixXd table(model.dim() + 2, total);
  std::vector<Eigen::MatrixXd> panels;
  Eigen::Index col = 0;
  for (double w : scales) {
    Eigen::MatrixXd panel(model.dim(), static_cast<Eigen::Index>(which.size()) * per);
    for (std::size_t k = 0; k < which.size(); ++k) {
      // Seed per class (as gfd::generate_like), the same noise for every scale: a strip over
      // --cfg shows the same samples moved by the guidance.
      const Eigen::MatrixXd x = model.generate(per, a.seed + static_cast<std::uint64_t>(which[k]), which[k], w);
      if (!x.allFinite())
        throw std::runtime_error(a.model + ": the model produced non-finite samples (class " +
                                 std::to_string(which[k]) + ", cfg " + num(w) + ")");
      panel.middleCols(static_cast<Eigen::Index>(k) * per, per) = x;
      table.block(0, col, model.dim(), per) = x;
      table.block(model.dim(), col, 1, per).setConstant(which[k]);
      table.block(model.dim() + 1, col, 1, per).setConstant(w);
      col += per;
    }
    panels.push_back(std::move(panel));
  }
  const double seconds = seconds_since(t0);
  std::vector<std::string> names;
  for (Eigen::Index k = 0; k < model.dim(); ++k) names.push_back(gfd::default_column_name(k));
  names.emplace_back("label");
  names.emplace_back("cfg");
  gfd::write_points(a.out, table, names);
  std::cout << "gfd generate: " << per << " samples per class and scale (d = " << model.dim() << ") of "
            << (which.size() == 1 ? "class " + std::to_string(which[0]) : std::to_string(classes) + " classes")
            << " at guidance " << a.cfg << " from " << a.model << " (" << architecture(model)
            << " SiLU network, conditional, trained on omega in [" << num(lo) << ", " << num(hi) << "], "
            << model.steps_trained() << " training steps), seed " << a.seed << ", in " << fmt("%.3f", seconds)
            << " s\n  wrote " << a.out << " (" << total << " rows: coordinates, label, cfg)\n";
  if (!a.png.empty()) {
    plot::figure fig;
    fig.title = "samples of " + std::filesystem::path(a.model).filename().string() + dims_note(model.dim());
    fig.subtitle = (which.size() == 1 ? "class " + std::to_string(which[0]) : "all " + std::to_string(classes) + " classes") +
                   ", " + std::to_string(per) + " samples each, seed " + std::to_string(a.seed) +
                   ", one panel per guidance scale";
    fig.panel_width = 320;
    for (std::size_t p = 0; p < panels.size(); ++p) {
      plot::panel pn;
      pn.title = "cfg " + num(scales[p]);
      pn.layers = {particle_layer(panels[p], "")};
      fig.panels.push_back(std::move(pn));
    }
    if (model.dim() == 1) fig.y_label = "jitter";
    plot::write_png(a.png, fig);
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
  generate->add_option("--n", a.n, "Number of samples (conditional models: per class and scale)")
      ->check(CLI::Range(1L, 100000000L))
      ->capture_default_str();
  generate->add_option("--out", a.out, "Output file (.csv or .npy)")->required();
  generate->add_option("--png", a.png, "Also draw the samples (.png)");
  generate->add_option("--class", a.cls, "Conditional models: the class K (0-based) or all");
  generate->add_option("--cfg", a.cfg,
                       "Conditional models: guidance scale omega, or several W1,W2,... (one --png panel each)")
      ->capture_default_str();
  generate->add_option("--seed", a.seed, "Seed of the noise")->check(seed_check())
      ->capture_default_str();
  generate->add_option("--threads", a.threads, "OpenMP threads (default: all)")
      ->check(threads_check());

  return {generate, [args] { return cmd_generate(*args); }};
}

}  // namespace gfd_cli
