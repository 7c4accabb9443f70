#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end: `gfd train` makes a one-step generator whose held-out sliced W2 falls well below
# that of the untrained network; `gfd generate` reproduces samples bit for bit from the saved
# model; truncated, foreign and missing model files and bad options exit with code 2.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "$@"

# 1. A short training (seconds) against the same run with --steps 0 (the untrained network).
short=(--target 8gaussians --m 2500 --holdout 500 --batch 128 --threads 1 --quiet)
expect 0 'held-out sliced W2, final' train "${short[@]}" --steps 300 --out m.gfdgen --log log.csv
trained=$(value_of 'held-out sliced W2, final' out.txt)
start=$(value_of 'held-out sliced W2, untrained start' out.txt)
floor=$(value_of 'noise floor' out.txt)
modes=$(value_of 'modes covered' out.txt)
[[ ! -s err.txt ]] || fail "train wrote to stderr although it is not a terminal: $(cat err.txt)"
expect 0 'held-out sliced W2, final' train "${short[@]}" --steps 0 --out m0.gfdgen
untrained=$(value_of 'held-out sliced W2, final' out.txt)
echo "train: held-out sliced W2 $trained after 300 steps, $untrained untrained (printed start $start), floor $floor, modes $modes"
[[ $start == "$untrained" ]] || fail "the printed start ($start) differs from the --steps 0 run ($untrained)"
if less_than "$trained" "$(awk -v u="$untrained" 'BEGIN { print u / 4 }')"; then
  pass "trained sliced W2 $trained < 1/4 of untrained $untrained"
else
  fail "trained sliced W2 $trained is not below 1/4 of untrained $untrained"
fi
if less_than "$trained" "$(awk -v f="$floor" 'BEGIN { print 3 * f }')"; then
  pass "trained sliced W2 $trained within 3x the noise floor $floor"
else
  fail "trained sliced W2 $trained is not within 3x the noise floor $floor"
fi
[[ $modes == 8/8 ]] && pass "8/8 modes covered" || fail "modes covered: $modes"
grep -qE '^  final loss .* -$' out.txt && pass "no loss printed without training" \
  || fail "--steps 0 printed a loss: $(grep 'final loss' out.txt)"
grep -qi 'nan' out.txt && fail "NaN printed: $(cat out.txt)"

# The log: a header and one row per 100 steps (100, 200, 300), finite values.
[[ $(head -n 1 log.csv) == "step,loss,drift2,lr,seconds,sliced_w2" ]] || fail "log header: $(head -n 1 log.csv)"
[[ $(awk -F, 'NR > 1 { print $1 }' log.csv | tr '\n' ' ') == "100 200 300 " ]] \
  || fail "log steps: $(awk -F, 'NR > 1 { print $1 }' log.csv | tr '\n' ' ')"
logged=$(tail -n 1 log.csv | awk -F, '{ print $NF }')
awk -v a="$logged" -v b="$trained" 'BEGIN { d = (a - b) / b; exit !(d < 1e-3 && d > -1e-3) }' \
  && pass "last logged sliced W2 $logged = printed $trained" || fail "last logged sliced W2 $logged != printed $trained"

# 2. Round trip: same seed -> identical bytes, --n respected, 2 columns; another seed differs.
expect 0 'wrote a.csv' generate --model m.gfdgen --n 123 --seed 5 --out a.csv
grep -q '300 training steps' out.txt || fail "generate does not report the 300 training steps: $(cat out.txt)"
expect 0 '' generate --model m.gfdgen --n 123 --seed 5 --out b.csv
expect 0 '' generate --model m.gfdgen --n 123 --seed 6 --out c.csv
cmp -s a.csv b.csv && pass "same seed: identical files" || fail "same seed gave different files"
cmp -s a.csv c.csv && fail "seeds 5 and 6 gave identical files" || pass "another seed: another sample"
[[ $(($(wc -l <a.csv) - 1)) -eq 123 ]] || fail "a.csv has $(($(wc -l <a.csv) - 1)) rows, expected 123"
[[ $(head -n 1 a.csv) == "x0,x1" ]] || fail "a.csv header is '$(head -n 1 a.csv)'"
[[ $(awk -F, 'NR > 1 && NF != 2' a.csv | wc -l) -eq 0 ]] || fail "a.csv has rows without 2 columns"
expect 0 '' generate --model m.gfdgen --n 123 --seed 5 --out a.npy
expect 0 '' convert a.npy a2.csv
cmp -s a.csv a2.csv && pass "generate --out .npy == --out .csv, bit for bit" || fail "a.npy and a.csv differ"
# Generated samples are judged against fresh target data like any other cloud.
expect 0 '' generate --model m.gfdgen --n 2000 --seed 9 --out big.csv
expect 0 '8/8' metrics big.csv a.csv --modes 8gaussians

# 3. Model files that are not whole models: exit 2 with a message naming the file.
head -c 100 m.gfdgen >trunc.gfdgen
expect 2 'trunc\.gfdgen: truncated file' generate --model trunc.gfdgen --out never.csv
expect 2 'a\.csv: not a gfd generator file' generate --model a.csv --out never.csv
expect 2 'missing\.gfdgen' generate --model missing.gfdgen --out never.csv
cp m.gfdgen flipped.gfdgen
printf '\x01' | dd of=flipped.gfdgen bs=1 seek=200 conv=notrunc 2>/dev/null
expect 2 'flipped\.gfdgen: .*hash mismatch' generate --model flipped.gfdgen --out never.csv

# 4. A file target (held-out part of the file, floor from training points), any dimension.
expect 0 '' sample gaussian --dim 3 --n 600 --seed 2 --out g3.npy
expect 0 'noise floor \(120 training points\)' train --target g3.npy --steps 20 --out g3.gfdgen --quiet
expect 0 'd = 3' generate --model g3.gfdgen --n 10 --out g3.csv
[[ $(head -n 1 g3.csv) == "x0,x1,x2" ]] || fail "g3.csv header is '$(head -n 1 g3.csv)'"

# 5. Bad options: exit 2 before any work, nothing written.
expect 2 '--n' generate --model m.gfdgen --n 0 --out never.csv
expect 2 '--out is required' generate --model m.gfdgen
expect 2 '--lr' train --target moons --out never.gfdgen --lr -0.1
expect 2 "neither a toy .* nor an existing" train --target moonz --out never.gfdgen
expect 2 '--target is required' train --out never.gfdgen
expect 2 '--out never\.csv: a generator model is not a \.csv' train --target moons --out never.csv
expect 2 '--widths: must be finite and > 0' train --target moons --out never.gfdgen --widths 64,0
expect 2 '--temperatures' train --target moons --out never.gfdgen --temperatures 0.1,x
expect 2 '--holdout 9999: leaves fewer than 2' train --target moons --m 1000 --holdout 9999 --out never.gfdgen
expect 2 '--kernel: cosine not in' train --target moons --out never.gfdgen --kernel cosine
expect 2 "--png never\.jpg: expected a \.png" train --target moons --out never.gfdgen --png never.jpg
[[ ! -e never.csv && ! -e never.gfdgen ]] && pass "nothing written" || fail "a usage error wrote a file"

# 6. Another field and kernel train too (the drift is any gfd velocity field).
expect 0 'held-out sliced W2, final' train --target moons --m 1000 --steps 30 --divergence kl \
  --kernel gaussian --bandwidth 0.3 --out kl.gfdgen --quiet

finish
