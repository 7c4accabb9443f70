#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end: `gfd drift` on small N reaches the two-sample noise floor of the target, and the
# no-argument demo runs, prints its metrics table and draws its picture.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "$@"

# 1. The drift of the issue: 300 particles, 300 targets, 200 steps, no terminal.
expect 0 'sliced W2' drift --target moons --n 300 --m 300 --steps 200 --out x.csv --quiet
[[ -s x.csv ]] || fail "drift did not write x.csv"
rows=$(($(wc -l <x.csv) - 1))
[[ $rows -eq 300 ]] || fail "x.csv has $rows points, expected 300"
[[ $(head -n 1 x.csv) == "x0,x1" ]] || fail "x.csv header is '$(head -n 1 x.csv)'"

# Judge on data the flow never saw (seeds other than drift's 0..3), against the noise floor:
# the mean sliced W2 between three fresh samples and the held-out one.
expect 0 '' sample moons --n 300 --seed 1001 --out held.csv
expect 0 'sliced W2' metrics x.csv held.csv
sw=$(value_of 'sliced W2' out.txt)
floor_sum=0
for s in 1002 1003 1004; do
  expect 0 '' sample moons --n 300 --seed $s --out ref$s.csv
  expect 0 'sliced W2' metrics ref$s.csv held.csv
  floor_sum=$(awk -v a="$floor_sum" -v b="$(value_of 'sliced W2' out.txt)" 'BEGIN { print a + b }')
done
floor=$(awk -v s="$floor_sum" 'BEGIN { print s / 3 }')
echo "drift: sliced W2 to held-out = $sw, noise floor = $floor"
if less_than "$sw" "$(awk -v f="$floor" 'BEGIN { print 2 * f }')"; then
  pass "sliced W2 $sw is within 2x the noise floor $floor"
else
  fail "sliced W2 $sw is not within 2x the noise floor $floor"
fi

# 2. The same run written as .npy holds the same doubles (bit-exact through convert).
expect 0 '' drift --target moons --n 300 --m 300 --steps 200 --out x.npy --quiet
expect 0 '' convert x.npy x2.csv
cmp -s x.csv x2.csv && pass "drift --out .npy == --out .csv, bit for bit" || fail "x.npy and x.csv differ"

# 3. Trajectory: step 0 and the last step are there, with every particle.
expect 0 'wrote traj.csv' drift --target 8gaussians --n 100 --steps 30 --trajectory traj.csv \
  --trajectory-every 10 --quiet
[[ $(head -n 1 traj.csv) == "step,particle,x0,x1" ]] || fail "trajectory header: $(head -n 1 traj.csv)"
for step in 0 10 20 30; do
  count=$(awk -F, -v s="$step" 'NR > 1 && $1 == s' traj.csv | wc -l)
  [[ $count -eq 100 ]] || fail "trajectory step $step has $count rows, expected 100"
done

# 4. A file target of higher dimension, with a held-out part, and every stepper and kernel.
expect 0 '' sample gaussian --dim 5 --n 400 --seed 3 --out g5.npy
expect 0 'held out at random' drift --target g5.npy --n 200 --steps 40 --out y5.csv --quiet
for stepper in euler heun adaptive; do
  expect 0 'sliced W2' drift --target moons --n 100 --steps 20 --stepper $stepper --out s.csv --quiet
done
for kernel in gaussian laplacian epanechnikov imq; do
  expect 0 'sliced W2' drift --target moons --n 100 --steps 20 --kernel $kernel --out k.csv --quiet
done
for div in kl reverse-kl chi2 chi2-reverse js hellinger alpha mmd mixed drifting drifting-deng; do
  expect 0 'sliced W2' drift --target 8gaussians --n 100 --steps 20 --divergence $div --out d.csv --quiet
done

# 5. The README demo: no options at all. It must print the metrics table, show no progress line
#    when stderr is not a terminal, and draw gfd-drift.png (when built with Cairo).
expect 0 'modes covered' drift
if grep -q 'built without Cairo' err.txt; then
  pass "no Cairo: no picture expected"
  [[ ! -e gfd-drift.png ]] || fail "gfd-drift.png written without Cairo"
else
  [[ ! -s err.txt ]] || fail "drift wrote to stderr although it is not a terminal: $(cat err.txt)"
  [[ $(head -c 4 gfd-drift.png | od -An -c | tr -d ' ') == '211PNG' ]] \
    && pass "gfd-drift.png is a PNG" || fail "gfd-drift.png is missing or not a PNG"
fi
# An explicit --png without Cairo is a usage error; with Cairo it draws.
run_gfd drift --target moons --n 100 --steps 10 --png small.png --quiet
if [[ $rc -eq 2 ]] && grep -q 'built without Cairo' err.txt; then
  pass "--png without Cairo: exit 2 with a clear message"
elif [[ $rc -eq 0 && -s small.png ]]; then
  pass "--png small.png written"
else
  fail "--png: exit $rc, stderr $(cat err.txt)"
fi

finish
