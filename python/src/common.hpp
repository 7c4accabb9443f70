// SPDX-License-Identifier: MIT
/// @file common.hpp
/// @brief What every part of gfd's Python module shares: NumPy arrays in and out, the names of
///        the pieces a flow is built from, and the parts' binding functions (module.cpp calls
///        them).
///
/// Arrays. NumPy users hold a cloud as an N x d array, one point per row. A C-contiguous
/// (row-major) N x d buffer is exactly gfd's column-major d x N matrix, so such an array is
/// viewed without a copy (Eigen::Map); any other layout, or another dtype, is copied once into
/// that form. float32 and float64 are kept as given: the primary input of a call (the target
/// of a flow, the data of a KDE) sets the precision, and the other inputs are converted to it.
/// Integer and boolean arrays are converted to float64; complex, object and string arrays are
/// refused (TypeError), as are arrays that are not 2-D (ValueError, naming the shape).
/// Non-finite coordinates are refused by the library's own checks (gfd::invalid_argument,
/// raised as ValueError naming the row and column).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <Eigen/Core>

#include <gfd/flow.hpp>
#include <gfd/registry.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace gfd_py {

namespace py = pybind11;

/// A C-contiguous array of scalar S.
template <class S>
using rows_array = py::array_t<S, py::array::c_style | py::array::forcecast>;

/// The column-major d x N matrix that a C-contiguous N x d array is.
template <class S>
using cloud_map = Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>>;

/// Which scalar type an array gives a call: 'f' for float32, 'd' for everything else it accepts.
/// @throws TypeError (py::type_error) for dtypes that are not real numbers.
char precision_of(const py::array& a, const std::string& where, const std::string& name);

/// `obj` as an N x d array (any array-like: lists are converted). @throws TypeError for a
/// non-numeric dtype, ValueError for ndim != 2 (naming the shape).
py::array as_array(const py::handle& obj, const std::string& where, const std::string& name,
                   int ndim = 2);

/// A C-contiguous copy-if-needed of a checked array, in scalar S.
template <class S>
rows_array<S> rows_of(const py::array& a) {
  return rows_array<S>::ensure(a);
}

/// The d x N view of a C-contiguous N x d array.
template <class S>
cloud_map<S> view_of(const rows_array<S>& a) {
  return cloud_map<S>(a.data(), a.ndim() == 2 ? a.shape(1) : 1, a.shape(0));
}

/// A new N x d array holding the d x N matrix m.
template <class S, class Derived>
py::array_t<S> to_array(const Eigen::MatrixBase<Derived>& m) {
  py::array_t<S> out({static_cast<py::ssize_t>(m.cols()), static_cast<py::ssize_t>(m.rows())});
  Eigen::Map<Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>>(out.mutable_data(), m.rows(),
                                                              m.cols()) = m.template cast<S>();
  return out;
}

/// A new 1-D array holding the vector v.
template <class S, class Derived>
py::array_t<S> to_vector(const Eigen::MatrixBase<Derived>& v) {
  py::array_t<S> out(static_cast<py::ssize_t>(v.size()));
  Eigen::Map<Eigen::Matrix<S, Eigen::Dynamic, 1>>(out.mutable_data(), v.size()) = v.template cast<S>();
  return out;
}

/// Optional weights (None, or a 1-D array of one weight per point), in scalar S.
template <class S>
rows_array<S> weights_of(const py::object& w, const std::string& where) {
  if (w.is_none()) return rows_array<S>(py::ssize_t{0});
  return rows_of<S>(as_array(w, where, "weights", 1));
}

/// Options by keyword: `d[key]` into `out` when the dict has the key (else `out` keeps its
/// default).
template <class T>
void read_option(const py::dict& d, const char* key, T& out) {
  if (d.contains(key)) out = d[key].cast<T>();
}

/// @throws ValueError ("where: unknown option 'key'") for a key of `d` not in `keys`.
inline void check_option_names(const py::dict& d, const std::set<std::string>& keys,
                               const char* where) {
  for (const auto& item : d) {
    const auto key = item.first.cast<std::string>();
    if (keys.count(key) == 0) gfd::detail::fail(where, "unknown option '", key, "'");
  }
}

/// The kernel, divergence and evaluator a flow or KDE is made of, by the registries' names, with
/// their parameters.
struct pieces {
  std::string kernel = "gaussian";
  gfd::registry::kernel_parameters kernel_params{};
  std::string divergence = "kl";
  gfd::registry::divergence_parameters divergence_params{};
  std::string evaluator = "exact";
  gfd::registry::evaluator_parameters evaluator_params{};
  std::string manifold = "euclidean";  ///< "euclidean" or "sphere"
};

/// The kernels the module offers: those of the Euclidean distance (on the sphere, of the chord),
/// as the command-line tool.
using kernel_set = gfd::registry::euclidean_kernels;

/// Everything a flow run needs besides its clouds.
struct flow_spec {
  pieces p;
  gfd::flow_options options{};
};

void bind_flow(py::module_& m);
void bind_kde(py::module_& m);
void bind_misc(py::module_& m);
void bind_generator(py::module_& m);

}  // namespace gfd_py
