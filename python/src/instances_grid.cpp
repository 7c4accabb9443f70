// SPDX-License-Identifier: MIT
// gfd::grid_evaluator's kernel sums in double and float, compiled once for the module (the other
// sources see them extern: GFD_EXTERN_TEMPLATES, include/gfd/core/instances.hpp).
#include <gfd/evaluators/grid.hpp>

namespace gfd {
GFD_SUMS_INSTANCES(template, grid_evaluator, double)
GFD_SUMS_INSTANCES(template, grid_evaluator, float)
}  // namespace gfd
