# SPDX-License-Identifier: MIT
# A flow on the unit sphere S^2 (normalised embeddings live there): uniform particles drift into
# six von Mises-Fisher modes; the Gaussian kernel of the chord is the vMF kernel.
#   python3 sphere.py
import matplotlib.pyplot as plt
import numpy as np
import gfd

target, centres = gfd.toy.vmf_mixture(3, 6, 50.0, 2000, seed=1)   # unit vectors, 2000 x 3
x = gfd.drift(target, n=1000, steps=300, manifold="sphere")      # start: uniform on S^2
print("largest | |x| - 1 |:", np.max(np.abs(np.linalg.norm(x, axis=1) - 1)))
cov = gfd.metrics.mode_coverage(x, centres, 3 / np.sqrt(50.0))
print(f"modes covered: {cov['modes_covered']}/{cov['modes']}, near a mode: {cov['fraction_near']:.1%}")

fig = plt.figure(figsize=(10, 5))
for i, (pts, title) in enumerate(((target, "target: 6 vMF modes"), (x, "particles after 300 steps"))):
    ax = fig.add_subplot(1, 2, i + 1, projection="3d")
    ax.scatter(*pts.T, s=1)
    ax.set_title(title); ax.set_box_aspect((1, 1, 1))
fig.savefig("gfd-sphere.png", dpi=100)
print("wrote gfd-sphere.png")
