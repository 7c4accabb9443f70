// SPDX-License-Identifier: MIT
// The flows of gfd.Flow in double on unit_sphere (flow_impl.hpp).
#include "flow_impl.hpp"

namespace gfd_py {
GFD_PY_FLOW_INSTANCE(template, double, gfd::unit_sphere)
}  // namespace gfd_py
