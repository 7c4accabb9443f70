#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The grid evaluator from the command line: `gfd kde --evaluator grid` agrees with the exact
# evaluator within --tolerance, `gfd drift --evaluator grid` ends as close to the target as the
# exact flow (sliced W2 within 5 %, on moons, 8gaussians and checkerboard), d > 3 is refused, and
# --metric-points subsamples the metrics table (and says so).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "$@"

expect 0 '' sample moons --n 2000 --seed 7 --out a.csv
expect 0 '' sample moons --n 300 --seed 8 --out q.csv
expect 0 '' sample gaussian --dim 4 --n 50 --seed 9 --out g4.csv

# kde: the same log-densities as the exact evaluator, within the relative tolerance.
expect 0 'exact evaluator' kde --data a.csv --query q.csv --bandwidth 0.1 --out ke.csv
expect 0 'grid evaluator \(tolerance 0.001\)' kde --data a.csv --query q.csv --bandwidth 0.1 --evaluator grid --tolerance 1e-3 --out kg.csv
paste -d, ke.csv kg.csv | awk -F, 'NR > 1 { r = exp($4 - $1) - 1; if (r < 0) r = -r; if (r > m) m = r }
  END { print m; exit !(NR == 301 && m <= 1e-3) }' >rel.txt \
  && pass "kde --evaluator grid: max relative error $(cat rel.txt) <= 1e-3" || fail "kde --evaluator grid: max relative error $(cat rel.txt)"
# Not a copy of the exact output: the grid's own rounding shows (the two files differ).
cmp -s ke.csv kg.csv && fail "grid and exact kde outputs are byte-identical" || pass "grid output is its own"

# d = 4: refused with the dimension named.
expect 2 'dimension 1, 2 or 3, got dimension 4' kde --data g4.csv --evaluator grid --bandwidth 0.5 --out k4.csv

# The 'final' column of the metrics table's sliced W2 row.
final_w2() { grep -F 'sliced W2 (' out.txt | head -n 1 | awk '{print $(NF-1)}'; }

# drift: a grid flow reaches the target about as well as the exact flow, from the same start, on
# three toys of different shapes (two curved modes, eight round ones, a checkerboard's corners).
for toy in moons 8gaussians checkerboard; do
  expect 0 'flow: 60 steps' drift --target "$toy" --n 1500 --steps 60 --evaluator grid --seed 3
  grid_w2=$(final_w2)
  [[ "$toy" == moons ]] && { grep -q 'metrics on every point' out.txt \
    && pass "metrics on every point below --metric-points" || fail "no 'metrics on every point' line"; }
  expect 0 'flow: 60 steps' drift --target "$toy" --n 1500 --steps 60 --evaluator exact --seed 3
  exact_w2=$(final_w2)
  less_than "$grid_w2" "$(awk -v e="$exact_w2" 'BEGIN { print 1.05 * e + 1e-3 }')" \
    && pass "$toy: grid flow sliced W2 $grid_w2 within 5% of the exact flow's $exact_w2" \
    || fail "$toy: grid flow sliced W2 $grid_w2 vs exact $exact_w2"
done

# --metric-points: a stated subsample.
expect 0 'subsamples of at most 500 points \(--metric-points\): start 500 of 1500, final 500 of 1500' \
  drift --target moons --n 1500 --steps 5 --evaluator grid --metric-points 500 --seed 3
expect 2 'metric-points' drift --target moons --n 100 --metric-points 1

finish
