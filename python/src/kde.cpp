// SPDX-License-Identifier: MIT
/// @file kde.cpp
/// @brief `_core.KDE`, the object gfd.kde returns: gfd::kde<K, S, Dynamic, E, M> behind one
///        virtual interface, chosen once at construction from the registries' names.

#include "dispatch.hpp"

#include <gfd/bandwidth.hpp>
#include <gfd/kde.hpp>

#include <memory>
#include <variant>

namespace gfd_py {
namespace {

/// One KDE of any kernel, scalar type, evaluator and manifold.
class any_kde {
public:
  virtual ~any_kde() = default;
  virtual py::array logpdf(const py::handle& q) const = 0;
  virtual py::array pdf(const py::handle& q) const = 0;
  virtual py::array score(const py::handle& q) const = 0;
  virtual py::array gradient(const py::handle& q) const = 0;
  virtual py::array mean_shift(const py::handle& q) const = 0;
  [[nodiscard]] virtual double log_normaliser() const = 0;

  double bandwidth = 0;
  long n = 0, dim = 0;
  bool weighted = false;
  std::string kernel, evaluator, manifold, dtype;
};

template <class K, class S, class E, class M>
class kde_of final : public any_kde {
public:
  using matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  using column = Eigen::Matrix<S, Eigen::Dynamic, 1>;

  kde_of(matrix x, column w, S h, const K& k, const E& e)
      : x_(std::move(x)), w_(std::move(w)),
        kde_(w_.size() > 0 ? gfd::cloud_view<S>(x_, w_) : gfd::cloud_view<S>(x_), h, k, e, M{}) {}

  py::array logpdf(const py::handle& q) const override {
    return to_vector<S>(apply(q, "logpdf", [&](const auto& x) { return kde_.log_density(x); }));
  }
  py::array pdf(const py::handle& q) const override {
    return to_vector<S>(apply(q, "pdf", [&](const auto& x) { return kde_.density(x); }));
  }
  py::array score(const py::handle& q) const override {
    return to_array<S>(apply(q, "score", [&](const auto& x) { return kde_.score(x); }));
  }
  py::array gradient(const py::handle& q) const override {
    return to_array<S>(apply(q, "gradient", [&](const auto& x) { return kde_.gradient(x); }));
  }
  py::array mean_shift(const py::handle& q) const override {
    return to_array<S>(apply(q, "mean_shift", [&](const auto& x) { return kde_.mean_shift(x); }));
  }
  [[nodiscard]] double log_normaliser() const override {
    return static_cast<double>(kde_.log_normaliser());
  }

private:
  /// `f(queries)` on the queries converted to S, with the GIL released.
  template <class F>
  auto apply(const py::handle& q, const char* member, F&& f) const {
    const std::string where = "gfd.KDE." + std::string(member);
    const rows_array<S> qa = rows_of<S>(as_array(q, where, "x"));
    const cloud_map<S> x = view_of<S>(qa);
    py::gil_scoped_release release;
    return f(x);
  }

  matrix x_;
  column w_;
  gfd::kde<K, S, Eigen::Dynamic, E, M> kde_;
};

template <class S, class M>
std::unique_ptr<any_kde> make_typed(const py::array& data, const py::object& weights,
                                    const py::object& bandwidth, const pieces& p) {
  constexpr const char* where = "gfd.kde";
  const rows_array<S> xa = rows_of<S>(data);
  const rows_array<S> wa = weights_of<S>(weights, where);
  Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> x = view_of<S>(xa);
  Eigen::Matrix<S, Eigen::Dynamic, 1> w =
      Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>>(wa.data(), wa.size());
  const gfd::cloud_view<S> view = w.size() > 0 ? gfd::cloud_view<S>(x, w) : gfd::cloud_view<S>(x);
  view.validate(where, "data");
  double h = 0;
  if (py::isinstance<py::str>(bandwidth)) {
    h = gfd::choose_bandwidth(gfd::parse_bandwidth_rule(bandwidth.cast<std::string>()), view);
  } else {
    h = bandwidth.cast<double>();
    gfd::detail::require_positive(where, "bandwidth", h);
  }
  auto kernel = gfd::registry::make_kernel<kernel_set>(p.kernel, p.kernel_params);
  auto evaluator = gfd::registry::make_evaluator(p.evaluator, p.evaluator_params);
  std::unique_ptr<any_kde> out;
  std::visit(
      [&](const auto& k, const auto& e) {
        using K = std::decay_t<decltype(k)>;
        using E = std::decay_t<decltype(e)>;
        out = std::make_unique<kde_of<K, S, E, M>>(std::move(x), std::move(w), static_cast<S>(h), k, e);
      },
      kernel, evaluator);
  out->bandwidth = h;
  out->n = static_cast<long>(xa.shape(0));
  out->dim = static_cast<long>(xa.shape(1));
  out->weighted = wa.size() > 0;
  out->kernel = p.kernel;
  out->evaluator = p.evaluator;
  out->manifold = p.manifold;
  out->dtype = std::is_same_v<S, float> ? "float32" : "float64";
  return out;
}

std::unique_ptr<any_kde> make_kde(const py::handle& data_in, const py::object& weights,
                                  const py::object& bandwidth, const std::string& kernel,
                                  double imq_beta, const std::string& evaluator, double tolerance,
                                  std::size_t leaf_size, const std::string& manifold) {
  constexpr const char* where = "gfd.kde";
  const py::array data = as_array(data_in, where, "data");
  pieces p;
  p.kernel = kernel;
  p.kernel_params.imq_beta = imq_beta;
  p.evaluator = evaluator;
  p.evaluator_params.tolerance = tolerance;
  p.evaluator_params.leaf_size = leaf_size;
  p.manifold = manifold;
  return with_scalar_and_manifold(precision_of(data, where, "data"), manifold, where,
                                  [&]<class S, class M>() { return make_typed<S, M>(data, weights, bandwidth, p); });
}

}  // namespace

void bind_kde(py::module_& m) {
  py::class_<any_kde>(m, "KDE",
                      "A kernel density estimate of a weighted cloud (make one with gfd.kde).")
      .def("logpdf", &any_kde::logpdf, py::arg("x"),
           "log p at each row of x (N x d): a 1-D array; -inf outside a compact kernel's support.")
      .def("pdf", &any_kde::pdf, py::arg("x"), "p at each row of x (may underflow to 0; see logpdf).")
      .def("score", &any_kde::score, py::arg("x"),
           "grad log p at each row of x (N x d); on the sphere, tangent.")
      .def("gradient", &any_kde::gradient, py::arg("x"), "grad p at each row of x (N x d).")
      .def("mean_shift", &any_kde::mean_shift, py::arg("x"),
           "m(x) - x, the kernel-weighted mean of the data minus x (N x d).")
      .def_property_readonly("log_normaliser", &any_kde::log_normaliser,
                             "log Z of the kernel: h^d Z_d in R^d, the sphere's integral there.")
      .def_readonly("bandwidth", &any_kde::bandwidth, "The bandwidth h (a rule's value if given by name).")
      .def_readonly("n", &any_kde::n, "Number of data points.")
      .def_readonly("dim", &any_kde::dim, "Dimension d.")
      .def_readonly("weighted", &any_kde::weighted, "Whether the data carry weights.")
      .def_readonly("kernel", &any_kde::kernel)
      .def_readonly("evaluator", &any_kde::evaluator)
      .def_readonly("manifold", &any_kde::manifold)
      .def_readonly("dtype", &any_kde::dtype, "float32 or float64: the data's precision, kept.")
      .def("__repr__", [](const any_kde& k) {
        return "gfd.KDE(n=" + std::to_string(k.n) + ", dim=" + std::to_string(k.dim) +
               ", bandwidth=" + gfd::detail::short_number(k.bandwidth) + ", kernel='" + k.kernel +
               "', evaluator='" + k.evaluator + "', manifold='" + k.manifold + "', dtype=" +
               k.dtype + (k.weighted ? ", weighted" : "") + ")";
      });
  m.def("make_kde", &make_kde, py::arg("data"), py::arg("weights"), py::arg("bandwidth"),
        py::arg("kernel"), py::arg("imq_beta"), py::arg("evaluator"), py::arg("tolerance"),
        py::arg("leaf_size"), py::arg("manifold"), "See gfd.kde.");
}

}  // namespace gfd_py
