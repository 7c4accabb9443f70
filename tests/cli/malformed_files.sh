#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end: every malformed input file gives exit code 2 and a message naming the file (and
# the line, where there is one), in every subcommand that reads files, and writes nothing.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "$@"

expect 0 '' sample moons --n 50 --seed 1 --out good.csv
expect 0 '' sample moons --n 50 --seed 1 --out good.npy
printf 'x0,x1\n1,2\n3\n5,6\n' >ragged.csv
printf 'x0,x1\n1,2\n3,abc\n' >text.csv
printf '1,2\nnan,3\n' >nan.csv
printf 'x0,x1\n1,2\n3,inf\n' >inf.csv
: >empty.csv
: >empty.npy
printf 'x0,x1\n' >header_only.csv
printf 'x0,x1,x2\n1,2,3\n4,5,6\n' >three.csv
head -c 100 good.npy >truncated.npy
printf 'this is not numpy' >garbage.npy
# A NaN in the first value of a valid .npy (the data is the last 50*2*8 bytes).
cp good.npy nan.npy
offset=$(($(wc -c <good.npy) - 800))
printf '\x00\x00\x00\x00\x00\x00\xf8\x7f' | dd of=nan.npy bs=1 seek="$offset" conv=notrunc status=none

# file  expected message (regex)
cases=(
  "ragged.csv ragged\.csv:3: expected 2 columns, got 1"
  "text.csv text\.csv:3:2: not a number: 'abc'"
  "nan.csv nan\.csv:2:1: non-finite value"
  "inf.csv inf\.csv:3:2: non-finite value"
  "empty.csv empty\.csv: empty file"
  "empty.npy empty\.npy: empty file"
  "header_only.csv header_only\.csv: no points"
  "truncated.npy truncated\.npy: truncated"
  "garbage.npy garbage\.npy: not a \.npy file"
  "nan.npy nan\.npy: non-finite value nan at row 1, column 1"
  "missing.csv missing\.csv: cannot open"
  "missing.npy missing\.npy: cannot open"
)
for c in "${cases[@]}"; do
  file=${c%% *}
  msg=${c#* }
  expect 2 "$msg" metrics "$file" good.csv
  expect 2 "$msg" metrics good.csv "$file"
  expect 2 "$msg" kde --data "$file" --out never.csv
  expect 2 "$msg" kde --data good.csv --query "$file" --out never.csv
  expect 2 "$msg" drift --target "$file" --steps 1 --out never.csv --quiet
  expect 2 "$msg" drift --target moons --init "$file" --steps 1 --out never.csv --quiet
  expect 2 "$msg" convert "$file" never.npy
done

# Wrong dimension: a 3-D file where a 2-D one is needed.
expect 2 'three\.csv:1: expected dimension 2, got 3' metrics good.csv three.csv
expect 2 'three\.csv:1: expected dimension 2, got 3' kde --data good.npy --query three.csv --out never.csv
expect 2 'three\.csv:1: expected dimension 2, got 3' drift --target moons --init three.csv --steps 1 --out never.csv --quiet
expect 2 'good\.npy: expected dimension 3, got 2' metrics three.csv good.npy
# An unsupported extension.
cp good.csv good.txt
expect 2 "good\.txt: unsupported extension '\.txt'" metrics good.txt good.csv

# Nothing was written by any of the failures.
[[ ! -e never.csv && ! -e never.npy ]] && pass "no output written on failure" || fail "a failed command wrote its output"

finish
