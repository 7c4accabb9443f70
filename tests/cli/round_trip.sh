#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end: sample -> file -> convert / kde / metrics, in both formats. float64 values must
# survive CSV and .npy bit for bit.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "$@"

expect 0 'wrote 500 points' sample moons --n 500 --seed 7 --out a.csv
expect 0 '' sample moons --n 500 --seed 7 --out a.npy
expect 0 '' sample 8gaussians --n 200 --seed 8 --out q.csv
expect 0 '' sample 8gaussians --n 200 --seed 8 --out q.npy
expect 0 '' sample gaussian --dim 3 --n 50 --seed 9 --out g3.csv
expect 0 '' sample --list
grep -qx spirals out.txt || fail "sample --list does not list spirals"

# CSV -> .npy -> CSV is the identity on bytes, and .npy written directly equals .npy converted.
expect 0 '' convert a.csv b.npy
expect 0 '' convert b.npy b.csv
cmp -s a.csv b.csv && pass "csv -> npy -> csv is byte-identical" || fail "csv -> npy -> csv changed a.csv"
cmp -s a.npy b.npy && pass "npy from sample == npy from convert" || fail "a.npy and b.npy differ"
expect 0 '' convert g3.csv g3.npy
expect 0 '' convert g3.npy g3b.csv
cmp -s g3.csv g3b.csv && pass "3-D csv round trip" || fail "3-D csv round trip changed g3.csv"

# metrics: identical clouds are at distance 0, different ones are not.
expect 0 'sliced W2' metrics a.csv a.npy
[[ $(value_of 'sliced W2' out.txt) == 0 ]] || fail "metrics a.csv a.npy: sliced W2 $(value_of 'sliced W2' out.txt) != 0"
expect 0 'energy distance' metrics a.csv q.csv
less_than 0.1 "$(value_of 'sliced W2' out.txt)" || fail "moons vs 8gaussians: sliced W2 too small"
expect 0 'modes of 8gaussians covered' metrics q.csv q.npy --modes 8gaussians --projections 64 --seed 3
expect 0 'h = 0.5, given' metrics a.csv q.csv --bandwidth 0.5

# kde: the same answer from either input format, in either output format; header and rows.
expect 0 'evaluate' kde --data a.csv --query q.csv --out k1.csv
expect 0 '' kde --data a.npy --query q.npy --out k2.csv
cmp -s k1.csv k2.csv && pass "kde: csv and npy inputs give identical output" || fail "kde outputs differ by input format"
[[ $(head -n 1 k1.csv) == "logp,s0,s1" ]] || fail "kde header is '$(head -n 1 k1.csv)'"
[[ $(($(wc -l <k1.csv) - 1)) -eq 200 ]] || fail "kde output has the wrong number of rows"
expect 0 '' kde --data a.npy --query q.npy --out k3.npy
expect 0 '' convert k3.npy k3.csv
# convert names .npy columns x0, x1, x2; the values must be the same bytes.
cmp -s <(tail -n +2 k1.csv) <(tail -n +2 k3.csv) && pass "kde --out .npy == --out .csv" || fail "kde .npy and .csv outputs differ"
for kernel in gaussian laplacian epanechnikov imq; do
  for bw in scott silverman median 0.3; do
    expect 0 'evaluate' kde --data a.csv --query q.csv --kernel $kernel --bandwidth $bw --out kk.csv
  done
done
expect 0 '(the data itself)' kde --data g3.csv --out k4.csv --kernel gaussian
[[ $(head -n 1 k4.csv) == "logp,s0,s1,s2" ]] || fail "3-D kde header is '$(head -n 1 k4.csv)'"

# A Gaussian KDE of one point at the origin, h = 1, at the origin: log p = -log(2 pi).
printf 'x0,x1\n0,0\n' >origin.csv
expect 0 '' kde --data origin.csv --query origin.csv --bandwidth 1 --out o.csv
awk -F, 'NR == 2 { d = $1 + log(2 * 3.141592653589793); exit !(d < 1e-12 && d > -1e-12 && $2 == 0 && $3 == 0) }' o.csv \
  && pass "kde of a single point: exact log-density and zero score" || fail "kde of a single point: $(tail -n 1 o.csv)"

# gfd sample --labels: a label column (each point's class), the same points as without it.
expect 0 '8 classes' sample 8gaussians --n 400 --seed 5 --labels --out lab.csv
expect 0 '' sample 8gaussians --n 400 --seed 5 --out nolab.csv
[[ $(head -n 1 lab.csv) == "x0,x1,label" ]] || fail "labelled header is '$(head -n 1 lab.csv)'"
if cut -d, -f1,2 lab.csv | tail -n +2 | cmp -s - <(tail -n +2 nolab.csv); then
  pass "--labels keeps the points of the unlabelled sample"
else
  fail "--labels changed the points"
fi
awk -F, 'NR > 1 { if ($3 != int($3) || $3 < 0 || $3 > 7) bad++; seen[$3] = 1 }
  END { n = 0; for (k in seen) n++; exit !(bad == 0 && n == 8) }' lab.csv \
  && pass "labels are the 8 classes 0..7" || fail "labels of 8gaussians are not 0..7: $(cut -d, -f3 lab.csv | sort -u | head)"
expect 0 '' sample moons --n 10 --labels --out moons.csv
[[ $(tail -n +2 moons.csv | cut -d, -f3 | tr '\n' ' ') == "0 1 0 1 0 1 0 1 0 1 " ]] \
  || fail "moons labels are not the alternating moons: $(tail -n +2 moons.csv | cut -d, -f3 | tr '\n' ' ')"
expect 2 'swissroll has no classes' sample swissroll --n 10 --labels --out s.csv
expect 2 'has no classes' sample gaussian --n 10 --labels --out s.csv
expect 2 'give --out' sample moons --n 10 --labels --png s.png

finish
