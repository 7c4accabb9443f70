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


def test_conditional_training_matches_the_command_line(tmp_path, cli):
    # A labelled file from the tool; the same model from gfd.train(labels=...) and gfd train.
    cli(["sample", "8gaussians", "--n", 1000, "--seed", 0, "--labels", "--out", "l.csv"], tmp_path)
    table = np.loadtxt(tmp_path / "l.csv", delimiter=",", skiprows=1)
    cli(["train", "--target", "l.csv", "--label-column", "label", "--steps", 40, "--batch", 64,
         "--class-batch", 16, "--width", 32, "--depth", 2, "--seed", 5, "--out", "c.gfdgen", "--quiet"], tmp_path)
    cli(["generate", "--model", "c.gfdgen", "--class", 3, "--cfg", 2, "--n", 200, "--seed", 9,
         "--out", "g.csv"], tmp_path)
    g = gfd.train(table[:, :2], labels=table[:, 2], steps=40, batch=64, class_batch=16, width=32,
                  depth=2, seed=5)
    assert g.classes == 8 and g.guidance_range == (1.0, 4.0)
    assert "classes=8" in repr(g)
    # The tool seeds class K's noise with seed + K (gfd generate --class K).
    got = g.generate(200, seed=9 + 3, cls=3, cfg=2.0)
    ref = np.loadtxt(tmp_path / "g.csv", delimiter=",", skiprows=1)
    assert np.all(ref[:, 2] == 3) and np.all(ref[:, 3] == 2)
    assert relative_error(got, ref[:, :2]) <= 1e-12
    with pytest.raises(ValueError, match="give a class"):
        g.generate(5)
    with pytest.raises(ValueError, match="class must be in"):
        g.generate(5, cls=8)
    with pytest.raises(ValueError, match="label 1 is not a class"):
        gfd.train(table[:3, :2], labels=[0, -1, 2], steps=1)
    with pytest.raises(ValueError, match="divergence='drifting-deng'"):
        gfd.train(table[:, :2], labels=table[:, 2], divergence="kl", steps=1)
