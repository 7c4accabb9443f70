# SPDX-License-Identifier: MIT
"""gfd.kde: the log-density of the definition (a NumPy log-sum-exp), the score as its gradient,
precision kept, the sphere's normaliser."""
import math

import numpy as np
import pytest

import gfd
from conftest import relative_error

DATA = gfd.toy.sample("25gaussians", 500, seed=3)
QUERIES = gfd.toy.sample("moons", 200, seed=4)


def logsumexp(a, axis):
    m = np.max(a, axis=axis, keepdims=True)
    return (m + np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True))).squeeze(axis)


def gaussian_logpdf(x, y, h, w=None):
    d = x.shape[1]
    sq = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    logw = np.log(np.full(len(y), 1.0 / len(y)) if w is None else w / w.sum())
    return logsumexp(-sq / (2 * h * h) + logw[None, :], 1) - 0.5 * d * math.log(2 * math.pi * h * h)


@pytest.mark.parametrize("h", [0.05, 0.3, 2.0])
def test_gaussian_logpdf_is_the_definition(h):
    p = gfd.kde(DATA, h)
    assert relative_error(p.logpdf(QUERIES), gaussian_logpdf(QUERIES, DATA, h)) <= 1e-12
    assert relative_error(p.pdf(QUERIES), np.exp(gaussian_logpdf(QUERIES, DATA, h))) <= 1e-12


def test_weighted_logpdf_is_the_definition():
    w = np.linspace(0.1, 3.0, len(DATA))
    p = gfd.kde(DATA, 0.4, weights=w)
    assert p.weighted
    assert relative_error(p.logpdf(QUERIES), gaussian_logpdf(QUERIES, DATA, 0.4, w)) <= 1e-12


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian", "imq"])
def test_score_is_the_gradient_of_logpdf(kernel):
    p = gfd.kde(DATA, 0.5, kernel)
    eps = 1e-5
    fd = np.empty_like(QUERIES)
    for k in range(2):
        e = np.zeros(2)
        e[k] = eps
        fd[:, k] = (p.logpdf(QUERIES + e) - p.logpdf(QUERIES - e)) / (2 * eps)
    assert relative_error(p.score(QUERIES), fd) <= 1e-6
    grad = p.gradient(QUERIES)
    assert relative_error(grad, p.score(QUERIES) * p.pdf(QUERIES)[:, None]) <= 1e-12


def test_gaussian_mean_shift_is_h2_times_the_score():
    p = gfd.kde(DATA, 0.3)
    assert relative_error(p.mean_shift(QUERIES), 0.09 * p.score(QUERIES)) <= 1e-12


def test_bandwidth_rules():
    sd = math.sqrt(np.mean(np.var(DATA, axis=0, ddof=1)))
    scott = gfd.kde(DATA, "scott").bandwidth
    assert scott == pytest.approx(len(DATA) ** (-1 / 6) * sd, rel=0.05)
    assert gfd.kde(DATA, "median").bandwidth > 0
    assert gfd.kde(DATA, "silverman").bandwidth > 0


def test_float32_kept_and_close_to_float64():
    p32 = gfd.kde(DATA.astype(np.float32), 0.3)
    assert p32.dtype == "float32"
    lp = p32.logpdf(QUERIES)  # float64 queries are converted to the KDE's precision
    assert lp.dtype == np.float32 and p32.score(QUERIES).dtype == np.float32
    assert relative_error(lp, gfd.kde(DATA, 0.3).logpdf(QUERIES)) <= 1e-5


def test_tree_and_grid_within_their_tolerance():
    exact = gfd.kde(DATA, 0.3).pdf(QUERIES)
    for ev in ("tree", "grid"):
        approx = gfd.kde(DATA, 0.3, evaluator=ev, tolerance=1e-4).pdf(QUERIES)
        assert np.max(np.abs(approx / exact - 1)) <= 1.01e-4, ev


def test_sphere_kde_is_a_mixture_of_vmf_densities():
    x, _ = gfd.toy.vmf_mixture(3, 3, 20.0, 300, seed=1)
    q = gfd.toy.sphere_uniform(3, 50, seed=2)
    h = 0.4
    kappa = 1 / h**2
    p = gfd.kde(x, h, manifold="sphere")
    log_c = math.log(kappa / (4 * math.pi * math.sinh(kappa)))
    want = logsumexp(kappa * (q @ x.T), 1) - math.log(len(x)) + log_c
    assert relative_error(p.logpdf(q), want) <= 1e-12
    s = p.score(q)
    assert np.max(np.abs(np.sum(s * q, axis=1))) <= 1e-10  # tangent


def test_repr():
    assert repr(gfd.kde(DATA, 0.5, "laplacian")).startswith("gfd.KDE(n=500, dim=2, bandwidth=0.5")
