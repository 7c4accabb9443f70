// SPDX-License-Identifier: MIT
/// @file misc.cpp
/// @brief The metrics (gfd.metrics) and the toy distributions (gfd.toy) of the Python module.
///        Metrics compute in double whatever the inputs' dtype, as the C++ functions do.

#include "common.hpp"

#include <gfd/metrics.hpp>
#include <gfd/toy.hpp>
#include <gfd/toy_sphere.hpp>
#include <gfd/transport.hpp>

#include <optional>

namespace gfd_py {
namespace {

/// The release-the-GIL wrapper of a metric of two clouds (N x d arrays, viewed as d x N double
/// matrices: the metrics make their own working copies).
template <class F>
auto two_clouds(const py::handle& x, const py::handle& y, const char* where, F&& f) {
  const rows_array<double> xa = rows_of<double>(as_array(x, where, "x"));
  const rows_array<double> ya = rows_of<double>(as_array(y, where, "y"));
  const cloud_map<double> xm = view_of<double>(xa), ym = view_of<double>(ya);
  py::gil_scoped_release release;
  return f(xm, ym);
}

py::dict coverage_dict(const gfd::coverage& c) {
  py::dict d;
  d["modes_covered"] = c.modes_covered;
  d["modes"] = c.modes;
  d["fraction_near"] = c.fraction_near;
  return d;
}

/// log of probability weights w (normalised; all uniform when w is None). @throws ValueError
/// naming `where` when a weight is negative or not finite, the count is wrong or all are 0.
Eigen::VectorXd log_weights(const py::object& w, Eigen::Index n, const char* where, const char* what) {
  if (w.is_none()) return Eigen::VectorXd::Constant(n, -std::log(static_cast<double>(n)));
  const auto arr = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(w);
  if (!arr || arr.ndim() != 1 || arr.shape(0) != n)
    gfd::detail::fail(where, what, " must be a 1-D array of ", n, " weights");
  Eigen::VectorXd v = Eigen::Map<const Eigen::VectorXd>(arr.data(), n);
  for (Eigen::Index i = 0; i < n; ++i)
    if (!(std::isfinite(v(i)) && v(i) >= 0))
      gfd::detail::fail(where, what, "[", i, "] = ", v(i), " is not a finite weight >= 0");
  const double total = v.sum();
  if (!(total > 0 && std::isfinite(total))) gfd::detail::fail(where, what, " sum to ", total, ", not > 0");
  return (v / total).array().log().matrix();
}

}  // namespace

void bind_misc(py::module_& m) {
  py::module_ metrics = m.def_submodule("metrics", "Two-sample distances and mode coverage.");
  metrics.def(
      "energy_distance",
      [](const py::handle& x, const py::handle& y) {
        return two_clouds(x, y, "gfd.metrics.energy_distance",
                          [](const auto& a, const auto& b) { return gfd::energy_distance(a, b); });
      },
      py::arg("x"), py::arg("y"));
  metrics.def(
      "mmd2",
      [](const py::handle& x, const py::handle& y, std::optional<double> h, bool biased) {
        return two_clouds(x, y, "gfd.metrics.mmd2", [&](const auto& a, const auto& b) {
          const double bw = h ? *h : gfd::pooled_median_distance(a, b);
          return biased ? gfd::mmd2_biased(a, b, bw) : gfd::mmd2_unbiased(a, b, bw);
        });
      },
      py::arg("x"), py::arg("y"), py::arg("bandwidth") = py::none(), py::arg("biased") = false);
  metrics.def(
      "sliced_wasserstein2",
      [](const py::handle& x, const py::handle& y, int projections, std::uint64_t seed) {
        return two_clouds(x, y, "gfd.metrics.sliced_wasserstein2", [&](const auto& a, const auto& b) {
          return gfd::sliced_wasserstein2(a, b, projections, seed);
        });
      },
      py::arg("x"), py::arg("y"), py::arg("projections") = 128, py::arg("seed") = 0);
  metrics.def(
      "pooled_median_distance",
      [](const py::handle& x, const py::handle& y) {
        return two_clouds(x, y, "gfd.metrics.pooled_median_distance",
                          [](const auto& a, const auto& b) { return gfd::pooled_median_distance(a, b); });
      },
      py::arg("x"), py::arg("y"));
  metrics.def(
      "two_sample",
      [](const py::handle& x, const py::handle& y, std::optional<double> h, int projections,
         std::uint64_t seed) {
        const auto r = two_clouds(x, y, "gfd.metrics.two_sample", [&](const auto& a, const auto& b) {
          return h ? gfd::two_sample_report(a, b, *h, projections, seed) : gfd::two_sample_report(a, b);
        });
        py::dict d;
        d["bandwidth"] = r.bandwidth;
        d["mmd2_unbiased"] = r.mmd2_unbiased;
        d["energy_distance"] = r.energy_distance;
        d["sliced_w2"] = r.sliced_w2;
        return d;
      },
      py::arg("x"), py::arg("y"), py::arg("bandwidth") = py::none(), py::arg("projections") = 128,
      py::arg("seed") = 0);
  metrics.def(
      "sinkhorn",
      [](const py::handle& x, const py::handle& y, double epsilon, const py::object& a,
         const py::object& b, double scaling, double tolerance, int max_iterations, bool debias) {
        constexpr const char* where = "gfd.metrics.sinkhorn";
        gfd::detail::require_positive(where, "epsilon", epsilon);
        const rows_array<double> xa = rows_of<double>(as_array(x, where, "x"));
        const rows_array<double> ya = rows_of<double>(as_array(y, where, "y"));
        const cloud_map<double> xm = view_of<double>(xa), ym = view_of<double>(ya);
        if (xm.cols() < 1 || ym.cols() < 1) gfd::detail::fail(where, "a cloud is empty");
        gfd::detail::require_same_dim(where, xm, "x", ym, "y");
        if (!xm.allFinite() || !ym.allFinite()) gfd::detail::fail(where, "a coordinate is not finite");
        const Eigen::VectorXd la = log_weights(a, xm.cols(), where, "a");
        const Eigen::VectorXd lb = log_weights(b, ym.cols(), where, "b");
        const gfd::sinkhorn_options o{.epsilon = epsilon, .scaling = scaling, .tolerance = tolerance,
                                      .max_iterations = max_iterations, .debias = debias};
        gfd::sinkhorn_result<double, Eigen::Dynamic> r;
        {
          py::gil_scoped_release release;
          const Eigen::MatrixXd xd = xm, yd = ym;
          r = gfd::sinkhorn_solve<gfd::exact_evaluator, double, Eigen::Dynamic>(
              gfd::exact_evaluator{}, xd, la, yd, lb, o, true, debias);
        }
        py::dict d;
        d["value"] = r.value;
        d["f"] = py::array_t<double>(r.f_ab.size(), r.f_ab.data());
        d["g"] = py::array_t<double>(r.g_ab.size(), r.g_ab.data());
        if (debias) {
          d["f_aa"] = py::array_t<double>(r.f_aa.size(), r.f_aa.data());
          d["g_bb"] = py::array_t<double>(r.g_bb.size(), r.g_bb.data());
        }
        d["epsilon"] = r.epsilon;
        d["iterations"] = r.iterations;
        d["converged"] = r.converged;
        return d;
      },
      py::arg("x"), py::arg("y"), py::arg("epsilon"), py::arg("a") = py::none(),
      py::arg("b") = py::none(), py::arg("scaling") = 0.9, py::arg("tolerance") = 1e-9,
      py::arg("max_iterations") = 10000, py::arg("debias") = true);
  metrics.def(
      "mode_coverage",
      [](const py::handle& x, const py::handle& centres, double stddev, std::optional<int> min_count) {
        return coverage_dict(two_clouds(x, centres, "gfd.metrics.mode_coverage",
                                        [&](const auto& a, const auto& c) {
                                          return gfd::mode_coverage(a, c, stddev, min_count);
                                        }));
      },
      py::arg("x"), py::arg("centres"), py::arg("stddev"), py::arg("min_count") = py::none());

  py::module_ toy = m.def_submodule("toy", "The toy distributions.");
  toy.def("names", &gfd::toy::names);
  toy.def(
      "sample",
      [](const std::string& name, long n, std::uint64_t seed) {
        return to_array<double>(gfd::toy::sample(name, n, seed));
      },
      py::arg("name"), py::arg("n"), py::arg("seed"));
  toy.def(
      "mixture",
      [](const std::string& name) -> py::object {
        if (!gfd::toy::exists(name)) (void)gfd::toy::sample(name, 1, 0);  // the unknown-name error
        const auto mix = gfd::toy::mixture_of(name);
        if (!mix) return py::none();
        return py::make_tuple(to_array<double>(mix->centres), mix->stddev);
      },
      py::arg("name"));
  toy.def(
      "gaussian",
      [](long d, long n, std::uint64_t seed) {
        if (d < 1) gfd::detail::fail("gfd.toy.gaussian", "dimension d must be >= 1, got ", d);
        if (n < 1) gfd::detail::fail("gfd.toy.gaussian", "n must be >= 1, got ", n);
        std::mt19937_64 rng(seed);
        return to_array<double>(gfd::toy::gaussian(d, n, rng));
      },
      py::arg("d"), py::arg("n"), py::arg("seed"));
  toy.def(
      "sphere_uniform",
      [](long d, long n, std::uint64_t seed) { return to_array<double>(gfd::sphere::uniform(d, n, seed)); },
      py::arg("d"), py::arg("n"), py::arg("seed"));
  toy.def(
      "vmf_mixture",
      [](long d, long modes, double kappa, long n, std::uint64_t seed) {
        auto s = gfd::sphere::vmf_mixture(d, modes, kappa, n, seed);
        return py::make_tuple(to_array<double>(s.points), to_array<double>(s.mixture.centres));
      },
      py::arg("d"), py::arg("modes"), py::arg("kappa"), py::arg("n"), py::arg("seed"));
}

}  // namespace gfd_py
