#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""One flow, four ways: gfd from Python, gfd from C++ (the command-line tool), NumPy, PyTorch.

The flow: KL(q||p) with a Gaussian kernel of fixed bandwidth h = 0.3, explicit Euler with
step dt h^2 (dt = 0.5) and the per-particle cap 0.5 h, 1000 particles toward 1000 points of
8gaussians, 500 steps: gfd's defaults but a fixed bandwidth, so that the NumPy and PyTorch
versions below are the same computation (they are checked against gfd's particles). Each
configuration runs --repeat times; the table shows the fastest. Run with the interpreter that
has gfd installed (see README "Python"), e.g.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/python/compare_flow.py --cli build/gfd
"""
import argparse
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import gfd

H, DT, CAP, STEPS, N = 0.3, 0.5, 0.5, 500, 1000


def blas_libraries():
    """The BLAS libraries this process has mapped (after NumPy and PyTorch ran a product)."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if "blas" in path.lower() or "mkl" in path.lower():
                libs.add(os.path.realpath(path))
    return sorted(libs)


def numpy_flow(target, start):
    """gfd's flow in NumPy: v = s_p - s_q, s_c(x) = (softmax-weighted mean of c - x) / h^2."""
    x = start.copy()
    y = target
    inv = 1.0 / (2 * H * H)

    def mean_of(c, x):
        sq = (x * x).sum(1)[:, None] - 2 * x @ c.T + (c * c).sum(1)[None, :]
        a = -sq * inv
        a -= a.max(1, keepdims=True)
        w = np.exp(a)
        return (w @ c) / w.sum(1, keepdims=True)

    for _ in range(STEPS):
        v = (mean_of(y, x) - mean_of(x, x)) / (H * H)
        dx = DT * H * H * v
        norm = np.linalg.norm(dx, axis=1, keepdims=True)
        dx *= np.minimum(1.0, CAP * H / np.maximum(norm, 1e-300))
        x += dx
    return x


def torch_flow(target, start, dtype):
    import torch
    y = torch.tensor(target, dtype=dtype)
    x = torch.tensor(start, dtype=dtype)
    inv = 1.0 / (2 * H * H)

    def mean_of(c, x):
        sq = (x * x).sum(1)[:, None] - 2 * x @ c.T + (c * c).sum(1)[None, :]
        w = torch.softmax(-sq * inv, dim=1)
        return w @ c

    with torch.no_grad():
        for _ in range(STEPS):
            v = (mean_of(y, x) - mean_of(x, x)) / (H * H)
            dx = DT * H * H * v
            norm = torch.linalg.norm(dx, dim=1, keepdim=True)
            dx *= torch.clamp(CAP * H / torch.clamp(norm, min=1e-300), max=1.0)
            x += dx
    return x.numpy()


def best(f, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", default=os.environ.get("GFD_CLI", "build/gfd"),
                    help="the gfd command-line tool (default: build/gfd)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    args.cli = str(Path(args.cli).resolve())

    target = gfd.toy.sample("8gaussians", N, seed=0)
    flow = gfd.Flow(target, bandwidth=H, steps=STEPS)
    start = flow.default_start(N, seed=0)
    rows = []

    t_py, x_py = best(lambda: gfd.drift(target, init=start, steps=STEPS, bandwidth=H), args.repeat)
    rows.append(("gfd from Python (gfd.drift)", "float64", t_py, 0.0))

    with tempfile.TemporaryDirectory() as d:
        np.save(Path(d) / "t.npy", target)
        np.save(Path(d) / "i.npy", start)
        cxx = []
        for _ in range(args.repeat):
            out = subprocess.run([args.cli, "drift", "--target", "t.npy", "--init", "i.npy",
                                  "--holdout", "0", "--steps", str(STEPS), "--bandwidth", str(H),
                                  "--out", "x.npy", "--quiet"], cwd=d, check=True,
                                 capture_output=True, text=True).stdout
            cxx.append(float(re.search(r"flow: \d+ steps in ([0-9.]+) s", out).group(1)))
        x_cxx = np.load(Path(d) / "x.npy")
    err = lambda a: float(np.max(np.abs(a - x_py)) / np.max(np.abs(x_py)))  # noqa: E731
    rows.append(("gfd from C++ (gfd drift, its flow time)", "float64", min(cxx), err(x_cxx)))

    t_np, x_np = best(lambda: numpy_flow(target, start), 1)
    rows.append((f"NumPy {np.__version__}", "float64", t_np, err(x_np)))
    if not args.no_torch:
        try:
            import torch
            torch.set_num_threads(os.cpu_count())
            for dt, name in ((torch.float64, "float64"), (torch.float32, "float32")):
                t, x = best(lambda: torch_flow(target, start, dt), 1)
                rows.append((f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)", name, t, err(x)))
        except ImportError:
            print("(PyTorch not installed: Debian python3-torch)")

    print(f"KL flow, Gaussian kernel h = {H}, Euler dt = {DT} h^2, cap {CAP} h: {N} particles, "
          f"{N} targets (8gaussians), {STEPS} steps; fastest of {args.repeat} (NumPy, PyTorch: 1 run)")
    print(f"{'':44s} {'dtype':8s} {'seconds':>8s} {'vs Python':>10s} {'rel. diff':>10s}")
    for name, dt, t, e in rows:
        print(f"{name:44s} {dt:8s} {t:8.3f} {t / t_py:9.2f}x {e:10.1e}")
    print("BLAS mapped by this process: " + (", ".join(blas_libraries()) or "none"))
    print(f"CPU cores: {os.cpu_count()}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")


if __name__ == "__main__":
    main()
