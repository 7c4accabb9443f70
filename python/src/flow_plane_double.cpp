// SPDX-License-Identifier: MIT
// The flows of gfd.Flow in double on euclidean (flow_impl.hpp).
#include "flow_impl.hpp"

namespace gfd_py {
GFD_PY_FLOW_INSTANCE(template, double, gfd::euclidean)
}  // namespace gfd_py
