// SPDX-License-Identifier: MIT
/// @file common.hpp
/// @brief What the commands of the `gfd` tool share: exit codes and usage errors, number
///        formatting, option and file checks, point-cloud input, kernels and divergences by
///        name (from gfd/registry.hpp), picture layers, the progress line, and the command table.
///
/// Each command lives in its own file (drift.cpp with drift_plane.cpp and drift_sphere.cpp,
/// sample.cpp, kde.cpp, metrics.cpp, convert.cpp, train.cpp, generate.cpp) and registers its own
/// subcommand; main.cpp only dispatches. Exit codes: 0 success; 1 the run failed (numerical
/// error, a file could not be written); 2 bad usage or bad input (unknown option or value,
/// malformed or missing file). Every file is written atomically (temporary + rename), so a
/// failure never leaves half a file behind.
#pragma once

#include <gfd/io.hpp>
#include <gfd/registry.hpp>

#include <CLI/CLI.hpp>

#include "plot.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace gfd_cli {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

/// A usage error found after parsing (a bad combination or value): exit code 2.
class usage_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------------------------------------
// The command table
// ---------------------------------------------------------------------------------------------

/// A subcommand registered on the app with its options, and what runs it once it is parsed.
struct command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

command add_drift_command(CLI::App& app);     // drift.cpp
command add_sample_command(CLI::App& app);    // sample.cpp
command add_kde_command(CLI::App& app);       // kde.cpp
command add_metrics_command(CLI::App& app);   // metrics.cpp
command add_convert_command(CLI::App& app);   // convert.cpp
command add_train_command(CLI::App& app);     // train.cpp
command add_generate_command(CLI::App& app);  // generate.cpp

// ---------------------------------------------------------------------------------------------
// Time and numbers
// ---------------------------------------------------------------------------------------------

using steady = std::chrono::steady_clock;
double seconds_since(steady::time_point t0);

/// printf-style formatting of one number.
std::string fmt(const char* format, double v);
/// 3 significant digits, for pictures.
std::string num3(double v);
/// Compact number: 4 significant digits, scientific when far from 1.
std::string num(double v);

// ---------------------------------------------------------------------------------------------
// Options and files
// ---------------------------------------------------------------------------------------------

std::string lower_extension(const std::string& path);
/// Checks an output path before any work is done: extension and existing directory.
void check_output(const std::string& path, const std::string& option, bool png);
void check_png_available(const std::string& path, const std::string& option);
/// A number, or nullopt when `s` is not a number at all.
std::optional<double> parse_number(const std::string& s);
/// A strictly positive finite number, else a usage error naming `what`.
double positive_number(const std::string& s, const std::string& what);
/// "A:B" -> two non-negative numbers, not both 0, else a usage error naming `what`.
std::pair<double, double> parse_pair(const std::string& s, const std::string& what);

/// positive_number for a bandwidth of a flow (drift, train): also inside
/// gfd::flow_bandwidth_range<double>(), else a usage error giving that range.
double flow_bandwidth(const std::string& s, const std::string& what);

/// Option validators with short messages (CLI11's PositiveNumber and NonNegativeNumber print
/// all 309 digits of the largest double in theirs).
CLI::Validator positive();     ///< a finite number > 0
CLI::Validator nonnegative();  ///< a finite number >= 0
/// A number in (0, hi] (`what` explains the bound in the message).
CLI::Validator positive_at_most(double hi, const std::string& what = {});
/// A finite number in [lo, hi] (`what` explains the bound in the message).
CLI::Validator number_in(double lo, double hi, const std::string& what = {});
/// A seed: a decimal integer in [0, 2^64 - 1] (CLI11 alone wraps -1 to 2^64 - 1 and saturates
/// larger values).
CLI::Validator seed_check();
/// --threads: 0 (all) to max_threads.
constexpr int max_threads = 1024;
CLI::Validator threads_check();

/// Refuses (usage error) a cloud a flow cannot follow: coordinates beyond 1e152 in magnitude,
/// where every bandwidth that fits the data is outside gfd::flow_bandwidth_range<double>().
void check_flow_scale(const std::string& what, const Eigen::MatrixXd& x);

/// One file a command reads or writes, with the option that names it (for messages).
struct file_use {
  std::string option, path;
};
/// Refuses (usage error, exit 2) an output that is the same file as an input or as another
/// output. The files themselves are compared, not their spellings: hard and symbolic links,
/// `./` and `..` are seen through (std::filesystem::equivalent for files that exist, the
/// normalised absolute path of the link target for outputs that do not yet). Empty paths are
/// skipped.
void check_distinct_files(const std::vector<file_use>& inputs, const std::vector<file_use>& outputs);

/// A message as the terminal may show it: control bytes and invalid UTF-8 written as \xNN, and
/// at most 2000 bytes (longer messages keep their head and say how long they were).
std::string printable(const std::string& message);

/// The toys with classes and their class counts ("8gaussians 8, moons 2, ..."), for messages.
std::string labelled_toys();

/// Reads a point cloud with its column names (x0, x1, ... for .npy and header-less CSV).
gfd::table read_cloud(const std::string& path, Eigen::Index expected_dim = -1);
/// Removes the label column `spec` (a column name, or a 0-based index, negative from the end:
/// -1 is the last column, which is how a .npy file carries its labels) from `t` and returns it:
/// one class 0, 1, 2, ... per point. `what` names the file in messages. @throws usage_error for
/// a missing column (the message lists the columns), a table with no other column, or a label
/// that is not an integer in [0, 2^20).
std::vector<int> take_label_column(gfd::table& t, const std::string& spec, const std::string& what);
/// A note on stderr when `t` has a column named "label" that is about to be used as a
/// coordinate (`flag` says how to use it as the classes instead).
void note_label_column(const gfd::table& t, const std::string& what, const std::string& flag);

/// Whether `s` names a toy of the plane (gfd::toy::names()).
bool is_toy(const std::string& s);
/// The toys' names, comma-separated.
std::string toy_list();

/// An index in [0, n) from one raw engine output, as `rng() % n` (portable: no std
/// distribution). Slightly biased towards small indices for n not a power of two; the one place
/// the tool draws indices, kept as it is so that the same seed gives the same output.
std::uint64_t random_index(std::mt19937_64& rng, std::uint64_t n);
/// Random permutation of 0..n-1 (Fisher-Yates with random_index).
std::vector<Eigen::Index> permutation(Eigen::Index n, std::uint64_t seed);
/// Columns idx[from], ..., idx[from + count - 1] of x.
Eigen::MatrixXd columns_of(const Eigen::MatrixXd& x, const std::vector<Eigen::Index>& idx,
                           std::size_t from, std::size_t count);

/// --threads: OpenMP threads (0 = leave the default).
void set_threads(int threads);
int thread_count();
/// Whether stderr is a terminal (the progress line is drawn only there).
bool stderr_is_terminal();

// ---------------------------------------------------------------------------------------------
// Kernels, divergences, steppers and evaluators by name (the library's registries)
// ---------------------------------------------------------------------------------------------

/// The tool's kernels: those of the Euclidean distance (on the sphere, of the chord).
using kernel_set = gfd::registry::euclidean_kernels;
using any_kernel = kernel_set::variant;
using any_divergence = gfd::registry::divergence_variant;
using any_evaluator = gfd::registry::evaluator_variant;

/// Names for CLI::IsMember, in the registries' order.
const std::vector<std::string>& kernel_names();
const std::vector<std::string>& divergence_names();
const std::vector<std::string>& stepper_names();
const std::vector<std::string>& evaluator_names();

any_kernel make_kernel(const std::string& name, double imq_beta);
any_evaluator make_evaluator(const std::string& name, double tolerance);

/// --divergence with its --alpha and --mix.
struct divergence_choice {
  std::string name = "kl";
  double alpha = 0.5;
  std::string mix = "1:1";
  double affinity_floor = 1e-3;  ///< drifting-deng (gfd train sets its own default: 0)
  double epsilon = 0;            ///< sinkhorn: --epsilon (0: automatic)
  int projections = 64;          ///< sliced: --projections
  int sinkhorn_iterations = 100; ///< sinkhorn-drift: --sinkhorn-iterations
  std::uint64_t seed = 0;        ///< sliced, kl-exact: the draws' seed (gfd drift: --seed)
  int samples = 32;              ///< kl-exact: --mc-samples (Monte Carlo draws per particle)
};
/// Registers --epsilon, --projections, --sinkhorn-iterations (the transport flows' options) and
/// --mc-samples (kl-exact's Monte Carlo) on `cmd`.
void add_transport_options(CLI::App* cmd, divergence_choice& c);
/// The registry's parameters of a choice (--mix is parsed only for "mixed").
gfd::registry::divergence_parameters divergence_parameters_of(const divergence_choice& c);
any_divergence make_divergence(const divergence_choice& c);
/// The functional in mathematical notation, for titles.
std::string divergence_title(const divergence_choice& c);

// ---------------------------------------------------------------------------------------------
// Pictures
// ---------------------------------------------------------------------------------------------

/// The two plotted coordinates of a cloud: its first two rows, or for 1-D data the value
/// against a deterministic vertical jitter in [-1, 1].
/// The most points a picture draws of one cloud (more only blacken the panel).
inline constexpr std::size_t picture_points = 20000;
/// The columns of `x` a picture draws: at most `max_points` of them, evenly strided, in double.
/// plane() draws these; a drift picture's snapshots keep only them (five full copies of 1e7
/// particles would be 800 MB), and plane() of the kept columns picks them all again.
template <class Mat>
Eigen::MatrixXd picture_columns(const Mat& x, std::size_t max_points = picture_points) {
  const Eigen::Index p = std::min<Eigen::Index>(x.cols(), static_cast<Eigen::Index>(max_points));
  Eigen::MatrixXd out(x.rows(), p);
  const double stride = static_cast<double>(x.cols()) / static_cast<double>(std::max<Eigen::Index>(p, 1));
  for (Eigen::Index i = 0; i < p; ++i)
    out.col(i) = x.col(static_cast<Eigen::Index>(static_cast<double>(i) * stride)).template cast<double>();
  return out;
}
Eigen::MatrixXd plane(const Eigen::MatrixXd& x, std::size_t max_points = picture_points);
plot::layer target_layer(const Eigen::MatrixXd& y, const std::string& label);
plot::layer particle_layer(const Eigen::MatrixXd& x, const std::string& label);
std::string dims_note(Eigen::Index d);
/// One panel of samples (`gfd sample --png`, `gfd generate --png`).
void write_samples_png(const std::string& path, const Eigen::MatrixXd& x, const std::string& title,
                       const std::string& subtitle);

/// "k -> w1 -> ... -> d" of a generator model ("k + K + 1 -> ..." for a conditional one: the
/// noise, the one-hot class and log omega).
template <class Model>
std::string architecture(const Model& m) {
  std::string s = std::to_string(m.noise_dim());
  if (m.conditional()) s += " + " + std::to_string(m.classes()) + " + 1";
  for (int w : m.hidden()) s += " -> " + std::to_string(w);
  return s + " -> " + std::to_string(m.dim());
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

}  // namespace gfd_cli
