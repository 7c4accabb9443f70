#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `gfd drift --manifold sphere`: a short run on S^2 covers every mode of a vMF mixture with its
# geodesic MMD^2 near the two-sample noise floor and particles on the sphere to 1e-12; points
# off the sphere are rejected unless --normalise; a file target in d = 16 works; bad options
# exit 2.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "$@"

# max_norm_error FILE: largest | |x| - 1 | over the rows of a CSV with a header.
max_norm_error() {
  awk -F, 'NR > 1 { s = 0; for (k = 1; k <= NF; ++k) s += $k * $k; e = sqrt(s) - 1;
                    if (e < 0) e = -e; if (e > m) m = e }
           END { printf "%.3e\n", m }' "$1"
}
# metric 'LABEL' COLUMN: a column (2 = start, 3 = final, 4 = reference, counted from the end
# of the row) of the metrics table in out.txt.
metric() { grep -F -- "$1" out.txt | head -n 1 | awk -v c="$2" '{ print $(NF - 4 + c) }'; }

# 1. S^2, six vMF modes (kappa 50), 300 particles from the uniform start.
expect 0 'geodesic MMD\^2' drift --manifold sphere --target vmf-mixture --modes 6 --kappa 50 \
  --n 300 --steps 200 --out s2.csv --quiet
[[ $(head -n 1 s2.csv) == "x0,x1,x2" ]] || fail "s2.csv header is '$(head -n 1 s2.csv)'"
rows=$(($(wc -l <s2.csv) - 1))
[[ $rows -eq 300 ]] || fail "s2.csv has $rows points, expected 300"
covered=$(metric 'modes covered' 3)
[[ $covered == 6/6 ]] && pass "all 6 modes covered" || fail "modes covered: $covered, expected 6/6"
start=$(metric 'vMF kernel' 2)
final=$(metric 'vMF kernel' 3)
floor=$(metric 'vMF kernel' 4)
echo "S^2: geodesic MMD^2 start $start, final $final, noise floor $floor"
# Near the floor: within 5% of the way from the floor to the start (the start is ~20x above).
if awk -v s="$start" -v f="$final" -v r="$floor" 'BEGIN { exit !(s - r > 0.02 && f < r + 0.05 * (s - r)) }'; then
  pass "final MMD^2 $final is near the floor $floor (start $start)"
else
  fail "final MMD^2 $final is not near the floor $floor (start $start)"
fi
err=$(max_norm_error s2.csv)
less_than "$err" 1e-12 && pass "particle norms are 1 to $err" || fail "max | |x| - 1 | = $err"

# The projection retraction stays on the sphere as well.
expect 0 'projection retraction' drift --manifold sphere --n 100 --steps 30 --retraction \
  --out r.csv --quiet
err=$(max_norm_error r.csv)
less_than "$err" 1e-12 && pass "retraction: norms are 1 to $err" || fail "retraction: max | |x| - 1 | = $err"

# The picture of an S^2 run; none for d > 3 (an explicit --png is a usage error there).
expect 0 'two orthographic hemispheres' drift --manifold sphere --n 100 --steps 10 --png s2.png --quiet
[[ -s s2.png && $(head -c 4 s2.png | tail -c 3) == PNG ]] || fail "s2.png is not a PNG file"
expect 2 'pictures are drawn on S\^1 and S\^2' drift --manifold sphere --dim 5 --n 50 --steps 2 \
  --png s4.png --quiet
[[ ! -e s4.png ]] || fail "s4.png was written for d = 5"
expect 0 'no picture: pictures are drawn on S\^1 and S\^2 only' drift --manifold sphere --dim 5 \
  --n 50 --steps 2 --quiet
[[ ! -e gfd-drift-sphere.png ]] || fail "the d = 5 demo drew gfd-drift-sphere.png"

# 2. Off-sphere input: exit 2 naming file, row and norm; accepted with --normalise.
awk -F, 'NR == 1 { print; next } { printf "%.17g,%.17g,%.17g\n", 2 * $1, 2 * $2, 2 * $3 }' \
  s2.csv >doubled.csv
expect 2 'doubled.csv: data row 1 .*has norm 2 ' drift --manifold sphere --target doubled.csv \
  --n 100 --steps 5 --quiet
expect 2 'init doubled.csv: data row 1 .*norm 2 ' drift --manifold sphere --init doubled.csv \
  --target s2.csv --steps 5 --quiet
# One point off by 1e-5 (more than the tolerance 1e-6) is enough.
awk -F, 'NR == 4 { printf "%.17g,%.17g,%.17g\n", $1 * 1.00001, $2 * 1.00001, $3 * 1.00001; next }
         { print }' s2.csv >slightly.csv
expect 2 'data row 3 .*has norm 1.00001 ' drift --manifold sphere --target slightly.csv --steps 5 --quiet
expect 0 'normalise projected 300 of 300 points' drift --manifold sphere --target doubled.csv \
  --normalise --n 100 --steps 20 --out fromfile.csv --quiet
err=$(max_norm_error fromfile.csv)
less_than "$err" 1e-12 && pass "normalised run: norms are 1 to $err" || fail "normalised run: max | |x| - 1 | = $err"
printf 'a,b,c\n0,0,0\n1,0,0\n0,1,0\n' >zero.csv
expect 2 'zero.csv: data row 1 .*norm 0' drift --manifold sphere --target zero.csv --normalise \
  --steps 2 --quiet

# 3. S^15 (d = 16): the toy, then its sample as a file target, from a file start.
expect 0 'S\^15' drift --manifold sphere --dim 16 --modes 4 --kappa 200 --n 300 --steps 60 \
  --out target16.csv --quiet
covered=$(metric 'modes covered' 3)
[[ $covered == 4/4 ]] && pass "S^15: all 4 modes covered" || fail "S^15 modes covered: $covered"
expect 0 '' drift --manifold sphere --dim 16 --n 200 --steps 0 --seed 9 --out start16.csv --quiet
expect 0 'on the sphere S\^15 toward target16.csv' drift --manifold sphere --target target16.csv \
  --init start16.csv --steps 40 --out x16.csv --quiet
[[ $(head -n 1 x16.csv | tr ',' '\n' | wc -l) -eq 16 ]] || fail "x16.csv does not have 16 columns"
err=$(max_norm_error x16.csv)
less_than "$err" 1e-12 && pass "d = 16 file run: norms are 1 to $err" || fail "d = 16: max | |x| - 1 | = $err"
start=$(metric 'vMF kernel' 2)
final=$(metric 'vMF kernel' 3)
less_than "$final" "$(awk -v s="$start" 'BEGIN { print s / 4 }')" &&
  pass "d = 16: MMD^2 $start -> $final" || fail "d = 16: MMD^2 $start -> $final (not below a quarter)"

# 4. Bad options exit 2 with a message naming them.
expect 2 'kappa.*must be finite and > 0, got 0' drift --manifold sphere --kappa 0 --steps 1 --quiet
expect 2 'kappa.*got -3' drift --manifold sphere --kappa -3 --steps 1 --quiet
expect 2 'manifold' drift --manifold torus --steps 1 --quiet
expect 2 '--kappa applies only with --manifold sphere' drift --kappa 10 --steps 1 --quiet
expect 2 '--retraction applies only with --manifold sphere' drift --retraction --steps 1 --quiet
expect 2 'a toy of the plane' drift --manifold sphere --target moons --steps 1 --quiet
expect 2 'no Gaussian on the sphere' drift --manifold sphere --init gaussian --steps 1 --quiet
expect 2 '--kappa applies to --target vmf-mixture' drift --manifold sphere --target sphere-uniform \
  --kappa 5 --steps 1 --quiet
expect 2 '--dim applies to the sphere toys' drift --manifold sphere --target s2.csv --dim 4 --steps 1 --quiet
expect 2 'dimension' drift --manifold sphere --target s2.csv --init x16.csv --steps 1 --quiet
printf 'a\n1\n-1\n1\n' >line.csv
expect 2 'dimension 1' drift --manifold sphere --target line.csv --steps 1 --quiet
expect 2 '' drift --manifold sphere --dim 1 --steps 1 --quiet

finish
