# SPDX-License-Identifier: MIT
"""gfd.toy: the same points as `gfd sample` (the C++ library) for the same seed."""
import numpy as np
import pytest

import gfd
from conftest import relative_error


@pytest.mark.parametrize("name", gfd.toy.names())
def test_sample_matches_the_command_line(tmp_path, cli, name):
    cli(["sample", name, "--n", 321, "--seed", 7, "--out", "s.npy"], tmp_path)
    got = gfd.toy.sample(name, 321, seed=7)
    assert got.shape == (321, 2) and got.dtype == np.float64
    # Bit for bit but for the last place of a sine or cosine (the two builds may vectorise the
    # math library differently).
    assert relative_error(got, np.load(tmp_path / "s.npy")) <= 1e-15


def test_names_dtype_and_mixtures():
    assert gfd.toy.names()[:2] == ["8gaussians", "25gaussians"]
    assert gfd.toy.sample("moons", 10, dtype=np.float32).dtype == np.float32
    centres, sd = gfd.toy.mixture("8gaussians")
    assert centres.shape == (8, 2) and sd > 0
    assert gfd.toy.mixture("moons") is None
    with pytest.raises(ValueError, match="unknown toy 'nope'"):
        gfd.toy.mixture("nope")


def test_sphere_toys_are_unit_vectors():
    x = gfd.toy.sphere_uniform(5, 100, seed=1)
    y, c = gfd.toy.vmf_mixture(4, 3, 30.0, 90, seed=2)
    assert x.shape == (100, 5) and y.shape == (90, 4) and c.shape == (3, 4)
    for a in (x, y, c):
        assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-12)
