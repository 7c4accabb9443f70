// SPDX-License-Identifier: MIT
/// @file kde.cpp
/// @brief `gfd kde`: evaluate a KDE (log-density and score) of a point cloud at query points.

#include "common.hpp"

#include <gfd/bandwidth.hpp>
#include <gfd/kde.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <memory>
#include <variant>

namespace gfd_cli {
namespace {

struct kde_args {
  std::string data, query, out;
  std::string kernel = "gaussian";
  std::string bandwidth = "scott";
  std::string evaluator = "exact";
  std::string precision = "double";
  double tolerance = 1e-3;
  double imq_beta = 1.5;
  int threads = 0;
  int repeat = 1;  // evaluations timed; the best is reported (the first pays for warm-up)
};

int cmd_kde(const kde_args& a) {
  check_output(a.out, "--out", false);
  check_distinct_files({{"--data", a.data}, {"--query", a.query}}, {{"--out", a.out}});
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
  const any_evaluator evaluator = make_evaluator(a.evaluator, a.tolerance);
  Eigen::MatrixXd result(q.rows() + 1, q.cols());
  double eval_s = 0, first_s = 0;
  auto evaluate = [&](const auto& est, const auto& queries) {
    const double log_z = est.log_normaliser();  // throws before the timing if not normalisable
    auto t_eval = steady::now();
    auto sums = est.sums(queries);
    eval_s = first_s = seconds_since(t_eval);
    for (int r = 1; r < a.repeat; ++r) {  // --repeat: the same sums again, best time kept
      t_eval = steady::now();
      sums = est.sums(queries);
      eval_s = std::min(eval_s, seconds_since(t_eval));
    }
    result.row(0) = (sums.log_sum.template cast<double>().array() - log_z).matrix().transpose();
    result.bottomRows(q.rows()) = sums.field.template cast<double>();
  };
  // --precision float: data, queries and every kernel sum in float (still in the log domain),
  // converted once before the timing; the output is written as double either way.
  const Eigen::MatrixXf yf = a.precision == "float" ? y.cast<float>() : Eigen::MatrixXf();
  const Eigen::MatrixXf qf = a.precision == "float" ? q.cast<float>() : Eigen::MatrixXf();
  std::visit(
      [&](const auto& k, const auto& ev) {
        using K = std::decay_t<decltype(k)>;
        using E = std::decay_t<decltype(ev)>;
        if (a.precision == "float")
          evaluate(gfd::kde<K, float, Eigen::Dynamic, E>(yf, static_cast<float>(h), k, ev), qf);
        else
          evaluate(gfd::kde<K, double, Eigen::Dynamic, E>(y, h, k, ev), q);
      },
      kernel, evaluator);
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
            << (a.evaluator == "tree" || a.evaluator == "grid" ? " (tolerance " + num(a.tolerance) + ")" : std::string())
            << ", " << a.precision << "\n"
            << "  read      " << fmt("%8.4f", read_s) << " s\n"
            << "  evaluate  " << fmt("%8.4f", eval_s) << " s  ("
            << (a.evaluator == "tree" || a.evaluator == "grid"
                    ? "N x M = " + num(pairs) + " pairs, " +
                          (a.evaluator == "tree" ? "truncated by the tree; " : "summed on an FFT grid; ") +
                          num(pairs / std::max(eval_s, 1e-9)) + " exact-equivalent pairs/s, "
                    : num(pairs) + " kernel pairs, " + num(pairs / std::max(eval_s, 1e-9)) +
                          " pairs/s, ")
            << thread_count() << " thread(s)"
            << (a.repeat > 1 ? "; best of " + std::to_string(a.repeat) + ", the first took " + fmt("%.4f", first_s) + " s"
                             : std::string())
            << ")\n"
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

}  // namespace

command add_kde_command(CLI::App& app) {
  auto args = std::make_shared<kde_args>();
  kde_args& a = *args;
  kde_args ka;
  auto* kde = app.add_subcommand("kde", "Evaluate a KDE: log-density and score at query points");
  kde->add_option("--data", a.data, "Data points (.csv or .npy)")->required();
  kde->add_option("--query", a.query, "Query points (.csv or .npy; default: the data)");
  kde->add_option("--kernel", a.kernel, "Kernel")
      ->check(CLI::IsMember(kernel_names()))
      ->capture_default_str();
  kde->add_option("--imq-beta", a.imq_beta, "Exponent of the imq kernel")
      ->check(positive())
      ->capture_default_str();
  kde->add_option("--bandwidth", a.bandwidth,
                  "VALUE, scott, silverman or median (rule on the data)")
      ->capture_default_str();
  kde->add_option("--out", a.out, "Output (.csv or .npy): columns logp, s0, s1, ...")->required();
  kde->add_option("--evaluator", a.evaluator, "exact (all pairs), tree (k-d tree, relative error <= --tolerance) or grid (FFT on a grid, d <= 3, relative error <= --tolerance)")
      ->check(CLI::IsMember(evaluator_names()))->capture_default_str();
  kde->add_option("--tolerance", a.tolerance, "Relative error bound of the tree and grid evaluators")
      ->check(CLI::Range(1e-15, 0.5))->capture_default_str();
  kde->add_option("--precision", a.precision, "Arithmetic of the kernel sums: double or float (2x the SIMD lanes)")
      ->check(CLI::IsMember({"double", "float"}))->capture_default_str();
  kde->add_option("--threads", a.threads, "OpenMP threads (default: all)")
      ->check(threads_check());
  kde->add_option("--repeat", a.repeat, "Evaluate this many times and report the best time (benchmarking)")
      ->check(CLI::Range(1, 1000))->capture_default_str();

  return {kde, [args] { return cmd_kde(*args); }};
}

}  // namespace gfd_cli
