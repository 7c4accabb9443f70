// SPDX-License-Identifier: MIT
// The flows of gfd.Flow in float on unit_sphere (flow_impl.hpp).
#include "flow_impl.hpp"

namespace gfd_py {
GFD_PY_FLOW_INSTANCE(template, float, gfd::unit_sphere)
}  // namespace gfd_py
