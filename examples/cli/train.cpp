// SPDX-License-Identifier: MIT
/// @file train.cpp
/// @brief `gfd train`: train a one-step generator (gfd/generator.hpp) on a toy or a point-cloud
///        file and save it. The options mirror gfd::generator_options and default to the
///        library's defaults.

#include "common.hpp"

#include <gfd/bandwidth.hpp>
#include <gfd/generator.hpp>
#include <gfd/metrics.hpp>
#include <gfd/toy.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <variant>

namespace gfd_cli {
namespace {

struct train_args {
  std::string target, out, png, log;
  long m = 10000;        // data points drawn from a toy (files: the whole file)
  long holdout = -1;     // -1: 2000 for toys, min(2000, 20%) for files
  gfd::generator_options opt;  // the library defaults; the options below fill it in
  std::string widths;    // "128,128,128": overrides width and depth
  divergence_choice divergence{.name = "drifting-deng", .affinity_floor = 0};  // see --affinity-floor
  std::string temperatures = "0.02,0.05,0.2";
  std::string kernel = "laplacian";
  double imq_beta = 1.5;
  std::string bandwidth = "silverman";
  double bandwidth_factor = 1.0;
  std::string multipliers = "1";
  std::string precision = "double";  // of the drift (generator_options::float_drift)
  int threads = 0;
  bool quiet = false;
  bool conditional = false;  // class-conditional with classifier-free guidance
  std::string label_column;  // a file's label column (implies --conditional)
};

/// "a,b,c" -> numbers, each finite and > 0 (or each an integer in [lo, hi] via `integers`).
std::vector<double> number_list(const std::string& s, const std::string& option) {
  std::vector<double> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = s.find(',', start);
    const std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    out.push_back(positive_number(item, option));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<int> width_list(const std::string& s) {
  std::vector<int> out;
  for (double v : number_list(s, "--widths")) {
    if (v != std::floor(v) || v > 1048576)
      throw usage_error("--widths: each width must be an integer in [1, 1048576], got " + num(v));
    out.push_back(static_cast<int>(v));
  }
  return out;
}

/// A model file name must not look like a point cloud or a picture (a swapped argument).
void check_model_output(const std::string& path, const std::string& option) {
  const std::string ext = lower_extension(path);
  if (ext == ".csv" || ext == ".npy" || ext == ".png")
    throw usage_error(option + " " + path + ": a generator model is not a " + ext +
                      " file; use another extension, e.g. .gfdgen");
  const auto dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
    throw usage_error(option + " " + path + ": directory '" + dir.string() + "' does not exist");
  if (std::filesystem::is_directory(path, ec)) throw usage_error(option + " " + path + ": is a directory");
}

int cmd_train(train_args a) {
  const auto t_total = steady::now();
  // 1. Options, all checked before any work.
  if (a.target.empty()) throw usage_error("train: give --target NAME|FILE");
  if (a.out.empty()) throw usage_error("train: give --out MODEL");
  check_model_output(a.out, "--out");
  check_output(a.png, "--png", true);
  check_png_available(a.png, "--png");
  if (!a.log.empty() && lower_extension(a.log) != ".csv")
    throw usage_error("--log " + a.log + ": expected a .csv file name");
  check_output(a.log, "--log", false);
  check_distinct_files({{"--target", a.target}},
                       {{"--out", a.out}, {"--log", a.log}, {"--png", a.png}});
  gfd::generator_options& o = a.opt;
  if (!a.widths.empty()) o.widths = width_list(a.widths);
  o.bandwidth.multipliers = number_list(a.multipliers, "--multipliers");
  o.bandwidth.factor = a.bandwidth_factor;
  if (a.bandwidth == "scott" || a.bandwidth == "silverman" || a.bandwidth == "median") {
    o.bandwidth.kind = gfd::bandwidth_schedule::mode::rule;
    o.bandwidth.rule = gfd::parse_bandwidth_rule(a.bandwidth);
  } else {
    o.bandwidth.kind = gfd::bandwidth_schedule::mode::fixed;
    o.bandwidth.h = flow_bandwidth(a.bandwidth, "--bandwidth");
  }
  const any_kernel kernel = make_kernel(a.kernel, a.imq_beta);
  gfd::registry::divergence_parameters div_params = divergence_parameters_of(a.divergence);
  div_params.seed = a.opt.seed;  // the sliced flow's directions
  if (a.divergence.name == "drifting-deng")
    div_params.temperatures = number_list(a.temperatures, "--temperatures");
  const any_divergence divergence = gfd::registry::make_divergence(a.divergence.name, div_params);
  set_threads(a.threads);
  a.opt.float_drift = a.precision == "float";
  if (!a.label_column.empty()) a.conditional = true;
  if (a.conditional) {
    if (a.divergence.name != "drifting-deng")
      throw usage_error("--conditional trains with Deng et al.'s grouped field (weighted negatives for "
                        "guidance): it needs --divergence drifting-deng, got " + a.divergence.name);
    if (a.precision == "float") throw usage_error("--conditional: the grouped field is computed in double; drop --precision float");
    if (a.opt.negatives == 0 && a.opt.cfg_max > 1)
      throw usage_error("--cfg-max " + num(a.opt.cfg_max) + " needs --negatives > 0 (the unconditional data of guidance)");
    if (a.opt.cfg_min > a.opt.cfg_max)
      throw usage_error("--cfg-min " + num(a.opt.cfg_min) + " is above --cfg-max " + num(a.opt.cfg_max));
    if (a.opt.class_batch > a.opt.batch)
      throw usage_error("--class-batch " + std::to_string(a.opt.class_batch) + " is above --batch " +
                        std::to_string(a.opt.batch));
  }

  // 2. Data: a toy sample or a file; the library holds `holdout` of them out (seeded split).
  const bool toy = is_toy(a.target);
  Eigen::MatrixXd data;
  std::vector<std::string> columns;
  std::string target_name;
  std::vector<int> labels;  // conditional: one class per data point
  if (toy) {
    data = gfd::toy::sample(a.target, a.m, a.opt.seed);
    columns = {"x0", "x1"};
    target_name = a.target;
    if (!a.label_column.empty())
      throw usage_error("--label-column is for a file; the toy " + a.target + " gives its labels itself (--conditional)");
    if (a.conditional) {
      if (gfd::toy::class_count(a.target) == 0)
        throw usage_error("--conditional: the toy " + a.target + " has no classes (the toys with classes: " +
                          labelled_toys() + ")");
      labels = gfd::toy::sample_labels(a.target, a.m, a.opt.seed);
    }
  } else {
    if (!std::filesystem::exists(a.target) && std::filesystem::path(a.target).extension().empty())
      throw usage_error("--target " + a.target + ": neither a toy (" + toy_list() +
                        ") nor an existing .csv/.npy file");
    gfd::table t = read_cloud(a.target);
    if (a.conditional) {
      if (a.label_column.empty())
        throw usage_error("--conditional with a file: give --label-column NAME|INDEX (-1 = the last column)");
      labels = take_label_column(t, a.label_column, "--label-column");
    } else {
      note_label_column(t, "--target " + a.target, "--label-column label");
    }
    data = std::move(t.points);
    columns = std::move(t.columns);
    target_name = std::filesystem::path(a.target).filename().string();
  }
  if (a.holdout < 0) {
    o.holdout = std::min<Eigen::Index>(2000, toy ? a.m / 5 : data.cols() / 5);
    if (o.holdout < 2) o.holdout = 0;  // too few points to hold some out
  } else {
    o.holdout = a.holdout;
    if (o.holdout == 1) throw usage_error("--holdout: 1 point cannot measure anything; give 0 or >= 2");
    if (o.holdout >= data.cols() - 1)
      throw usage_error("--holdout " + std::to_string(a.holdout) + ": leaves fewer than 2 of the " +
                        std::to_string(data.cols()) + " data points for training");
  }
  const Eigen::Index held = o.holdout;

  std::visit(
      [&](const auto& k, const auto& div) {
        using K = std::decay_t<decltype(k)>;
        using D = std::decay_t<decltype(div)>;
        if constexpr (!gfd::registry::instantiated_combination<D, K>()) {
          gfd::registry::refuse_combination<D, K>("gfd train", a.divergence.name);
        } else {
        gfd::generator_trainer<K> trainer(data, labels, o, k);
        const gfd::generator_model start_model = trainer.model();
        const bool cond = trainer.model().conditional();
        const int classes = trainer.model().classes();
        const Eigen::Index d = data.rows();
        const auto& model = trainer.model();
        const std::string div_title = divergence_title(a.divergence);
        std::cout << "gfd train: one-step generator for " << target_name << " by the " << div_title
                  << ", " << trainer.training_data().cols() << " training points"
                  << (held > 0 ? " + " + std::to_string(held) + " held out" : std::string(", no hold-out"))
                  << ", d = " << d << "\n"
                  << "  network " << architecture(model) << " (SiLU, "
                  << model.network().parameter_count() << " parameters), batch " << o.batch
                  << ", lr " << num(o.lr) << ", " << o.steps << " steps, " << a.kernel << " kernel, ";
        if (a.divergence.name == "drifting-deng")
          std::cout << "temperatures " << a.temperatures << " (x mean distance)";
        else
          std::cout << "bandwidth " << a.bandwidth;
        std::cout << ", seed " << o.seed << ", " << thread_count() << " thread(s)\n";
        if (cond)
          std::cout << "  conditional: " << classes << " classes, " << o.batch / o.class_batch << " groups of "
                    << o.class_batch << " per step, " << o.positives << " positives (bank " << o.positive_bank
                    << " per class), " << o.negatives << " unconditional negatives (bank " << o.negative_bank
                    << "), guidance omega in [" << num(o.cfg_min) << ", " << num(o.cfg_max) << "]"
                    << (o.cfg_power == 1 ? std::string(" log-uniform") : ", density ~ omega^-" + num(o.cfg_power)) << "\n";

        // 3. Train, observing every observe_every steps (and after the last).
        const double sw2_start = trainer.holdout_sliced_w2();
        const bool show = !a.quiet && stderr_is_terminal();
        progress bar(show, o.steps);
        std::vector<gfd::generator_progress> log;
        gfd::generator_step last;
        double sw2 = sw2_start;
        const auto t_train = steady::now();
        while (trainer.steps_done() < o.steps) {
          last = trainer.step(div);
          const long t = last.step;
          if (t == o.steps || (o.observe_every > 0 && t % o.observe_every == 0)) {
            sw2 = trainer.holdout_sliced_w2();
            gfd::generator_progress p;
            p.step = t;
            p.steps = o.steps;
            p.loss = last.loss;
            p.drift2 = last.drift2;
            p.sliced_w2 = sw2;
            p.bandwidth = last.bandwidth;
            p.lr = last.lr;
            p.seconds = seconds_since(t_train);
            log.push_back(p);
          }
          bar.update(t, [&] {
            return "loss = " + num(last.loss) + "  |V|^2 = " + num(last.drift2) +
                   "  held-out sliced W2 = " + (std::isnan(sw2) ? std::string("-") : num(sw2));
          });
        }
        const double train_seconds = seconds_since(t_train);
        bar.finish();

        // 4. Judge: the held-out sliced W2 against the noise floor, the floor being the same
        //    distance between the held-out set and an independent target sample of its size.
        std::cout << "  trained " << trainer.steps_done() << " steps in " << fmt("%.2f", train_seconds)
                  << " s";
        if (trainer.steps_done() > 0) {
          const auto& tm = trainer.timing();
          const double all = std::max(1e-12, tm.drift + tm.network + tm.monitor);
          std::cout << " (" << fmt("%.2f", 1e3 * train_seconds / static_cast<double>(trainer.steps_done()))
                    << " ms/step; drift " << fmt("%.0f%%", 100 * tm.drift / all) << ", network "
                    << fmt("%.0f%%", 100 * tm.network / all) << ")";
        }
        std::cout << "\n";
        auto row = [](const std::string& label, const std::string& value) {
          std::printf("  %-46s %s\n", label.c_str(), value.c_str());
        };
        row("steps", std::to_string(trainer.steps_done()));
        row("final loss (eta^2 |V|^2)", trainer.steps_done() > 0 ? num(last.loss) : "-");
        row("final |V|^2 (standardised units)", trainer.steps_done() > 0 ? num(last.drift2) : "-");
        if (held > 0) {
          Eigen::MatrixXd fresh;
          std::string floor_note;
          if (cond) {
            // The generated samples have the hold-out's classes exactly, so the floor does too:
            // for each held-out label the next point of that class from a fresh toy sample (or
            // from the training points), without the class counts' sampling noise.
            Eigen::MatrixXd pool;
            std::vector<int> pool_labels;
            if (toy) {
              pool = gfd::toy::sample(a.target, 4 * held, o.seed + 1);
              pool_labels = gfd::toy::sample_labels(a.target, 4 * held, o.seed + 1);
              floor_note = "fresh " + a.target + " points, seed " + std::to_string(o.seed + 1) + ", same classes";
            } else {
              pool = model.unstandardise(trainer.training_data());
              pool_labels = trainer.training_labels();
              floor_note = "training points of the same classes";
            }
            std::vector<std::vector<Eigen::Index>> by_class(static_cast<std::size_t>(classes));
            for (std::size_t j = 0; j < pool_labels.size(); ++j)
              if (pool_labels[j] < classes) by_class[static_cast<std::size_t>(pool_labels[j])].push_back(static_cast<Eigen::Index>(j));
            std::vector<std::size_t> next(by_class.size(), 0);
            fresh.resize(d, held);
            Eigen::Index filled = 0;
            for (int c : trainer.holdout_labels()) {
              auto& list = by_class[static_cast<std::size_t>(c)];
              if (list.empty()) continue;
              fresh.col(filled++) = pool.col(list[next[static_cast<std::size_t>(c)]++ % list.size()]);
            }
            fresh.conservativeResize(d, filled);
          } else if (toy) {
            fresh = gfd::toy::sample(a.target, held, o.seed + 1);
            floor_note = "fresh " + a.target + " sample, seed " + std::to_string(o.seed + 1);
          } else {
            const Eigen::Index r = std::min<Eigen::Index>(held, trainer.training_data().cols());
            fresh = model.unstandardise(trainer.training_data().leftCols(r));
            floor_note = std::to_string(r) + " training points";
          }
          const double floor = gfd::sliced_wasserstein2(fresh, trainer.holdout(), o.sw2_projections, o.seed);
          std::cout << "  held-out sliced W2 (" << held << " generated vs " << held
                    << " held-out points, " << o.sw2_projections << " projections):\n";
          row("held-out sliced W2, untrained start", num(sw2_start));
          row("held-out sliced W2, final", num(sw2));
          row("noise floor (" + floor_note + ")", num(floor));
          if (floor > 0)
            std::cout << "  final sliced W2 = " << fmt("%.2f", sw2 / floor)
                      << " x the noise floor (1 = as close as a fresh sample of the target)\n";
          if (sw2 < 0.9 * floor)
            std::cout << "  (below 1: the floor is one random draw, and samples a little less spread "
                         "than the target also score below it)\n";
        } else {
          std::cout << "  no held-out set (--holdout 0 or too few points): no sliced W2\n";
        }
        const Eigen::Index n_show = held > 0 ? held : std::min<Eigen::Index>(2000, data.cols());
        // The classes of the shown samples: the hold-out's (or the first training points').
        std::vector<int> show_labels;
        if (cond) {
          show_labels = held > 0 ? trainer.holdout_labels() : trainer.training_labels();
          show_labels.resize(static_cast<std::size_t>(n_show));
        }
        const std::uint64_t show_seed = o.seed ^ 0x9e3779b97f4a7c15ULL;
        auto samples_of = [&](const gfd::generator_model& m) {
          return cond ? gfd::generate_like(m, show_labels, 1.0, show_seed) : m.generate(n_show, show_seed);
        };
        const Eigen::MatrixXd generated = samples_of(model);
        const auto mix = toy ? gfd::toy::mixture_of(a.target) : std::nullopt;
        std::string coverage_note;
        if (cond) {
          // Each class's own region: within 3 sd of its mode (mixture toys), else the class of
          // the nearest training point.
          const Eigen::MatrixXd train_pts = model.unstandardise(trainer.training_data());
          Eigen::Index own = 0, near_own = 0;
          for (Eigen::Index i = 0; i < generated.cols(); ++i) {
            const int c = show_labels[static_cast<std::size_t>(i)];
            Eigen::Index j = 0;
            (train_pts.colwise() - generated.col(i)).colwise().squaredNorm().minCoeff(&j);
            own += trainer.training_labels()[static_cast<std::size_t>(j)] == c;
            if (mix) near_own += (generated.col(i) - mix->centres.col(c)).norm() < 3 * mix->stddev;
          }
          const double share = static_cast<double>(own) / static_cast<double>(generated.cols());
          row("class agreement, omega = 1 (nearest data point)", fmt("%.1f%%", 100 * share));
          if (mix) {
            const double s3 = static_cast<double>(near_own) / static_cast<double>(generated.cols());
            row("within 3 sd of the own class's mode, omega = 1", fmt("%.1f%%", 100 * s3));
            coverage_note = ", " + fmt("%.1f%%", 100 * s3) + " within 3 sd of their class's mode";
          } else {
            coverage_note = ", class agreement " + fmt("%.1f%%", 100 * share);
          }
        } else if (mix) {
          const auto kmodes = mix->centres.cols();
          const int min_count = static_cast<int>(std::max<Eigen::Index>(1, n_show / (10 * kmodes)));
          const auto c = gfd::mode_coverage(generated, mix->centres, mix->stddev, min_count);
          row("modes covered (>= N/10K of " + std::to_string(n_show) + " samples)",
              std::to_string(c.modes_covered) + "/" + std::to_string(c.modes));
          row("samples within 3 sd of a mode", fmt("%.1f%%", 100 * c.fraction_near));
          coverage_note = ", " + std::to_string(c.modes_covered) + "/" + std::to_string(c.modes) + " modes covered";
        }

        // 5. Outputs, each written atomically.
        gfd::save_generator(model, a.out);
        std::cout << "  wrote " << a.out << " (" << model.network().parameter_count()
                  << " parameters, " << model.steps_trained() << " steps"
                  << (cond ? ", " + std::to_string(classes) + " classes: gfd generate --class K --cfg W" : std::string())
                  << ")\n";
        if (!a.log.empty()) {
          const bool with_sw2 = held > 0;
          Eigen::MatrixXd tab(with_sw2 ? 6 : 5, static_cast<Eigen::Index>(log.size()));
          for (std::size_t i = 0; i < log.size(); ++i) {
            const auto& p = log[i];
            const auto c = static_cast<Eigen::Index>(i);
            tab(0, c) = static_cast<double>(p.step);
            tab(1, c) = p.loss;
            tab(2, c) = p.drift2;
            tab(3, c) = p.lr;
            tab(4, c) = p.seconds;
            if (with_sw2) tab(5, c) = p.sliced_w2;
          }
          std::vector<std::string> names{"step", "loss", "drift2", "lr", "seconds"};
          if (with_sw2) names.emplace_back("sliced_w2");
          gfd::write_points(a.log, tab, names);
          std::cout << "  wrote " << a.log << " (" << log.size() << " rows, every " << o.observe_every
                    << " steps and the last)\n";
        }
        if (!a.png.empty()) {
          const Eigen::MatrixXd reference = held > 0 ? trainer.holdout() : data;
          const Eigen::MatrixXd before = samples_of(start_model);
          plot::figure fig;
          fig.title = "one-step generator for " + target_name + dims_note(d);
          fig.subtitle = std::to_string(trainer.steps_done()) + " steps of the " + div_title + ", " +
                         architecture(model) + " SiLU network, " + fmt("%.1f", train_seconds) + " s" +
                         (held > 0 ? ". Held-out sliced W2 " + num3(sw2) : std::string()) + coverage_note;
          fig.x_label = columns.size() > 0 ? columns[0] : "x0";
          fig.y_label = d > 1 ? columns[1] : "jitter";
          const plot::layer tl = target_layer(reference, held > 0 ? "held-out data" : "data");
          plot::panel p0, p1, p2;
          p0.title = held > 0 ? "target (held-out data)" : "target (data)";
          plot::layer solid = particle_layer(reference, "");
          solid.colour = plot::colours::target;  // data in the data's colour, drawn solid
          solid.colour.a = 0.8;
          p0.layers = {solid};
          p1.title = "untrained f(noise)";
          p1.layers = {tl, particle_layer(before, "generated")};
          p2.title = "f(noise) after " + std::to_string(trainer.steps_done()) + " steps";
          p2.layers = {tl, particle_layer(generated, "generated")};
          fig.panels = {p0, p1, p2};
          plot::write_png(a.png, fig);
          std::cout << "  wrote " << a.png << "\n";
        }
        }
      },
      kernel, divergence);
  std::cout << "  wall time " << fmt("%.2f", seconds_since(t_total)) << " s\n";
  return exit_ok;
}

}  // namespace

command add_train_command(CLI::App& app) {
  auto args = std::make_shared<train_args>();
  train_args& a = *args;
  // The options mirror gfd::generator_options and default to the library's defaults.
  train_args ta;
  const gfd::generator_options gd;
  auto* train = app.add_subcommand(
      "train", "Train a one-step generator (f(noise) ~ target, Deng et al.'s drifting) and save it");
  train->add_option("--target", a.target, "Toy name (" + toy_list() + ") or a .csv/.npy point cloud")
      ->required();
  train->add_option("--out", a.out, "Model file to write (e.g. model.gfdgen)")->required();
  train->add_option("--m", a.m, "Data points drawn from a toy (files: the whole file)")
      ->check(CLI::Range(4L, 100000000L))
      ->capture_default_str();
  train
      ->add_option("--holdout", a.holdout,
                   "Data points held out for the sliced W2 (default: 2000, at most 20% of the data)")
      ->check(nonnegative());
  train->add_option("--steps", a.opt.steps, "Training steps")
      ->check(CLI::Range(0L, 100000000L))
      ->default_str(std::to_string(gd.steps));
  train->add_option("--batch", a.opt.batch, "Generated samples per step")
      ->check(CLI::Range(2L, 1000000L))
      ->default_str(std::to_string(gd.batch));
  train->add_option("--target-batch", a.opt.target_batch, "Data samples per step (0 = --batch)")
      ->check(CLI::Range(0L, 1000000L))
      ->default_str(std::to_string(gd.target_batch));
  train->add_option("--lr", a.opt.lr, "Adam learning rate (peak)")
      ->check(positive_at_most(1.0, "Adam moves each parameter by about lr per step"))
      ->default_str(num(gd.lr));
  train->add_option("--lr-final", a.opt.lr_final, "Cosine decay to lr x this at the last step")
      ->check(CLI::Range(0.0, 1.0))
      ->default_str(num(gd.lr_final));
  train->add_option("--warmup", a.opt.warmup, "Linear warm-up steps")
      ->check(nonnegative())
      ->default_str(std::to_string(gd.warmup));
  train->add_option("--width", a.opt.width, "Hidden width")
      ->check(CLI::Range(1, 1048576))
      ->default_str(std::to_string(gd.width));
  train->add_option("--depth", a.opt.depth, "Hidden layers")
      ->check(CLI::Range(0, 255))
      ->default_str(std::to_string(gd.depth));
  train->add_option("--widths", a.widths, "Hidden widths W1,W2,... (overrides --width, --depth)");
  train->add_option("--noise-dim", a.opt.noise_dim, "Noise dimension (0 = the data dimension)")
      ->check(CLI::Range(0, 1048576))
      ->default_str(std::to_string(gd.noise_dim));
  train->add_option("--input-scale", a.opt.input_scale,
                    "Scale s of the first layer at start, W ~ N(0, s^2/k), b ~ N(0, s^2) (0 = LeCun, zero biases)")
      ->check(CLI::Range(0.0, 1e6))
      ->default_str(num(gd.input_scale));
  train->add_option("--ema", a.opt.ema, "EMA decay of the sampling weights")
      ->check(CLI::Range(0.0, 0.999999999))
      ->default_str(num(gd.ema));
  train->add_option("--eta", a.opt.eta, "Drift scale eta of the regression target f + eta V")
      ->check(positive_at_most(1e6, "the loss is eta^2 |V|^2"))
      ->default_str(num(gd.eta));
  train->add_option("--grad-clip", a.opt.grad_clip, "Clip the gradient norm (0 = off)")
      ->check(nonnegative())
      ->default_str(num(gd.grad_clip));
  train->add_option("--divergence", a.divergence.name, "Velocity field giving the drift V")
      ->check(CLI::IsMember(divergence_names()))
      ->capture_default_str();
  train->add_option("--alpha", a.divergence.alpha, "alpha of --divergence alpha")
      ->capture_default_str();
  train
      ->add_option("--affinity-floor", a.divergence.affinity_floor,
                   "Floor on every affinity of --divergence drifting-deng (0 here: at batch 512 "
                   "Deng et al.'s 1e-3 is a typical affinity and collapses the modes)")
      ->check(CLI::Range(0.0, 0.999999))
      ->capture_default_str();
  add_transport_options(train, a.divergence);
  train->add_option("--mix", a.divergence.mix, "Weights A:B for --divergence mixed")
      ->capture_default_str();
  train
      ->add_option("--temperatures", a.temperatures,
                   "Temperatures of --divergence drifting-deng, x the mean distance (replace the bandwidth)")
      ->capture_default_str();
  train->add_option("--kernel", a.kernel, "Kernel")
      ->check(CLI::IsMember(kernel_names()))
      ->capture_default_str();
  train->add_option("--imq-beta", a.imq_beta, "Exponent of the imq kernel")
      ->check(positive())
      ->capture_default_str();
  train
      ->add_option("--bandwidth", a.bandwidth,
                   "VALUE (standardised units), scott, silverman or median (rule on each data batch); "
                   "not used by drifting-deng")
      ->capture_default_str();
  train->add_option("--bandwidth-factor", a.bandwidth_factor, "Multiplies the rule's bandwidth")
      ->check(positive())
      ->capture_default_str();
  train->add_option("--multipliers", a.multipliers, "Sum the drift over bandwidths h c1, h c2, ...")
      ->capture_default_str();
  train->add_option("--seed", a.opt.seed, "Seed: toy data, initialisation, noise, batches, split")
      ->check(seed_check())
      ->capture_default_str();
  train->add_option("--log-every", a.opt.observe_every, "Steps between held-out sliced W2 measurements")
      ->check(CLI::Range(1L, 100000000L))
      ->default_str(std::to_string(gd.observe_every));
  train->add_option("--log", a.log, "Write the measurements (.csv: step, loss, drift2, lr, seconds, sliced_w2)");
  train->add_option("--png", a.png, "Write a picture: target, untrained and trained samples (.png)");
  train->add_option("--precision", a.precision,
                    "Arithmetic of the drift's kernel sums: double or float (the network stays double)")
      ->check(CLI::IsMember({"double", "float"}))->capture_default_str();
  train->add_option("--threads", a.threads, "OpenMP threads (default: all)")
      ->check(threads_check());
  train->add_flag("--conditional", a.conditional,
                  "Class-conditional generator with classifier-free guidance (labels from a toy's "
                  "classes, or --label-column of a file)");
  train->add_option("--label-column", a.label_column,
                    "Label column of a --target file: a name, or a 0-based index (-1 = last; .npy "
                    "files carry labels this way); implies --conditional");
  train->add_option("--class-batch", a.opt.class_batch, "Conditional: generated samples per class group")
      ->check(CLI::Range(2L, 1000000L))->capture_default_str();
  train->add_option("--positives", a.opt.positives, "Conditional: positives per group from the class's memory bank")
      ->check(CLI::Range(1L, 1000000L))->capture_default_str();
  train->add_option("--negatives", a.opt.negatives, "Conditional: unconditional negatives per group (0 = no guidance)")
      ->check(CLI::Range(0L, 1000000L))->capture_default_str();
  train->add_option("--positive-bank", a.opt.positive_bank, "Conditional: memory bank capacity per class")
      ->check(CLI::Range(1L, 10000000L))->capture_default_str();
  train->add_option("--negative-bank", a.opt.negative_bank, "Conditional: unconditional memory bank capacity")
      ->check(CLI::Range(1L, 10000000L))->capture_default_str();
  train->add_option("--cfg-min", a.opt.cfg_min, "Conditional: smallest guidance scale omega drawn in training")
      ->check(CLI::Range(1.0, 1e6))->capture_default_str();
  train->add_option("--cfg-max", a.opt.cfg_max, "Conditional: largest guidance scale omega drawn in training")
      ->check(CLI::Range(1.0, 1e6))->capture_default_str();
  train->add_option("--cfg-power", a.opt.cfg_power,
                    "Conditional: omega drawn with density ~ omega^-POWER (1 = log-uniform)")
      ->check(CLI::Range(-100.0, 100.0))->capture_default_str();
  train->add_flag("--quiet,-q", a.quiet,
                  "No progress line (it is also off when stderr is not a terminal)");

  return {train, [args] { return cmd_train(*args); }};
}

}  // namespace gfd_cli
