// SPDX-License-Identifier: MIT
// gfd::exact_evaluator's kernel sums in double and float, compiled once for the module (the other
// sources see them extern: GFD_EXTERN_TEMPLATES, include/gfd/core/instances.hpp).
#include <gfd/evaluators/exact.hpp>

namespace gfd {
GFD_SUMS_INSTANCES(template, exact_evaluator, double)
GFD_SUMS_INSTANCES(template, exact_evaluator, float)
}  // namespace gfd
