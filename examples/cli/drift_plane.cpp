// SPDX-License-Identifier: MIT
/// @file drift_plane.cpp
/// @brief `gfd drift` in R^d: toy or file targets, a Gaussian, uniform or file start, the
///        two-sample metrics and mode coverage, and snapshots of the first two coordinates.

#include "drift.hpp"

#include <gfd/metrics.hpp>
#include <gfd/toy.hpp>

#include <filesystem>

namespace gfd_cli {
namespace {

/// The plane's part of the drift pipeline (drift.hpp).
class plane_space {
public:
  explicit plane_space(const drift_args& a) : a(a) {}

  struct plane_problem : drift_problem {
    std::optional<gfd::toy::mixture> modes;
  };
  struct metric_set {
    gfd::two_sample_distances d;
    std::optional<gfd::coverage> cov;
  };

  void before_run(bool explicit_outputs, std::string& png) const {
    if (explicit_outputs) return;
    if (plot::available)
      png = "gfd-drift.png";
    else
      std::cerr << "gfd: warning: built without Cairo, so no picture is drawn; use --out FILE to "
                   "save the particles\n";
  }
  void adjust(gfd::flow_options&) const {}
  [[nodiscard]] const drift_problem& problem() const { return p; }
  [[nodiscard]] drift_problem& problem() { return p; }
  void after_problem(bool, std::string&) const {}
  [[nodiscard]] int panels() const { return std::max(2, a.snapshots); }
  [[nodiscard]] gfd::euclidean manifold() const { return {}; }

  void make_problem() {
    p = plane_problem{};
    const std::uint64_t s = a.seed;
    const bool toy = is_toy(a.target);

    // 1. Targets (and, for a file, the held-out part).
    gfd::table file;
    std::vector<Eigen::Index> perm;
    Eigen::Index held = 0, train = 0;
    const bool init_file = a.init != "gaussian" && a.init != "uniform";
    const std::string label_spec = a.label_column.empty() ? "label" : a.label_column;
    // --init FILE: its points (and with --conditional its labels), of dimension d.
    auto read_start = [&](Eigen::Index d) {
      if (!a.conditional) {
        p.start = read_cloud(a.init, d).points;  // throws naming the file on a wrong dimension
        return;
      }
      gfd::table t = read_cloud(a.init);
      p.start_labels = take_label_column(t, label_spec, "--init " + a.init);
      if (t.points.rows() != d)
        throw usage_error("--init " + a.init + ": " + std::to_string(t.points.rows()) +
                          " coordinates besides the label column, the target has " + std::to_string(d));
      p.start = std::move(t.points);
    };
    if (toy) {
      if (a.conditional && gfd::toy::class_count(a.target) == 0)
        throw usage_error("--conditional: the toy " + a.target + " has no classes (the toys with classes: " + labelled_toys() + ")");
      // With --init FILE the file gives N, and M defaults to it as it does to --n.
      if (init_file) read_start(2);
      const long m = a.m > 0 ? a.m : init_file ? static_cast<long>(p.start.cols()) : a.n;
      p.target_name = a.target;
      p.targets = gfd::toy::sample(a.target, m, s);
      if (a.conditional) p.target_labels = gfd::toy::sample_labels(a.target, m, s);
      p.modes = gfd::toy::mixture_of(a.target);
      p.columns = {"x0", "x1"};
    } else {
      if (!std::filesystem::exists(a.target) && std::filesystem::path(a.target).extension().empty())
        throw usage_error("--target " + a.target + ": neither a toy (" + toy_list() +
                          ") nor an existing .csv/.npy file");
      file = read_cloud(a.target);
      std::vector<int> file_labels;
      if (a.conditional) file_labels = take_label_column(file, label_spec, "--target " + a.target);
      else note_label_column(file, "--target " + a.target, "--conditional");
      p.columns = file.columns;
      p.target_name = std::filesystem::path(a.target).filename().string();
      const target_split split = split_targets(file.points.cols(), a);
      perm = split.perm;
      held = split.held;
      train = split.train;
      p.targets = columns_of(file.points, perm, static_cast<std::size_t>(held),
                             static_cast<std::size_t>(train));
      for (Eigen::Index k = 0; a.conditional && k < train; ++k)
        p.target_labels.push_back(file_labels[static_cast<std::size_t>(perm[static_cast<std::size_t>(held + k)])]);
    }
    if (p.targets.cols() < 2) throw usage_error("the target has fewer than 2 points");
    check_flow_scale("--target " + a.target, p.targets);

    // 2. The start.
    const Eigen::Index d = p.targets.rows();
    std::mt19937_64 rng(s + 1);
    if (a.init == "gaussian") {
      if (toy) {
        p.start = gfd::toy::gaussian(d, a.n, rng);  // the toys share the box [-4, 4]^2: N(0, I)
      } else {
        // N(mean, sigma^2 I) with the targets' mean and pooled standard deviation.
        const Eigen::VectorXd mean = p.targets.rowwise().mean();
        const double sigma = std::sqrt((p.targets.colwise() - mean).squaredNorm() /
                                       static_cast<double>(p.targets.size()));
        p.start = (gfd::toy::gaussian(d, a.n, rng) * (sigma > 0 ? sigma : 1.0)).colwise() + mean;
      }
    } else if (a.init == "uniform") {
      // Uniform on the bounding box of the targets.
      const Eigen::VectorXd lo = p.targets.rowwise().minCoeff(), hi = p.targets.rowwise().maxCoeff();
      p.start = gfd::toy::uniform_box(d, a.n, rng, 0.0, 1.0);
      for (Eigen::Index k = 0; k < d; ++k)
        p.start.row(k) = (lo(k) + (hi(k) - lo(k)) * p.start.row(k).array()).matrix();
    } else {
      if (!toy) read_start(d);
      if (p.start.cols() < 2) throw usage_error("--init " + a.init + ": needs at least 2 particles");
      check_flow_scale("--init " + a.init, p.start);
    }
    const Eigen::Index n = p.start.cols();
    if (a.conditional) label_classes(n);

    // 3. Held-out and reference sets, the size of the particle cloud where possible.
    if (toy) {
      p.heldout = gfd::toy::sample(a.target, n, s + 2);
      p.reference = gfd::toy::sample(a.target, n, s + 3);
      p.heldout_note = std::to_string(n) + " fresh samples of " + a.target + " (seed " +
                       std::to_string(s + 2) + ")";
      p.reference_note = "another " + std::to_string(n) + " fresh samples (seed " +
                         std::to_string(s + 3) + ") vs the held-out set: the two-sample noise floor";
    } else if (held > 0) {
      p.heldout = columns_of(file.points, perm, 0, static_cast<std::size_t>(held));
      const Eigen::Index ref = std::min<Eigen::Index>(train, n);
      p.reference = p.targets.leftCols(ref);  // already a random subset
      p.heldout_note = std::to_string(held) + " points of " + p.target_name +
                       " held out at random (" + num(100 * a.holdout) + "%, never seen by the flow)";
      p.reference_note = std::to_string(ref) + " of the " + std::to_string(train) +
                         " training points vs the held-out set: the two-sample noise floor";
    } else {
      p.heldout = file.points;
      p.reference = p.targets;
      p.heldout_note = "the whole file (" + std::to_string(file.points.cols()) +
                       " points; too few to hold some out, or --holdout 0): the metrics are "
                       "optimistic, the flow has seen these points";
      p.reference_note = "the flow's targets vs the whole file";
    }
  }

  /// --conditional: the classes, and the start's labels when the start has none (a Gaussian or
  /// uniform start): class c gets its targets' share of the n particles (largest remainders),
  /// assigned in a seeded random order.
  void label_classes(Eigen::Index n) {
    int k = 0;
    for (int c : p.target_labels) k = std::max(k, c + 1);
    for (int c : p.start_labels) k = std::max(k, c + 1);
    p.classes = k;
    std::vector<Eigen::Index> targets(static_cast<std::size_t>(k), 0);
    for (int c : p.target_labels) ++targets[static_cast<std::size_t>(c)];
    if (p.start_labels.empty()) {
      const auto m = static_cast<double>(p.target_labels.size());
      std::vector<Eigen::Index> count(static_cast<std::size_t>(k));
      std::vector<std::pair<double, int>> rest;
      Eigen::Index given = 0;
      for (int c = 0; c < k; ++c) {
        const double share = static_cast<double>(n) * static_cast<double>(targets[static_cast<std::size_t>(c)]) / m;
        count[static_cast<std::size_t>(c)] = static_cast<Eigen::Index>(std::floor(share));
        given += count[static_cast<std::size_t>(c)];
        rest.emplace_back(-(share - std::floor(share)), c);
      }
      std::sort(rest.begin(), rest.end());
      for (Eigen::Index r = 0; r < n - given; ++r) ++count[static_cast<std::size_t>(rest[static_cast<std::size_t>(r)].second)];
      std::vector<int> in_order;
      for (int c = 0; c < k; ++c) in_order.insert(in_order.end(), static_cast<std::size_t>(count[static_cast<std::size_t>(c)]), c);
      const std::vector<Eigen::Index> order = permutation(n, a.seed + 5);
      p.start_labels.resize(static_cast<std::size_t>(n));
      for (Eigen::Index i = 0; i < n; ++i)
        p.start_labels[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] = in_order[static_cast<std::size_t>(i)];
    }
    std::vector<Eigen::Index> particles(static_cast<std::size_t>(k), 0);
    for (int c : p.start_labels) ++particles[static_cast<std::size_t>(c)];
    for (int c = 0; c < k; ++c)
      if (particles[static_cast<std::size_t>(c)] > 0 && targets[static_cast<std::size_t>(c)] < 2)
        throw usage_error("--conditional: class " + std::to_string(c) + " has " +
                          std::to_string(particles[static_cast<std::size_t>(c)]) + " particles but " +
                          std::to_string(targets[static_cast<std::size_t>(c)]) +
                          " targets (each class with particles needs at least 2 targets)");
  }

  void print_header(const std::string& title, const std::string& bw_desc) const {
    std::cout << "gfd drift: " << title << " flow toward " << p.target_name << ", N = " << p.start.cols()
              << " particles, M = " << p.targets.cols() << " targets, d = " << p.targets.rows() << "\n"
              << "  " << a.kernel << " kernel, bandwidth " << bw_desc << ", " << a.stepper
              << " dt = " << num(a.dt) << " (units of h^2), " << a.steps << " steps, seed " << a.seed
              << parallelism_note(thread_count()) << "\n";
    if (a.conditional)
      std::cout << "  conditional: " << p.classes << " classes, each class's particles toward its own targets\n";
  }

  // Metrics against the held-out sample; one MMD bandwidth for every column.
  void prepare_metrics() {
    h_metric = gfd::median_distance(gfd::cloud_view<double>(p.heldout));
    // Held-out points that (mostly) coincide have median distance 0, no Gaussian bandwidth:
    // then the median over held-out and start points, which the flow's start spreads apart.
    if (!(h_metric > 0)) h_metric = gfd::pooled_median_distance(p.heldout, p.start);
  }

  [[nodiscard]] metric_set measure(const Eigen::MatrixXd& x) const {
    metric_set m;
    m.d = gfd::two_sample_report(x, p.heldout, h_metric, 128, 0);
    // A mode counts as covered when it holds a tenth of its fair share N/K (the library's default
    // threshold, 1%, would count a handful of stray particles from an unconverged start).
    if (p.modes) {
      const auto k = p.modes->centres.cols();
      const int min_count = static_cast<int>(std::max<Eigen::Index>(1, x.cols() / (10 * k)));
      m.cov = gfd::mode_coverage(x, p.modes->centres, p.modes->stddev, min_count);
    }
    return m;
  }
  void check_final(const metric_set&) const {}

  void print_metrics(const metric_set& m0, const metric_set& m1, const metric_set& mr) const {
    std::cout << "Metrics against the held-out set: " << p.heldout_note << "\n"
              << "  (reference = " << p.reference_note << ")\n\n";
    auto row = [](const std::string& name, const std::string& a0, const std::string& a1,
                  const std::string& ar) {
      std::printf("  %-34s %12s %12s %12s\n", name.c_str(), a0.c_str(), a1.c_str(), ar.c_str());
    };
    row("", "start", "final", "reference");
    row("MMD^2 unbiased (Gaussian, h = " + num(h_metric) + ")", num(m0.d.mmd2_unbiased),
        num(m1.d.mmd2_unbiased), num(mr.d.mmd2_unbiased));
    row("energy distance", num(m0.d.energy_distance), num(m1.d.energy_distance),
        num(mr.d.energy_distance));
    row("sliced W2 (128 projections)", num(m0.d.sliced_w2), num(m1.d.sliced_w2), num(mr.d.sliced_w2));
    if (p.modes) {
      auto cov = [](const metric_set& s) {
        return std::to_string(s.cov->modes_covered) + "/" + std::to_string(s.cov->modes);
      };
      auto near = [](const metric_set& s) { return fmt("%.1f%%", 100 * s.cov->fraction_near); };
      row("modes covered (>= N/10K points)", cov(m0), cov(m1), cov(mr));
      row("within 3 sd of a mode", near(m0), near(m1), near(mr));
    }
    if (mr.d.sliced_w2 > 0) {
      const double ratio = m1.d.sliced_w2 / mr.d.sliced_w2;
      std::cout << "\n  final sliced W2 = " << fmt("%.2f", ratio)
                << " x the noise floor (1 = as close as a fresh sample of the target)\n";
      if (ratio < 0.9)
        std::cout << "  (below 1: the particles share their mass out more evenly than a random "
                     "sample does)\n";
    }
  }

  void draw(const std::string& png, const drift_context& c, const metric_set& m1,
            const metric_set& mr) const {
    const Eigen::Index d = p.targets.rows();
    plot::figure fig;
    fig.title = c.title + " flow toward " + p.target_name + dims_note(d);
    fig.subtitle = "N = " + std::to_string(p.start.cols()) +
                   " particles, M = " + std::to_string(p.targets.cols()) + " targets, " + a.kernel +
                   " kernel, bandwidth " + c.bandwidths + ", " + a.stepper + " dt = " + num3(a.dt) +
                   ". Final sliced W2 to held-out data " + num3(m1.d.sliced_w2) + " (noise floor " +
                   num3(mr.d.sliced_w2) + ")";
    if (p.modes)
      fig.subtitle += ", " + std::to_string(m1.cov->modes_covered) + "/" +
                      std::to_string(m1.cov->modes) + " modes covered";
    fig.x_label = p.columns.size() > 0 ? p.columns[0] : "x0";
    fig.y_label = d > 1 ? p.columns[1] : "jitter";
    const plot::layer tl = target_layer(p.targets, "target samples");
    for (const auto& s : c.run.panel_shots) {
      plot::panel pn;
      pn.title = s.step == 0
                     ? "start"
                     : "step " + std::to_string(s.step) +
                           (std::isnan(s.bandwidth) ? std::string() : "  (h = " + num3(s.bandwidth) + ")");
      pn.layers = {tl, particle_layer(s.x, "particles")};
      fig.panels.push_back(std::move(pn));
    }
    plot::write_png(png, fig);
    std::cout << "  wrote " << png << " (" << c.run.panel_shots.size() << " snapshots)\n";
  }
  void finish() const {}

private:
  const drift_args& a;
  plane_problem p;
  double h_metric = 0;
};

}  // namespace

int drift_plane(const drift_args& a, bool explicit_outputs) {
  plane_space space(a);
  return run_drift_command(a, explicit_outputs, space);
}

}  // namespace gfd_cli
