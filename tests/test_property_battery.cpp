// SPDX-License-Identifier: MIT
// A property battery over hostile clouds: random clouds at scales from 1e-150 to 1e150, with
// duplicate points or all points equal, in d = 1 to 64, with target weights near 0. Every kde,
// every divergence's flow step (each of the registry's divergences, with the exact and the tree
// evaluator), and every metric must return finite values or throw gfd::invalid_argument or
// gfd::numerical_error with a message; never NaN or Inf, never another exception.
#include "catch.hpp"

#include <gfd/flow.hpp>
#include <gfd/kde.hpp>
#include <gfd/metrics.hpp>
#include <gfd/registry.hpp>

#include "util.hpp"

#include <cmath>
#include <iostream>
#include <map>
#include <string>

namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;

/// How each call ended, for the summary line.
struct tally {
  std::map<std::string, long> outcomes;
  void add(const std::string& what, const std::string& how) { ++outcomes[what + ": " + how]; }
};

/// Runs f (returning an Eigen object or a double) and requires a finite result, or one of the
/// library's two exception types with a non-empty message naming a gfd function.
template <class F>
void finite_or_clear_error(tally& t, const std::string& what, F&& f, bool must_succeed = false) {
  try {
    const auto r = f();
    bool finite = false;
    if constexpr (std::is_arithmetic_v<std::decay_t<decltype(r)>>)
      finite = std::isfinite(r);
    else
      finite = r.allFinite();
    if (!finite) FAIL(what << ": returned a non-finite value");
    t.add(what, "finite");
  } catch (const gfd::invalid_argument& e) {
    if (must_succeed) FAIL(what << " refused a cloud it must take: " << e.what());
    REQUIRE(std::string(e.what()).rfind("gfd::", 0) == 0);
    t.add(what, "invalid_argument");
    t.add("reason", std::string(e.what()).substr(0, 90));
  } catch (const gfd::numerical_error& e) {
    if (must_succeed) FAIL(what << " failed on a cloud it must take: " << e.what());
    REQUIRE(std::string(e.what()).rfind("gfd::", 0) == 0);
    t.add(what, "numerical_error");
    t.add("reason", std::string(e.what()).substr(0, 90));
  }
}

enum class shape { random, duplicates, all_equal };

MatrixXd hostile_cloud(Eigen::Index d, Eigen::Index n, double scale, shape s, std::uint64_t seed) {
  MatrixXd x = gfd_test::random_cloud(d, n, seed, scale, 0.5 * scale);
  if (s == shape::duplicates)
    for (Eigen::Index i = 1; i < n; i += 2) x.col(i) = x.col(0);
  if (s == shape::all_equal) x.colwise() = x.col(0).eval();
  return x;
}

}  // namespace

TEST_CASE("property battery: finite or a clear exception on hostile clouds", "[battery]") {
  tally t;
  long cases = 0;
  const std::vector<std::string> divergences = gfd::registry::divergence_names();
  for (const double scale : {1e-150, 1e-60, 1.0, 1e60, 1e150})
    for (const Eigen::Index d : {1, 2, 7, 64})
      for (const shape s : {shape::random, shape::duplicates, shape::all_equal})
        for (const bool tiny_weights : {false, true}) {
          ++cases;
          CAPTURE(scale, d, static_cast<int>(s), tiny_weights);
          const auto seed = static_cast<std::uint64_t>(cases);
          const MatrixXd y = hostile_cloud(d, 40, scale, s, seed);
          const MatrixXd x0 = hostile_cloud(d, 30, scale, s == shape::all_equal ? shape::random : s,
                                            seed + 1000);
          VectorXd w = VectorXd::Ones(y.cols());
          if (tiny_weights)
            for (Eigen::Index j = 1; j < w.size(); j += 2) w(j) = 1e-300;  // not the duplicates alone
          const gfd::cloud_view<double> targets(y, w);
          // Clouds with a spread, at any of these scales, must give results: the exceptions are
          // for the degenerate ones (every target equal: no bandwidth rule applies).
          const bool must_succeed = s != shape::all_equal;

          // The kde with the default rule and the data's own scale.
          finite_or_clear_error(t, "kde", [&] {
            const double h = gfd::scott_bandwidth(targets);
            const gfd::kde<> k(targets, h);
            MatrixXd out(d + 1, x0.cols());
            out.topRows(1) = k.log_density(x0).transpose();
            out.bottomRows(d) = k.score(x0);
            return out;
          }, must_succeed);

          // One step of every divergence, exact and tree evaluators, bandwidth by Scott's rule.
          for (const auto& name : divergences)
            for (const std::string ev : {"exact", "tree"}) {
              finite_or_clear_error(t, "flow " + name + " " + ev, [&] {
                gfd::flow_options opt;
                opt.max_steps = 1;
                opt.bandwidth = gfd::bandwidth_schedule::by_rule(gfd::bandwidth_rule::scott);
                MatrixXd x = x0;
                gfd::registry::with_divergence(name, {}, [&](const auto& div) {
                  if (ev == "exact") {
                    gfd::flow<>(targets, opt).run(x, div);
                  } else {
                    gfd::flow<gfd::gaussian, double, Eigen::Dynamic, gfd::tree_evaluator>(
                        targets, opt, {}, gfd::tree_evaluator{1e-3})
                        .run(x, div);
                  }
                });
                return x;
              }, must_succeed);
            }

          // The metrics against the targets (unweighted: the metrics take plain clouds).
          finite_or_clear_error(t, "two_sample_report", [&] {
            const auto r = gfd::two_sample_report(x0, y);
            VectorXd v(4);
            v << r.bandwidth, r.mmd2_unbiased, r.energy_distance, r.sliced_w2;
            return v;
          });
          finite_or_clear_error(t, "mmd2_biased", [&] { return gfd::mmd2_biased(x0, y, scale); });
          finite_or_clear_error(t, "sliced_wasserstein2_squared",
                                [&] { return gfd::sliced_wasserstein2_squared(x0, y, 16, 1); });
        }
  // The count of cases and how each call ended, for the record.
  std::cout << "property battery: " << cases << " clouds\n";
  for (const auto& [what, count] : t.outcomes) std::cout << "  " << what << ": " << count << "\n";
  REQUIRE(cases == 120);
}
