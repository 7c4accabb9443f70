# SPDX-License-Identifier: MIT
"""gfd.metrics against their definitions written in NumPy."""
import numpy as np
import pytest

import gfd

X = gfd.toy.sample("moons", 300, seed=1)
Y = gfd.toy.sample("moons", 250, seed=2) + np.array([0.3, -0.1])


def dist(a, b):
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def offdiag_mean(m):
    n = len(m)
    return (m.sum() - np.trace(m)) / (n * (n - 1))


def test_energy_distance_is_the_u_statistic():
    want = 2 * dist(X, Y).mean() - offdiag_mean(dist(X, X)) - offdiag_mean(dist(Y, Y))
    assert gfd.metrics.energy_distance(X, Y) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("biased", [False, True])
def test_mmd2_is_its_definition(biased):
    h = 0.7
    k = lambda a, b: np.exp(-dist(a, b) ** 2 / (2 * h * h))  # noqa: E731
    if biased:
        want = k(X, X).mean() + k(Y, Y).mean() - 2 * k(X, Y).mean()
    else:
        want = offdiag_mean(k(X, X)) + offdiag_mean(k(Y, Y)) - 2 * k(X, Y).mean()
    assert gfd.metrics.mmd2(X, Y, h, biased=biased) == pytest.approx(want, rel=1e-12)


def test_sliced_w2_in_one_dimension_is_the_sorted_matching():
    a = np.sort(np.random.default_rng(0).normal(size=(400, 1)), axis=0)
    b = np.sort(np.random.default_rng(1).normal(1.0, 2.0, size=(400, 1)), axis=0)
    want = np.sqrt(np.mean((a - b) ** 2))
    assert gfd.metrics.sliced_wasserstein2(a, b, projections=16) == pytest.approx(want, rel=1e-12)


def test_two_sample_and_coverage():
    r = gfd.metrics.two_sample(X, Y, bandwidth=0.7)
    assert r["mmd2_unbiased"] == pytest.approx(gfd.metrics.mmd2(X, Y, 0.7), rel=1e-12)
    assert r["energy_distance"] == pytest.approx(gfd.metrics.energy_distance(X, Y), rel=1e-12)
    c, sd = gfd.toy.mixture("8gaussians")
    cov = gfd.metrics.mode_coverage(gfd.toy.sample("8gaussians", 800, seed=3), c, sd)
    assert cov["modes"] == 8 and cov["modes_covered"] == 8 and cov["fraction_near"] > 0.97
    half = gfd.metrics.mode_coverage(c[:4].repeat(50, axis=0), c, sd)
    assert half["modes_covered"] == 4
