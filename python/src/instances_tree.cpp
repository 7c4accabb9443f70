// SPDX-License-Identifier: MIT
// gfd::tree_evaluator's kernel sums in double and float, compiled once for the module (the other
// sources see them extern: GFD_EXTERN_TEMPLATES, include/gfd/core/instances.hpp).
#include <gfd/evaluators/tree.hpp>

namespace gfd {
GFD_SUMS_INSTANCES(template, tree_evaluator, double)
GFD_SUMS_INSTANCES(template, tree_evaluator, float)
}  // namespace gfd
