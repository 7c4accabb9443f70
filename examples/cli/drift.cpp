// SPDX-License-Identifier: MIT
/// @file drift.cpp
/// @brief `gfd drift`: its options (the plane's and, from drift_sphere.cpp, the sphere's), the
///        bandwidth schedule, the target split and the outputs of a run; dispatches to the plane
///        or the sphere.

#include "drift.hpp"

#include <gfd/bandwidth.hpp>

#include <memory>

namespace gfd_cli {

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
    const double h = flow_bandwidth(bandwidth, "--bandwidth");
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
    if (!a.empty()) s.h_start = flow_bandwidth(a, "--anneal START");
    if (!b.empty()) s.h_end = flow_bandwidth(b, "--anneal END");
  }
  if (!bandwidth.empty()) {
    if (bandwidth == "scott" || bandwidth == "silverman" || bandwidth == "median") {
      s.rule = gfd::parse_bandwidth_rule(bandwidth);
    } else {
      if (!std::isnan(s.h_end))
        throw usage_error("--bandwidth " + bandwidth + " and --anneal " + range +
                          " both set the final bandwidth; give only one");
      s.h_end = flow_bandwidth(bandwidth, "--bandwidth");
    }
  }
  return s;
}

target_split split_targets(Eigen::Index total, const drift_args& a) {
  target_split t;
  t.held = static_cast<Eigen::Index>(std::floor(a.holdout * static_cast<double>(total)));
  if (t.held < 2 || total - t.held < 2) t.held = 0;  // too few points to hold some out
  t.perm = permutation(total, a.seed + 2);
  t.train = total - t.held;
  if (a.m > 0) t.train = std::min<Eigen::Index>(t.train, a.m);
  return t;
}

gfd::flow_options drift_flow_options(const drift_args& a, std::string& bw_desc) {
  gfd::flow_options opt;
  opt.method = gfd::registry::make_stepper(a.stepper);
  opt.dt = a.dt;
  opt.max_steps = a.steps;
  opt.max_displacement = a.max_displacement;
  opt.bandwidth = make_schedule(a.bandwidth, a.anneal, a.anneal_range, bw_desc);
  opt.observe_every = 1;
  return opt;
}

// ---------------------------------------------------------------------------------------------
// The outputs of a run
// ---------------------------------------------------------------------------------------------

void drift_run::write_outputs(const drift_args& a, const std::vector<std::string>& columns) const {
  if (!a.out.empty() && !labels.empty()) {  // --conditional: the class as a last column
    Eigen::MatrixXd table(x.rows() + 1, x.cols());
    table.topRows(x.rows()) = x;
    for (Eigen::Index i = 0; i < x.cols(); ++i) table(x.rows(), i) = labels[static_cast<std::size_t>(i)];
    std::vector<std::string> names = columns;
    names.emplace_back("label");
    gfd::write_points(a.out, table, names);
    std::cout << "  wrote " << a.out << " (" << x.cols() << " particles with their labels)\n";
  } else if (!a.out.empty()) {
    gfd::write_points(a.out, x, columns);
    std::cout << "  wrote " << a.out << " (" << x.cols() << " particles)\n";
  }
  if (!a.trajectory.empty()) {
    write_trajectory(a.trajectory, columns);
    std::cout << "  wrote " << a.trajectory << " (" << traj_shots.size() << " snapshots, every "
              << traj_every << " steps; columns step, particle, " << columns.front() << ", ...)\n";
  }
}

void drift_run::write_trajectory(const std::string& path, const std::vector<std::string>& columns) const {
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

std::string drift_run::bandwidths_used(const gfd::flow_options& opt, const std::string& bw_desc,
                                       const char* arrow) const {
  if (rep.steps > 0 && opt.bandwidth.kind == gfd::bandwidth_schedule::mode::anneal)
    return "annealed " + num3(first_h) + arrow + num3(rep.bandwidth);
  if (rep.steps > 0 && opt.bandwidth.kind == gfd::bandwidth_schedule::mode::rule)
    return bw_desc + " (h = " + num3(rep.bandwidth) + ")";
  return bw_desc;
}


// ---------------------------------------------------------------------------------------------
// The subcommand
// ---------------------------------------------------------------------------------------------

command add_drift_command(CLI::App& app) {
  struct state {
    drift_args a;
    sphere_args s;
  };
  auto st = std::make_shared<state>();
  drift_args& a = st->a;
  sphere_args& s = st->s;
  auto* drift =
      app.add_subcommand("drift", "Drift particles toward a target along a gradient flow");
  drift
      ->add_option("--target", a.target,
                   "Toy name (" + toy_list() + ") or a .csv/.npy point cloud of any dimension")
      ->capture_default_str();
  drift
      ->add_option("--init", a.init,
                   "Start: gaussian (N(0,I) for toys, the target's mean and spread for files), "
                   "uniform (bounding box of the target), or a .csv/.npy file")
      ->capture_default_str();
  drift->add_option("--n", a.n, "Number of particles")
      ->check(CLI::Range(2L, 100000000L))
      ->capture_default_str();
  drift
      ->add_option("--m", a.m,
                   "Target samples for toys (default: N); for files, at most M training points")
      ->check(CLI::Range(2L, 100000000L));
  drift
      ->add_option("--metric-points", a.metric_points,
                   "The metrics table on seeded random subsamples of at most this many points "
                   "(every cloud, the held-out set too; exact when the clouds are smaller)")
      ->check(CLI::Range(2L, 100000000L))
      ->capture_default_str();
  drift->add_option("--steps", a.steps, "Number of steps")
      ->check(CLI::Range(0L, 100000000L))
      ->capture_default_str();
  drift->add_option("--dt", a.dt, "Step size, in units of h^2")
      ->check(positive())
      ->capture_default_str();
  drift
      ->add_option("--max-displacement", a.max_displacement,
                   "Cap on one particle's step, as a fraction of h (0 = none)")
      ->check(nonnegative())
      ->capture_default_str();
  drift->add_option("--divergence", a.divergence.name, "Functional whose flow to follow")
      ->check(CLI::IsMember(divergence_names()))
      ->capture_default_str();
  drift->add_option("--alpha", a.divergence.alpha, "alpha of --divergence alpha")
      ->capture_default_str();
  drift
      ->add_option("--affinity-floor", a.divergence.affinity_floor,
                   "Floor on every affinity of --divergence drifting-deng (Deng et al.'s code: 1e-3)")
      ->check(CLI::Range(0.0, 0.999999))
      ->capture_default_str();
  drift
      ->add_option("--mix", a.divergence.mix,
                   "Weights A:B of KL(p||q) and chi2(q||p) for --divergence mixed")
      ->capture_default_str();
  add_transport_options(drift, a.divergence);
  drift->add_option("--kernel", a.kernel, "Kernel")
      ->check(CLI::IsMember(kernel_names()))
      ->capture_default_str();
  drift->add_option("--imq-beta", a.imq_beta, "Exponent of the imq kernel")
      ->check(positive())
      ->capture_default_str();
  drift->add_option(
      "--bandwidth", a.bandwidth,
      "VALUE (fixed), scott, silverman or median (rule on the targets); with --anneal, "
      "the final bandwidth. Default: the library's annealed schedule (from the "
      "spread of the whole cloud down to a fraction of Silverman's bandwidth)");
  drift
      ->add_option("--anneal", a.anneal_range,
                   "Anneal the bandwidth, optionally START:END (either may be empty)")
      ->expected(0, 1);
  drift->add_option("--stepper", a.stepper, "Time stepper")
      ->check(CLI::IsMember(stepper_names()))
      ->capture_default_str();
  drift
      ->add_option(
          "--seed", a.seed,
          "Seed: target sample = seed, start = seed+1, held-out = seed+2, reference = seed+3")
      ->check(seed_check())
      ->capture_default_str();
  drift->add_option("--holdout", a.holdout, "Fraction of a target file held out for the metrics")
      ->check(CLI::Range(0.0, 0.9))
      ->capture_default_str();
  drift->add_option("--out", a.out, "Write the final particles (.csv or .npy)");
  drift->add_option("--png", a.png, "Write a picture: snapshots over the run (.png)");
  drift->add_option("--snapshots", a.snapshots, "Panels in the picture")
      ->check(CLI::Range(2, 12))
      ->capture_default_str();
  drift->add_option("--trajectory", a.trajectory,
                    "Write snapshots (.csv or .npy; columns step, particle, x0, ...)");
  drift
      ->add_option("--trajectory-every", a.trajectory_every,
                   "Steps between trajectory snapshots (default: steps/50)")
      ->check(positive());
  drift->add_option("--evaluator", a.evaluator, "Kernel sums: exact (all pairs), tree (k-d tree, relative error <= --tolerance) or grid (FFT on a grid, d <= 3, relative error <= --tolerance)")
      ->check(CLI::IsMember(evaluator_names()))->capture_default_str();
  drift->add_option("--tolerance", a.tolerance, "Relative error bound of the tree and grid evaluators")
      ->check(CLI::Range(1e-15, 0.5))->capture_default_str();
  drift->add_option("--precision", a.precision, "Arithmetic of the flow and its kernel sums: double or float")
      ->check(CLI::IsMember({"double", "float"}))->capture_default_str();
  drift->add_option("--threads", a.threads, "OpenMP threads (default: all)")
      ->check(threads_check());
  drift->add_flag("--quiet,-q", a.quiet,
                  "No progress line (it is also off when stderr is not a terminal)");
  drift->add_flag("--conditional", a.conditional,
                  "Class-conditional flow: the targets' classes (a toy's components, or a file's "
                  "--label-column) split the particles in proportion, and each class's particles "
                  "flow toward that class's targets; --out gets a label column");
  drift->add_option("--label-column", a.label_column,
                    "With --conditional, the label column of a target or --init file: a name, or "
                    "a 0-based index (-1 = the last; .npy files) [default: label]");
  add_sphere_options(drift, s);


  return {drift, [st, drift] {
            st->a.anneal = drift->count("--anneal") > 0;
            st->a.n_given = drift->count("--n") > 0;
            st->a.divergence.seed = st->a.seed;
            const bool explicit_outputs =
                !st->a.out.empty() || !st->a.png.empty() || !st->a.trajectory.empty();
            if (sphere_requested(*drift, st->s)) {
              if (st->a.conditional) throw usage_error("--conditional is for flows in R^d, not on the sphere");
              return drift_sphere(st->a, st->s, *drift, explicit_outputs);
            }
            return drift_plane(st->a, explicit_outputs);
          }};
}

}  // namespace gfd_cli
