#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end: one step of `gfd drift --divergence drifting-deng --kernel laplacian --steps 1
# --dt 1 --max-displacement 0 --bandwidth 1 --holdout 0` moves each particle by exactly the
# field of Deng et al.'s public code (drift_loss.py), computed here by an independent NumPy
# reference written from that code's algorithm, to 1e-6 relative, on clouds of several sizes and
# separations. Without the affinity floor (--affinity-floor 0) the step is the paper's equations
# and differs from the public code's.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "$@"
PY=/usr/bin/python3
"$PY" -c 'import numpy' 2>/dev/null || { fail "Debian's python3-numpy is needed for the reference (scripts/deps installs it)"; finish; }

cat >reference.py <<'PYEOF'
import sys
import numpy as np

def public_field(x, ypos):
    """Deng et al.'s drift_loss.py for one batch, no extra negatives or weights, dense:
    gen = x (n x d), targets = [gen | pos]; distances sqrt(max(|x - y|^2, 1e-8)); scale = their
    mean; coordinates divided by max(scale / sqrt(d), 1e-3), distances by max(scale, 1e-3), +100
    on the self pairs; per temperature R in 0.02, 0.05, 0.2: logits -dist / R, softmax over each
    row and over each column, affinity sqrt(max(row * col, 1e-6)); force = sum of the negative
    affinities times the A-weighted positives minus sum of the positive affinities times the
    A-weighted negatives; each force divided by sqrt(max(mean(force^2), 1e-8)); summed; back in
    data coordinates."""
    n, d = x.shape
    targets = np.concatenate([x, ypos])
    diff = x[:, None, :] - targets[None, :, :]
    dist = np.sqrt(np.maximum((diff ** 2).sum(-1), 1e-8))
    scale = dist.mean()
    s_in = max(scale / np.sqrt(d), 1e-3)
    dn = dist / max(scale, 1e-3)
    dn[np.arange(n), np.arange(n)] += 100.0
    xs, ys = x / s_in, ypos / s_in
    total = np.zeros_like(x)
    for r in (0.02, 0.05, 0.2):
        logit = -dn / r
        row = np.exp(logit - logit.max(axis=1, keepdims=True))
        row /= row.sum(axis=1, keepdims=True)
        col = np.exp(logit - logit.max(axis=0, keepdims=True))
        col /= col.sum(axis=0, keepdims=True)
        a = np.sqrt(np.maximum(row * col, 1e-6))
        a_neg, a_pos = a[:, :n], a[:, n:]
        force = a_neg.sum(1)[:, None] * (a_pos @ ys) - a_pos.sum(1)[:, None] * (a_neg @ xs)
        total += force / np.sqrt(max((force ** 2).mean(), 1e-8))
    return total * s_in

mode = sys.argv[1]
if mode == "make":
    n, sep, seed = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = 0.7 * rng.normal(size=(2 * n, 2)) + np.array([sep, 0.0])
    np.savetxt("x.csv", x, delimiter=",", header="x0,x1", comments="", fmt="%.17g")
    np.savetxt("y.csv", y, delimiter=",", header="x0,x1", comments="", fmt="%.17g")
else:  # compare: the step gfd took against the reference field
    x = np.loadtxt("x.csv", delimiter=",", skiprows=1)
    y = np.loadtxt("y.csv", delimiter=",", skiprows=1)
    moved = np.loadtxt(sys.argv[2], delimiter=",", skiprows=1)
    ref = public_field(x, y)
    step = moved - x
    rel = np.abs(step - ref).max() / np.abs(ref).max()
    cos = (step * ref).sum() / (np.linalg.norm(step) * np.linalg.norm(ref))
    print(f"{rel:.3g} {cos:.6f}")
PYEOF

step_args=(--divergence drifting-deng --kernel laplacian --steps 1 --dt 1 --max-displacement 0
           --bandwidth 1 --holdout 0 --target y.csv --init x.csv --quiet)
for n in 64 200 512; do
  for sep in 0 2 6; do
    "$PY" reference.py make "$n" "$sep" $((40 + n))
    expect 0 '' drift "${step_args[@]}" --out moved.csv
    read -r rel cos < <("$PY" reference.py compare moved.csv)
    if less_than "$rel" 1e-6; then
      pass "n = $n, separation $sep: the step is the public code's field to $rel relative"
    else
      fail "n = $n, separation $sep: the step differs from the public code's field by $rel relative (cosine $cos)"
    fi
    expect 0 '' drift "${step_args[@]}" --affinity-floor 0 --out unfloored.csv
    read -r rel0 cos0 < <("$PY" reference.py compare unfloored.csv)
    if less_than 1e-3 "$rel0"; then
      pass "n = $n, separation $sep: without the floor the step is another field ($rel0 relative, cosine $cos0)"
    else
      fail "n = $n, separation $sep: --affinity-floor 0 gave the public code's field too ($rel0 relative)"
    fi
  done
done

finish
