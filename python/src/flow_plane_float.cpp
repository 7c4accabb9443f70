// SPDX-License-Identifier: MIT
// The flows of gfd.Flow in float on euclidean (flow_impl.hpp).
#include "flow_impl.hpp"

namespace gfd_py {
GFD_PY_FLOW_INSTANCE(template, float, gfd::euclidean)
}  // namespace gfd_py
