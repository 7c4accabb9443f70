// SPDX-License-Identifier: MIT
/// @file mpi_flows.cpp
/// @brief gfd::mpi::flow on P ranks against gfd::flow in one process (run under mpirun with
///        P = 1, 2, 3, 4 and 16 by tests/CMakeLists.txt). Every rank builds the same seeded
///        clouds, runs the single-process flow on the whole of them and the sharded flow on its
///        block, and rank 0 compares the gathered particles and the reports:
///        - every divergence of the registry, exact evaluator: 1e-12 relative (the ring adds the
///          partial sums in another order: round-off only);
///        - Heun, an annealed schedule, a rule re-chosen on targets + particles, two bandwidth
///          multipliers, weighted targets, an uneven split, the sphere: 1e-12;
///        - the tree and grid evaluators: within their tolerance (they truncate per block);
///        - the ring evaluator's sums against the exact evaluator's, with self-exclusion;
///        - bad particles on the last rank only: every rank throws gfd::invalid_argument naming
///          that rank (no rank left waiting); the adaptive stepper is refused on every rank.
///
///     mpirun -np P mpi_flows [quick]     (quick: KL only, for P = 16)
/// Exit code 0 when every check passes on every rank.

#include <gfd/evaluators/grid.hpp>
#include <gfd/evaluators/tree.hpp>
#include <gfd/mpi.hpp>
#include <gfd/registry.hpp>
#include <gfd/toy.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

namespace {

int failures = 0;

void check(const gfd::mpi::communicator& comm, bool ok, const std::string& what) {
  const bool all = comm.min(ok ? 1 : 0) == 1;
  if (comm.rank() == 0) std::printf("%s %s\n", all ? "ok:  " : "FAIL:", what.c_str());
  if (!all) ++failures;
}

/// Largest |a - b| / (1 + |b|) over the entries.
double rel_diff(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return INFINITY;
  return ((a - b).array().abs() / (1 + b.array().abs())).maxCoeff();
}
double rel_diff(double a, double b) {
  if (std::isnan(a) && std::isnan(b)) return 0;
  return std::abs(a - b) / (1 + std::abs(b));
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2e", v);
  return buf;
}

/// This rank's block of x under gfd's even split, or all of it on rank 0 when `uneven`.
Eigen::MatrixXd block(const gfd::mpi::communicator& comm, const Eigen::MatrixXd& x, bool uneven = false) {
  if (uneven && comm.size() > 1) {
    // rank 0 gets half, the others share the rest (each at least one column)
    const Eigen::Index half = x.cols() / 2, rest = x.cols() - half;
    if (comm.rank() == 0) return x.leftCols(half);
    const auto [a, b] = gfd::mpi::shard_range(rest, comm.rank() - 1, comm.size() - 1);
    return x.middleCols(half + a, b - a);
  }
  const auto [a, b] = gfd::mpi::shard_range(x.cols(), comm.rank(), comm.size());
  return x.middleCols(a, b - a);
}

/// Runs divergence `div` both ways and compares; returns the largest relative difference.
template <class K, class E, class M, class D>
double compare(const gfd::mpi::communicator& comm, const Eigen::MatrixXd& targets, const Eigen::VectorXd* weights,
               const Eigen::MatrixXd& start, const gfd::flow_options& opt, const D& div, const K& kernel = {},
               const E& ev = {}, const M& manifold = {}, bool uneven = false) {
  using single_flow = gfd::flow<K, double, Eigen::Dynamic, E, M>;
  Eigen::MatrixXd x1 = start;
  const gfd::flow_report r1 = weights ? single_flow({targets, *weights}, opt, kernel, ev, manifold).run(x1, div)
                                      : single_flow(targets, opt, kernel, ev, manifold).run(x1, div);

  const Eigen::MatrixXd t_local = block(comm, targets, uneven);
  Eigen::VectorXd w_local;
  if (weights) {
    const Eigen::MatrixXd w_row = block(comm, Eigen::MatrixXd(weights->transpose()), uneven);
    w_local = w_row.row(0).transpose();
  }
  Eigen::MatrixXd x = block(comm, start, uneven);
  using sharded_flow = gfd::mpi::flow<K, double, Eigen::Dynamic, E, M>;
  const gfd::flow_report r2 = weights ? sharded_flow(comm, {t_local, w_local}, opt, kernel, ev, manifold).run(x, div)
                                      : sharded_flow(comm, t_local, opt, kernel, ev, manifold).run(x, div);
  const Eigen::MatrixXd all = comm.gather<double, Eigen::Dynamic>(x);
  double diff = rel_diff(all, x1);
  diff = std::max({diff, rel_diff(r2.estimate, r1.estimate), rel_diff(r2.bandwidth, r1.bandwidth),
                   rel_diff(r2.mean_displacement, r1.mean_displacement)});
  if (r1.steps != r2.steps || r1.stop_reason != r2.stop_reason) diff = INFINITY;
  return diff;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  {
    const gfd::mpi::communicator comm;
    const bool quick = argc > 1 && std::strcmp(argv[1], "quick") == 0;
    const std::string on = " on " + std::to_string(comm.size()) + " rank(s)";
    std::mt19937_64 rng(7);
    const Eigen::MatrixXd targets = gfd::toy::eight_gaussians(48, rng);
    std::normal_distribution<double> normal;
    Eigen::MatrixXd start(2, 40);
    for (Eigen::Index i = 0; i < start.size(); ++i) start.data()[i] = 1.5 * normal(rng);

    gfd::flow_options opt;
    opt.max_steps = 4;
    opt.observe_every = 2;
    opt.bandwidth = gfd::bandwidth_schedule::fixed(0.6);

    // 1. Every divergence of the registry (exact evaluator, Gaussian kernel, Euler).
    const std::vector<std::string> names = quick ? std::vector<std::string>{"kl"} : gfd::registry::divergence_names();
    for (const std::string& name : names) {
      gfd::registry::with_divergence(name, {}, [&](const auto& div) {
        using D = std::decay_t<decltype(div)>;
        const double d = compare<gfd::gaussian, gfd::exact_evaluator, gfd::euclidean>(comm, targets, nullptr, start, opt, div);
        check(comm, d <= 1e-12,
              name + (gfd::mpi::sharded<D>() ? " (sharded)" : " (replicated)") + on + ": max rel. difference " + num(d));
      });
    }

    const auto kl = gfd::kl();
    // 2. Steppers, schedules, weights, splits, the sphere.
    {
      gfd::flow_options o = opt;
      o.method = gfd::stepper::heun;
      o.bandwidth = gfd::bandwidth_schedule::anneal(NAN, NAN);
      o.max_steps = 6;
      const double d = compare<gfd::gaussian, gfd::exact_evaluator, gfd::euclidean>(comm, targets, nullptr, start, o, kl);
      check(comm, d <= 1e-12, "kl, heun, annealed bandwidth" + on + ": " + num(d));
    }
    if (!quick) {
      gfd::flow_options o = opt;
      o.bandwidth = gfd::bandwidth_schedule::by_rule(gfd::bandwidth_rule::scott, 2, true);
      o.bandwidth.multipliers = {1.0, 2.0};
      const double d = compare<gfd::laplacian, gfd::exact_evaluator, gfd::euclidean>(comm, targets, nullptr, start, o,
                                                                                      gfd::reverse_kl());
      check(comm, d <= 1e-12, "reverse-kl, laplacian, Scott on targets + particles every 2 steps, multipliers {1, 2}" + on +
                                  ": " + num(d));
      Eigen::VectorXd w(targets.cols());
      for (Eigen::Index j = 0; j < w.size(); ++j) w(j) = 1.0 + static_cast<double>(j % 5);
      const double dw = compare<gfd::gaussian, gfd::exact_evaluator, gfd::euclidean>(comm, targets, &w, start, opt, kl);
      check(comm, dw <= 1e-12, "kl, weighted targets" + on + ": " + num(dw));
      const double du = compare<gfd::gaussian, gfd::exact_evaluator, gfd::euclidean>(comm, targets, nullptr, start, opt,
                                                                                      gfd::chi2(), {}, {}, {}, true);
      check(comm, du <= 1e-12, "chi2, uneven split (half on rank 0)" + on + ": " + num(du));

      Eigen::MatrixXd s_targets(3, 60), s_start(3, 30);
      for (Eigen::Index i = 0; i < s_targets.size(); ++i) s_targets.data()[i] = normal(rng) + (i % 3 == 0 ? 2.0 : 0.0);
      for (Eigen::Index i = 0; i < s_start.size(); ++i) s_start.data()[i] = normal(rng);
      s_targets.colwise().normalize();
      s_start.colwise().normalize();
      gfd::flow_options so = opt;
      so.bandwidth = gfd::bandwidth_schedule::fixed(0.4);
      const double ds = compare<gfd::gaussian, gfd::exact_evaluator, gfd::unit_sphere>(comm, s_targets, nullptr, s_start,
                                                                                        so, kl);
      check(comm, ds <= 1e-12, "kl on the sphere S^2" + on + ": " + num(ds));

      // 3. Tree and grid: each block within the evaluator's tolerance.
      const double dt = compare<gfd::gaussian, gfd::tree_evaluator, gfd::euclidean>(comm, targets, nullptr, start, opt, kl,
                                                                                     {}, gfd::tree_evaluator(1e-6));
      check(comm, dt <= 1e-4, "kl, tree evaluator (tolerance 1e-6)" + on + ": " + num(dt));
      const double dg = compare<gfd::gaussian, gfd::grid_evaluator, gfd::euclidean>(comm, targets, nullptr, start, opt, kl,
                                                                                     {}, gfd::grid_evaluator(1e-6));
      check(comm, dg <= 1e-4, "kl, grid evaluator (tolerance 1e-6)" + on + ": " + num(dg));
    }

    // 4. The ring's sums against one process's, with self-exclusion and the mean shift.
    {
      const Eigen::MatrixXd mine = block(comm, start);
      const Eigen::VectorXd lw_all = Eigen::VectorXd::Constant(start.cols(), -std::log(40.0));
      const Eigen::VectorXd lw = Eigen::VectorXd::Constant(mine.cols(), -std::log(40.0));
      const gfd::bound_kernel<gfd::epanechnikov, double> bk(gfd::epanechnikov{}, 1.1);
      for (const bool self : {false, true}) {
        const gfd::sum_options so{.field = self ? gfd::field_kind::mean_shift : gfd::field_kind::score,
                                  .exclude_self = self};
        gfd::kernel_sums<double> one, ring;
        gfd::exact_evaluator{}.prepare(start, lw_all, bk).sums(start, so, one);
        gfd::mpi::ring_evaluator<>{{}, comm}.prepare(mine, lw, bk).sums(mine, so, ring);
        const Eigen::MatrixXd ls = comm.gather<double, Eigen::Dynamic>(Eigen::MatrixXd(ring.log_sum.transpose()));
        const Eigen::MatrixXd f = comm.gather<double, Eigen::Dynamic>(ring.field);
        // -inf log-sums (no source within the compact support) must agree exactly.
        bool same_inf = true;
        double d = rel_diff(f, one.field);
        for (Eigen::Index i = 0; i < one.log_sum.size(); ++i) {
          if (std::isinf(one.log_sum(i)) != std::isinf(ls(0, i))) same_inf = false;
          if (!std::isinf(one.log_sum(i))) d = std::max(d, rel_diff(ls(0, i), one.log_sum(i)));
        }
        check(comm, same_inf && d <= 1e-12, std::string("ring sums, epanechnikov, ") +
                                                (self ? "mean shift without self" : "score") + on + ": " + num(d));
      }
    }

    // 5. Errors: bad particles on the last rank only; the adaptive stepper.
    {
      Eigen::MatrixXd x = block(comm, start);
      if (comm.rank() == comm.size() - 1) x(1, 0) = NAN;
      std::string msg;
      try {
        gfd::mpi::flow<> f(comm, block(comm, targets), opt);
        f.run(x, kl);
      } catch (const gfd::invalid_argument& e) {
        msg = e.what();
      }
      const std::string want = "rank " + std::to_string(comm.size() - 1) + ": gfd::mpi::flow::run: particles has a non-finite";
      check(comm, msg.find(want) == 0, "NaN particle on the last rank: every rank throws \"" + msg + "\"");
      gfd::flow_options ao = opt;
      ao.method = gfd::stepper::adaptive;
      msg.clear();
      try {
        gfd::mpi::flow<> f(comm, block(comm, targets), ao);
      } catch (const gfd::invalid_argument& e) {
        msg = e.what();
      }
      check(comm, msg.find("adaptive stepper is not supported across ranks") != std::string::npos,
            "adaptive stepper refused on every rank: \"" + msg + "\"");
    }
    if (comm.rank() == 0) std::printf("%s\n", failures ? "some checks failed" : "all checks passed");
  }
  const int status = failures ? 1 : 0;
  MPI_Finalize();
  return status;
}
