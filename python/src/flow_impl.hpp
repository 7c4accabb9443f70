// SPDX-License-Identifier: MIT
/// @file flow_impl.hpp
/// @brief The typed flow behind `gfd.Flow`: the registries' variants are visited once per call,
///        and inside the visit the flow is gfd::flow<K, S, Dynamic, E, M> with every type static.
///        Instantiated once per scalar type and manifold (flow_{plane,sphere}_{double,float}.cpp),
///        so that a parallel build compiles the four side by side.
#pragma once

#include "common.hpp"

#include <gfd/manifolds.hpp>

#include <memory>
#include <optional>
#include <variant>

namespace gfd_py {

/// What an observer sees: the library's flow_state, with the particles readable (as a new N x d
/// array) only during the call.
struct flow_state_view {
  long step = 0;
  double time = 0, bandwidth = 0, dt = 0, estimate = 0, mean_displacement = 0;
  std::function<py::object()> particles;  ///< empty once the call has returned
};

/// The observer of a run from Python: `callback(state)` every observe_every steps (and after the
/// last; `callback` may be None), which stops the run by returning False. It also lets Ctrl-C
/// through: a pending signal raises KeyboardInterrupt at the next observation.
struct python_observer {
  py::object callback;  ///< None or a callable

  template <class S>
  bool operator()(const gfd::flow_state<S, Eigen::Dynamic>& st) const {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (callback.is_none()) return true;
    auto view = std::make_shared<flow_state_view>();
    view->step = st.step;
    view->time = st.time;
    view->bandwidth = st.bandwidth;
    view->dt = st.dt;
    view->estimate = st.estimate;
    view->mean_displacement = st.mean_displacement;
    const auto* x = st.particles;
    view->particles = [x]() -> py::object { return to_array<S>(*x); };
    struct expire {  // the particles are the flow's own: gone when the call returns or throws
      flow_state_view& v;
      ~expire() { v.particles = nullptr; }
    } guard{*view};
    const py::object r = callback(view);
    return r.is_none() || r.cast<bool>();
  }
};

/// A run's report as a dict (the Python layer wraps it in gfd.FlowReport).
inline py::dict report_dict(const gfd::flow_report& r) {
  py::dict d;
  d["steps"] = r.steps;
  d["time"] = r.time;
  d["bandwidth"] = r.bandwidth;
  d["estimate"] = r.estimate;
  d["mean_displacement"] = r.mean_displacement;
  d["converged"] = r.converged;
  d["rejected_steps"] = r.rejected_steps;
  d["stop_reason"] = r.stop_reason;
  return d;
}

/// Calls f(flow, divergence) with the typed flow of `spec` toward the targets.
template <class S, class M, class F>
void with_flow(const flow_spec& spec, const cloud_map<S>& targets, const rows_array<S>& weights,
               F&& f) {
  const pieces& p = spec.p;
  auto kernel = gfd::registry::make_kernel<kernel_set>(p.kernel, p.kernel_params);
  auto divergence = gfd::registry::make_divergence(p.divergence, p.divergence_params);
  auto evaluator = gfd::registry::make_evaluator(p.evaluator, p.evaluator_params);
  using wmap = Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>>;
  const wmap w(weights.data(), weights.size());
  const gfd::cloud_view<S> tv =
      weights.size() > 0 ? gfd::cloud_view<S>(targets, w) : gfd::cloud_view<S>(targets);
  std::visit(
      [&](const auto& k, const auto& div, const auto& ev) {
        using K = std::decay_t<decltype(k)>;
        using E = std::decay_t<decltype(ev)>;
        using D = std::decay_t<decltype(div)>;
        if constexpr (!gfd::registry::instantiated_combination<D, K, E, M>()) {
          gfd::registry::refuse_combination<D, K, E, M>("gfd.Flow", p.divergence);
        } else {
          const gfd::flow<K, S, Eigen::Dynamic, E, M> fl(tv, spec.options, k, ev, M{});
          f(fl, div);
        }
      },
      kernel, divergence, evaluator);
}

/// Runs the flow of `spec` from `start` (copied) with the GIL released; returns the final
/// particles and the report.
template <class S, class M>
py::tuple run_flow_typed(const flow_spec& spec, const rows_array<S>& targets,
                         const rows_array<S>& weights, const rows_array<S>& start,
                         const python_observer& observer) {
  Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> x = view_of<S>(start);
  const cloud_map<S> y = view_of<S>(targets);
  gfd::flow_report rep;
  {
    py::gil_scoped_release release;
    with_flow<S, M>(spec, y, weights, [&](const auto& fl, const auto& div) {
      rep = fl.run(x, div, observer);
    });
  }
  return py::make_tuple(to_array<S>(x), report_dict(rep));
}

/// The velocity of `spec`'s divergence at `particles` with bandwidth h at time t (summed over the
/// schedule's multipliers, projected on the manifold); returns (v, estimate).
template <class S, class M>
py::tuple velocity_typed(const flow_spec& spec, const rows_array<S>& targets,
                         const rows_array<S>& weights, const rows_array<S>& particles, double h,
                         double t, bool want_estimate) {
  const cloud_map<S> y = view_of<S>(targets);
  const cloud_map<S> x = view_of<S>(particles);
  Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> v;
  double estimate = 0;
  {
    py::gil_scoped_release release;
    with_flow<S, M>(spec, y, weights, [&](const auto& fl, const auto& div) {
      gfd::cloud_view<S>(x).validate("gfd.Flow.velocity", "particles");
      gfd::detail::require_same_dim("gfd.Flow.velocity", x, "particles", y, "targets");
      fl.manifold().validate("gfd.Flow.velocity", "particles", x);
      gfd::detail::require_positive("gfd.Flow.velocity", "bandwidth", h);
      estimate = fl.velocity(div, x, h, t, v, want_estimate);
    });
  }
  return py::make_tuple(to_array<S>(v), estimate);
}

#define GFD_PY_FLOW_INSTANCE(PREFIX, S, M)                                                     \
  PREFIX py::tuple run_flow_typed<S, M>(const flow_spec&, const rows_array<S>&,                \
                                        const rows_array<S>&, const rows_array<S>&,            \
                                        const python_observer&);                               \
  PREFIX py::tuple velocity_typed<S, M>(const flow_spec&, const rows_array<S>&,                \
                                        const rows_array<S>&, const rows_array<S>&, double,    \
                                        double, bool);

GFD_PY_FLOW_INSTANCE(extern template, double, gfd::euclidean)
GFD_PY_FLOW_INSTANCE(extern template, float, gfd::euclidean)
GFD_PY_FLOW_INSTANCE(extern template, double, gfd::unit_sphere)
GFD_PY_FLOW_INSTANCE(extern template, float, gfd::unit_sphere)

}  // namespace gfd_py
