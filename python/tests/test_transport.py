# SPDX-License-Identifier: MIT
"""The Sinkhorn divergence against POT (Debian's python3-pot, an independent implementation):
its value and dual potentials on small weighted clouds; and the transport flows and the exact
smoothed flow from Python."""
import numpy as np
import pytest

import gfd

ot = pytest.importorskip("ot", reason="POT (python3-pot) is the reference of these tests")


def entropic_ot(a, b, x, y, eps):
    """OT_eps(a, b) = <pi, C> + eps KL(pi || a x b) and POT's potentials in gfd's convention
    pi_ij = a_i b_j exp((f_i + g_j - C_ij) / eps), C = |x - y|^2 / 2."""
    c = ot.dist(x, y) / 2  # squared Euclidean by default
    pi, log = ot.sinkhorn(a, b, c, eps, method="sinkhorn_log", numItermax=200000, stopThr=1e-14,
                          log=True)
    mask = pi > 0
    value = float(np.sum(pi * c) + eps * np.sum(pi[mask] * np.log(pi[mask] / np.outer(a, b)[mask])))
    f = eps * (log["log_u"] - np.log(a))
    g = eps * (log["log_v"] - np.log(b))
    return value, f, g


def clouds(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(30, 2))
    y = rng.normal(loc=(0.8, -0.3), scale=1.3, size=(25, 2))
    a = rng.uniform(0.2, 1.0, size=30)
    b = rng.uniform(0.2, 1.0, size=25)
    return x, a / a.sum(), y, b / b.sum()


@pytest.mark.parametrize("eps", [0.05, 0.5, 2.0])
def test_sinkhorn_value_and_potentials_match_pot(eps):
    x, a, y, b = clouds(1)
    r = gfd.metrics.sinkhorn(x, y, eps, a=a, b=b, tolerance=1e-13, max_iterations=200000)
    assert r["converged"]
    ot_ab, f, g = entropic_ot(a, b, x, y, eps)
    ot_aa, _, _ = entropic_ot(a, a, x, x, eps)
    ot_bb, _, _ = entropic_ot(b, b, y, y, eps)
    s_pot = ot_ab - 0.5 * ot_aa - 0.5 * ot_bb
    assert r["value"] == pytest.approx(s_pot, rel=1e-7, abs=1e-10)
    # The potentials are unique up to f + c, g - c: compare after removing that constant.
    df = r["f"] - f
    dg = r["g"] - g
    scale = np.abs(f).max() + np.abs(g).max() + eps
    assert np.ptp(df) <= 1e-7 * scale
    assert np.ptp(dg) <= 1e-7 * scale
    assert abs(df.mean() + dg.mean()) <= 1e-7 * scale
    # OT_eps(a, b) alone, without the debiasing terms.
    r1 = gfd.metrics.sinkhorn(x, y, eps, a=a, b=b, tolerance=1e-13, max_iterations=200000,
                              debias=False)
    assert r1["value"] == pytest.approx(ot_ab, rel=1e-7)


def test_sinkhorn_divergence_properties():
    x, a, y, b = clouds(2)
    assert abs(gfd.metrics.sinkhorn(x, x, 0.1, a=a, b=a)["value"]) < 1e-10
    assert gfd.metrics.sinkhorn(x, y, 0.1, a=a, b=b)["value"] > 0
    # A translation by c costs |c|^2 / 2 exactly.
    c = np.array([0.3, -0.4])
    assert gfd.metrics.sinkhorn(y, y + c, 0.2, a=b, b=b)["value"] == pytest.approx(0.125, rel=1e-8)
    with pytest.raises(ValueError, match="epsilon"):
        gfd.metrics.sinkhorn(x, y, 0.0)
    with pytest.raises(ValueError, match=r"a\[3\]"):
        bad = a.copy()
        bad[3] = -1
        gfd.metrics.sinkhorn(x, y, 0.1, a=bad)


@pytest.mark.parametrize("divergence", ["kl-exact", "sinkhorn", "sinkhorn-drift", "sliced", "energy"])
def test_transport_and_exact_flows_approach_the_target(divergence):
    target = gfd.toy.sample("8gaussians", 300, seed=1)
    held = gfd.toy.sample("8gaussians", 300, seed=2)
    floor = gfd.metrics.sliced_wasserstein2(gfd.toy.sample("8gaussians", 300, seed=3), held)
    x = gfd.drift(target, n=300, divergence=divergence, steps=150, progress=False)
    assert np.isfinite(x).all()
    if divergence != "sinkhorn-drift":  # Deng's RMS-normalised steps never shrink (README)
        assert gfd.metrics.sliced_wasserstein2(x, held) < 2.5 * floor


def test_transport_flow_options_reach_the_flow():
    target = gfd.toy.sample("moons", 200, seed=1)
    run = lambda **kw: gfd.drift(target, n=100, steps=10, progress=False, **kw)
    assert not np.array_equal(run(divergence="sinkhorn", epsilon=0.5),
                              run(divergence="sinkhorn", epsilon=0.02))
    assert np.array_equal(run(divergence="sliced", projections=4),
                          run(divergence="sliced", projections=4))
    assert not np.array_equal(run(divergence="sliced", projections=4),
                              run(divergence="sliced", projections=4, divergence_seed=9))


def test_refused_combinations_name_the_divergence():
    target = gfd.toy.sample("moons", 100, seed=1)
    with pytest.raises(ValueError, match="does not use the flow's kernel"):
        gfd.drift(target, n=50, steps=1, divergence="sinkhorn", kernel="laplacian", progress=False)
    with pytest.raises(ValueError, match="sums no kernel"):
        gfd.drift(target, n=50, steps=1, divergence="energy", evaluator="tree", progress=False)
    sphere = gfd.toy.sphere_uniform(3, 100, seed=1)
    with pytest.raises(ValueError, match=r"R\^d only"):
        gfd.drift(sphere, n=50, steps=1, divergence="kl-exact", manifold="sphere", progress=False)
