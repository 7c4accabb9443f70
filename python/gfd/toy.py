# SPDX-License-Identifier: MIT
"""The toy distributions of gfd: the 2D toys by name, a standard Gaussian, and the sphere's."""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

from . import _core

__all__ = ["names", "sample", "mixture", "gaussian", "sphere_uniform", "vmf_mixture"]


def names() -> List[str]:
    """The 2D toys: 8gaussians, 25gaussians, moons, swissroll, checkerboard, rings, pinwheel,
    spirals."""
    return list(_core.toy.names())


def sample(name: str, n: int, seed: int = 0, dtype=np.float64) -> np.ndarray:
    """n points (n x 2) of the toy `name` from std::mt19937_64(seed): the same points as
    `gfd sample NAME --n N --seed S` and gfd::toy::sample."""
    return _core.toy.sample(name, int(n), int(seed)).astype(dtype, copy=False)


def mixture(name: str) -> Optional[Tuple[np.ndarray, float]]:
    """(centres (k x 2), standard deviation) of a Gaussian-mixture toy, None for the others."""
    return _core.toy.mixture(name)


def gaussian(d: int, n: int, seed: int = 0, dtype=np.float64) -> np.ndarray:
    """n draws (n x d) of N(0, I_d) from std::mt19937_64(seed) (gfd::toy::gaussian)."""
    return _core.toy.gaussian(int(d), int(n), int(seed)).astype(dtype, copy=False)


def sphere_uniform(d: int, n: int, seed: int = 0, dtype=np.float64) -> np.ndarray:
    """n points (n x d) uniform on the unit sphere S^{d-1} (gfd::sphere::uniform)."""
    return _core.toy.sphere_uniform(int(d), int(n), int(seed)).astype(dtype, copy=False)


def vmf_mixture(d: int, modes: int, kappa: float, n: int, seed: int = 0,
                dtype=np.float64) -> Tuple[np.ndarray, np.ndarray]:
    """n points (n x d) of `modes` von Mises-Fisher components of concentration kappa on
    S^{d-1}, and their centres (modes x d) (gfd::sphere::vmf_mixture)."""
    x, c = _core.toy.vmf_mixture(int(d), int(modes), float(kappa), int(n), int(seed))
    return x.astype(dtype, copy=False), c
