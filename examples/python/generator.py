# SPDX-License-Identifier: MIT
# Train a one-step generator x = f(e) on 8 Gaussians with the drifting loss, save it, load it
# back and sample from it (the model file is the one `gfd train` writes and `gfd generate` reads).
#   python3 generator.py [steps]
import sys
import matplotlib.pyplot as plt
import gfd

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
data = gfd.toy.sample("8gaussians", 10000, seed=0)
model, history = gfd.train(data, steps=steps, return_history=True)   # `gfd train` defaults
for p in history[:: max(1, len(history) // 5)]:
    print(f"step {p['step']:5d}  loss {p['loss']:.4g}  held-out sliced W2 {p['sliced_w2']:.4f}")
model.save("gfd-model.gfdgen")
samples = gfd.load_generator("gfd-model.gfdgen").generate(2000, seed=1)
print(model, "->", samples.shape)

fig, ax = plt.subplots(1, 2, figsize=(8, 4), sharex=True, sharey=True)
ax[0].scatter(*data[:2000].T, s=2); ax[0].set_title("data")
ax[1].scatter(*samples.T, s=2); ax[1].set_title(f"generated ({steps} steps)")
fig.savefig("gfd-generator.png", dpi=100)
print("wrote gfd-generator.png")
