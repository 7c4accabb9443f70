# SPDX-License-Identifier: MIT
"""Bad input of every kind gives the right exception with the library's message, never a crash."""
import numpy as np
import pytest

import gfd

T = gfd.toy.sample("8gaussians", 100, seed=0)
NAN = T.copy()
NAN[7, 1] = np.nan
INF = T.copy()
INF[3, 0] = np.inf


@pytest.mark.parametrize("call, error, message", [
    (lambda: gfd.drift(np.zeros((0, 2)), n=10), ValueError, "target is empty"),
    (lambda: gfd.drift(np.zeros(5), n=10), ValueError, r"2-D array of shape \(N, d\).*got shape \(5,\).*reshape"),
    (lambda: gfd.drift(np.zeros((2, 2, 2)), n=10), ValueError, r"got shape \(2, 2, 2\)"),
    (lambda: gfd.drift(NAN, n=10), ValueError, "non-finite coordinate nan at particle 7, coordinate 1"),
    (lambda: gfd.drift(T, init=INF), ValueError, "particles has a non-finite coordinate inf at particle 3, coordinate 0"),
    (lambda: gfd.drift(T, init=np.zeros((5, 3))), ValueError, "dimension"),
    (lambda: gfd.drift(T, n=10, bandwidth=-1.0), ValueError, "bandwidth"),
    (lambda: gfd.drift(T, n=10, bandwidth=0.0), ValueError, "bandwidth"),
    (lambda: gfd.drift(T, n=10, dt=0.0), ValueError, "dt must be finite and > 0, got 0"),
    (lambda: gfd.drift(T, n=10, steps=-1), ValueError, "steps must be >= 0"),
    (lambda: gfd.drift(T, n=0), ValueError, "n must be >= 1"),
    (lambda: gfd.drift(T, n=10, divergence="kll"), ValueError, "unknown divergence 'kll' \\(valid: kl, "),
    (lambda: gfd.drift(T, n=10, kernel="gauss"), ValueError, "unknown kernel 'gauss'"),
    (lambda: gfd.drift(T, n=10, evaluator="fast"), ValueError, "unknown evaluator 'fast'"),
    (lambda: gfd.drift(T, n=10, stepper="rk4"), ValueError, "unknown stepper 'rk4'"),
    (lambda: gfd.drift(T, n=10, manifold="torus"), ValueError, "unknown manifold 'torus'"),
    (lambda: gfd.drift(T, n=10, bandwidth="scot"), ValueError, "unknown bandwidth rule 'scot'"),
    (lambda: gfd.drift(T, n=10, anneal=3), ValueError, "anneal must be True or a pair"),
    (lambda: gfd.drift(T, n=10, evaluator="tree", tolerance=2.0), ValueError, "tolerance"),
    (lambda: gfd.drift(T, n=10, manifold="sphere"), ValueError, "sphere"),
    (lambda: gfd.drift(T, n=10, widht=3), TypeError, "widht"),
    (lambda: gfd.drift(T.astype(np.complex128), n=10), TypeError, "real numbers.*complex128"),
    (lambda: gfd.drift(np.array([["a", "b"]]), n=10), TypeError, "real numbers"),
    (lambda: gfd.drift(None, n=10), TypeError, "target is None"),
    (lambda: gfd.drift(T, weights=-np.ones(100), n=10), ValueError, "invalid weight -1 at particle 0"),
    (lambda: gfd.drift(T, weights=np.ones(99), n=10), ValueError, "99 weights for 100 particles"),
    (lambda: gfd.kde(T, -0.5), ValueError, "gfd.kde: bandwidth must be finite and > 0, got -0.5"),
    (lambda: gfd.kde(T, 0.5).logpdf(np.zeros((3, 3))), ValueError, "queries has dimension 3"),
    (lambda: gfd.kde(T, 0.5).score(NAN), ValueError, "non-finite"),
    (lambda: gfd.kde(T, 0.5, "boxcar"), ValueError, "unknown kernel 'boxcar'"),
    (lambda: gfd.kde(T, 0.5).pdf(np.zeros(2)), ValueError, r"x must be a 2-D array"),
    (lambda: gfd.metrics.energy_distance(T, np.zeros((4, 3))), ValueError, "dimension"),
    (lambda: gfd.metrics.mmd2(T, T, bandwidth=0.0), ValueError, "h"),
    (lambda: gfd.toy.sample("nope", 10), ValueError, "unknown toy 'nope' \\(valid: 8gaussians"),
    (lambda: gfd.toy.sample("moons", 0), ValueError, "must be > 0"),
    (lambda: gfd.Flow(T).velocity(T, -1.0), ValueError, "bandwidth"),
])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_diverging_flow_raises_floating_point_error_naming_the_step():
    # No cap on the displacement and an enormous step: the particles leave the doubles.
    with pytest.raises(FloatingPointError, match="step"):
        gfd.drift(T, n=20, divergence="chi2", bandwidth=0.05, dt=1e300, max_displacement=0.0,
                  dt_in_bandwidth_units=False, steps=50)
