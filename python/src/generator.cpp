// SPDX-License-Identifier: MIT
/// @file generator.cpp
/// @brief The one-step generator of the Python module: `_core.Generator` (generate, save, load)
///        and `_core.train_generator` (gfd::generator_trainer with a kernel and divergence by
///        name, the GIL released while it trains).

#include "common.hpp"

#include <gfd/generator.hpp>

#include <cmath>
#include <set>
#include <variant>

namespace gfd_py {
namespace {

const std::set<std::string>& option_keys() {
  static const std::set<std::string> keys{
      "noise_dim", "width", "depth", "widths", "batch", "target_batch", "steps", "lr", "warmup",
      "lr_final", "beta1", "beta2", "adam_eps", "grad_clip", "eta", "ema", "init_gain",
      "output_gain", "input_scale", "seed", "scaling", "bandwidth", "bandwidth_factor",
      "multipliers", "float_drift", "holdout", "sw2_projections", "observe_every", "class_batch",
      "positives", "negatives", "positive_bank", "negative_bank", "cfg_min", "cfg_max", "cfg_power"};
  return keys;
}

gfd::generator_options options_from(const py::dict& d) {
  check_option_names(d, option_keys(), "gfd.train");
  gfd::generator_options o;
  read_option(d, "noise_dim", o.noise_dim);
  read_option(d, "width", o.width);
  read_option(d, "depth", o.depth);
  read_option(d, "widths", o.widths);
  read_option(d, "batch", o.batch);
  read_option(d, "target_batch", o.target_batch);
  read_option(d, "steps", o.steps);
  read_option(d, "lr", o.lr);
  read_option(d, "warmup", o.warmup);
  read_option(d, "lr_final", o.lr_final);
  read_option(d, "beta1", o.beta1);
  read_option(d, "beta2", o.beta2);
  read_option(d, "adam_eps", o.adam_eps);
  read_option(d, "grad_clip", o.grad_clip);
  read_option(d, "eta", o.eta);
  read_option(d, "ema", o.ema);
  read_option(d, "init_gain", o.init_gain);
  read_option(d, "output_gain", o.output_gain);
  read_option(d, "input_scale", o.input_scale);
  read_option(d, "seed", o.seed);
  if (d.contains("scaling")) {
    const auto s = d["scaling"].cast<std::string>();
    if (s == "none") o.scaling = gfd::data_scaling::none;
    else if (s == "pooled") o.scaling = gfd::data_scaling::pooled;
    else if (s == "per-coordinate") o.scaling = gfd::data_scaling::per_coordinate;
    else gfd::detail::fail("gfd.train", "unknown scaling '", s, "' (valid: none, pooled, per-coordinate)");
  }
  if (d.contains("bandwidth")) {
    const py::object b = d["bandwidth"];
    if (py::isinstance<py::str>(b)) {
      o.bandwidth = gfd::bandwidth_schedule::by_rule(gfd::parse_bandwidth_rule(b.cast<std::string>()));
    } else {
      const double h = b.cast<double>();
      gfd::detail::require_positive("gfd.train", "bandwidth", h);
      o.bandwidth = gfd::bandwidth_schedule::fixed(h);
    }
  }
  read_option(d, "bandwidth_factor", o.bandwidth.factor);
  read_option(d, "multipliers", o.bandwidth.multipliers);
  read_option(d, "float_drift", o.float_drift);
  read_option(d, "holdout", o.holdout);
  read_option(d, "sw2_projections", o.sw2_projections);
  read_option(d, "observe_every", o.observe_every);
  read_option(d, "class_batch", o.class_batch);
  read_option(d, "positives", o.positives);
  read_option(d, "negatives", o.negatives);
  read_option(d, "positive_bank", o.positive_bank);
  read_option(d, "negative_bank", o.negative_bank);
  read_option(d, "cfg_min", o.cfg_min);
  read_option(d, "cfg_max", o.cfg_max);
  read_option(d, "cfg_power", o.cfg_power);
  return o;
}

py::dict progress_dict(const gfd::generator_progress& p) {
  py::dict d;
  d["step"] = p.step;
  d["steps"] = p.steps;
  d["loss"] = p.loss;
  d["drift2"] = p.drift2;
  d["sliced_w2"] = p.sliced_w2;
  d["bandwidth"] = p.bandwidth;
  d["lr"] = p.lr;
  d["seconds"] = p.seconds;
  return d;
}

/// Trains a generator on `data` (N x d); `observer(progress dict)` every observe_every steps and
/// after the last (False stops); returns (model, list of the progress dicts).
py::tuple train_generator(const py::handle& data_in, const py::dict& options,
                          const std::string& kernel, double imq_beta, const std::string& divergence,
                          const py::dict& divergence_params, const py::object& observer,
                          const py::object& labels_in) {
  constexpr const char* where = "gfd.train";
  std::vector<int> labels;  // empty: unconditional
  if (!labels_in.is_none()) {
    for (const auto& l : labels_in) {
      const double v = l.cast<double>();
      if (!(v >= 0 && v < gfd::generator_model::max_classes && v == std::floor(v)))
        gfd::detail::fail(where, "label ", labels.size(), " is not a class 0, 1, 2, ... (< ",
                          gfd::generator_model::max_classes, "), got ", v);
      labels.push_back(static_cast<int>(v));
    }
  }
  const rows_array<double> da = rows_of<double>(as_array(data_in, where, "data"));
  const cloud_map<double> data = view_of<double>(da);  // the trainer copies its training part
  const gfd::generator_options o = options_from(options);
  gfd::registry::divergence_parameters dp;
  for (const auto& item : divergence_params) {
    const auto key = item.first.cast<std::string>();
    if (key == "alpha") dp.alpha = item.second.cast<double>();
    else if (key == "mix_reverse_kl") dp.mix_reverse_kl = item.second.cast<double>();
    else if (key == "mix_chi2") dp.mix_chi2 = item.second.cast<double>();
    else if (key == "temperatures") dp.temperatures = item.second.cast<std::vector<double>>();
    else if (key == "affinity_floor") dp.affinity_floor = item.second.cast<double>();
    else if (key == "epsilon") dp.epsilon = item.second.cast<double>();
    else if (key == "sinkhorn_iterations") dp.sinkhorn_iterations = item.second.cast<int>();
    else if (key == "projections") dp.projections = item.second.cast<int>();
    else if (key == "samples") dp.samples = item.second.cast<int>();
    else if (key == "seed") dp.seed = item.second.cast<std::uint64_t>();
    else gfd::detail::fail(where, "unknown divergence parameter '", key, "'");
  }
  auto k = gfd::registry::make_kernel<kernel_set>(kernel, {.imq_beta = imq_beta});
  auto div = gfd::registry::make_divergence(divergence, dp);
  py::list history;
  gfd::generator_model model;
  std::visit(
      [&](const auto& kern, const auto& dv) {
        using K = std::decay_t<decltype(kern)>;
        using D = std::decay_t<decltype(dv)>;
        if constexpr (!gfd::registry::instantiated_combination<D, K>()) {
          gfd::registry::refuse_combination<D, K>(where, divergence);
        } else {
        py::gil_scoped_release release;
        gfd::generator_trainer<K> trainer(data, labels, o, kern);
        trainer.run(dv, [&](const gfd::generator_progress& p) {
          py::gil_scoped_acquire gil;
          if (PyErr_CheckSignals() != 0) throw py::error_already_set();
          py::dict d = progress_dict(p);
          history.append(d);
          if (observer.is_none()) return true;
          const py::object r = observer(d);
          return r.is_none() || r.cast<bool>();
        });
        model = trainer.model();
        }
      },
      k, div);
  return py::make_tuple(std::move(model), history);
}

}  // namespace

void bind_generator(py::module_& m) {
  py::class_<gfd::generator_model>(m, "Generator",
                                   "A trained one-step generator x = f(e), e ~ N(0, I) (gfd.train).")
      .def(
          "generate",
          [](const gfd::generator_model& g, long n, std::uint64_t seed, bool use_ema, const py::object& cls,
             double cfg) {
            Eigen::MatrixXd x;
            const bool conditional = !cls.is_none();
            const int c = conditional ? cls.cast<int>() : -1;
            {
              py::gil_scoped_release release;
              x = conditional ? g.generate(n, seed, c, cfg, use_ema) : g.generate(n, seed, use_ema);
            }
            return to_array<double>(x);
          },
          py::arg("n"), py::arg("seed") = 0, py::arg("use_ema") = true, py::arg("cls") = py::none(),
          py::arg("cfg") = 1.0,
          "n samples (n x d float64) from the noise of `seed`: the same as `gfd generate`. A "
          "conditional model needs cls (the class) and takes cfg (the guidance scale omega).")
      .def(
          "generate_from_noise",
          [](const gfd::generator_model& g, const py::handle& noise, bool use_ema, const py::object& cls, double cfg) {
            const rows_array<double> a = rows_of<double>(as_array(noise, "gfd.Generator.generate_from_noise", "noise"));
            return to_array<double>(
                g.generate_from_noise(view_of<double>(a), use_ema, cls.is_none() ? -1 : cls.cast<int>(), cfg));
          },
          py::arg("noise"), py::arg("use_ema") = true, py::arg("cls") = py::none(), py::arg("cfg") = 1.0,
          "Samples for given noise (n x noise_dim); cls and cfg as generate.")
      .def("save", [](const gfd::generator_model& g, const std::string& path) { gfd::save_generator(g, path); },
           py::arg("path"), "Writes the model file (the format of `gfd train --out`), atomically.")
      .def_static("load", [](const std::string& path) { return gfd::load_generator(path); },
                  py::arg("path"), "Reads a model file written by save or `gfd train`.")
      .def_property_readonly("dim", &gfd::generator_model::dim)
      .def_property_readonly("noise_dim", &gfd::generator_model::noise_dim)
      .def_property_readonly("hidden", &gfd::generator_model::hidden)
      .def_property_readonly("steps_trained", &gfd::generator_model::steps_trained)
      .def_property_readonly("classes", &gfd::generator_model::classes,
                             "Number of classes of a conditional model (0 = unconditional).")
      .def_property_readonly("guidance_range", &gfd::generator_model::guidance_range,
                             "The guidance scales (omega_min, omega_max) seen in training.")
      .def_property_readonly("parameter_count",
                             [](const gfd::generator_model& g) { return g.network().parameter_count(); })
      .def("__repr__", [](const gfd::generator_model& g) {
        std::string h;
        for (int w : g.hidden()) {
          if (!h.empty()) h += ", ";
          h += std::to_string(w);
        }
        return "gfd.Generator(dim=" + std::to_string(g.dim()) + ", noise_dim=" +
               std::to_string(g.noise_dim()) + ", hidden=[" + h + "]" +
               (g.conditional() ? ", classes=" + std::to_string(g.classes()) : std::string()) + ", steps_trained=" +
               std::to_string(g.steps_trained()) + ")";
      });
  m.def("train_generator", &train_generator, py::arg("data"), py::arg("options"), py::arg("kernel"),
        py::arg("imq_beta"), py::arg("divergence"), py::arg("divergence_params"),
        py::arg("observer"), py::arg("labels") = py::none(), "See gfd.train.");
}

}  // namespace gfd_py
