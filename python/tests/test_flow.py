# SPDX-License-Identifier: MIT
"""gfd.drift and gfd.Flow: the same particles as the C++ library (the command-line tool) for the
same inputs and seeds, precision kept, the velocity's identity, observers, the GIL."""
import threading
import time

import numpy as np
import pytest

import gfd
from conftest import relative_error

TARGET = gfd.toy.sample("8gaussians", 600, seed=11)


@pytest.mark.parametrize("options, flags", [
    ({}, []),
    ({"divergence": "reverse-kl", "kernel": "laplacian", "stepper": "heun"},
     ["--divergence", "reverse-kl", "--kernel", "laplacian", "--stepper", "heun"]),
    ({"divergence": "chi2", "bandwidth": 0.4}, ["--divergence", "chi2", "--bandwidth", "0.4"]),
    ({"divergence": "mmd", "bandwidth": "scott"}, ["--divergence", "mmd", "--bandwidth", "scott"]),
    ({"divergence": "alpha", "alpha": 0.3, "kernel": "imq", "imq_beta": 2.0},
     ["--divergence", "alpha", "--alpha", "0.3", "--kernel", "imq", "--imq-beta", "2"]),
    ({"divergence": "mixed", "mix": (1.0, 0.5), "anneal": (1.5, 0.2)},
     ["--divergence", "mixed", "--mix", "1:0.5", "--anneal", "1.5:0.2"]),
    # Deng et al.'s field amplifies round-off (1e-16 at the start, 1e-7 after 20 steps for a mere
    # reordering of the targets): compared over 4 steps.
    ({"divergence": "drifting-deng", "kernel": "laplacian", "steps": 4},
     ["--divergence", "drifting-deng", "--kernel", "laplacian"]),
    ({"evaluator": "tree", "tolerance": 1e-4}, ["--evaluator", "tree", "--tolerance", "1e-4"]),
    ({"evaluator": "grid"}, ["--evaluator", "grid"]),
    ({"stepper": "adaptive", "dt": 0.8, "max_displacement": 0.25},
     ["--stepper", "adaptive", "--dt", "0.8", "--max-displacement", "0.25"]),
])
def test_drift_matches_the_command_line(tmp_path, cli, options, flags):
    np.save(tmp_path / "t.npy", TARGET)
    options = dict(options)
    steps = options.pop("steps", 40)
    cli(["drift", "--target", "t.npy", "--holdout", "0", "--n", 300, "--seed", 3, "--steps", steps,
         "--out", "x.npy", "--quiet", *flags], tmp_path)
    want = np.load(tmp_path / "x.npy")
    got = gfd.drift(TARGET, n=300, seed=3, steps=steps, **options)
    assert got.dtype == np.float64 and got.shape == (300, 2)
    assert relative_error(got, want) <= 1e-12


def test_drift_from_a_given_start_matches_the_command_line(tmp_path, cli):
    start = gfd.toy.sample("moons", 250, seed=5)
    np.save(tmp_path / "t.npy", TARGET)
    np.save(tmp_path / "i.npy", start)
    cli(["drift", "--target", "t.npy", "--init", "i.npy", "--holdout", "0", "--steps", 30,
         "--out", "x.npy", "--quiet"], tmp_path)
    got = gfd.drift(TARGET, init=start, steps=30)
    assert relative_error(got, np.load(tmp_path / "x.npy")) <= 1e-12


def test_float32_in_gives_float32_out_and_matches_the_command_line(tmp_path, cli):
    t32 = TARGET.astype(np.float32)
    start = gfd.Flow(TARGET).default_start(200)
    np.save(tmp_path / "t.npy", TARGET)
    np.save(tmp_path / "i.npy", start)
    cli(["drift", "--target", "t.npy", "--init", "i.npy", "--holdout", "0", "--steps", 25,
         "--precision", "float", "--out", "x.npy", "--quiet"], tmp_path)
    got = gfd.drift(t32, init=start.astype(np.float32), steps=25)
    assert got.dtype == np.float32
    # The tool reads both files in double and rounds them to float, as t32 and the start are: the
    # same float flow. It holds the targets in another order (its seeded split permutes them even
    # with --holdout 0), so float sums round differently: 1e-7 after one step, 1e-6 after 25, as
    # for a mere reordering of the targets in Python.
    assert relative_error(got, np.load(tmp_path / "x.npy")) <= 1e-5
    assert relative_error(got, gfd.drift(TARGET, init=start, steps=25)) <= 1e-3


def test_sphere_flow_matches_the_command_line(tmp_path, cli):
    target, _ = gfd.toy.vmf_mixture(3, 4, 40.0, 400, seed=2)
    np.save(tmp_path / "t.npy", target)
    cli(["drift", "--manifold", "sphere", "--target", "t.npy", "--holdout", "0", "--n", 200,
         "--steps", 30, "--out", "x.npy", "--quiet"], tmp_path)
    got = gfd.drift(target, n=200, steps=30, manifold="sphere")
    assert relative_error(got, np.load(tmp_path / "x.npy")) <= 1e-12
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-12)


def test_kl_velocity_is_the_difference_of_the_two_scores():
    # DESIGN 1.2: the KL(q||p) flow moves particles with s_p - s_q.
    x = gfd.toy.sample("moons", 300, seed=1)
    h = 0.35
    v = gfd.Flow(TARGET, bandwidth=h).velocity(x, h)
    want = gfd.kde(TARGET, h).score(x) - gfd.kde(x, h).score(x)
    assert relative_error(v, want) <= 1e-12


def test_weights_equal_repeated_points():
    base = TARGET[:200]
    w = np.ones(200)
    w[:50] = 2.0
    repeated = np.vstack([base, base[:50]])
    x = gfd.toy.sample("moons", 100, seed=4)
    v_w = gfd.Flow(base, weights=w, bandwidth=0.5).velocity(x, 0.5)
    v_r = gfd.Flow(repeated, bandwidth=0.5).velocity(x, 0.5)
    assert relative_error(v_w, v_r) <= 1e-12


def test_observer_sees_the_steps_and_stops_the_run():
    seen = []

    def observer(state):
        seen.append((state.step, state.particles.shape))
        return state.step < 30

    x, rep = gfd.Flow(TARGET, steps=100).run(n=100, observer=observer, observe_every=10)
    assert [s for s, _ in seen] == [10, 20, 30]
    assert all(shape == (100, 2) for _, shape in seen)
    assert rep.steps == 30 and rep.converged and rep.stop_reason == "observer"
    assert x.shape == (100, 2)


def test_observer_state_particles_expire_after_the_call():
    kept = []
    gfd.Flow(TARGET, steps=5).run(n=20, observer=kept.append, observe_every=5)
    assert kept and "FlowState(step=5" in repr(kept[0])
    with pytest.raises(ValueError, match="only readable during the observer call"):
        kept[0].particles


def test_an_exception_in_the_observer_propagates():
    def observer(state):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        gfd.drift(TARGET, n=50, steps=20, observer=observer, observe_every=1)


def test_the_gil_is_released_while_a_flow_runs():
    big = gfd.toy.sample("8gaussians", 4000, seed=1)
    t = threading.Thread(target=lambda: gfd.drift(big, n=4000, steps=60))
    ticks = 0
    t.start()
    while t.is_alive():
        ticks += 1
        time.sleep(0.002)
    t.join()
    assert ticks >= 20, f"the main thread ran only {ticks} times during the flow"


def test_non_contiguous_and_read_only_inputs_give_the_same_flow():
    fortran = np.asfortranarray(TARGET)
    strided = np.repeat(TARGET, 2, axis=0)[::2]
    ro = TARGET.copy()
    ro.setflags(write=False)
    want = gfd.drift(TARGET, n=80, steps=15)
    for t in (fortran, strided, ro, TARGET.tolist()):
        assert relative_error(gfd.drift(t, n=80, steps=15), want) == 0.0


def test_integer_input_is_converted_to_float64():
    t = np.round(TARGET * 10).astype(np.int64)
    x = gfd.drift(t, n=50, steps=5)
    assert x.dtype == np.float64
    assert relative_error(x, gfd.drift(t.astype(np.float64), n=50, steps=5)) == 0.0


def test_drift_converges_on_a_known_distribution():
    x = gfd.drift(TARGET, n=600, seed=1)
    fresh = gfd.toy.sample("8gaussians", 600, seed=99)
    noise_floor = gfd.metrics.energy_distance(gfd.toy.sample("8gaussians", 600, seed=98), fresh)
    assert gfd.metrics.energy_distance(x, fresh) < 10 * abs(noise_floor) + 0.02
    centres, sd = gfd.toy.mixture("8gaussians")
    cov = gfd.metrics.mode_coverage(x, centres, sd)
    assert cov["modes_covered"] == 8 and cov["fraction_near"] > 0.95


def test_repr_and_options():
    f = gfd.Flow(TARGET, divergence="js", bandwidth=0.3)
    assert "divergence='js'" in repr(f) and f.options["bandwidth"] == 0.3
    assert set(gfd.divergences()) >= {"kl", "reverse-kl", "chi2", "mmd", "drifting-deng"}
    assert list(gfd.kernels()) == ["gaussian", "laplacian", "epanechnikov", "imq"]
    assert list(gfd.evaluators()) == ["exact", "tree", "grid"]
    assert list(gfd.steppers()) == ["euler", "heun", "adaptive"]


def test_progress_bar_does_not_change_the_run():
    pytest.importorskip("tqdm")
    seen = []
    x, rep = gfd.Flow(TARGET, steps=60).run(n=50, progress=True, observe_every=25,
                                            observer=lambda s: seen.append(s.step))
    assert seen == [25, 50, 60]  # the user's steps (and the last), not the bar's
    assert relative_error(x, gfd.Flow(TARGET, steps=60).run(n=50)[0]) == 0.0


def test_bandwidth_schedule_options_match_the_library():
    # A rule scaled by a factor is the fixed bandwidth of that value: Scott's rule on the
    # targets, which the KDE reports.
    h = gfd.kde(TARGET, "scott").bandwidth
    x = gfd.toy.sample("moons", 100, seed=2)
    a = gfd.drift(TARGET, init=x, steps=10, bandwidth="scott", bandwidth_factor=0.5)
    b = gfd.drift(TARGET, init=x, steps=10, bandwidth=0.5 * h)
    assert relative_error(a, b) <= 1e-12
    two = gfd.Flow(TARGET, bandwidth=0.4, multipliers=[1.0, 2.0])
    f1, f2 = gfd.Flow(TARGET, bandwidth=0.4), gfd.Flow(TARGET, bandwidth=0.8)
    # Summed over h c_m, each velocity taken at its own bandwidth (velocity_system).
    want = f1.velocity(x, 0.4) + f2.velocity(x, 0.8)
    assert relative_error(two.velocity(x, 0.4), want) <= 1e-12


def test_ctrl_c_stops_a_long_flow():
    import _thread
    import signal
    # Python's own SIGINT handler, even where the test runner's parent ignores SIGINT (a
    # background job): interrupt_main then raises KeyboardInterrupt as Ctrl-C would.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    big = gfd.toy.sample("8gaussians", 2000, seed=1)
    timer = threading.Timer(0.3, _thread.interrupt_main)  # as Ctrl-C would, from outside
    t0 = time.perf_counter()
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            gfd.drift(big, n=2000, steps=5000)  # a minute or more if nothing stopped it
        timer.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert time.perf_counter() - t0 < 10
