#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end: the exact smoothed flow and the transport flows from the command line
# (`gfd drift --divergence kl-exact|sinkhorn|sinkhorn-drift|sliced|energy`), the combinations
# they refuse, and `gfd metrics --epsilon`'s Sinkhorn divergence against an identity it must
# satisfy whatever the code: S_eps(a, a + c) = |c|^2 / 2 for the cost |x - y|^2 / 2.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "$@"

# 1. Each flow but Sinkhorn drift (below) drifts noise into 8gaussians: the sliced W2 to a held-out sample ends within 3x
# the two-sample noise floor (the mean over three fresh samples against the same held-out one).
expect 0 '' sample 8gaussians --n 300 --seed 1001 --out held.csv
floor_sum=0
for s in 1002 1003 1004; do
  expect 0 '' sample 8gaussians --n 300 --seed $s --out ref$s.csv
  expect 0 'sliced W2' metrics ref$s.csv held.csv
  floor_sum=$(awk -v a="$floor_sum" -v b="$(value_of 'sliced W2' out.txt)" 'BEGIN { print a + b }')
done
floor=$(awk -v s="$floor_sum" 'BEGIN { print s / 3 }')
for div in kl-exact sinkhorn sliced energy; do
  expect 0 'sliced W2' drift --target 8gaussians --n 300 --m 300 --steps 200 --divergence "$div" \
    --out "x_$div.csv" --quiet
  expect 0 'sliced W2' metrics "x_$div.csv" held.csv
  sw=$(value_of 'sliced W2' out.txt)
  echo "$div: sliced W2 to held-out = $sw, noise floor = $floor"
  if less_than "$sw" "$(awk -v f="$floor" 'BEGIN { print 3 * f }')"; then
    pass "$div: sliced W2 $sw is within 3x the noise floor $floor"
  else
    fail "$div: sliced W2 $sw is not within 3x the noise floor $floor"
  fi
done

# Sinkhorn drift keeps Deng et al.'s per-temperature RMS normalisation (a training loss's field:
# its steps never shrink), so as a particle flow it does not settle, like drifting-deng; it must
# run and stay finite.
expect 0 'Sinkhorn drift' drift --target 8gaussians --n 300 --m 300 --steps 50 --divergence sinkhorn-drift \
  --out x_sd.csv
rows=$(($(wc -l <x_sd.csv) - 1))
[[ $rows -eq 300 ]] || fail "x_sd.csv has $rows points, expected 300"
grep -qiE 'nan|inf' x_sd.csv && fail "sinkhorn-drift wrote non-finite particles" || pass "sinkhorn-drift particles are finite"

# The flags reach the flows: another epsilon, projection count or sample count is another run.
expect 0 'Sinkhorn divergence \(ε = 0.5\)' drift --target 8gaussians --n 200 --m 200 --steps 20 \
  --divergence sinkhorn --epsilon 0.5 --out e1.csv
expect 0 '' drift --target 8gaussians --n 200 --m 200 --steps 20 --divergence sinkhorn --epsilon 0.05 \
  --out e2.csv --quiet
cmp -s e1.csv e2.csv && fail "--epsilon 0.5 and 0.05 gave the same particles" || pass "--epsilon changes the flow"
expect 0 'sliced W2 \(4 directions\)' drift --target 8gaussians --n 200 --steps 20 --divergence sliced \
  --projections 4 --out p1.csv
expect 0 '' drift --target 8gaussians --n 200 --steps 20 --divergence sliced --projections 4 \
  --out p2.csv --quiet
cmp -s p1.csv p2.csv && pass "sliced: the same seed gives the same particles" || fail "sliced is not reproducible"
expect 0 '' drift --target 8gaussians --n 200 --steps 20 --divergence sliced --projections 4 --seed 7 \
  --out p3.csv --quiet
cmp -s p1.csv p3.csv && fail "sliced: --seed 7 gave the particles of seed 0" || pass "sliced: --seed changes the directions"
# kl-exact in d = 5 takes the Monte Carlo estimator: --mc-samples is used.
expect 0 '' sample gaussian --dim 5 --n 300 --seed 3 --out g5.csv
expect 0 '' drift --target g5.csv --holdout 0 --n 100 --steps 5 --divergence kl-exact --mc-samples 4 \
  --out m1.csv --quiet
expect 0 '' drift --target g5.csv --holdout 0 --n 100 --steps 5 --divergence kl-exact --mc-samples 16 \
  --out m2.csv --quiet
cmp -s m1.csv m2.csv && fail "--mc-samples 4 and 16 gave the same particles" || pass "--mc-samples changes kl-exact in d = 5"

# 2. Combinations a flow cannot take are refused by name, not run.
expect 2 "does not use the flow's kernel" drift --divergence sinkhorn --kernel laplacian --steps 1
expect 2 "sums no kernel" drift --divergence energy --evaluator tree --steps 1
expect 2 "defined on R\^d only" drift --divergence kl-exact --manifold sphere --steps 1
expect 2 "needs the kernel 'gaussian'" drift --target g5.csv --holdout 0 --divergence kl-exact \
  --kernel laplacian --steps 1
expect 2 '--epsilon' drift --divergence sinkhorn --epsilon -1
expect 2 '--projections' drift --divergence sliced --projections 0
expect 2 '--epsilon' metrics held.csv ref1002.csv --epsilon 0

# 3. metrics --epsilon: S_eps(a, a + c) = |c|^2 / 2 exactly (the cost's linear part integrates to
# c . (mean a - mean a) = 0 under any coupling, and S is debiased), and S_eps(a, a) = 0.
awk -F, 'NR == 1 { print; next } { printf "%.17g,%.17g\n", $1 + 0.3, $2 - 0.4 }' held.csv > shifted.csv
expect 0 'Sinkhorn divergence' metrics held.csv shifted.csv --epsilon 0.05
s=$(value_of 'Sinkhorn divergence' out.txt)
awk -v s="$s" 'BEGIN { exit !(s > 0.125 * (1 - 1e-6) && s < 0.125 * (1 + 1e-6)) }' &&
  pass "S_eps(a, a + (0.3, -0.4)) = $s = 0.125" || fail "S_eps(a, a + (0.3, -0.4)) = $s, expected 0.125"
expect 0 'Sinkhorn divergence' metrics held.csv held.csv --epsilon 0.05
s=$(value_of 'Sinkhorn divergence' out.txt)
awk -v s="$s" 'BEGIN { exit !(s < 1e-9 && s > -1e-9) }' && pass "S_eps(a, a) = $s" || fail "S_eps(a, a) = $s, expected 0"

finish
