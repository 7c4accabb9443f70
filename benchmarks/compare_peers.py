#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Times gfd's KDE evaluators against the peers a user would otherwise pick, on the same data
in one run, and prints a Markdown table of times, ratios and accuracy.

    /usr/bin/python3 benchmarks/compare_peers.py --gfd build/gfd [--quick]

Peers (Debian packages of the system interpreter): PyTorch (python3-torch: cdist + softmax +
matmul in float32, the way drifting-field code computes scores), scikit-learn
(python3-sklearn: KernelDensity, tree, rtol = 1e-3) and SciPy (python3-scipy: gaussian_kde
with an isotropic covariance h^2 I). gfd runs through its command-line tool (`gfd kde`), which
times the evaluation apart from file I/O. Accuracy is the largest relative error of the
density (and of the score, where the peer gives one) against a float64 NumPy reference on a
subsample of the queries. Peers that would take minutes on the full query set are timed on a
subsample and their time scaled to all queries (marked "extrapolated").
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


def run_gfd(binary, y, q, h, evaluator, tol, tmp):
    dy, dq, out = (os.path.join(tmp, f) for f in ("y.npy", "q.npy", "out.npy"))
    np.save(dy, y)
    np.save(dq, q)
    cmd = [binary, "kde", "--data", dy, "--query", dq, "--kernel", "gaussian", "--bandwidth", repr(h),
           "--out", out, "--threads", "2", "--evaluator", evaluator]
    if evaluator == "tree":
        cmd += ["--tolerance", repr(tol)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    seconds = float(re.search(r"evaluate\s+([0-9.]+) s", res.stdout).group(1))
    r = np.load(out)
    return seconds, r[:, 0], r[:, 1:]


def run_torch(y, q, h):
    import torch
    torch.set_num_threads(2)
    yt = torch.from_numpy(y.astype(np.float32))
    qt = torch.from_numpy(q.astype(np.float32))
    out_l, out_s = [], []
    start = time.perf_counter()
    with torch.no_grad():
        for s in range(0, len(qt), 1024):
            qq = qt[s:s + 1024]
            logits = -0.5 * torch.cdist(qq, yt) ** 2 / h**2
            a = torch.softmax(logits, 1)
            out_s.append((a @ yt - qq) / h**2)
            out_l.append(torch.logsumexp(logits, 1))
    seconds = time.perf_counter() - start
    d = y.shape[1]
    logp = torch.cat(out_l).double().numpy() - np.log(len(y)) - d * np.log(h) - 0.5 * d * np.log(2 * np.pi)
    return seconds, logp, torch.cat(out_s).double().numpy()


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
    args = ap.parse_args()
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
            y = moons(n, rng) if d == 2 else rng.standard_normal((n, d))
            q = moons(n, rng) if d == 2 else rng.standard_normal((n, d))
            h = 0.1 if d == 2 else 4.0
            ref = reference(y, q[:sub], h)
            case = f"scores, d = {d}, N = M = {n}"
            t_g, lp, sc = run_gfd(args.gfd, y, q, h, "exact", 0, tmp)
            add(case, "gfd exact (double)", t_g, t_g, lp, sc, ref)
            t_t, lp, sc = run_torch(y, q, h)
            add(case, "PyTorch cdist+softmax+matmul (float32)", t_t, t_g, lp, sc, ref)

        # 2. Log-density, d = 2, N = M = 1e5, bandwidth = Scott / 4: tree vs exact vs peers.
        n = 20000 if args.quick else 100000
        y, q = moons(n, rng), moons(n, rng)
        sigma = np.sqrt(y.var(0, ddof=1).mean())
        h = sigma * n ** (-1 / 6) / 4
        ref = reference(y, q[:sub], h)
        case = f"log-density, d = 2, N = M = {n}, h = Scott/4"
        t_tree, lp, sc = run_gfd(args.gfd, y, q, h, "tree", 1e-3, tmp)
        add(case, "gfd tree (tolerance 1e-3)", t_tree, t_tree, lp, sc, ref)
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
    print("| case | implementation | time (s) | time / gfd | max rel. error of p | max score error / max |score| | note |")
    print("|---|---|---:|---:|---:|---:|---|")
    for case, name, t, ratio, el, es, note in rows:
        fmt = lambda v: "—" if v != v else f"{v:.1e}"
        print(f"| {case} | {name} | {t:.3f} | {ratio:.1f}x | {fmt(el)} | {fmt(es)} | {note} |")


if __name__ == "__main__":
    sys.exit(main())
