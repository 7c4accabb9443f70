// SPDX-License-Identifier: MIT
/// @file common.cpp
/// @brief The helpers the `gfd` tool's commands share (common.hpp).

#include "common.hpp"
#include "ranks.hpp"

#include <gfd/flow/system.hpp>
#include <gfd/random.hpp>

#include <gfd/toy.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <tuple>

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

namespace gfd_cli {

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
  // One leading '+' is allowed, as in the CSV reader; "+-1" is not a number there, nor here.
  if (b != e && *b == '+') {
    ++b;
    if (b != e && (*b == '-' || *b == '+')) return std::nullopt;
  }
  const auto [ptr, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || ptr != e) return std::nullopt;
  return v;
}

double positive_number(const std::string& s, const std::string& what) {
  const auto v = parse_number(s);
  if (!v) throw usage_error(what + ": " + gfd::detail::quoted_excerpt(s) + " is not a number");
  if (!(std::isfinite(*v) && *v > 0))
    throw usage_error(what + ": must be finite and > 0, got " + gfd::detail::quoted_excerpt(s));
  return *v;
}

double flow_bandwidth(const std::string& s, const std::string& what) {
  const double h = positive_number(s, what);
  const auto [lo, hi] = gfd::flow_bandwidth_range<double>();
  if (!(h >= lo && h <= hi))
    throw usage_error(what + ": " + gfd::detail::short_number(h) + " is outside [" +
                      gfd::detail::short_number(lo) + ", " + gfd::detail::short_number(hi) +
                      "], the bandwidths a flow supports (h^2 scales the step, 1/h^2 the "
                      "velocity); rescale the data");
  return h;
}

void check_flow_scale(const std::string& what, const Eigen::MatrixXd& x) {
  const double largest = x.cwiseAbs().maxCoeff();
  const double limit = gfd::flow_bandwidth_range<double>().second;
  if (largest > limit)
    throw usage_error(what + ": coordinates up to " + gfd::detail::short_number(largest) +
                      " in magnitude; a flow follows data up to " + gfd::detail::short_number(limit) +
                      " (its bandwidths lie in [1e-152, 1e152]); rescale the data");
}

namespace {
/// A validator from a test on the parsed number; `expected` completes "must be ...".
CLI::Validator number_validator(std::function<bool(double)> ok, std::string expected,
                                std::string tag) {
  return CLI::Validator(
      [ok = std::move(ok), expected = std::move(expected)](std::string& text) -> std::string {
        const auto v = parse_number(text);
        if (!v) return "expected a number, got " + gfd::detail::quoted_excerpt(text);
        if (!ok(*v)) return "must be " + expected + ", got " + gfd::detail::quoted_excerpt(text);
        return {};
      },
      std::move(tag));
}
}  // namespace

CLI::Validator positive() {
  return number_validator([](double v) { return std::isfinite(v) && v > 0; }, "finite and > 0",
                          "POSITIVE");
}
CLI::Validator nonnegative() {
  return number_validator([](double v) { return std::isfinite(v) && v >= 0; }, "finite and >= 0",
                          "NONNEGATIVE");
}
CLI::Validator positive_at_most(double hi, const std::string& what) {
  const std::string range = "(0, " + gfd::detail::short_number(hi) + "]";
  return number_validator([hi](double v) { return v > 0 && v <= hi; },
                          "in " + range + (what.empty() ? "" : " (" + what + ")"), "in " + range);
}
CLI::Validator number_in(double lo, double hi, const std::string& what) {
  const std::string range = "[" + gfd::detail::short_number(lo) + ", " + gfd::detail::short_number(hi) + "]";
  return number_validator([lo, hi](double v) { return v >= lo && v <= hi; },
                          "in " + range + (what.empty() ? "" : " (" + what + ")"), "in " + range);
}

CLI::Validator seed_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        std::uint64_t v = 0;
        const char* b = text.data();
        const char* e = b + text.size();
        if (b != e && *b == '+') ++b;
        const auto [ptr, ec] = std::from_chars(b, e, v);
        if (b == e || ptr != e || ec != std::errc())
          return "a seed is an integer in [0, 18446744073709551615] (2^64 - 1), got " +
                 gfd::detail::quoted_excerpt(text);
        return {};
      },
      "");
}

CLI::Validator threads_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        int v = 0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (text.empty() || ptr != text.data() + text.size() || ec != std::errc() || v < 0 ||
            v > max_threads)
          return "must be an integer in [0, " + std::to_string(max_threads) +
                 "] (0 = every core), got " + gfd::detail::quoted_excerpt(text);
        return {};
      },
      "");
}

namespace {
/// The file a path names once symbolic links are followed, as an absolute normal path.
std::filesystem::path resolved(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = gfd::detail::io::link_target("gfd", path);
  p = std::filesystem::absolute(p, ec);
  const auto w = std::filesystem::weakly_canonical(p, ec);
  return ec ? p.lexically_normal() : w;
}

bool file_exists(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::exists(p, ec);
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  const auto ra = resolved(a), rb = resolved(b);
  const bool ea = file_exists(ra), eb = file_exists(rb);
  if (ea && eb) return std::filesystem::equivalent(ra, rb, ec) && !ec;
  return ea == eb && ra == rb;
}
}  // namespace

void check_distinct_files(const std::vector<file_use>& inputs, const std::vector<file_use>& outputs) {
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    const file_use& out = outputs[o];
    if (out.path.empty()) continue;
    for (const file_use& in : inputs)
      // An input that is no file (a toy's name, "gaussian") cannot be overwritten.
      if (!in.path.empty() && file_exists(resolved(in.path)) && same_file(out.path, in.path))
        throw usage_error(out.option + " " + out.path + " is the same file as " + in.option + " " +
                          in.path + ": writing it would destroy the input; choose another name");
    for (std::size_t p = 0; p < o; ++p)
      if (!outputs[p].path.empty() && same_file(out.path, outputs[p].path))
        throw usage_error(out.option + " " + out.path + " is the same file as " + outputs[p].option +
                          " " + outputs[p].path + ": one output would overwrite the other");
  }
}

std::string printable(const std::string& message) {
  static constexpr char hex[] = "0123456789abcdef";
  constexpr std::size_t max_bytes = 2000;
  std::string out;
  const auto* p = reinterpret_cast<const unsigned char*>(message.data());
  const std::size_t n = message.size();
  std::size_t i = 0;
  auto escape = [&](unsigned char c) {
    out += "\\x";
    out += hex[c >> 4];
    out += hex[c & 15];
  };
  while (i < n && out.size() < max_bytes) {
    const unsigned char c = p[i];
    if (c == '\n' && i + 1 == n) {
      out += '\n';
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      escape(c);
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else {
      // A well-formed UTF-8 sequence passes (the tool's own messages use a few symbols).
      const std::size_t len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
      bool ok = len > 0 && i + len <= n;
      for (std::size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xc0) == 0x80;
      if (ok) {
        out.append(message, i, len);
        i += len;
      } else {
        escape(c);
        ++i;
      }
    }
  }
  if (i < n) out += "... (" + std::to_string(n) + " bytes in all)";
  return out;
}

/// Reads a point cloud with its column names (x0, x1, ... for .npy and header-less CSV).
gfd::table read_cloud(const std::string& path, Eigen::Index expected_dim) {
  if (lower_extension(path) == ".csv") return gfd::read_csv_table(path, expected_dim);
  gfd::table t;
  t.points = gfd::read_points(path, expected_dim);  // throws for other extensions
  for (Eigen::Index k = 0; k < t.points.rows(); ++k) t.columns.push_back(gfd::default_column_name(k));
  return t;
}

std::string labelled_toys() {
  std::string s;
  for (const auto& n : gfd::toy::names())
    if (gfd::toy::class_count(n) > 0) s += (s.empty() ? "" : ", ") + n + " " + std::to_string(gfd::toy::class_count(n));
  return s;
}

void note_label_column(const gfd::table& t, const std::string& what, const std::string& flag) {
  if (std::find(t.columns.begin(), t.columns.end(), "label") != t.columns.end())
    std::cerr << "gfd: note: " << what << " has a column named 'label'; it is used as a coordinate "
              << "(d = " << t.points.rows() << "). Give " << flag << " to use it as the classes\n";
}

std::vector<int> take_label_column(gfd::table& t, const std::string& spec, const std::string& what) {
  const auto d = static_cast<Eigen::Index>(t.points.rows());
  Eigen::Index col = -1;
  for (Eigen::Index k = 0; k < d; ++k)
    if (t.columns[static_cast<std::size_t>(k)] == spec) col = k;
  if (col < 0) {
    long idx = 0;
    const auto [end, ec] = std::from_chars(spec.data(), spec.data() + spec.size(), idx);
    if (ec == std::errc() && end == spec.data() + spec.size() && idx >= -d && idx < d)
      col = idx < 0 ? d + idx : idx;
  }
  if (col < 0) {
    std::string names;
    for (const auto& c : t.columns) names += (names.empty() ? "" : ", ") + c;
    throw usage_error(what + ": no label column '" + spec + "' (columns: " + names +
                      "; give a name or a 0-based index, -1 for the last)");
  }
  if (d < 2) throw usage_error(what + ": the label column '" + spec + "' is the only column: no coordinates left");
  std::vector<int> labels(static_cast<std::size_t>(t.points.cols()));
  for (Eigen::Index i = 0; i < t.points.cols(); ++i) {
    const double v = t.points(col, i);
    if (!(v >= 0 && v < (1 << 20) && v == std::floor(v)))
      throw usage_error(what + ": label " + num(v) + " of point " + std::to_string(i + 1) + " in column '" +
                        t.columns[static_cast<std::size_t>(col)] + "' is not a class 0, 1, 2, ... (< 2^20)");
    labels[static_cast<std::size_t>(i)] = static_cast<int>(v);
  }
  Eigen::MatrixXd rest(d - 1, t.points.cols());
  rest.topRows(col) = t.points.topRows(col);
  rest.bottomRows(d - 1 - col) = t.points.bottomRows(d - 1 - col);
  t.points = std::move(rest);
  t.columns.erase(t.columns.begin() + col);
  return labels;
}

/// A point cloud "NAME" (toy) or "FILE"; n points of a toy, drawn with `seed`.
bool is_toy(const std::string& s) { return gfd::toy::exists(s); }

std::string toy_list() {
  std::string s;
  for (const auto& n : gfd::toy::names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

std::uint64_t random_index(std::mt19937_64& rng, std::uint64_t n) {
  // The library's one unbiased index (gfd/random.hpp): the same draws as the former plain
  // modulo except in the rare rejected ones (probability below 2n / 2^64 per draw).
  return gfd::uniform_index(rng, n);
}

std::vector<Eigen::Index> permutation(Eigen::Index n, std::uint64_t seed) {
  std::vector<Eigen::Index> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), Eigen::Index{0});
  std::mt19937_64 rng(seed);
  for (Eigen::Index i = n - 1; i > 0; --i) {
    const auto j = static_cast<Eigen::Index>(random_index(rng, static_cast<std::uint64_t>(i + 1)));
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
#ifdef _OPENMP
  // Ranks on one machine share its cores: by default each takes its share (at least one); the
  // processors it sees are already fewer when mpirun binds it to a core.
  if (threads <= 0 && ranks().mpi)
    threads = std::max(1, omp_get_num_procs() / std::max(1, ranks().node_size));
#endif
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

bool stderr_is_terminal() { return GFD_ISATTY(2) != 0; }

// ---------------------------------------------------------------------------------------------
// Kernels, divergences, steppers and evaluators by name
// ---------------------------------------------------------------------------------------------

const std::vector<std::string>& kernel_names() {
  static const std::vector<std::string> names = gfd::registry::kernel_names<kernel_set>();
  return names;
}
const std::vector<std::string>& divergence_names() {
  static const std::vector<std::string> names = gfd::registry::divergence_names();
  return names;
}
const std::vector<std::string>& stepper_names() {
  static const std::vector<std::string> names = gfd::registry::stepper_names();
  return names;
}
const std::vector<std::string>& evaluator_names() {
  static const std::vector<std::string> names = gfd::registry::evaluator_names();
  return names;
}

any_kernel make_kernel(const std::string& name, double imq_beta) {
  return gfd::registry::make_kernel<kernel_set>(name, {.imq_beta = imq_beta});
}

any_evaluator make_evaluator(const std::string& name, double tolerance) {
  return gfd::registry::make_evaluator(name, {.tolerance = tolerance});
}

std::pair<double, double> parse_pair(const std::string& s, const std::string& what) {
  const auto colon = s.find(':');
  if (colon == std::string::npos)
    throw usage_error(what + ": expected A:B, got " + gfd::detail::quoted_excerpt(s));
  const auto a = parse_number(s.substr(0, colon)), b = parse_number(s.substr(colon + 1));
  // The weights scale the velocity as the step does (gfd::mixture accepts up to 1e6).
  if (!a || !b || !(*a >= 0 && *a <= 1e6) || !(*b >= 0 && *b <= 1e6) || *a + *b <= 0)
    throw usage_error(what + ": expected two numbers A:B in [0, 1e6], not both 0 (they scale the "
                      "velocity as --dt does), got " + gfd::detail::quoted_excerpt(s));
  return {*a, *b};
}

gfd::registry::divergence_parameters divergence_parameters_of(const divergence_choice& c) {
  gfd::registry::divergence_parameters p;
  p.alpha = c.alpha;
  p.affinity_floor = c.affinity_floor;
  p.epsilon = c.epsilon;
  p.projections = c.projections;
  p.sinkhorn_iterations = c.sinkhorn_iterations;
  p.seed = c.seed;
  p.samples = c.samples;
  if (c.name == "mixed") std::tie(p.mix_reverse_kl, p.mix_chi2) = parse_pair(c.mix, "--mix");
  return p;
}

void add_transport_options(CLI::App* cmd, divergence_choice& c) {
  cmd->add_option("--epsilon", c.epsilon,
                  "Entropic regularisation of --divergence sinkhorn, for the cost |x-y|^2/2 "
                  "(default 0: (diameter of the targets / 100)^2)")
      ->check(CLI::Range(0.0, 1e300))
      ->capture_default_str();
  cmd->add_option("--projections", c.projections, "Random directions per step of --divergence sliced")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--sinkhorn-iterations", c.sinkhorn_iterations,
                  "Sinkhorn iterations per coupling of --divergence sinkhorn-drift")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--mc-samples", c.samples,
                  "Kernel draws per particle of --divergence kl-exact's Monte Carlo estimator (used "
                  "where its lattice quadrature is not: d > 3, or a lattice too large)")
      ->check(CLI::Range(1, 1048576))
      ->capture_default_str();
}

any_divergence make_divergence(const divergence_choice& c) {
  return gfd::registry::make_divergence(c.name, divergence_parameters_of(c));
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
  if (c.name == "kl-exact") return "KL(k*q\u2016k*p), exact flow";
  if (c.name == "sinkhorn")
    return "Sinkhorn divergence (\u03b5 = " + (c.epsilon > 0 ? num(c.epsilon) : std::string("auto")) + ")";
  if (c.name == "sinkhorn-drift") return "Sinkhorn drift";
  if (c.name == "sliced") return "sliced W2 (" + std::to_string(c.projections) + " directions)";
  if (c.name == "energy") return "energy distance";
  return c.name;
}

// ---------------------------------------------------------------------------------------------
// Pictures
// ---------------------------------------------------------------------------------------------

/// The two plotted coordinates of a cloud: its first two rows, or for 1-D data the value
/// against a deterministic vertical jitter in [-1, 1].
Eigen::MatrixXd plane(const Eigen::MatrixXd& x, std::size_t max_points) {
  const Eigen::MatrixXd c = picture_columns(x.topRows(std::min<Eigen::Index>(x.rows(), 2)), max_points);
  Eigen::MatrixXd p(2, c.cols());
  std::mt19937_64 rng(12345);
  for (Eigen::Index i = 0; i < p.cols(); ++i) {
    p(0, i) = c(0, i);
    p(1, i) = c.rows() > 1 ? c(1, i) : -1.0 + 2.0 * static_cast<double>(rng() >> 11) * 0x1.0p-53;
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

}  // namespace gfd_cli
