#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Times gfd's KDE evaluators against the peers a user would otherwise pick, on the same data
in one run, and prints a Markdown table of times, ratios and accuracy.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        /usr/bin/python3 benchmarks/compare_peers.py --gfd build/gfd [--quick] [--cases ...]

Peers (Debian packages of the system interpreter): PyTorch (python3-torch: cdist + softmax +
matmul in float32, the way drifting-field code computes scores), scikit-learn
(python3-sklearn: KernelDensity, tree, rtol = 1e-3) and SciPy (python3-scipy: gaussian_kde
with an isotropic covariance h^2 I). gfd runs through its command-line tool (`gfd kde`), which
times the evaluation apart from file I/O. Accuracy is the largest relative error of the
density (and of the score, where the peer gives one) against a float64 NumPy reference on a
subsample of the queries. Peers that would take minutes on the full query set are timed on a
subsample and their time scaled to all queries (marked "extrapolated").

High dimensions (cases `highd`: d = 512, N = M = 4096 and d = 2048, N = M = 2048): gfd in double
and float (`--precision`) against PyTorch in float32 and float64, with the machine's GEMM peak
measured in the same run (NumPy's matmul of two 4096 x 4096 matrices, best of 3, in float64 and
float32) and every implementation's rate in GFLOP/s, counting 4 d flops per pair (the two
products). Every high-d time is the best of 3 passes (`gfd kde --repeat 3`; PyTorch in a loop),
as the peak is: the first pass pays for thread pools and page faults. The script prints which BLAS NumPy and PyTorch loaded (threadpoolctl, Debian
python3-threadpoolctl). OPENBLAS_CORETYPE forces an older OpenBLAS kernel: unset it (and
OPENBLAS_L2_SIZE) for this command, as above, or the peak is that of the forced kernel.
"""
import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

import numpy as np


def moons(n, rng):
    """Two moons (scaled by 2 and centred), the same family as gfd's 'moons' toy."""
    k = n // 2
    t1 = np.pi * rng.random(n - k)
    t2 = np.pi * rng.random(k)
    a = np.stack([np.cos(t1), np.sin(t1)], 1)
    b = np.stack([1 - np.cos(t2), 0.5 - np.sin(t2)], 1)
    x = np.concatenate([a, b]) * 2 - np.array([1.0, 0.5])
    return x + 0.1 * rng.standard_normal(x.shape)


def reference(y, q, h):
    """float64 log-density (normalised Gaussian KDE) and score at q, exactly, in chunks."""
    n, d = q.shape
    logp = np.empty(n)
    score = np.empty((n, d))
    for s in range(0, n, 256):
        qq = q[s:s + 256]
        d2 = ((qq[:, None, :] - y[None, :, :]) ** 2).sum(-1)
        l = -0.5 * d2 / h**2
        mx = l.max(1, keepdims=True)
        e = np.exp(l - mx)
        se = e.sum(1)
        logp[s:s + 256] = mx[:, 0] + np.log(se) - np.log(len(y)) - d * np.log(h) - 0.5 * d * np.log(2 * np.pi)
        score[s:s + 256] = (e @ y / se[:, None] - qq) / h**2
    return logp, score


def rel_err(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def run_gfd(binary, y, q, h, evaluator, tol, tmp, precision="double", repeat=1):
    dy, dq, out = (os.path.join(tmp, f) for f in ("y.npy", "q.npy", "out.npy"))
    np.save(dy, y)
    np.save(dq, q)
    cmd = [binary, "kde", "--data", dy, "--query", dq, "--kernel", "gaussian", "--bandwidth", repr(h),
           "--out", out, "--threads", "2", "--evaluator", evaluator, "--precision", precision,
           "--repeat", str(repeat)]
    if evaluator in ("tree", "grid"):
        cmd += ["--tolerance", repr(tol)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    seconds = float(re.search(r"evaluate\s+([0-9.]+) s", res.stdout).group(1))
    r = np.load(out)
    return seconds, r[:, 0], r[:, 1:]


def run_torch(y, q, h, dtype=np.float32, repeat=1):
    """PyTorch's scores and log-sums; with repeat > 1 the best time of that many passes."""
    import torch
    torch.set_num_threads(2)
    yt = torch.from_numpy(y.astype(dtype))
    qt = torch.from_numpy(q.astype(dtype))
    seconds = float("inf")
    for _ in range(repeat):
        out_l, out_s = [], []
        start = time.perf_counter()
        with torch.no_grad():
            for s in range(0, len(qt), 1024):
                qq = qt[s:s + 1024]
                logits = -0.5 * torch.cdist(qq, yt) ** 2 / h**2
                a = torch.softmax(logits, 1)
                out_s.append((a @ yt - qq) / h**2)
                out_l.append(torch.logsumexp(logits, 1))
        seconds = min(seconds, time.perf_counter() - start)
    d = y.shape[1]
    logp = torch.cat(out_l).double().numpy() - np.log(len(y)) - d * np.log(h) - 0.5 * d * np.log(2 * np.pi)
    return seconds, logp, torch.cat(out_s).double().numpy()


def gemm_peak(dtype, n=4096, reps=3):
    """GFLOP/s of NumPy's matmul (its BLAS, all threads) on two n x n matrices, best of reps."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    a @ b  # warm-up: thread pool, page faults
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / best / 1e9


def blas_report():
    """Lines naming the BLAS (and OpenMP) libraries NumPy and PyTorch loaded, from threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError as e:
        return [f"(threadpoolctl missing: {e})"]
    lines = []
    try:
        import torch  # noqa: F401  (load PyTorch's libraries too)
    except ImportError:
        lines.append("(PyTorch not installed: NumPy's libraries only)")
    for lib in threadpool_info():
        lines.append(f"{lib.get('internal_api')} {lib.get('version')} ({lib.get('threading_layer', '-')} threads, "
                     f"kernel {lib.get('architecture', '-')}, {lib.get('num_threads')} threads): {lib.get('filepath')}")
    try:
        import torch
        cfg = torch.__config__.show()
        blas = [l.strip() for l in cfg.splitlines() if "BLAS" in l]
        lines.append("PyTorch build: " + "; ".join(blas))
    except ImportError:
        pass
    except Exception as e:  # pragma: no cover - informational only
        lines.append(f"PyTorch config unavailable: {e}")
    return lines


def run_sklearn(y, q, h):
    from sklearn.neighbors import KernelDensity
    start = time.perf_counter()
    kd = KernelDensity(kernel="gaussian", bandwidth=h, rtol=1e-3).fit(y)
    logp = kd.score_samples(q)
    return time.perf_counter() - start, logp


def run_scipy(y, q, h):
    from scipy.stats import gaussian_kde

    class Isotropic(gaussian_kde):
        """gaussian_kde with covariance h^2 I instead of a scaled data covariance."""

        def __init__(self, data, h):
            self._h = h
            super().__init__(data)

        def _compute_covariance(self):
            # The attributes SciPy's logpdf reads; their set changed over releases (inv_cov
            # became a read-only property in 1.10, cho_cov appeared), so set what exists.
            eye = np.eye(self.d)
            self.factor = self._h
            self._data_covariance = eye
            self._data_cho_cov = eye
            self._data_inv_cov = eye
            self.covariance = eye * self._h**2
            self.cho_cov = eye * self._h
            self.log_det = 2 * self.d * np.log(self._h) + self.d * np.log(2 * np.pi)
            try:
                self.inv_cov = eye / self._h**2
            except AttributeError:
                pass  # a property computed from covariance_factor() and the data covariance

        def covariance_factor(self):
            return self._h

    start = time.perf_counter()
    kd = Isotropic(y.T, h)
    logp = kd.logpdf(q.T)
    return time.perf_counter() - start, logp


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gfd", default="build/gfd", help="path of the gfd binary")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--cases", nargs="+", default=["scores", "density", "highd"],
                    choices=["scores", "density", "highd"], help="which groups of cases to run")
    args = ap.parse_args()
    rates = []  # (case, implementation, GFLOP/s, % of the peak of its precision)
    rng = np.random.default_rng(0)
    sub = 1000  # queries for the float64 reference
    rows = []

    def add(case, name, seconds, base, lp=None, sc=None, ref=None, note=""):
        err_l = rel_err(np.exp(lp[:sub] - ref[0]), np.ones(sub)) if lp is not None else float("nan")
        err_s = (float(np.max(np.linalg.norm(sc[:sub] - ref[1], axis=1) / np.linalg.norm(ref[1], axis=1).max()))
                 if sc is not None else float("nan"))
        rows.append((case, name, seconds, seconds / base, err_l, err_s, note))

    with tempfile.TemporaryDirectory() as tmp:
        # 1. Exact scores, d = 2 and d = 64: gfd exact vs PyTorch.
        for d, n in ((2, 4096 if args.quick else 16384), (64, 2048 if args.quick else 8192)):
            if "scores" not in args.cases:
                break
            y = moons(n, rng) if d == 2 else rng.standard_normal((n, d))
            q = moons(n, rng) if d == 2 else rng.standard_normal((n, d))
            h = 0.1 if d == 2 else 4.0
            ref = reference(y, q[:sub], h)
            case = f"scores, d = {d}, N = M = {n}"
            t_g, lp, sc = run_gfd(args.gfd, y, q, h, "exact", 0, tmp)
            add(case, "gfd exact (double)", t_g, t_g, lp, sc, ref)
            t_t, lp, sc = run_torch(y, q, h)
            add(case, "PyTorch cdist+softmax+matmul (float32)", t_t, t_g, lp, sc, ref)

        # 2. High dimensions: gfd double and float against PyTorch float32 and float64, and
        # every rate against the GEMM peak of its precision, measured here.
        if "highd" in args.cases:
            peak = {"float64": gemm_peak(np.float64), "float32": gemm_peak(np.float32)}
            for d, n in ((512, 1024 if args.quick else 4096), (2048, 512 if args.quick else 2048)):
                y = rng.standard_normal((n, d))
                q = rng.standard_normal((n, d))
                h = float(np.sqrt(d))
                ref = reference(y, q[:sub], h)
                case = f"scores, d = {d}, N = M = {n}"
                flops = 4.0 * d * n * n
                # Best of 3 passes each (the first pays for thread pools and page faults), as the
                # GEMM peak is: gfd through `gfd kde --repeat 3`, PyTorch in the loop.
                runs = [("gfd exact (double)", "float64", lambda: run_gfd(args.gfd, y, q, h, "exact", 0, tmp, "double", 3)),
                        ("gfd exact (float)", "float32", lambda: run_gfd(args.gfd, y, q, h, "exact", 0, tmp, "float", 3)),
                        ("PyTorch cdist+softmax+matmul (float32)", "float32", lambda: run_torch(y, q, h, np.float32, 3)),
                        ("PyTorch cdist+softmax+matmul (float64)", "float64", lambda: run_torch(y, q, h, np.float64, 3))]
                base = None
                for name, prec, fn in runs:
                    t, lp, sc = fn()
                    base = base or t
                    add(case, name, t, base, lp, sc, ref)
                    rates.append((case, name, flops / t / 1e9, 100 * flops / t / 1e9 / peak[prec], prec))

        # 3. Log-density, d = 2, N = M = 1e5, bandwidth = Scott / 4: tree, grid and exact vs peers.
        if "density" in args.cases:
            n = 20000 if args.quick else 100000
            y, q = moons(n, rng), moons(n, rng)
            sigma = np.sqrt(y.var(0, ddof=1).mean())
            h = sigma * n ** (-1 / 6) / 4
            ref = reference(y, q[:sub], h)
            case = f"log-density, d = 2, N = M = {n}, h = Scott/4"
            t_tree, lp, sc = run_gfd(args.gfd, y, q, h, "tree", 1e-3, tmp)
            add(case, "gfd tree (tolerance 1e-3)", t_tree, t_tree, lp, sc, ref)
            t_gr, lp, sc = run_gfd(args.gfd, y, q, h, "grid", 1e-3, tmp)
            add(case, "gfd grid (tolerance 1e-3)", t_gr, t_tree, lp, sc, ref)
            t_ex, lp, sc = run_gfd(args.gfd, y, q, h, "exact", 0, tmp)
            add(case, "gfd exact", t_ex, t_tree, lp, sc, ref)
            t_sk, lp = run_sklearn(y, q, h)
            add(case, "scikit-learn KernelDensity (rtol 1e-3)", t_sk, t_tree, lp, None, ref)
            m = 2000
            t_sp, lp = run_scipy(y, q[:m], h)
            add(case, "SciPy gaussian_kde (isotropic)", t_sp * n / m, t_tree, lp, None, ref,
                f"extrapolated from {m} queries")

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"Machine: {cpu}, {os.cpu_count()} cores; Python {platform.python_version()}; "
          f"gfd and PyTorch on 2 threads, scikit-learn and SciPy on 1.\n")
    print("BLAS and threads seen by threadpoolctl:")
    for line in blas_report():
        print(f"  {line}")
    if os.environ.get("OPENBLAS_CORETYPE"):
        print(f"  note: OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} forces that OpenBLAS kernel")
    print()
    print("| case | implementation | time (s) | time / first | max rel. error of p | max score error / max |score| | note |")
    print("|---|---|---:|---:|---:|---:|---|")
    for case, name, t, ratio, el, es, note in rows:
        fmt = lambda v: "—" if v != v else f"{v:.1e}"
        print(f"| {case} | {name} | {t:.3f} | {ratio:.2f}x | {fmt(el)} | {fmt(es)} | {note} |")
    if rates:
        print()
        print("| case | implementation | GFLOP/s (4 d flops per pair) | % of the GEMM peak of its precision |")
        print("|---|---|---:|---:|")
        for case, name, rate, pct, prec in rates:
            print(f"| {case} | {name} | {rate:.1f} | {pct:.0f} % of {prec} |")
        print(f"\nGEMM peak (NumPy matmul, 4096 x 4096, best of 3, this run): "
              f"float64 {peak['float64']:.1f} GFLOP/s, float32 {peak['float32']:.1f} GFLOP/s")


if __name__ == "__main__":
    sys.exit(main())
