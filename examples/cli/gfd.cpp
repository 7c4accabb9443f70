// SPDX-License-Identifier: MIT
/// @file gfd.cpp
/// @brief The `gfd` command-line tool: drift particles toward a target (toy or point-cloud
///        file), sample toys, evaluate KDEs and compare point clouds.
///
/// Exit codes: 0 success; 1 the run failed (numerical error, a file could not be written);
/// 2 bad usage or bad input (unknown option or value, malformed or missing file). Every file is
/// written atomically (temporary + rename), so a failure never leaves half a file behind.

#include <gfd/bandwidth.hpp>
#include <gfd/divergences.hpp>
#include <gfd/error.hpp>
#include <gfd/evaluators/tree.hpp>
#include <gfd/flow.hpp>
#include <gfd/generator.hpp>
#include <gfd/io.hpp>
#include <gfd/kde.hpp>
#include <gfd/kernels.hpp>
#include <gfd/metrics.hpp>
#include <gfd/toy.hpp>

#include <CLI/CLI.hpp>

#include "plot.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <variant>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef _WIN32
#include <io.h>
#define GFD_ISATTY(fd) _isatty(fd)
#else
#include <unistd.h>
#define GFD_ISATTY(fd) ::isatty(fd)
#endif

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

/// A usage error found after parsing (a bad combination or value): exit code 2.
class usage_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

using steady = std::chrono::steady_clock;
double seconds_since(steady::time_point t0) {
  return std::chrono::duration<double>(steady::now() - t0).count();
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}
/// 3 significant digits, for pictures.
std::string num3(double v) {
  const double a = std::abs(v);
  return (v == 0 || (a >= 1e-3 && a < 1e5)) ? fmt("%.3g", v) : fmt("%.2e", v);
}
/// Compact number: 4 significant digits, scientific when far from 1.
std::string num(double v) {
  if (v == 0) return "0";
  const double a = std::abs(v);
  return (a >= 1e-3 && a < 1e5) ? fmt("%.4g", v) : fmt("%.3e", v);
}

// ---------------------------------------------------------------------------------------------
// Argument helpers
// ---------------------------------------------------------------------------------------------

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

/// Checks an output path before any work is done: extension and existing directory.
void check_output(const std::string& path, const std::string& option, bool png) {
  if (path.empty()) return;
  const std::string ext = lower_extension(path);
  if (png ? ext != ".png" : ext != ".csv" && ext != ".npy")
    throw usage_error(option + " " + path + ": expected a " + (png ? ".png" : ".csv or .npy") +
                      " file name, got extension '" + ext + "'");
  const auto dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
    throw usage_error(option + " " + path + ": directory '" + dir.string() + "' does not exist");
  if (std::filesystem::is_directory(path, ec))
    throw usage_error(option + " " + path + ": is a directory");
}

void check_png_available(const std::string& path, const std::string& option) {
  if (!path.empty() && !plot::available)
    throw usage_error(option + " " + path +
                      ": this gfd was built without Cairo (libcairo2-dev), so it cannot draw "
                      "pictures; rebuild with Cairo or drop " +
                      option);
}

/// A strictly positive finite number, or nullopt when `s` is not a number at all.
std::optional<double> parse_number(const std::string& s) {
  double v = 0;
  const char* b = s.data();
  const char* e = b + s.size();
  if (b != e && *b == '+') ++b;
  const auto [ptr, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || ptr != e) return std::nullopt;
  return v;
}

double positive_number(const std::string& s, const std::string& what) {
  const auto v = parse_number(s);
  if (!v) throw usage_error(what + ": '" + s + "' is not a number");
  if (!(std::isfinite(*v) && *v > 0))
    throw usage_error(what + ": must be finite and > 0, got " + s);
  return *v;
}

/// Reads a point cloud with its column names (x0, x1, ... for .npy and header-less CSV).
gfd::table read_cloud(const std::string& path, Eigen::Index expected_dim = -1) {
  if (lower_extension(path) == ".csv") return gfd::read_csv_table(path, expected_dim);
  gfd::table t;
  t.points = gfd::read_points(path, expected_dim);  // throws for other extensions
  for (Eigen::Index k = 0; k < t.points.rows(); ++k) t.columns.push_back(gfd::default_column_name(k));
  return t;
}

/// A point cloud "NAME" (toy) or "FILE"; n points of a toy, drawn with `seed`.
bool is_toy(const std::string& s) { return gfd::toy::exists(s); }

std::string toy_list() {
  std::string s;
  for (const auto& n : gfd::toy::names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

/// Uniform random permutation of 0..n-1 (portable: raw engine output, no std distribution).
std::vector<Eigen::Index> permutation(Eigen::Index n, std::uint64_t seed) {
  std::vector<Eigen::Index> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), Eigen::Index{0});
  std::mt19937_64 rng(seed);
  for (Eigen::Index i = n - 1; i > 0; --i) {
    const auto j = static_cast<Eigen::Index>(rng() % static_cast<std::uint64_t>(i + 1));
    std::swap(p[static_cast<std::size_t>(i)], p[static_cast<std::size_t>(j)]);
  }
  return p;
}

Eigen::MatrixXd columns_of(const Eigen::MatrixXd& x, const std::vector<Eigen::Index>& idx,
                           std::size_t from, std::size_t count) {
  Eigen::MatrixXd out(x.rows(), static_cast<Eigen::Index>(count));
  for (std::size_t k = 0; k < count; ++k)
    out.col(static_cast<Eigen::Index>(k)) = x.col(idx[from + k]);
  return out;
}

void set_threads(int threads) {
  if (threads <= 0) return;
#ifdef _OPENMP
  omp_set_num_threads(threads);
#else
  if (threads > 1)
    std::cerr << "gfd: warning: built without OpenMP, --threads " << threads << " ignored\n";
#endif
}

int thread_count() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// ---------------------------------------------------------------------------------------------
// Kernels and divergences by name
// ---------------------------------------------------------------------------------------------

using any_kernel =
    std::variant<gfd::gaussian, gfd::laplacian, gfd::epanechnikov, gfd::inverse_multiquadric>;

const std::vector<std::string> kernel_names{"gaussian", "laplacian", "epanechnikov", "imq"};

any_kernel make_kernel(const std::string& name, double imq_beta) {
  if (name == "gaussian") return gfd::gaussian{};
  if (name == "laplacian") return gfd::laplacian{};
  if (name == "epanechnikov") return gfd::epanechnikov{};
  if (name == "imq") return gfd::inverse_multiquadric{imq_beta};
  throw usage_error("unknown kernel '" + name + "'");
}

using mixed_divergence = gfd::mixture<gfd::f_divergence, gfd::f_divergence>;
using any_divergence =
    std::variant<gfd::f_divergence, gfd::mmd, mixed_divergence, gfd::drifting_field>;

// clang-format off
const std::vector<std::string> divergence_names{
    "kl", "reverse-kl", "chi2", "chi2-reverse", "js", "hellinger", "alpha", "mmd", "mixed",
    "drifting", "drifting-deng"};
// clang-format on

struct divergence_choice {
  std::string name = "kl";
  double alpha = 0.5;
  std::string mix = "1:1";
};

std::pair<double, double> parse_pair(const std::string& s, const std::string& what) {
  const auto colon = s.find(':');
  if (colon == std::string::npos) throw usage_error(what + ": expected A:B, got '" + s + "'");
  const auto a = parse_number(s.substr(0, colon)), b = parse_number(s.substr(colon + 1));
  if (!a || !b || !std::isfinite(*a) || !std::isfinite(*b) || *a < 0 || *b < 0 || *a + *b <= 0)
    throw usage_error(what + ": expected two non-negative numbers A:B, got '" + s + "'");
  return {*a, *b};
}

any_divergence make_divergence(const divergence_choice& c) {
  if (c.name == "kl") return gfd::kl();
  if (c.name == "reverse-kl") return gfd::reverse_kl();
  if (c.name == "chi2") return gfd::chi2();
  if (c.name == "chi2-reverse") return gfd::reverse_chi2();
  if (c.name == "js") return gfd::jensen_shannon();
  if (c.name == "hellinger") return gfd::squared_hellinger();
  if (c.name == "alpha") return gfd::alpha_divergence(c.alpha);
  if (c.name == "mmd") return gfd::mmd{};
  if (c.name == "mixed") {
    const auto [a, b] = parse_pair(c.mix, "--mix");
    return mixed_divergence(gfd::reverse_kl(), gfd::chi2(), a, b);
  }
  if (c.name == "drifting") return gfd::drifting_field{};
  if (c.name == "drifting-deng") return gfd::drifting_field{gfd::deng_drifting_options()};
  throw usage_error("unknown divergence '" + c.name + "'");
}

/// The functional in mathematical notation, for titles.
std::string divergence_title(const divergence_choice& c) {
  if (c.name == "kl") return "KL(q\u2016p)";
  if (c.name == "reverse-kl") return "KL(p\u2016q)";
  if (c.name == "chi2") return "\u03c7\u00b2(q\u2016p)";
  if (c.name == "chi2-reverse") return "\u03c7\u00b2(p\u2016q)";
  if (c.name == "js") return "Jensen-Shannon";
  if (c.name == "hellinger") return "squared Hellinger";
  if (c.name == "alpha") return "\u03b1-divergence (\u03b1 = " + num(c.alpha) + ")";
  if (c.name == "mmd") return "MMD\u00b2";
  if (c.name == "mixed") {
    const auto [a, b] = parse_pair(c.mix, "--mix");
    return num(a) + " KL(p\u2016q) + " + num(b) + " \u03c7\u00b2(q\u2016p)";
  }
  if (c.name == "drifting") return "drifting field";
  if (c.name == "drifting-deng") return "drifting field (Deng et al. settings)";
  return c.name;
}

/// Bandwidth schedule from --bandwidth and --anneal.
///   (neither)              the flow's default: annealed (see gfd::bandwidth_schedule)
///   --bandwidth 0.3        fixed 0.3
///   --bandwidth scott      Scott's rule on the targets
///   --anneal               annealed from the automatic start to the automatic end
///   --anneal 1.5:0.1       annealed from 1.5 to 0.1 (either side may be empty: automatic)
///   --anneal --bandwidth B annealed from the automatic start down to B (a value, or a rule
///                          that sets the automatic end)
gfd::bandwidth_schedule make_schedule(const std::string& bandwidth, bool anneal,
                                      const std::string& range, std::string& description) {
  if (!anneal) {
    if (bandwidth.empty()) {
      description = "annealed (default)";
      return gfd::flow_options{}.bandwidth;
    }
    if (bandwidth == "scott" || bandwidth == "silverman" || bandwidth == "median") {
      description = bandwidth + " rule on the targets";
      return gfd::bandwidth_schedule::by_rule(gfd::parse_bandwidth_rule(bandwidth));
    }
    const double h = positive_number(bandwidth, "--bandwidth");
    description = "fixed " + num(h);
    return gfd::bandwidth_schedule::fixed(h);
  }
  auto s = gfd::bandwidth_schedule::anneal();
  description = "annealed";
  if (!range.empty()) {
    const auto colon = range.find(':');
    if (colon == std::string::npos)
      throw usage_error(
          "--anneal: expected START:END (e.g. 2:0.1, or :0.1 for an automatic start), got '" +
          range + "'");
    const std::string a = range.substr(0, colon), b = range.substr(colon + 1);
    if (!a.empty()) s.h_start = positive_number(a, "--anneal START");
    if (!b.empty()) s.h_end = positive_number(b, "--anneal END");
  }
  if (!bandwidth.empty()) {
    if (bandwidth == "scott" || bandwidth == "silverman" || bandwidth == "median") {
      s.rule = gfd::parse_bandwidth_rule(bandwidth);
    } else {
      if (!std::isnan(s.h_end))
        throw usage_error("--bandwidth " + bandwidth + " and --anneal " + range +
                          " both set the final bandwidth; give only one");
      s.h_end = positive_number(bandwidth, "--bandwidth");
    }
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Pictures
// ---------------------------------------------------------------------------------------------

/// The two plotted coordinates of a cloud: its first two rows, or for 1-D data the value
/// against a deterministic vertical jitter in [-1, 1].
Eigen::MatrixXd plane(const Eigen::MatrixXd& x, std::size_t max_points = 20000) {
  Eigen::MatrixXd p(2, std::min<Eigen::Index>(x.cols(), static_cast<Eigen::Index>(max_points)));
  const double stride = static_cast<double>(x.cols()) / static_cast<double>(p.cols());
  std::mt19937_64 rng(12345);
  for (Eigen::Index i = 0; i < p.cols(); ++i) {
    const auto src = static_cast<Eigen::Index>(static_cast<double>(i) * stride);
    p(0, i) = x(0, src);
    p(1, i) = x.rows() > 1 ? x(1, src) : -1.0 + 2.0 * static_cast<double>(rng() >> 11) * 0x1.0p-53;
  }
  return p;
}

plot::layer target_layer(const Eigen::MatrixXd& y, const std::string& label) {
  plot::layer l;
  l.points = plane(y);
  l.colour = plot::colours::target;
  // Fainter discs for bigger clouds, so the cloud reads as a density.
  l.colour.a =
      std::clamp(0.30 * std::sqrt(1000.0 / static_cast<double>(l.points.cols())), 0.05, 0.35);
  l.radius = 2.0;
  l.label = label;
  return l;
}

plot::layer particle_layer(const Eigen::MatrixXd& x, const std::string& label) {
  plot::layer l;
  l.points = plane(x);
  l.colour = plot::colours::particles;
  const double n = static_cast<double>(l.points.cols());
  l.radius = std::clamp(1.7 * std::pow(1000.0 / n, 0.25), 0.8, 2.6);
  l.label = label;
  return l;
}

std::string dims_note(Eigen::Index d) {
  if (d == 1) return " (1-D data against a vertical jitter)";
  if (d > 2) return " (first 2 of " + std::to_string(d) + " coordinates)";
  return "";
}

/// One panel of samples (`gfd sample --png`, `gfd generate --png`).
void write_samples_png(const std::string& path, const Eigen::MatrixXd& x, const std::string& title,
                       const std::string& subtitle) {
  plot::figure fig;
  fig.title = title + dims_note(x.rows());
  fig.subtitle = subtitle;
  fig.panel_width = 420;
  plot::panel pn;
  pn.layers = {particle_layer(x, "")};
  fig.panels.push_back(std::move(pn));
  if (x.rows() == 1) fig.y_label = "jitter";
  plot::write_png(path, fig);
}

// ---------------------------------------------------------------------------------------------
// Progress line
// ---------------------------------------------------------------------------------------------

/// The progress line on stderr (a terminal only): "step k/total", what `describe()` returns,
/// elapsed time and ETA, redrawn at most 10 times a second; `describe` runs only when drawing.
class progress {
public:
  progress(bool enabled, long total) : on_(enabled), total_(total), t0_(steady::now()) {}
  template <class Describe>
  void update(long step, Describe&& describe) {
    if (!on_) return;
    const double elapsed = seconds_since(t0_);
    if (step < total_ && elapsed - last_ < 0.1) return;
    last_ = elapsed;
    const double eta =
        step > 0 ? elapsed / static_cast<double>(step) * static_cast<double>(total_ - step) : 0;
    const std::string values = describe();
    std::fprintf(stderr, "\r\x1b[K  step %ld/%ld  %s  elapsed %.1f s  ETA %.1f s", step, total_,
                 values.c_str(), elapsed, eta);
    std::fflush(stderr);
    drawn_ = true;
  }
  void finish() {
    if (on_ && drawn_) std::fprintf(stderr, "\r\x1b[K");
    std::fflush(stderr);
  }

private:
  bool on_;
  long total_;
  steady::time_point t0_;
  double last_ = -1;
  bool drawn_ = false;
};

// ---------------------------------------------------------------------------------------------
// gfd drift
// ---------------------------------------------------------------------------------------------

struct drift_args {
  std::string target = "8gaussians";
  std::string init = "gaussian";
  long n = 1000;
  long m = 0;  // 0: same as n (toys) / the whole training part (files)
  long steps = gfd::flow_options{}.max_steps;
  double dt = gfd::flow_options{}.dt;
  double max_displacement = gfd::flow_options{}.max_displacement;
  divergence_choice divergence;
  std::string kernel = "gaussian";
  double imq_beta = 1.5;
  std::string bandwidth;
  bool anneal = false;
  std::string anneal_range;
  std::string stepper = "euler";
  std::uint64_t seed = 0;
  double holdout = 0.2;
  std::string out, png, trajectory;
  long trajectory_every = 0;
  int snapshots = 5;
  int threads = 0;
  bool quiet = false;
  std::string evaluator = "exact";
  double tolerance = 1e-3;
};

/// Everything a run needs besides its options.
struct problem {
  Eigen::MatrixXd targets, heldout, reference, start;
  std::vector<std::string> columns;
  std::string target_name;  // for titles
  std::string heldout_note, reference_note;
  std::optional<gfd::toy::mixture> modes;
};

problem make_problem(const drift_args& a) {
  problem p;
  const std::uint64_t s = a.seed;
  const bool toy = is_toy(a.target);

  // 1. Targets (and, for a file, the held-out part).
  gfd::table file;
  std::vector<Eigen::Index> perm;
  Eigen::Index held = 0, train = 0;
  if (toy) {
    p.target_name = a.target;
    p.targets = gfd::toy::sample(a.target, a.m > 0 ? a.m : a.n, s);
    p.modes = gfd::toy::mixture_of(a.target);
    p.columns = {"x0", "x1"};
  } else {
    if (!std::filesystem::exists(a.target) && std::filesystem::path(a.target).extension().empty())
      throw usage_error("--target " + a.target + ": neither a toy (" + toy_list() +
                        ") nor an existing .csv/.npy file");
    file = read_cloud(a.target);
    p.columns = file.columns;
    p.target_name = std::filesystem::path(a.target).filename().string();
    const Eigen::Index total = file.points.cols();
    held = static_cast<Eigen::Index>(std::floor(a.holdout * static_cast<double>(total)));
    if (held < 2 || total - held < 2) held = 0;  // too few points to hold some out
    perm = permutation(total, s + 2);
    train = total - held;
    if (a.m > 0) train = std::min<Eigen::Index>(train, a.m);
    p.targets = columns_of(file.points, perm, static_cast<std::size_t>(held),
                           static_cast<std::size_t>(train));
  }
  if (p.targets.cols() < 2) throw usage_error("the target has fewer than 2 points");

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
    p.start = read_cloud(a.init, d).points;  // throws naming the file on a wrong dimension
    if (p.start.cols() < 2) throw usage_error("--init " + a.init + ": needs at least 2 particles");
  }
  const Eigen::Index n = p.start.cols();

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
  return p;
}

struct snapshot {
  long step;
  double time, bandwidth;
  Eigen::MatrixXd x;
};

struct metric_set {
  gfd::two_sample_distances d;
  std::optional<gfd::coverage> cov;
};

metric_set measure(const Eigen::MatrixXd& x, const problem& p, double h) {
  metric_set m;
  m.d = gfd::two_sample_report(x, p.heldout, h, 128, 0);
  // A mode counts as covered when it holds a tenth of its fair share N/K (the library's default
  // threshold, 1%, would count a handful of stray particles from an unconverged start).
  if (p.modes) {
    const auto k = p.modes->centres.cols();
    const int min_count = static_cast<int>(std::max<Eigen::Index>(1, x.cols() / (10 * k)));
    m.cov = gfd::mode_coverage(x, p.modes->centres, p.modes->stddev, min_count);
  }
  return m;
}

/// The flow options of `gfd drift` shared by the plane and the sphere; `bw_desc` receives the
/// bandwidth schedule's description.
gfd::flow_options drift_flow_options(const drift_args& a, std::string& bw_desc) {
  gfd::flow_options opt;
  opt.method = a.stepper == "heun"       ? gfd::stepper::heun
               : a.stepper == "adaptive" ? gfd::stepper::adaptive
                                         : gfd::stepper::euler;
  opt.dt = a.dt;
  opt.max_steps = a.steps;
  opt.max_displacement = a.max_displacement;
  opt.bandwidth = make_schedule(a.bandwidth, a.anneal, a.anneal_range, bw_desc);
  opt.observe_every = 1;
  return opt;
}

/// A finished drift run with the snapshots its picture (`panels`) and --trajectory need.
struct drift_run {
  Eigen::MatrixXd x;
  gfd::flow_report rep;
  double first_h = std::numeric_limits<double>::quiet_NaN();  ///< bandwidth of the first step
  double seconds = 0;
  long traj_every = 1;
  std::vector<snapshot> panel_shots, traj_shots;

  /// Writes --out (the final particles) and --trajectory (columns step, particle, then the
  /// coordinates `columns`) when asked for, each atomically, and says so.
  void write_outputs(const drift_args& a, const std::vector<std::string>& columns) const {
    if (!a.out.empty()) {
      gfd::write_points(a.out, x, columns);
      std::cout << "  wrote " << a.out << " (" << x.cols() << " particles)\n";
    }
    if (!a.trajectory.empty()) {
      write_trajectory(a.trajectory, columns);
      std::cout << "  wrote " << a.trajectory << " (" << traj_shots.size() << " snapshots, every "
                << traj_every << " steps; columns step, particle, " << columns.front() << ", ...)\n";
    }
  }

  /// The --trajectory table: a row per particle and snapshot.
  void write_trajectory(const std::string& path, const std::vector<std::string>& columns) const {
    const Eigen::Index d = x.rows();
    Eigen::MatrixXd tab(d + 2, static_cast<Eigen::Index>(traj_shots.size()) * x.cols());
    Eigen::Index c = 0;
    for (const auto& sh : traj_shots)
      for (Eigen::Index i = 0; i < sh.x.cols(); ++i, ++c) {
        tab(0, c) = static_cast<double>(sh.step);
        tab(1, c) = static_cast<double>(i);
        tab.col(c).tail(d) = sh.x.col(i);
      }
    std::vector<std::string> names{"step", "particle"};
    names.insert(names.end(), columns.begin(), columns.end());
    gfd::write_points(path, tab, names);
  }

  /// The bandwidths actually used (`arrow` between the first and the last of an annealing).
  [[nodiscard]] std::string bandwidths_used(const gfd::flow_options& opt, const std::string& bw_desc,
                                            const char* arrow) const {
    if (rep.steps > 0 && opt.bandwidth.kind == gfd::bandwidth_schedule::mode::anneal)
      return "annealed " + num3(first_h) + arrow + num3(rep.bandwidth);
    if (rep.steps > 0 && opt.bandwidth.kind == gfd::bandwidth_schedule::mode::rule)
      return bw_desc + " (h = " + num3(rep.bandwidth) + ")";
    return bw_desc;
  }
};

/// Runs the flow of `gfd drift` from `start` on manifold M (the plane or the sphere), with the
/// progress line, `panels` picture snapshots (none when `panels` is 0: no picture) and the
/// --trajectory snapshots.
template <class M = gfd::euclidean>
drift_run run_drift(const drift_args& a, const gfd::flow_options& opt,
                    const Eigen::MatrixXd& targets, const Eigen::MatrixXd& start, int panels,
                    const any_kernel& kernel, const any_divergence& divergence, const M& manifold = {}) {
  drift_run r;
  r.x = start;
  // Snapshot steps: evenly spaced over the run, including the start and the end.
  std::vector<long> panel_steps;
  for (int k = 0; k < panels; ++k)
    panel_steps.push_back(static_cast<long>(
        std::llround(static_cast<double>(k) * static_cast<double>(a.steps) / (panels - 1))));
  r.traj_every = a.trajectory_every > 0 ? a.trajectory_every : std::max(1L, a.steps / 50);
  if (panels > 0) r.panel_shots.push_back({0, 0, std::numeric_limits<double>::quiet_NaN(), r.x});
  if (!a.trajectory.empty()) r.traj_shots.push_back({0, 0, 0, r.x});

  progress bar(!a.quiet && GFD_ISATTY(2), a.steps);
  const auto t_flow = steady::now();
  std::visit(
      [&](const auto& k, const auto& div) {
        using K = std::decay_t<decltype(k)>;
        auto observe = [&](const gfd::flow_state<double, Eigen::Dynamic>& st) {
          bar.update(st.step, [&] {
            return "t = " + num(st.time) + "  h = " + num(st.bandwidth) + "  estimate = " +
                   (std::isnan(st.estimate) ? std::string("-") : num(st.estimate));
          });
          if (st.step == 1) r.first_h = st.bandwidth;
          if (panels > 0 &&
              std::find(panel_steps.begin() + 1, panel_steps.end(), st.step) != panel_steps.end())
            r.panel_shots.push_back({st.step, st.time, st.bandwidth, *st.particles});
          if (!a.trajectory.empty() && (st.step % r.traj_every == 0 || st.step == a.steps))
            r.traj_shots.push_back({st.step, st.time, st.bandwidth, *st.particles});
        };
        if (a.evaluator == "tree")
          r.rep = gfd::flow<K, double, Eigen::Dynamic, gfd::tree_evaluator, M>(
                      targets, opt, k, gfd::tree_evaluator(a.tolerance), manifold)
                      .run(r.x, div, observe);
        else
          r.rep = gfd::flow<K, double, Eigen::Dynamic, gfd::exact_evaluator, M>(
                      targets, opt, k, gfd::exact_evaluator{}, manifold)
                      .run(r.x, div, observe);
      },
      kernel, divergence);
  r.seconds = seconds_since(t_flow);
  bar.finish();
  if (panels > 0 && r.panel_shots.back().step != r.rep.steps)  // stopped early by a tolerance
    r.panel_shots.push_back({r.rep.steps, r.rep.time, r.rep.bandwidth, r.x});
  return r;
}

int cmd_drift(const drift_args& a, bool explicit_outputs) {
  const auto t_total = steady::now();
  check_output(a.out, "--out", false);
  check_output(a.trajectory, "--trajectory", false);
  check_output(a.png, "--png", true);
  check_png_available(a.png, "--png");
  std::string png = a.png;
  if (!explicit_outputs) {
    if (plot::available)
      png = "gfd-drift.png";
    else
      std::cerr << "gfd: warning: built without Cairo, so no picture is drawn; use --out FILE to "
                   "save the particles\n";
  }
  set_threads(a.threads);

  std::string bw_desc;
  const gfd::flow_options opt = drift_flow_options(a, bw_desc);
  const any_kernel kernel = make_kernel(a.kernel, a.imq_beta);
  const any_divergence divergence = make_divergence(a.divergence);
  const std::string title = divergence_title(a.divergence);

  problem p = make_problem(a);
  const Eigen::Index d = p.targets.rows();
  const Eigen::Index n = p.start.cols();
  std::cout << "gfd drift: " << title << " flow toward " << p.target_name << ", N = " << n
            << " particles, M = " << p.targets.cols() << " targets, d = " << d << "\n"
            << "  " << a.kernel << " kernel, bandwidth " << bw_desc << ", " << a.stepper
            << " dt = " << num(a.dt) << " (units of h^2), " << a.steps << " steps, seed " << a.seed
            << ", " << thread_count() << " thread(s)\n";

  const drift_run run = run_drift(a, opt, p.targets, p.start, png.empty() ? 0 : std::max(2, a.snapshots),
                                  kernel, divergence);
  const Eigen::MatrixXd& x = run.x;
  const gfd::flow_report& rep = run.rep;
  const std::string bw_used = run.bandwidths_used(opt, bw_desc, " \u2192 ");

  // Metrics against the held-out sample; one MMD bandwidth for every column.
  const double h_metric = gfd::median_distance(gfd::cloud_view<double>(p.heldout));
  const metric_set m0 = measure(p.start, p, h_metric);
  const metric_set m1 = measure(x, p, h_metric);
  const metric_set mr = measure(p.reference, p, h_metric);

  std::cout << "  flow: " << rep.steps << " steps in " << fmt("%.2f", run.seconds) << " s ("
            << fmt("%.2f", 1e3 * run.seconds / std::max(1L, rep.steps)) << " ms/step), bandwidth "
            << run.bandwidths_used(opt, bw_desc, " -> ") << ", stopped by " << rep.stop_reason;
  if (rep.rejected_steps) std::cout << ", " << rep.rejected_steps << " rejected steps";
  std::cout << "\n\n"
            << "Metrics against the held-out set: " << p.heldout_note << "\n"
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

  run.write_outputs(a, p.columns);
  if (!png.empty()) {
    plot::figure fig;
    fig.title = title + " flow toward " + p.target_name + dims_note(d);
    fig.subtitle = "N = " + std::to_string(n) +
                   " particles, M = " + std::to_string(p.targets.cols()) + " targets, " + a.kernel +
                   " kernel, bandwidth " + bw_used + ", " + a.stepper + " dt = " + num3(a.dt) +
                   ". Final sliced W2 to held-out data " + num3(m1.d.sliced_w2) + " (noise floor " +
                   num3(mr.d.sliced_w2) + ")";
    if (p.modes)
      fig.subtitle += ", " + std::to_string(m1.cov->modes_covered) + "/" +
                      std::to_string(m1.cov->modes) + " modes covered";
    fig.x_label = p.columns.size() > 0 ? p.columns[0] : "x0";
    fig.y_label = d > 1 ? p.columns[1] : "jitter";
    const plot::layer tl = target_layer(p.targets, "target samples");
    for (const auto& s : run.panel_shots) {
      plot::panel pn;
      pn.title = s.step == 0
                     ? "start"
                     : "step " + std::to_string(s.step) + "  (h = " + num3(s.bandwidth) + ")";
      pn.layers = {tl, particle_layer(s.x, "particles")};
      fig.panels.push_back(std::move(pn));
    }
    plot::write_png(png, fig);
    std::cout << "  wrote " << png << " (" << run.panel_shots.size() << " snapshots)\n";
  }
  std::cout << "  wall time " << fmt("%.2f", seconds_since(t_total)) << " s\n";
  return exit_ok;
}

// ---------------------------------------------------------------------------------------------
// gfd sample
// ---------------------------------------------------------------------------------------------

struct sample_args {
  std::string name;
  long n = 1000;
  long dim = 2;
  std::uint64_t seed = 0;
  std::string out, png;
  bool list = false;
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
  if (!a.out.empty()) {
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

// ---------------------------------------------------------------------------------------------
// gfd kde
// ---------------------------------------------------------------------------------------------

struct kde_args {
  std::string data, query, out;
  std::string kernel = "gaussian";
  std::string bandwidth = "scott";
  std::string evaluator = "exact";
  double tolerance = 1e-3;
  double imq_beta = 1.5;
  int threads = 0;
};

int cmd_kde(const kde_args& a) {
  check_output(a.out, "--out", false);
  set_threads(a.threads);
  const bool rule = a.bandwidth == "scott" || a.bandwidth == "silverman" || a.bandwidth == "median";
  if (!rule) positive_number(a.bandwidth, "--bandwidth");  // a usage error before any reading
  const auto t_read = steady::now();
  const Eigen::MatrixXd y = read_cloud(a.data).points;
  const Eigen::MatrixXd q = a.query.empty() ? y : read_cloud(a.query, y.rows()).points;
  const double read_s = seconds_since(t_read);

  std::string bw_note;
  double h = 0;
  if (rule) {
    h = gfd::choose_bandwidth(gfd::parse_bandwidth_rule(a.bandwidth), gfd::cloud_view<double>(y));
    bw_note = " (" + a.bandwidth + " rule)";
  } else {
    h = positive_number(a.bandwidth, "--bandwidth");
  }
  const any_kernel kernel = make_kernel(a.kernel, a.imq_beta);
  Eigen::MatrixXd result(q.rows() + 1, q.cols());
  double eval_s = 0;
  auto evaluate = [&](const auto& est) {
    const double log_z = est.log_normaliser();  // throws before the timing if not normalisable
    const auto t_eval = steady::now();
    const auto sums = est.sums(q);
    eval_s = seconds_since(t_eval);
    result.row(0) = (sums.log_sum.array() - log_z).matrix().transpose();
    result.bottomRows(q.rows()) = sums.field;
  };
  std::visit(
      [&](const auto& k) {
        using K = std::decay_t<decltype(k)>;
        if (a.evaluator == "tree")
          evaluate(gfd::kde<K, double, Eigen::Dynamic, gfd::tree_evaluator>(y, h, k, gfd::tree_evaluator(a.tolerance)));
        else
          evaluate(gfd::kde<K>(y, h, k));
      },
      kernel);
  // Outside a compact kernel's support log p = -inf, which point-cloud files cannot hold.
  long outside = 0;
  for (Eigen::Index i = 0; i < result.cols(); ++i)
    if (std::isinf(result(0, i))) {
      result(0, i) = std::numeric_limits<double>::lowest();
      ++outside;
    }

  std::vector<std::string> names{"logp"};
  for (Eigen::Index k = 0; k < q.rows(); ++k) names.push_back("s" + std::to_string(k));
  const auto t_write = steady::now();
  gfd::write_points(a.out, result, names);
  const double write_s = seconds_since(t_write);

  const double pairs = static_cast<double>(y.cols()) * static_cast<double>(q.cols());
  std::cout << "gfd kde: " << y.cols() << " data points, " << q.cols() << " queries"
            << (a.query.empty() ? " (the data itself)" : "") << ", d = " << y.rows() << ", "
            << a.kernel << " kernel, bandwidth " << num(h) << bw_note << ", " << a.evaluator << " evaluator"
            << (a.evaluator == "tree" ? " (tolerance " + num(a.tolerance) + ")" : std::string()) << "\n"
            << "  read      " << fmt("%8.4f", read_s) << " s\n"
            << "  evaluate  " << fmt("%8.4f", eval_s) << " s  ("
            << (a.evaluator == "tree"
                    ? "N x M = " + num(pairs) + " pairs, truncated by the tree; " +
                          num(pairs / std::max(eval_s, 1e-9)) + " exact-equivalent pairs/s, "
                    : num(pairs) + " kernel pairs, " + num(pairs / std::max(eval_s, 1e-9)) +
                          " pairs/s, ")
            << thread_count() << " thread(s))\n"
            << "  write     " << fmt("%8.4f", write_s) << " s  -> " << a.out << " (" << q.cols()
            << " rows: logp, s0"
            << (q.rows() == 2  ? ", s1"
                : q.rows() > 2 ? ", ..., s" + std::to_string(q.rows() - 1)
                               : "")
            << ")\n";
  if (outside)
    std::cout << "  note: " << outside
              << " queries lie outside the kernel's support; their logp (-inf) is "
              << "written as the lowest double, -1.797e+308\n";
  return exit_ok;
}

// ---------------------------------------------------------------------------------------------
// gfd metrics
// ---------------------------------------------------------------------------------------------

struct metrics_args {
  std::string a, b;
  std::string bandwidth;
  int projections = 128;
  std::uint64_t seed = 0;
  std::string modes;
  int threads = 0;
};

int cmd_metrics(const metrics_args& a) {
  set_threads(a.threads);
  // Options first, so that a usage error costs nothing.
  std::optional<gfd::toy::mixture> mix;
  if (!a.modes.empty()) {
    mix = gfd::toy::mixture_of(a.modes);
    if (!mix)
      throw usage_error("--modes " + a.modes +
                        ": not a Gaussian-mixture toy (8gaussians, 25gaussians)");
  }
  const double h =
      a.bandwidth.empty() ? 0.0 : positive_number(a.bandwidth, "--bandwidth");  // 0: median
  const Eigen::MatrixXd x = read_cloud(a.a).points;
  const Eigen::MatrixXd y = read_cloud(a.b, x.rows()).points;
  if (x.cols() < 2 || y.cols() < 2) throw usage_error("metrics: each file needs at least 2 points");
  if (mix && x.rows() != mix->centres.rows())
    throw usage_error("--modes " + a.modes + ": the files are not 2-D");
  gfd::two_sample_distances r;
  std::string h_note = "median heuristic";
  if (h == 0) {
    r = gfd::two_sample_report(x, y);
  } else {
    r = gfd::two_sample_report(x, y, h, a.projections, a.seed);
    h_note = "given";
  }
  if (a.bandwidth.empty() && (a.projections != 128 || a.seed != 0)) {
    r.sliced_w2 = gfd::sliced_wasserstein2(x, y, a.projections, a.seed);
  }
  std::cout << "gfd metrics: " << a.a << " (" << x.cols() << " points) vs " << a.b << " ("
            << y.cols() << " points), d = " << x.rows() << "\n";
  std::printf(
      "  %-60s %s\n",
      ("MMD^2 unbiased (Gaussian kernel, h = " + num(r.bandwidth) + ", " + h_note + ")").c_str(),
      fmt("%.6e", r.mmd2_unbiased).c_str());
  std::printf("  %-60s %s\n", "energy distance", fmt("%.6e", r.energy_distance).c_str());
  std::printf("  %-60s %s\n",
              ("sliced W2 (" + std::to_string(a.projections) + " projections, seed " +
               std::to_string(a.seed) + ")")
                  .c_str(),
              fmt("%.6g", r.sliced_w2).c_str());
  if (mix) {
    const auto c = gfd::mode_coverage(x, mix->centres, mix->stddev);
    std::printf("  %-60s %d/%d (%.1f%% of the first cloud within 3 sd of a mode)\n",
                ("modes of " + a.modes + " covered by the first cloud").c_str(), c.modes_covered,
                c.modes, 100 * c.fraction_near);
  }
  return exit_ok;
}

// ---------------------------------------------------------------------------------------------
// gfd convert
// ---------------------------------------------------------------------------------------------

int cmd_convert(const std::string& in, const std::string& out) {
  check_output(out, "output", false);
  const gfd::table t = read_cloud(in);
  gfd::write_points(out, t.points, t.columns);  // both formats hold float64 exactly
  std::cout << "wrote " << t.points.cols() << " points (d = " << t.points.rows() << ") from " << in
            << " to " << out << "\n";
  return exit_ok;
}

#include "generator_commands.hpp"  // gfd train, gfd generate

}  // namespace

// `gfd drift --manifold sphere` (reuses the helpers above, so it is included here).
#include "sphere_commands.hpp"

// ---------------------------------------------------------------------------------------------

int main(int argc, char** argv) {
  CLI::App app{
      "gfd: move particle clouds along Wasserstein gradient flows of KDE divergences.\n"
      "Exit codes: 0 success, 1 the run failed, 2 bad usage or input file."};
  app.require_subcommand(1);
  app.footer(
      "Run `gfd drift` with no options for a demo on the 8gaussians toy (writes gfd-drift.png).\n"
      "Toys: " +
      toy_list() + "\n");

  // --- drift
  drift_args da;
  auto* drift =
      app.add_subcommand("drift", "Drift particles toward a target along a gradient flow");
  drift
      ->add_option("--target", da.target,
                   "Toy name (" + toy_list() + ") or a .csv/.npy point cloud of any dimension")
      ->capture_default_str();
  drift
      ->add_option("--init", da.init,
                   "Start: gaussian (N(0,I) for toys, the target's mean and spread for files), "
                   "uniform (bounding box of the target), or a .csv/.npy file")
      ->capture_default_str();
  drift->add_option("--n", da.n, "Number of particles")
      ->check(CLI::Range(2L, 100000000L))
      ->capture_default_str();
  drift
      ->add_option("--m", da.m,
                   "Target samples for toys (default: N); for files, at most M training points")
      ->check(CLI::Range(2L, 100000000L));
  drift->add_option("--steps", da.steps, "Number of steps")
      ->check(CLI::Range(0L, 100000000L))
      ->capture_default_str();
  drift->add_option("--dt", da.dt, "Step size, in units of h^2")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  drift
      ->add_option("--max-displacement", da.max_displacement,
                   "Cap on one particle's step, as a fraction of h (0 = none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  drift->add_option("--divergence", da.divergence.name, "Functional whose flow to follow")
      ->check(CLI::IsMember(divergence_names))
      ->capture_default_str();
  drift->add_option("--alpha", da.divergence.alpha, "alpha of --divergence alpha")
      ->capture_default_str();
  drift
      ->add_option("--mix", da.divergence.mix,
                   "Weights A:B of KL(p||q) and chi2(q||p) for --divergence mixed")
      ->capture_default_str();
  drift->add_option("--kernel", da.kernel, "Kernel")
      ->check(CLI::IsMember(kernel_names))
      ->capture_default_str();
  drift->add_option("--imq-beta", da.imq_beta, "Exponent of the imq kernel")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  drift->add_option(
      "--bandwidth", da.bandwidth,
      "VALUE (fixed), scott, silverman or median (rule on the targets); with --anneal, "
      "the final bandwidth. Default: the library's annealed schedule (from the "
      "spread of the whole cloud down to a fraction of Silverman's bandwidth)");
  drift
      ->add_option("--anneal", da.anneal_range,
                   "Anneal the bandwidth, optionally START:END (either may be empty)")
      ->expected(0, 1);
  drift->add_option("--stepper", da.stepper, "Time stepper")
      ->check(CLI::IsMember({"euler", "heun", "adaptive"}))
      ->capture_default_str();
  drift
      ->add_option(
          "--seed", da.seed,
          "Seed: target sample = seed, start = seed+1, held-out = seed+2, reference = seed+3")
      ->capture_default_str();
  drift->add_option("--holdout", da.holdout, "Fraction of a target file held out for the metrics")
      ->check(CLI::Range(0.0, 0.9))
      ->capture_default_str();
  drift->add_option("--out", da.out, "Write the final particles (.csv or .npy)");
  drift->add_option("--png", da.png, "Write a picture: snapshots over the run (.png)");
  drift->add_option("--snapshots", da.snapshots, "Panels in the picture")
      ->check(CLI::Range(2, 12))
      ->capture_default_str();
  drift->add_option("--trajectory", da.trajectory,
                    "Write snapshots (.csv or .npy; columns step, particle, x0, ...)");
  drift
      ->add_option("--trajectory-every", da.trajectory_every,
                   "Steps between trajectory snapshots (default: steps/50)")
      ->check(CLI::PositiveNumber);
  drift->add_option("--evaluator", da.evaluator, "Kernel sums: exact (all pairs) or tree (k-d tree, relative error <= --tolerance)")
      ->check(CLI::IsMember({"exact", "tree"}))->capture_default_str();
  drift->add_option("--tolerance", da.tolerance, "Relative error bound of the tree evaluator")
      ->check(CLI::Range(1e-15, 0.5))->capture_default_str();
  drift->add_option("--threads", da.threads, "OpenMP threads (default: all)")
      ->check(CLI::NonNegativeNumber);
  drift->add_flag("--quiet,-q", da.quiet,
                  "No progress line (it is also off when stderr is not a terminal)");
  sphere_args sph;
  add_sphere_options(drift, sph);

  // --- sample
  sample_args sa;
  auto* sample = app.add_subcommand("sample", "Write samples of a toy distribution");
  sample->add_option("name", sa.name, "Toy name (" + toy_list() + "), gaussian or uniform");
  sample->add_option("--n", sa.n, "Number of points")
      ->check(CLI::Range(1L, 100000000L))
      ->capture_default_str();
  sample->add_option("--dim", sa.dim, "Dimension of gaussian / uniform")
      ->check(CLI::Range(1L, 100000L))
      ->capture_default_str();
  sample->add_option("--seed", sa.seed, "Seed")->capture_default_str();
  sample->add_option("--out", sa.out, "Output file (.csv or .npy)");
  sample->add_option("--png", sa.png, "Also draw the sample (.png)");
  sample->add_flag("--list", sa.list, "List the distributions");

  // --- kde
  kde_args ka;
  auto* kde = app.add_subcommand("kde", "Evaluate a KDE: log-density and score at query points");
  kde->add_option("--data", ka.data, "Data points (.csv or .npy)")->required();
  kde->add_option("--query", ka.query, "Query points (.csv or .npy; default: the data)");
  kde->add_option("--kernel", ka.kernel, "Kernel")
      ->check(CLI::IsMember(kernel_names))
      ->capture_default_str();
  kde->add_option("--imq-beta", ka.imq_beta, "Exponent of the imq kernel")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  kde->add_option("--bandwidth", ka.bandwidth,
                  "VALUE, scott, silverman or median (rule on the data)")
      ->capture_default_str();
  kde->add_option("--out", ka.out, "Output (.csv or .npy): columns logp, s0, s1, ...")->required();
  kde->add_option("--evaluator", ka.evaluator, "exact (all pairs) or tree (k-d tree, relative error <= --tolerance)")
      ->check(CLI::IsMember({"exact", "tree"}))->capture_default_str();
  kde->add_option("--tolerance", ka.tolerance, "Relative error bound of the tree evaluator")
      ->check(CLI::Range(1e-15, 0.5))->capture_default_str();
  kde->add_option("--threads", ka.threads, "OpenMP threads (default: all)")
      ->check(CLI::NonNegativeNumber);

  // --- metrics
  metrics_args ma;
  auto* metrics =
      app.add_subcommand("metrics", "Two-sample distances between two point-cloud files");
  metrics->add_option("a", ma.a, "First cloud (.csv or .npy)")->required();
  metrics->add_option("b", ma.b, "Second cloud (.csv or .npy)")->required();
  metrics->add_option("--bandwidth", ma.bandwidth,
                      "Gaussian bandwidth of the MMD (default: median heuristic)");
  metrics->add_option("--projections", ma.projections, "Directions of the sliced W2")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  metrics->add_option("--seed", ma.seed, "Seed of the directions")->capture_default_str();
  metrics->add_option(
      "--modes", ma.modes,
      "Also report the modes of this toy (8gaussians, 25gaussians) covered by the first cloud");
  metrics->add_option("--threads", ma.threads, "OpenMP threads (default: all)")
      ->check(CLI::NonNegativeNumber);

  // --- convert
  std::string conv_in, conv_out;
  auto* convert =
      app.add_subcommand("convert", "Convert a point cloud between .csv and .npy (bit-exact)");
  convert->add_option("input", conv_in, "Input (.csv or .npy)")->required();
  convert->add_option("output", conv_out, "Output (.csv or .npy)")->required();

  // --- train (generator_commands.hpp)
  train_args ta;
  const gfd::generator_options gd;
  auto* train = app.add_subcommand(
      "train", "Train a one-step generator (f(noise) ~ target, Deng et al.'s drifting) and save it");
  train->add_option("--target", ta.target, "Toy name (" + toy_list() + ") or a .csv/.npy point cloud")
      ->required();
  train->add_option("--out", ta.out, "Model file to write (e.g. model.gfdgen)")->required();
  train->add_option("--m", ta.m, "Data points drawn from a toy (files: the whole file)")
      ->check(CLI::Range(4L, 100000000L))
      ->capture_default_str();
  train
      ->add_option("--holdout", ta.holdout,
                   "Data points held out for the sliced W2 (default: 2000, at most 20% of the data)")
      ->check(CLI::NonNegativeNumber);
  train->add_option("--steps", ta.opt.steps, "Training steps")
      ->check(CLI::Range(0L, 100000000L))
      ->default_str(std::to_string(gd.steps));
  train->add_option("--batch", ta.opt.batch, "Generated samples per step")
      ->check(CLI::Range(2L, 1000000L))
      ->default_str(std::to_string(gd.batch));
  train->add_option("--target-batch", ta.opt.target_batch, "Data samples per step (0 = --batch)")
      ->check(CLI::Range(0L, 1000000L))
      ->default_str(std::to_string(gd.target_batch));
  train->add_option("--lr", ta.opt.lr, "Adam learning rate (peak)")
      ->check(CLI::PositiveNumber)
      ->default_str(num(gd.lr));
  train->add_option("--lr-final", ta.opt.lr_final, "Cosine decay to lr x this at the last step")
      ->check(CLI::Range(0.0, 1.0))
      ->default_str(num(gd.lr_final));
  train->add_option("--warmup", ta.opt.warmup, "Linear warm-up steps")
      ->check(CLI::NonNegativeNumber)
      ->default_str(std::to_string(gd.warmup));
  train->add_option("--width", ta.opt.width, "Hidden width")
      ->check(CLI::Range(1, 1048576))
      ->default_str(std::to_string(gd.width));
  train->add_option("--depth", ta.opt.depth, "Hidden layers")
      ->check(CLI::Range(0, 255))
      ->default_str(std::to_string(gd.depth));
  train->add_option("--widths", ta.widths, "Hidden widths W1,W2,... (overrides --width, --depth)");
  train->add_option("--noise-dim", ta.opt.noise_dim, "Noise dimension (0 = the data dimension)")
      ->check(CLI::Range(0, 1048576))
      ->default_str(std::to_string(gd.noise_dim));
  train->add_option("--input-scale", ta.opt.input_scale,
                    "Scale s of the first layer at start, W ~ N(0, s^2/k), b ~ N(0, s^2) (0 = LeCun, zero biases)")
      ->check(CLI::Range(0.0, 1e6))
      ->default_str(num(gd.input_scale));
  train->add_option("--ema", ta.opt.ema, "EMA decay of the sampling weights")
      ->check(CLI::Range(0.0, 0.999999999))
      ->default_str(num(gd.ema));
  train->add_option("--eta", ta.opt.eta, "Drift scale eta of the regression target f + eta V")
      ->check(CLI::PositiveNumber)
      ->default_str(num(gd.eta));
  train->add_option("--grad-clip", ta.opt.grad_clip, "Clip the gradient norm (0 = off)")
      ->check(CLI::NonNegativeNumber)
      ->default_str(num(gd.grad_clip));
  train->add_option("--divergence", ta.divergence.name, "Velocity field giving the drift V")
      ->check(CLI::IsMember(divergence_names))
      ->capture_default_str();
  train->add_option("--alpha", ta.divergence.alpha, "alpha of --divergence alpha")
      ->capture_default_str();
  train->add_option("--mix", ta.divergence.mix, "Weights A:B for --divergence mixed")
      ->capture_default_str();
  train
      ->add_option("--temperatures", ta.temperatures,
                   "Temperatures of --divergence drifting-deng, x the mean distance (replace the bandwidth)")
      ->capture_default_str();
  train->add_option("--kernel", ta.kernel, "Kernel")
      ->check(CLI::IsMember(kernel_names))
      ->capture_default_str();
  train->add_option("--imq-beta", ta.imq_beta, "Exponent of the imq kernel")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  train
      ->add_option("--bandwidth", ta.bandwidth,
                   "VALUE (standardised units), scott, silverman or median (rule on each data batch); "
                   "not used by drifting-deng")
      ->capture_default_str();
  train->add_option("--bandwidth-factor", ta.bandwidth_factor, "Multiplies the rule's bandwidth")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  train->add_option("--multipliers", ta.multipliers, "Sum the drift over bandwidths h c1, h c2, ...")
      ->capture_default_str();
  train->add_option("--seed", ta.opt.seed, "Seed: toy data, initialisation, noise, batches, split")
      ->capture_default_str();
  train->add_option("--log-every", ta.opt.observe_every, "Steps between held-out sliced W2 measurements")
      ->check(CLI::Range(1L, 100000000L))
      ->default_str(std::to_string(gd.observe_every));
  train->add_option("--log", ta.log, "Write the measurements (.csv: step, loss, drift2, lr, seconds, sliced_w2)");
  train->add_option("--png", ta.png, "Write a picture: target, untrained and trained samples (.png)");
  train->add_option("--threads", ta.threads, "OpenMP threads (default: all)")
      ->check(CLI::NonNegativeNumber);
  train->add_flag("--quiet,-q", ta.quiet,
                  "No progress line (it is also off when stderr is not a terminal)");

  // --- generate (generator_commands.hpp)
  generate_args ga;
  auto* generate = app.add_subcommand("generate", "Write samples of a model saved by `gfd train`");
  generate->add_option("--model", ga.model, "Model file written by gfd train")->required();
  generate->add_option("--n", ga.n, "Number of samples")
      ->check(CLI::Range(1L, 100000000L))
      ->capture_default_str();
  generate->add_option("--out", ga.out, "Output file (.csv or .npy)")->required();
  generate->add_option("--png", ga.png, "Also draw the samples (.png)");
  generate->add_option("--seed", ga.seed, "Seed of the noise")->capture_default_str();
  generate->add_option("--threads", ga.threads, "OpenMP threads (default: all)")
      ->check(CLI::NonNegativeNumber);

  // A mistyped command would otherwise be reported as "a subcommand is required".
  if (argc > 1 && argv[1][0] != '-') {
    const std::string first = argv[1];
    bool known = false;
    for (const auto* sub : app.get_subcommands({})) known = known || sub->get_name() == first;
    if (!known) {
      std::cerr << "gfd: unknown command '" << first
                << "' (expected drift, sample, kde, metrics, convert, train or generate)\n"
                << "Run with --help for more information.\n";
      return exit_usage;
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message and "Run with --help for more information."
    return exit_usage;
  }

  try {
    if (drift->parsed()) {
      da.anneal = drift->count("--anneal") > 0;
      const bool explicit_outputs = !da.out.empty() || !da.png.empty() || !da.trajectory.empty();
      if (sphere_requested(*drift, sph)) return cmd_drift_sphere(da, sph, *drift, explicit_outputs);
      return cmd_drift(da, explicit_outputs);
    }
    if (sample->parsed()) return cmd_sample(sa);
    if (kde->parsed()) return cmd_kde(ka);
    if (metrics->parsed()) return cmd_metrics(ma);
    if (convert->parsed()) return cmd_convert(conv_in, conv_out);
    if (train->parsed()) return cmd_train(ta);
    if (generate->parsed()) return cmd_generate(ga);
  } catch (const usage_error& e) {
    std::cerr << "gfd: error: " << e.what() << "\n";
    return exit_usage;
  } catch (const gfd::invalid_argument& e) {
    // Bad input: malformed or missing files (the message names the file, line and column).
    std::cerr << "gfd: error: " << e.what() << "\n";
    return exit_usage;
  } catch (const gfd::numerical_error& e) {
    std::cerr << "gfd: the run failed: " << e.what() << "\n";
    return exit_failure;
  } catch (const std::exception& e) {
    std::cerr << "gfd: error: " << e.what() << "\n";
    return exit_failure;
  }
  return exit_usage;
}
