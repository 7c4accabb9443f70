#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end: results do not depend on --threads. Flows (Deng's field with the Laplacian kernel,
# a Gaussian flow with the tree evaluator, the sphere), training, sampling, KDE and metrics with
# --threads 1, 2 and 3 give byte-identical files. With a build without OpenMP, --threads is
# accepted and ignored, and the checks pass trivially.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "$@"

# same_for_threads NAME FILE ARGS...: gfd ARGS --threads T writes FILE (and stdout); the files
# of T = 2 and 3 must equal T = 1's byte for byte.
same_for_threads() {
  local name=$1 file=$2
  shift 2
  local ext=${file##*.} t
  for t in 1 2 3; do
    run_gfd "$@" --threads "$t"
    if [[ $rc -ne 0 ]]; then
      fail "$name: gfd $* --threads $t exited $rc: $(cat err.txt)"
      return 0
    fi
    mv "$file" "$name.$t.$ext"
    mv out.txt "$name.$t.txt"
  done
  for t in 2 3; do
    if ! cmp -s "$name.1.$ext" "$name.$t.$ext"; then
      fail "$name: --threads $t wrote another $ext file than --threads 1 ($(cmp "$name.1.$ext" "$name.$t.$ext" | head -n 1))"
      return 0
    fi
  done
  pass "$name: identical for --threads 1, 2, 3"
}

# Enough particles for every parallel loop to split (the issue's case: Deng's field, Laplacian).
flow=(--target 8gaussians --n 600 --steps 20 --quiet --out x.csv)
same_for_threads drift-deng-laplacian x.csv drift "${flow[@]}" --divergence drifting-deng --kernel laplacian
same_for_threads drift-deng-gaussian x.csv drift "${flow[@]}" --divergence drifting-deng --kernel gaussian
same_for_threads drift-mixed-tree-heun x.csv drift "${flow[@]}" --divergence mixed --evaluator tree --stepper heun
same_for_threads drift-sphere x.csv drift --manifold sphere --dim 20 --n 400 --steps 10 --quiet --out x.csv \
  --divergence kl

# Training: the default network at the default batch (512), a few steps.
same_for_threads train m.gfdgen train --target 8gaussians --m 3000 --holdout 500 --steps 15 --log-every 5 \
  --quiet --out m.gfdgen
cp train.1.gfdgen model.gfdgen
same_for_threads generate g.csv generate --model model.gfdgen --n 5000 --seed 3 --out g.csv

expect 0 '' sample moons --n 3000 --seed 1 --out data.csv
expect 0 '' sample moons --n 2000 --seed 2 --out query.csv
same_for_threads kde-exact k.csv kde --data data.csv --query query.csv --out k.csv
same_for_threads kde-tree k.csv kde --data data.csv --query query.csv --evaluator tree --kernel laplacian --out k.csv
# metrics prints its results: compare stdout.
for t in 1 2 3; do
  run_gfd metrics data.csv query.csv --threads "$t"
  [[ $rc -eq 0 ]] || fail "metrics --threads $t exited $rc: $(cat err.txt)"
  mv out.txt "metrics.$t.txt"
done
cmp -s metrics.1.txt metrics.2.txt && cmp -s metrics.1.txt metrics.3.txt \
  && pass "metrics: identical output for --threads 1, 2, 3" || fail "metrics output depends on --threads"

finish
