# SPDX-License-Identifier: MIT
# Drift Gaussian noise into 8 Gaussians along the KL flow and draw it: python3 quickstart.py
import matplotlib.pyplot as plt
import gfd

target = gfd.toy.sample("8gaussians", 2000, seed=0)      # N x 2, one point per row
x0 = gfd.Flow(target).default_start(1000)                 # N(mean, sd^2 I) of the target
x = gfd.drift(target, init=x0, steps=500)                 # KL(q||p) flow, annealed bandwidth
print("sliced W2 to a fresh sample:", gfd.metrics.sliced_wasserstein2(x, gfd.toy.sample("8gaussians", 1000, seed=1)))

fig, ax = plt.subplots(1, 3, figsize=(12, 4), sharex=True, sharey=True)
for a, pts, title in zip(ax, (x0, x, target), ("start", "after 500 steps", "target")):
    a.scatter(pts[:, 0], pts[:, 1], s=2); a.set_title(title); a.set_aspect("equal")
fig.savefig("gfd-quickstart.png", dpi=100)
print("wrote gfd-quickstart.png")
