// SPDX-License-Identifier: MIT
/// @file module.cpp
/// @brief `gfd._core`, the compiled half of gfd's Python module: the array helpers, the error
///        translation (gfd::invalid_argument -> ValueError, gfd::numerical_error ->
///        FloatingPointError, with the C++ message), the registries by name, and the parts.

#include "common.hpp"

#include <gfd/error.hpp>
#include <gfd/toy.hpp>

#include <sstream>

namespace gfd_py {

namespace {
std::string shape_of(const py::array& a) {
  std::ostringstream os;
  os << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) os << (i ? ", " : "") << a.shape(i);
  os << (a.ndim() == 1 ? ",)" : ")");
  return os.str();
}
}  // namespace

char precision_of(const py::array& a, const std::string& where, const std::string& name) {
  const char kind = a.dtype().kind();
  if (kind == 'f' && a.dtype().itemsize() == 4) return 'f';
  if (kind == 'f' || kind == 'i' || kind == 'u' || kind == 'b') return 'd';
  throw py::type_error(where + ": " + name + " must hold real numbers (float32, float64 or an integer type), got dtype " +
                       py::str(a.dtype()).cast<std::string>());
}

py::array as_array(const py::handle& obj, const std::string& where, const std::string& name,
                   int ndim) {
  if (obj.is_none()) throw py::type_error(where + ": " + name + " is None, expected an array");
  py::array a;
  try {
    a = py::array::ensure(obj);
  } catch (const py::error_already_set&) {
  }
  if (!a) throw py::type_error(where + ": " + name + " is not an array or array-like (" +
                               py::str(py::type::of(obj)).cast<std::string>() + ")");
  (void)precision_of(a, where, name);
  if (a.ndim() != ndim) {
    const std::string expected = ndim == 2 ? "a 2-D array of shape (N, d), one point per row"
                                           : "a 1-D array";
    std::string hint;
    if (ndim == 2 && a.ndim() == 1) hint = " (for N points in 1-D use x.reshape(-1, 1))";
    throw py::value_error(where + ": " + name + " must be " + expected + ", got shape " +
                          shape_of(a) + hint);
  }
  return a;
}

}  // namespace gfd_py

PYBIND11_MODULE(_core, m) {
  namespace py = pybind11;
  using namespace gfd_py;
  m.doc() = "The compiled part of gfd (Gradient Flow Drifting); use the gfd package.";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const gfd::invalid_argument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const gfd::numerical_error& e) {
      PyErr_SetString(PyExc_FloatingPointError, e.what());
    }
  });

  auto entries = [](const std::vector<gfd::registry::entry>& es) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& e : es) out.emplace_back(std::string(e.name), std::string(e.description));
    return out;
  };
  m.def("kernels", [] {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& n : gfd::registry::kernel_names<kernel_set>())
      out.emplace_back(n, std::string(gfd::registry::kernel_description<kernel_set>(n)));
    return out;
  });
  m.def("divergences", [entries] { return entries(gfd::registry::divergence_entries()); });
  m.def("steppers", [entries] { return entries(gfd::registry::stepper_entries()); });
  m.def("evaluators", [entries] { return entries(gfd::registry::evaluator_entries()); });

  m.def(
      "as_cloud",
      [](const py::handle& obj, const std::string& where, const std::string& name, int ndim) -> py::array {
        const py::array a = as_array(obj, where, name, ndim);
        if (precision_of(a, where, name) == 'f') return rows_of<float>(a);
        return rows_of<double>(a);
      },
      py::arg("obj"), py::arg("where"), py::arg("name"), py::arg("ndim") = 2,
      "obj as a C-contiguous float32 (kept) or float64 array of ndim dimensions; no copy when "
      "it already is one. Raises TypeError or ValueError naming `where` and `name`.");

  bind_flow(m);
  bind_kde(m);
  bind_misc(m);
  bind_generator(m);
}
