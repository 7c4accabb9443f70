// SPDX-License-Identifier: MIT
/// @file drift.hpp
/// @brief `gfd drift`, one pipeline for the plane and the sphere: the options, the run of the
///        flow with its snapshots, and the scaffolding around it (output checks, header, flow
///        line, metrics, outputs, picture, wall time) written once, with the manifold-specific
///        parts supplied by a "space" (drift_plane.cpp, drift_sphere.cpp).
///
/// A space S provides (p a drift_problem, m the space's metrics):
///
/// | expression                               | semantics                                       |
/// |------------------------------------------|-------------------------------------------------|
/// | `s.before_run(explicit, png)`            | the picture default known before any work      |
/// | `s.adjust(opt)`                          | manifold options of the flow (retraction)       |
/// | `s.make_problem()`                       | targets, start, held-out and reference sets     |
/// | `s.problem()`                            | drift_problem& (const& on a const space)        |
/// | `s.after_problem(explicit, png)`         | the picture checks that need the dimension      |
/// | `s.print_header(title, bw_desc)`         | the header lines                                |
/// | `s.panels()`                             | snapshots of the picture                        |
/// | `s.manifold()`                           | the flow's manifold (gfd::euclidean, unit_sphere)|
/// | `s.prepare_metrics()`                    | the metrics' bandwidths, after the run          |
/// | `s.measure(x)`                           | m for start, final and reference                |
/// | `s.check_final(m1)`                      | throws if the final metrics are not usable      |
/// | `s.print_metrics(m0, m1, mr)`            | the metrics table                               |
/// | `s.draw(png, ctx, m1, mr)`               | the picture                                     |
/// | `s.finish()`                             | the closing notes                               |
#pragma once

#include "common.hpp"
#include "ranks.hpp"

#include <gfd/flow.hpp>
#include <gfd/registry.hpp>
#ifdef GFD_HAS_MPI
#include <gfd/mpi.hpp>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <string>
#include <variant>
#include <vector>

namespace gfd_cli {

/// The options of `gfd drift` shared by the plane and the sphere.
struct drift_args {
  std::string target = "8gaussians";
  std::string init = "gaussian";
  long n = 1000;
  bool n_given = false;  // --n on the command line (refused with --init FILE, which gives N)
  long m = 0;  // 0: same as n (toys) / the whole training part (files)
  long steps = gfd::flow_options{}.max_steps;
  long metric_points = 10000;  // the metrics on random subsamples of at most this many points
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
  std::string precision = "double";  ///< of the particles, targets and kernel sums
  double tolerance = 1e-3;
  bool conditional = false;  ///< each class's particles toward its class's targets
  std::string label_column;  ///< of a target / --init file (default with --conditional: "label")
};

/// The options `gfd drift` has only on the sphere (the rest are drift_args).
struct sphere_args {
  std::string manifold = "euclidean";
  long dim = 3;         // ambient dimension d of the toys (S^{d-1})
  long modes = 6;       // components of vmf-mixture
  double kappa = 50.0;  // their concentration
  bool normalise = false;
  bool retraction = false;
};

/// Registers the sphere's options on `drift` (drift_sphere.cpp).
void add_sphere_options(CLI::App* drift, sphere_args& s);
/// Whether the sphere applies; rejects sphere-only options on the Euclidean path.
bool sphere_requested(const CLI::App& drift, const sphere_args& s);
/// `gfd drift` in the plane (drift_plane.cpp) and on the sphere (drift_sphere.cpp).
int drift_plane(const drift_args& a, bool explicit_outputs);
int drift_sphere(const drift_args& a, const sphere_args& s, const CLI::App& drift,
                 bool explicit_outputs);

/// What every run needs besides its options; spaces add their own fields.
struct drift_problem {
  Eigen::MatrixXd targets, heldout, reference, start;
  std::vector<std::string> columns;
  std::string target_name;  // for titles
  std::string heldout_note, reference_note;
  /// --conditional: the class of each target and each start particle (0 .. classes - 1).
  std::vector<int> target_labels, start_labels;
  int classes = 0;
};

/// The seeded split of a target file of `total` points: a permutation (seed + 2), the first
/// `held` of it held out (--holdout, none when fewer than 2 would be on either side), the next
/// `train` the targets (at most --m).
struct target_split {
  std::vector<Eigen::Index> perm;
  Eigen::Index held = 0, train = 0;
};
target_split split_targets(Eigen::Index total, const drift_args& a);

/// The flow options shared by the plane and the sphere; `bw_desc` receives the bandwidth
/// schedule's description.
gfd::flow_options drift_flow_options(const drift_args& a, std::string& bw_desc);

struct snapshot {
  long step;
  double time, bandwidth;
  Eigen::MatrixXd x;
};

/// A finished drift run with the snapshots its picture (`panels`) and --trajectory need.
struct drift_run {
  Eigen::MatrixXd x;
  gfd::flow_report rep;
  double first_h = std::numeric_limits<double>::quiet_NaN();  ///< bandwidth of the first step
  double seconds = 0;
  long traj_every = 1;
  std::vector<snapshot> panel_shots, traj_shots;
  std::vector<int> labels;  ///< --conditional: the class of each particle (written as a column)
  std::vector<std::string> class_lines;  ///< --conditional: one summary line per class

  /// Writes --out (the final particles) and --trajectory (columns step, particle, then the
  /// coordinates `columns`) when asked for, each atomically, and says so.
  void write_outputs(const drift_args& a, const std::vector<std::string>& columns) const;
  /// The --trajectory table: a row per particle and snapshot.
  void write_trajectory(const std::string& path, const std::vector<std::string>& columns) const;
  /// The bandwidths actually used (`arrow` between the first and the last of an annealing).
  [[nodiscard]] std::string bandwidths_used(const gfd::flow_options& opt, const std::string& bw_desc,
                                            const char* arrow) const;
};

/// What a space's picture needs to know about the run.
struct drift_context {
  const drift_args& args;
  const drift_run& run;
  const std::string& title;
  const std::string bandwidths;  ///< bandwidths_used with an arrow, for pictures
};

/// Runs the flow from `start` on manifold M (the plane or the sphere), with the progress line,
/// `panels` picture snapshots (none when `panels` is 0: no picture) and the --trajectory
/// snapshots. The kernel, divergence and evaluator are visited once: the flow is typed.
///
/// Under mpirun (ranks()), `targets` and `start` are this rank's shares, the flow is
/// gfd::mpi::flow, and the snapshots and the final particles are gathered on rank 0 (the
/// others return no particles). Collective then.
template <class M>
drift_run run_drift(const drift_args& a, const gfd::flow_options& opt,
                    const Eigen::MatrixXd& targets, const Eigen::MatrixXd& start, int panels,
                    const any_kernel& kernel, const any_divergence& divergence,
                    const any_evaluator& evaluator, const M& manifold) {
  drift_run r;
  const bool root = ranks().root();
  // The whole cloud on rank 0 from every rank's share (the share itself on one process).
  auto whole = [&]<class S>(const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>& x) -> Eigen::MatrixXd {
#ifdef GFD_HAS_MPI
    if (ranks().mpi) return gfd::mpi::communicator().gather<S, Eigen::Dynamic>(x, 0).template cast<double>();
#endif
    return x.template cast<double>();
  };
  // Snapshot steps: evenly spaced over the run, including the start and the end.
  std::vector<long> panel_steps;
  for (int k = 0; k < panels; ++k)
    panel_steps.push_back(static_cast<long>(
        std::llround(static_cast<double>(k) * static_cast<double>(a.steps) / (panels - 1))));
  r.traj_every = a.trajectory_every > 0 ? a.trajectory_every : std::max(1L, a.steps / 50);
  {
    const Eigen::MatrixXd x0 = panels > 0 || !a.trajectory.empty() ? whole(start) : Eigen::MatrixXd();
    if (root && panels > 0) r.panel_shots.push_back({0, 0, std::numeric_limits<double>::quiet_NaN(), picture_columns(x0)});
    if (root && !a.trajectory.empty()) r.traj_shots.push_back({0, 0, 0, x0});
  }

  progress bar(root && !a.quiet && stderr_is_terminal(), a.steps);
  const auto t_flow = steady::now();
  // Scalar S: --precision. A float flow keeps its particles and targets in float (the kernel
  // sums in the log domain as in double); snapshots and the result come back as double.
  auto flow_in = [&]<class S>(const auto& k, const auto& div, const auto& ev) {
    using K = std::decay_t<decltype(k)>;
    using E = std::decay_t<decltype(ev)>;
    using matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
    matrix x = start.template cast<S>();
    const matrix y = targets.template cast<S>();
    auto observe = [&](const gfd::flow_state<S, Eigen::Dynamic>& st) {
      try {
        bar.update(st.step, [&] {
          return "t = " + num(st.time) + "  h = " + num(st.bandwidth) + "  estimate = " +
                 (std::isnan(st.estimate) ? std::string("-") : num(st.estimate));
        });
        if (st.step == 1) r.first_h = st.bandwidth;
        const bool panel = panels > 0 && std::find(panel_steps.begin() + 1, panel_steps.end(),
                                                   st.step) != panel_steps.end();
        const bool traj = !a.trajectory.empty() && (st.step % r.traj_every == 0 || st.step == a.steps);
        if (!panel && !traj) return;
        const Eigen::MatrixXd now = whole(*st.particles);  // collective under mpirun
        if (!root) return;
        if (panel) r.panel_shots.push_back({st.step, st.time, st.bandwidth, picture_columns(now)});
        if (traj) r.traj_shots.push_back({st.step, st.time, st.bandwidth, now});
      } catch (const std::exception& e) {
        // On one rank only (out of memory for a snapshot): the others cannot know, so end them.
        if (!ranks().mpi || ranks().size == 1) throw;
        std::cerr << "gfd: error: rank " << ranks().rank << ": " << printable(e.what()) << "\n";
        abort_ranks(exit_failure);
      }
    };
#ifdef GFD_HAS_MPI
    // Across ranks in double only: each MPI flow type costs as much compile time as the
    // one-process flows of the tool together, and float would double it (run_drift_command
    // refuses --precision float under mpirun).
    if constexpr (std::is_same_v<S, double>)
      if (ranks().mpi) {
        r.rep = gfd::mpi::flow<K, S, Eigen::Dynamic, E, M>(gfd::mpi::communicator(), y, opt, k, ev, manifold)
                    .run(x, div, observe);
        r.x = whole(x);
        return;
      }
#endif
    r.rep = gfd::flow<K, S, Eigen::Dynamic, E, M>(y, opt, k, ev, manifold).run(x, div, observe);
    r.x = x.template cast<double>();
  };
  std::visit(
      [&](const auto& k, const auto& div, const auto& ev) {
        using D = std::decay_t<decltype(div)>;
        using K = std::decay_t<decltype(k)>;
        using E = std::decay_t<decltype(ev)>;
        if constexpr (!gfd::registry::instantiated_combination<D, K, E, M>())
          gfd::registry::refuse_combination<D, K, E, M>("gfd drift", a.divergence.name);
        else if (a.precision == "float")
          flow_in.template operator()<float>(k, div, ev);
        else
          flow_in.template operator()<double>(k, div, ev);
      },
      kernel, divergence, evaluator);
  r.seconds = seconds_since(t_flow);
  bar.finish();
  if (root && panels > 0 && r.panel_shots.back().step != r.rep.steps)  // stopped early by a tolerance
    r.panel_shots.push_back({r.rep.steps, r.rep.time, r.rep.bandwidth, picture_columns(r.x)});
  return r;
}

/// --conditional: each class's particles flow toward that class's targets, class after class,
/// with the same options (each class's bandwidth schedule on its own targets); the particles,
/// their labels and the picture's snapshots are put back together.
template <class M>
drift_run run_conditional_drift(const drift_args& a, const gfd::flow_options& opt, const drift_problem& p,
                                int panels, const any_kernel& kernel, const any_divergence& divergence,
                                const any_evaluator& evaluator, const M& manifold) {
  drift_run all;
  all.x = p.start;
  all.labels = p.start_labels;
  std::vector<Eigen::MatrixXd> shots;
  // The columns of each class, in one pass over the labels.
  const auto k_classes = static_cast<std::size_t>(p.classes);
  std::vector<std::vector<Eigen::Index>> targets_of(k_classes), particles_of(k_classes);
  for (std::size_t j = 0; j < p.target_labels.size(); ++j)
    targets_of[static_cast<std::size_t>(p.target_labels[j])].push_back(static_cast<Eigen::Index>(j));
  for (std::size_t i = 0; i < p.start_labels.size(); ++i)
    particles_of[static_cast<std::size_t>(p.start_labels[i])].push_back(static_cast<Eigen::Index>(i));
  for (int c = 0; c < p.classes; ++c) {
    const std::vector<Eigen::Index>& iy = targets_of[static_cast<std::size_t>(c)];
    const std::vector<Eigen::Index>& ix = particles_of[static_cast<std::size_t>(c)];
    if (ix.empty()) continue;
    const drift_run r = run_drift(a, opt, columns_of(p.targets, iy, 0, iy.size()),
                                  columns_of(p.start, ix, 0, ix.size()), panels, kernel, divergence,
                                  evaluator, manifold);
    for (std::size_t i = 0; i < ix.size(); ++i) all.x.col(ix[i]) = r.x.col(static_cast<Eigen::Index>(i));
    for (std::size_t k = 0; k < r.panel_shots.size(); ++k) {
      if (k >= all.panel_shots.size()) {
        all.panel_shots.push_back(r.panel_shots[k]);
        all.panel_shots.back().bandwidth = std::numeric_limits<double>::quiet_NaN();  // one per class
        shots.push_back(r.panel_shots[k].x);
      } else {
        Eigen::MatrixXd& s = shots[k];
        Eigen::MatrixXd joined(s.rows(), s.cols() + r.panel_shots[k].x.cols());
        joined << s, r.panel_shots[k].x;
        s = std::move(joined);
      }
    }
    if (c == 0 || r.rep.steps > all.rep.steps) all.rep = r.rep;
    if (std::isnan(all.first_h)) all.first_h = r.first_h;
    all.seconds += r.seconds;
    all.class_lines.push_back("class " + std::to_string(c) + ": " + std::to_string(ix.size()) +
                              " particles toward " + std::to_string(iy.size()) + " targets, " +
                              std::to_string(r.rep.steps) + " steps, h " + num3(r.first_h) + " -> " +
                              num3(r.rep.bandwidth) + ", stopped by " + r.rep.stop_reason);
  }
  for (std::size_t k = 0; k < shots.size(); ++k) all.panel_shots[k].x = picture_columns(shots[k]);
  return all;
}

/// This rank's even share (gfd::mpi::shard_range) of rank 0's `all` (d x n); `all` itself on
/// one process. Collective under mpirun.
inline Eigen::MatrixXd share_of(const Eigen::MatrixXd& all, Eigen::Index d) {
#ifdef GFD_HAS_MPI
  if (ranks().mpi) return gfd::mpi::communicator().scatter<double, Eigen::Dynamic>(all, d, 0);
#endif
  (void)d;
  return all;
}

/// Rank 0's `x` on every rank (collective under mpirun).
inline long long shared_from_root(long long x) {
#ifdef GFD_HAS_MPI
  if (ranks().mpi) MPI_Bcast(&x, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
#endif
  return x;
}

/// `gfd drift` on the space `s`: everything but the manifold-specific parts.
template <class Space>
int run_drift_command(const drift_args& a, bool explicit_outputs, Space& s) {
  const auto t_total = steady::now();
  start_mpi_if_launched();
  const bool root = ranks().root();
  std::string png = a.png, bw_desc, title;
  gfd::flow_options opt;
  std::optional<any_kernel> kernel;
  std::optional<any_divergence> divergence;
  std::optional<any_evaluator> evaluator;
  // Every rank checks the command line (the same everywhere); rank 0 alone reads the inputs and
  // prints the header. A failure on any rank stops every rank with its message (ranks.hpp).
  agree_on_ranks([&] {
    check_output(a.out, "--out", false);
    check_output(a.trajectory, "--trajectory", false);
    check_output(a.png, "--png", true);
    check_png_available(a.png, "--png");
    check_distinct_files({{"--target", a.target}, {"--init", a.init}},
                         {{"--out", a.out}, {"--trajectory", a.trajectory}, {"--png", a.png}});
    if (a.n_given && a.init != "gaussian" && a.init != "uniform")
      throw usage_error("--n " + std::to_string(a.n) + " and --init " + a.init +
                        ": the file gives the particles, and so N; drop --n (a toy target's M "
                        "defaults to that N, --m sets it)");
    if (a.conditional && ranks().mpi)
      throw usage_error("--conditional runs in one process (not across MPI ranks yet)");
    if (a.conditional && !a.trajectory.empty())
      throw usage_error("--conditional and --trajectory: the classes run one after another; "
                        "write the final particles with --out");
    if (!a.conditional && !a.label_column.empty())
      throw usage_error("--label-column " + a.label_column + " needs --conditional");
    if (ranks().mpi && a.precision != "double")
      throw usage_error("--precision " + a.precision + ": across MPI ranks gfd drift runs in double "
                        "only; drop --precision, or run one process");
    if (root) s.before_run(explicit_outputs, png);
    set_threads(a.threads);
    opt = drift_flow_options(a, bw_desc);
    s.adjust(opt);
    kernel = make_kernel(a.kernel, a.imq_beta);
    divergence = make_divergence(a.divergence);
    evaluator = make_evaluator(a.evaluator, a.tolerance);
    title = divergence_title(a.divergence);
    if (!root) return;
    s.make_problem();
    const auto& pb = s.problem();
    if (ranks().mpi && std::min(pb.start.cols(), pb.targets.cols()) < ranks().size)
      throw usage_error("N = " + std::to_string(pb.start.cols()) + " particles and M = " +
                        std::to_string(pb.targets.cols()) + " targets across " + std::to_string(ranks().size) +
                        " MPI ranks: every rank needs at least one of each; use fewer ranks");
    s.after_problem(explicit_outputs, png);
    s.print_header(title, bw_desc);
    std::cout.flush();  // the header shows before the flow, even with output captured
  });
  const drift_problem& p = s.problem();

  // Under mpirun every rank takes its share of the targets and the particles.
  const auto d = static_cast<Eigen::Index>(shared_from_root(p.targets.rows()));
  const int panels = static_cast<int>(shared_from_root(png.empty() ? 0 : s.panels()));
  Eigen::MatrixXd my_targets, my_start;
  if (ranks().mpi) my_targets = share_of(p.targets, d), my_start = share_of(p.start, d);
  const drift_run run =
      a.conditional ? run_conditional_drift(a, opt, p, panels, *kernel, *divergence, *evaluator, s.manifold())
                    : run_drift(a, opt, ranks().mpi ? my_targets : p.targets, ranks().mpi ? my_start : p.start,
                                panels, *kernel, *divergence, *evaluator, s.manifold());
  if (!root) return exit_ok;  // rank 0 reports and writes
  const gfd::flow_report& rep = run.rep;

  // The flow's line as soon as the flow ends: the metrics below take a while on large clouds.
  std::cout << "  flow: " << rep.steps << " steps in " << fmt("%.2f", run.seconds) << " s ("
            << fmt("%.2f", 1e3 * run.seconds / std::max(1L, rep.steps)) << " ms/step), bandwidth "
            << run.bandwidths_used(opt, bw_desc, " -> ") << ", stopped by " << rep.stop_reason;
  if (rep.rejected_steps) std::cout << ", " << rep.rejected_steps << " rejected steps";
  if (a.conditional) std::cout << " (the longest of " << run.class_lines.size() << " classes)";
  std::cout << "\n";
  for (const auto& line : run.class_lines) std::cout << "    " << line << "\n";
  std::cout << "\n";
  std::cout.flush();

  // Metrics of the start, the final particles and the reference (the noise floor), each on a
  // seeded random subsample of at most --metric-points points (the metrics are all-pairs: MMD
  // and energy distance cost O(K^2) on K points), the held-out set too; exact when smaller.
  const auto k = static_cast<Eigen::Index>(a.metric_points);
  auto subsample = [&](const Eigen::MatrixXd& x, std::uint64_t salt) {
    if (x.cols() <= k) return x;
    return columns_of(x, permutation(x.cols(), a.seed + salt), 0, static_cast<std::size_t>(k));
  };
  const Eigen::Index n_start = p.start.cols(), n_final = run.x.cols(), n_ref = p.reference.cols(),
                     n_held = p.heldout.cols();
  const bool sub = std::max({n_start, n_final, n_ref, n_held}) > k;
  if (n_held > k) s.problem().heldout = subsample(p.heldout, 101);
  s.prepare_metrics();
  const auto m0 = s.measure(subsample(p.start, 102));
  const auto m1 = s.measure(subsample(run.x, 103));
  const auto mr = s.measure(subsample(p.reference, 104));
  s.check_final(m1);
  if (sub)
    std::cout << "  metrics on seeded random subsamples of at most " << k
              << " points (--metric-points): start " << std::min(n_start, k) << " of " << n_start
              << ", final " << std::min(n_final, k) << " of " << n_final << ", reference "
              << std::min(n_ref, k) << " of " << n_ref << ", held-out " << std::min(n_held, k)
              << " of " << n_held << "\n\n";
  else
    std::cout << "  metrics on every point (all clouds within --metric-points " << k << ")\n\n";
  s.print_metrics(m0, m1, mr);
  if (a.conditional) {
    // The share of particles whose nearest target has their class, on seeded subsamples of at
    // most --metric-points particles and targets.
    auto agreement = [&](const Eigen::MatrixXd& x) {
      const auto px = permutation(x.cols(), a.seed + 105), py = permutation(p.targets.cols(), a.seed + 106);
      const Eigen::Index nx = std::min(x.cols(), k), ny = std::min(p.targets.cols(), k);
      long same = 0;
      for (Eigen::Index i = 0; i < nx; ++i) {
        const Eigen::Index xi = px[static_cast<std::size_t>(i)];
        double best = std::numeric_limits<double>::infinity();
        int label = -1;
        for (Eigen::Index j = 0; j < ny; ++j) {
          const Eigen::Index yj = py[static_cast<std::size_t>(j)];
          const double dist = (x.col(xi) - p.targets.col(yj)).squaredNorm();
          if (dist < best) best = dist, label = p.target_labels[static_cast<std::size_t>(yj)];
        }
        same += label == p.start_labels[static_cast<std::size_t>(xi)] ? 1 : 0;
      }
      return fmt("%.1f%%", 100.0 * static_cast<double>(same) / static_cast<double>(std::max<Eigen::Index>(nx, 1)));
    };
    std::cout << "\n  class agreement (the nearest target has the particle's class): start "
              << agreement(p.start) << ", final " << agreement(run.x) << "\n";
  }

  run.write_outputs(a, p.columns);
  if (!png.empty())
    s.draw(png, drift_context{a, run, title, run.bandwidths_used(opt, bw_desc, " \u2192 ")}, m1, mr);
  s.finish();
  std::cout << "  wall time " << fmt("%.2f", seconds_since(t_total)) << " s\n";
  return exit_ok;
}

}  // namespace gfd_cli
