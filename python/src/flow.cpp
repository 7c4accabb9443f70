// SPDX-License-Identifier: MIT
/// @file flow.cpp
/// @brief `_core.run_flow`, `_core.velocity`, `_core.default_start` and the observer's FlowState:
///        the C++ side of gfd.Flow and gfd.drift (python/gfd/_flow.py builds the spec dict).

#include "dispatch.hpp"
#include "flow_impl.hpp"

#include <gfd/toy.hpp>
#include <gfd/toy_sphere.hpp>

#include <cmath>
#include <random>
#include <set>

namespace gfd_py {
namespace {

/// The keys of a spec dict, each read by spec_from.
const std::set<std::string>& spec_keys() {
  static const std::set<std::string> keys{
      "kernel", "imq_beta", "divergence", "alpha", "mix_reverse_kl", "mix_chi2", "temperatures",
      "affinity_floor", "epsilon", "sinkhorn_iterations", "projections", "samples", "seed",
      "evaluator", "tolerance", "leaf_size", "manifold", "stepper", "dt",
      "dt_in_bandwidth_units", "steps", "max_displacement", "speed_tolerance",
      "divergence_tolerance", "adaptive_tolerance", "dt_min", "dt_max", "retraction",
      "bandwidth_kind", "bandwidth", "rule", "factor", "every", "include_particles", "h_start",
      "h_end", "end_factor", "anneal_fraction", "multipliers", "observe_every"};
  return keys;
}

/// The flow_spec of a dict of keyword values (the Python layer's; missing keys keep the C++
/// defaults). Every piece is built once here, so that a bad name or parameter raises before
/// any work. @throws ValueError on an unknown key, name or parameter.
flow_spec spec_from(const py::dict& d) {
  check_option_names(d, spec_keys(), "gfd.Flow");
  flow_spec s;
  pieces& p = s.p;
  read_option(d, "kernel", p.kernel);
  read_option(d, "imq_beta", p.kernel_params.imq_beta);
  read_option(d, "divergence", p.divergence);
  read_option(d, "alpha", p.divergence_params.alpha);
  read_option(d, "mix_reverse_kl", p.divergence_params.mix_reverse_kl);
  read_option(d, "mix_chi2", p.divergence_params.mix_chi2);
  read_option(d, "temperatures", p.divergence_params.temperatures);
  read_option(d, "affinity_floor", p.divergence_params.affinity_floor);
  read_option(d, "epsilon", p.divergence_params.epsilon);
  read_option(d, "sinkhorn_iterations", p.divergence_params.sinkhorn_iterations);
  read_option(d, "projections", p.divergence_params.projections);
  read_option(d, "samples", p.divergence_params.samples);
  read_option(d, "seed", p.divergence_params.seed);
  read_option(d, "evaluator", p.evaluator);
  read_option(d, "tolerance", p.evaluator_params.tolerance);
  read_option(d, "leaf_size", p.evaluator_params.leaf_size);
  read_option(d, "manifold", p.manifold);
  check_manifold(p.manifold, "gfd.Flow");

  gfd::flow_options& o = s.options;
  std::string stepper = "euler";
  read_option(d, "stepper", stepper);
  o.method = gfd::registry::make_stepper(stepper);
  read_option(d, "dt", o.dt);
  read_option(d, "dt_in_bandwidth_units", o.dt_in_bandwidth_units);
  read_option(d, "steps", o.max_steps);
  read_option(d, "max_displacement", o.max_displacement);
  read_option(d, "speed_tolerance", o.speed_tolerance);
  read_option(d, "divergence_tolerance", o.divergence_tolerance);
  read_option(d, "adaptive_tolerance", o.tolerance);
  read_option(d, "dt_min", o.dt_min);
  read_option(d, "dt_max", o.dt_max);
  read_option(d, "retraction", o.retraction);
  read_option(d, "observe_every", o.observe_every);

  gfd::bandwidth_schedule& b = o.bandwidth;
  std::string kind = "anneal";
  read_option(d, "bandwidth_kind", kind);
  if (kind == "fixed")
    b.kind = gfd::bandwidth_schedule::mode::fixed;
  else if (kind == "rule")
    b.kind = gfd::bandwidth_schedule::mode::rule;
  else if (kind == "anneal")
    b.kind = gfd::bandwidth_schedule::mode::anneal;
  else
    gfd::detail::fail("gfd.Flow", "unknown bandwidth schedule '", kind, "' (valid: fixed, rule, anneal)");
  read_option(d, "bandwidth", b.h);
  if (d.contains("rule")) b.rule = gfd::parse_bandwidth_rule(d["rule"].cast<std::string>());
  read_option(d, "factor", b.factor);
  read_option(d, "every", b.every);
  read_option(d, "include_particles", b.include_particles);
  read_option(d, "h_start", b.h_start);
  read_option(d, "h_end", b.h_end);
  read_option(d, "end_factor", b.end_factor);
  read_option(d, "anneal_fraction", b.anneal_fraction);
  read_option(d, "multipliers", b.multipliers);
  if (b.kind == gfd::bandwidth_schedule::mode::fixed) gfd::detail::require_positive("gfd.Flow", "bandwidth", b.h);

  // Build every piece once: bad names and parameters raise here, before any work.
  (void)gfd::registry::make_kernel<kernel_set>(p.kernel, p.kernel_params);
  (void)gfd::registry::make_divergence(p.divergence, p.divergence_params);
  (void)gfd::registry::make_evaluator(p.evaluator, p.evaluator_params);
  gfd::detail::require_positive("gfd.Flow", "dt", o.dt);
  if (o.max_steps < 0) gfd::detail::fail("gfd.Flow", "steps must be >= 0, got ", o.max_steps);
  if (o.observe_every < 0)
    gfd::detail::fail("gfd.Flow", "observe_every must be >= 0, got ", o.observe_every);
  b.validate("gfd.Flow");
  return s;
}

/// The flow's three clouds in the targets' precision S.
template <class S>
struct flow_inputs {
  rows_array<S> targets, weights, particles;
};

template <class S>
flow_inputs<S> inputs_of(const py::array& targets, const py::object& weights,
                         const py::handle& particles, const char* where, const char* what) {
  return {rows_of<S>(targets), weights_of<S>(weights, where),
          rows_of<S>(as_array(particles, where, what))};
}

py::tuple run_flow(const py::handle& targets_in, const py::object& weights, const py::handle& start,
                   const py::dict& spec_dict, const py::object& observer) {
  constexpr const char* where = "gfd.Flow.run";
  const py::array targets = as_array(targets_in, where, "targets");
  const flow_spec spec = spec_from(spec_dict);
  const python_observer obs{observer};
  return with_scalar_and_manifold(
      precision_of(targets, where, "targets"), spec.p.manifold, where, [&]<class S, class M>() {
        const auto in = inputs_of<S>(targets, weights, start, where, "start");
        return run_flow_typed<S, M>(spec, in.targets, in.weights, in.particles, obs);
      });
}

py::tuple velocity(const py::handle& targets_in, const py::object& weights,
                   const py::handle& particles, const py::dict& spec_dict, double h, double t,
                   bool want_estimate) {
  constexpr const char* where = "gfd.Flow.velocity";
  const py::array targets = as_array(targets_in, where, "targets");
  const flow_spec spec = spec_from(spec_dict);
  return with_scalar_and_manifold(
      precision_of(targets, where, "targets"), spec.p.manifold, where, [&]<class S, class M>() {
        const auto in = inputs_of<S>(targets, weights, particles, where, "particles");
        return velocity_typed<S, M>(spec, in.targets, in.weights, in.particles, h, t, want_estimate);
      });
}

/// The start of `gfd drift` for a target given as points (a file, for the tool): in R^d,
/// N(mean, sigma^2 I) with the targets' mean and pooled standard deviation, drawn by
/// gfd::toy::gaussian from std::mt19937_64(seed + 1); on the sphere, uniform
/// (gfd::sphere::uniform with seed + 1). In the targets' dtype.
py::array default_start(const py::handle& targets_in, long n, std::uint64_t seed,
                        const std::string& manifold) {
  constexpr const char* where = "gfd.drift";
  const py::array targets = as_array(targets_in, where, "target");
  if (n < 1) gfd::detail::fail(where, "n must be >= 1, got ", n);
  check_manifold(manifold, where);
  const char prec = precision_of(targets, where, "target");
  const rows_array<double> t = rows_of<double>(targets);
  const cloud_map<double> y = view_of<double>(t);
  gfd::cloud_view<double>(y).validate(where, "target");
  const Eigen::Index d = y.rows();
  Eigen::MatrixXd x;
  if (manifold == "sphere") {
    x = gfd::sphere::uniform(d, n, seed + 1);
  } else {
    std::mt19937_64 rng(seed + 1);
    const Eigen::VectorXd mean = y.rowwise().mean();
    const double sigma =
        std::sqrt((y.colwise() - mean).squaredNorm() / static_cast<double>(y.size()));
    x = (gfd::toy::gaussian(d, n, rng) * (sigma > 0 ? sigma : 1.0)).colwise() + mean;
  }
  if (prec == 'f') return to_array<float>(x);
  return to_array<double>(x);
}

}  // namespace

void bind_flow(py::module_& m) {
  py::class_<flow_state_view, std::shared_ptr<flow_state_view>>(
      m, "FlowState", "What an observer of a flow sees at a step (read-only).")
      .def_readonly("step", &flow_state_view::step, "Steps taken so far.")
      .def_readonly("time", &flow_state_view::time, "Flow time (the sum of the steps).")
      .def_readonly("bandwidth", &flow_state_view::bandwidth, "Base bandwidth of the last step.")
      .def_readonly("dt", &flow_state_view::dt, "Last step size, in the units of dt.")
      .def_readonly("estimate", &flow_state_view::estimate,
                    "Divergence estimate (NaN where not computed).")
      .def_readonly("mean_displacement", &flow_state_view::mean_displacement,
                    "Mean |dx| of the last step, in units of the bandwidth.")
      .def_property_readonly(
          "particles",
          [](const flow_state_view& s) -> py::object {
            if (!s.particles)
              throw py::value_error(
                  "gfd.FlowState.particles: only readable during the observer call (copy it "
                  "there: state.particles is a new array)");
            return s.particles();
          },
          "The particles now, as a new N x d array (only during the observer call).")
      .def("__repr__", [](const flow_state_view& s) {
        return "FlowState(step=" + std::to_string(s.step) + ", time=" +
               gfd::detail::short_number(s.time) + ", bandwidth=" +
               gfd::detail::short_number(s.bandwidth) + ", estimate=" +
               gfd::detail::short_number(s.estimate) + ")";
      });

  m.def("run_flow", &run_flow, py::arg("targets"), py::arg("weights"), py::arg("start"),
        py::arg("spec"), py::arg("observer"),
        "Runs a flow (see gfd.Flow.run); returns (particles, report dict).");
  m.def("velocity", &velocity, py::arg("targets"), py::arg("weights"), py::arg("particles"),
        py::arg("spec"), py::arg("bandwidth"), py::arg("time"), py::arg("want_estimate"),
        "The velocity of a flow (see gfd.Flow.velocity); returns (v, estimate).");
  m.def("check_spec", [](const py::dict& d) { (void)spec_from(d); }, py::arg("spec"),
        "Raises ValueError if the spec dict is invalid.");
  m.def("default_start", &default_start, py::arg("targets"), py::arg("n"), py::arg("seed"),
        py::arg("manifold"), "The default start of gfd.drift (see there).");
}

}  // namespace gfd_py
