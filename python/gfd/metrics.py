# SPDX-License-Identifier: MIT
"""Two-sample distances and mode coverage (gfd/metrics.hpp), computed in double."""
from __future__ import annotations

from typing import Optional

from . import _core

__all__ = ["energy_distance", "mmd2", "sliced_wasserstein2", "pooled_median_distance",
           "two_sample", "mode_coverage", "sinkhorn"]


def energy_distance(x, y) -> float:
    """The unbiased energy distance 2E|X-Y| - E|X-X'| - E|Y-Y'| between clouds x and y (N x d)."""
    return _core.metrics.energy_distance(x, y)


def mmd2(x, y, bandwidth: Optional[float] = None, biased: bool = False) -> float:
    """MMD^2 with a Gaussian kernel of bandwidth h (default: the pooled median distance);
    the unbiased U-statistic unless biased=True."""
    return _core.metrics.mmd2(x, y, bandwidth, biased)


def sliced_wasserstein2(x, y, projections: int = 128, seed: int = 0) -> float:
    """The sliced Wasserstein-2 distance over `projections` random directions."""
    return _core.metrics.sliced_wasserstein2(x, y, int(projections), int(seed))


def pooled_median_distance(x, y) -> float:
    """The median pairwise distance of the two clouds together (the MMD's default bandwidth)."""
    return _core.metrics.pooled_median_distance(x, y)


def two_sample(x, y, bandwidth: Optional[float] = None, projections: int = 128,
               seed: int = 0) -> dict:
    """The three distances at once: {bandwidth, mmd2_unbiased, energy_distance, sliced_w2}."""
    return _core.metrics.two_sample(x, y, bandwidth, int(projections), int(seed))


def mode_coverage(x, centres, stddev: float, min_count: Optional[int] = None) -> dict:
    """{modes_covered, modes, fraction_near}: modes with at least min_count particles within
    3 stddev assigned to them, and the share of particles that near a mode."""
    return _core.metrics.mode_coverage(x, centres, float(stddev), min_count)


def sinkhorn(x, y, epsilon: float, a=None, b=None, scaling: float = 0.9, tolerance: float = 1e-9,
             max_iterations: int = 10000, debias: bool = True) -> dict:
    """The Sinkhorn divergence between clouds x (N x d, weights a) and y (M x d, weights b;
    default uniform), cost |x - y|^2 / 2, by log-domain Sinkhorn with epsilon-scaling
    (gfd::sinkhorn_solve, exact evaluator). Returns {value, f, g, f_aa, g_bb, epsilon,
    iterations, converged}: value is S_eps = OT_eps(a, b) - OT_eps(a, a)/2 - OT_eps(b, b)/2
    (OT_eps(a, b) alone with debias=False), with OT_eps = <a, f> + <b, g> = min over couplings
    pi of <pi, C> + eps KL(pi || a x b); f, g are the dual potentials of (a, b) in that
    convention, pi_ij = a_i b_j exp((f_i + g_j - C_ij) / eps), f_aa and g_bb those of the
    symmetric problems."""
    return _core.metrics.sinkhorn(x, y, float(epsilon), a, b, float(scaling), float(tolerance),
                                  int(max_iterations), bool(debias))
