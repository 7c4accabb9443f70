# SPDX-License-Identifier: MIT
"""gfd.train and gfd.Generator: the same model as `gfd train`, save/load round trips, the same
samples as `gfd generate`."""
import numpy as np
import pytest

import gfd
from conftest import relative_error

DATA = gfd.toy.sample("8gaussians", 1000, seed=0)
SMALL = dict(steps=40, batch=64, width=32, depth=2, seed=5)


def test_train_matches_the_command_line_and_round_trips(tmp_path, cli):
    np.save(tmp_path / "t.npy", DATA)
    cli(["train", "--target", "t.npy", "--steps", 40, "--batch", 64, "--width", 32, "--depth", 2,
         "--seed", 5, "--out", "m.gfdgen", "--quiet"], tmp_path)
    cli(["generate", "--model", "m.gfdgen", "--n", 300, "--seed", 9, "--out", "g.npy"], tmp_path)
    g = gfd.train(DATA, **SMALL)
    assert (g.dim, g.noise_dim, g.hidden, g.steps_trained) == (2, 2, [32, 32], 40)
    got = g.generate(300, seed=9)
    assert relative_error(got, np.load(tmp_path / "g.npy")) <= 1e-12
    # The tool's model file loads into the same generator.
    assert relative_error(gfd.load_generator(tmp_path / "m.gfdgen").generate(300, seed=9), got) <= 1e-12
    g.save(str(tmp_path / "py.gfdgen"))
    again = gfd.Generator.load(str(tmp_path / "py.gfdgen"))
    assert np.array_equal(again.generate(300, seed=9), got)
    assert "gfd.Generator(dim=2" in repr(again)


def test_history_observer_and_stop():
    seen = []
    g, history = gfd.train(DATA, observer=lambda p: seen.append(p["step"]) or p["step"] < 20,
                           observe_every=10, return_history=True, **SMALL)
    assert seen == [10, 20] and [p["step"] for p in history] == [10, 20]
    assert g.steps_trained == 20
    assert all(np.isfinite(p["loss"]) and p["sliced_w2"] > 0 for p in history)


def test_training_improves_the_samples():
    g0 = gfd.train(DATA, steps=1, batch=256, seed=1)
    g = gfd.train(DATA, steps=600, batch=256, seed=1)
    ref = gfd.toy.sample("8gaussians", 1000, seed=9)
    before = gfd.metrics.sliced_wasserstein2(g0.generate(1000, seed=2), ref)
    after = gfd.metrics.sliced_wasserstein2(g.generate(1000, seed=2), ref)
    assert after < 0.5 * before


def test_generator_errors(tmp_path):
    with pytest.raises(ValueError, match="gfd::load_generator.*nothing.gfdgen"):
        gfd.load_generator(tmp_path / "nothing.gfdgen")
    (tmp_path / "bad.gfdgen").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.gfdgen"):
        gfd.load_generator(tmp_path / "bad.gfdgen")
    with pytest.raises(ValueError, match="unknown option 'widht'"):
        gfd.train(DATA, steps=2, widht=3)
    with pytest.raises(ValueError, match="precision"):
        gfd.train(DATA, steps=2, precision="half")
    g = gfd.train(DATA, steps=2, batch=16, width=8, depth=1)
    with pytest.raises(ValueError, match="noise"):
        g.generate_from_noise(np.zeros((5, 3)))
