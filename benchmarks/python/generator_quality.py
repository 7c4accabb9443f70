#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The one-step generator's quality in exact W2, from data made outside the project.

For each mixture (8 Gaussians: radius 2 sqrt 2, sd 0.2; 25 Gaussians: the 5 x 5 grid at
-3, -1.5, 0, 1.5, 3, sd 0.1), NumPy draws 2000 training points, `gfd train` fits the generator
with its defaults and `gfd generate` writes 1000 samples. The exact W2 (POT's network simplex,
squared Euclidean cost) between those and a fresh 1000-point sample, averaged over --floors fresh
samples, is divided by the W2 between two fresh 1000-point samples averaged over as many pairs
(the noise floor): 1 means as close as a fresh sample. (One W2 between 1000-point samples of a
mixture varies by 20-30 % from draw to draw with the modes' random counts; hence the means.) Also the modes covered (>= 1 % of the samples within 3 sd) and the share of
samples within 3 sd of a mode. Needs Debian's python3-pot and python3-numpy:

    /usr/bin/python3 benchmarks/python/generator_quality.py --cli build/gfd [--seeds 0 1 2] [-- extra gfd train options]
"""
import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import ot


def mixture(name):
    if name == "8gaussians":
        a = np.arange(8) * np.pi / 4
        return np.stack([2 * np.sqrt(2) * np.cos(a), 2 * np.sqrt(2) * np.sin(a)], 1), 0.2
    g = np.array([-3, -1.5, 0, 1.5, 3])
    return np.array([[u, v] for u in g for v in g]), 0.1


def draw(name, n, rng):
    centres, sd = mixture(name)
    return centres[rng.integers(len(centres), size=n)] + sd * rng.normal(size=(n, 2))


def w2(a, b):
    cost = ot.dist(a, b)  # squared Euclidean
    return float(np.sqrt(ot.emd2(np.full(len(a), 1 / len(a)), np.full(len(b), 1 / len(b)), cost, numItermax=10**7)))


def modes(name, x):
    centres, sd = mixture(name)
    d = np.sqrt(((x[:, None, :] - centres[None]) ** 2).sum(-1))
    near = d.min(1) <= 3 * sd
    counts = np.bincount(d.argmin(1)[near], minlength=len(centres))
    return int((counts >= 0.01 * len(x)).sum()), len(centres), float(near.mean())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cli", default="build/gfd")
    p.add_argument("--toys", nargs="+", default=["8gaussians", "25gaussians"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--floors", type=int, default=10)
    p.add_argument("train_args", nargs="*", help="extra gfd train options (after --)")
    a = p.parse_args()
    print(f"{'target':<12} {'seed':>4} {'W2 gen':>8} {'floor':>8} {'ratio':>6} {'modes':>7} {'within 3 sd':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in a.toys:
            for seed in a.seeds:
                rng = np.random.default_rng(1000 + seed)
                data = draw(name, 2000, rng)
                np.savetxt(tmp / "data.csv", data, delimiter=",", header="x0,x1", comments="", fmt="%.17g")
                subprocess.run([a.cli, "train", "--target", str(tmp / "data.csv"), "--out", str(tmp / "m.gfdgen"),
                                "--seed", str(seed), "--quiet", *a.train_args], check=True, stdout=subprocess.DEVNULL)
                subprocess.run([a.cli, "generate", "--model", str(tmp / "m.gfdgen"), "--n", "1000", "--seed",
                                str(seed + 7), "--out", str(tmp / "g.csv")], check=True, stdout=subprocess.DEVNULL)
                gen = np.loadtxt(tmp / "g.csv", delimiter=",", skiprows=1)
                w_gen = np.mean([w2(gen, draw(name, 1000, rng)) for _ in range(a.floors)])
                floor = np.mean([w2(draw(name, 1000, rng), draw(name, 1000, rng)) for _ in range(a.floors)])
                covered, k, near = modes(name, gen)
                print(f"{name:<12} {seed:>4} {w_gen:>8.4f} {floor:>8.4f} {w_gen / floor:>6.2f} {covered:>3}/{k:<3} {100 * near:>10.1f}%")


if __name__ == "__main__":
    main()
