# SPDX-License-Identifier: MIT
"""examples/python run as smoke tests (headless matplotlib), each writing its picture."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gfd

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


@pytest.mark.parametrize("script, args", [("quickstart.py", []), ("sphere.py", []),
                                          ("generator.py", ["200"])])
def test_example_runs(tmp_path, script, args):
    pytest.importorskip("matplotlib")
    # The gfd under test, wherever it was imported from (a venv, or PYTHONPATH=build/python).
    here = str(Path(gfd.__file__).resolve().parents[1])
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    pictures = list(tmp_path.glob("gfd-*.png"))
    assert pictures and all(p.stat().st_size > 10000 for p in pictures), r.stdout
