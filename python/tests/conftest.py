# SPDX-License-Identifier: MIT
"""Fixtures of gfd's Python tests: the command-line tool (the C++ library as users run it), found
from GFD_CLI or in the usual build trees, and small clouds."""
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _find_cli():
    env = os.environ.get("GFD_CLI")
    if env:
        if not Path(env).is_file():
            raise RuntimeError(f"GFD_CLI={env}: no such file")
        return env
    for build in ("build", "build-py", "build-release"):
        p = ROOT / build / "gfd"
        if p.is_file():
            return str(p)
    return shutil.which("gfd")


@pytest.fixture(scope="session")
def cli():
    """Runs `gfd ARGS...` in a directory; skips when the tool is not built (CI sets GFD_CLI)."""
    exe = _find_cli()
    if exe is None:
        pytest.skip("the gfd command-line tool is not built (set GFD_CLI=path/to/gfd)")

    def run(args, cwd):
        r = subprocess.run([exe, *map(str, args)], cwd=cwd, capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"gfd {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stderr}")
        return r.stdout

    return run


def relative_error(a, b):
    """max |a - b| / max |b|: the relative error of a whole cloud."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))
