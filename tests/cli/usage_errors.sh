#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end: usage errors (unknown options and values, bad combinations) exit with code 2 and a
# clear message, before any work is done and without writing anything; --help exits with 0.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "$@"

expect 0 'drift' --help
expect 0 '--divergence' drift --help
expect 0 '--bandwidth' kde --help
expect 2 'subcommand is required' 
expect 2 'not expected: --bogus' drift --bogus
expect 2 "unknown command 'frobnicate'" frobnicate
expect 2 '--divergence: foo not in' drift --divergence foo
expect 2 '--kernel: cosine not in' drift --kernel cosine
expect 2 '--stepper: rk4 not in' drift --stepper rk4
expect 2 '--n' drift --n 0
expect 2 '--n' drift --n many
expect 2 '--dt' drift --dt -1
expect 2 "--bandwidth: 'wide' is not a number" drift --bandwidth wide --out never.csv
expect 2 '--bandwidth: must be finite and > 0' drift --bandwidth -0.5 --out never.csv
expect 2 '--anneal: expected START:END' drift --anneal 3 --out never.csv
expect 2 'both set the final bandwidth' drift --anneal 2:0.1 --bandwidth 0.2 --out never.csv
expect 2 '--mix: expected two numbers A:B in \[0, 1e6\]' drift --divergence mixed --mix 1:x --out never.csv
expect 2 "neither a toy .* nor an existing" drift --target moonz --out never.csv
expect 2 "--out never\.txt: expected a \.csv or \.npy" drift --out never.txt
expect 2 "--png never\.jpg: expected a \.png" drift --png never.jpg
expect 2 "directory 'no/such' does not exist" drift --out no/such/x.csv
expect 2 "unknown distribution 'moonz'" sample moonz --out never.csv
expect 2 'give --out' sample moons
expect 2 'is 2-D' sample moons --dim 3 --out never.csv
expect 2 '--data is required' kde --out never.csv
expect 2 'b is required' metrics only_one.csv
expect 2 "--bandwidth: 'x' is not a number" metrics a.csv b.csv --bandwidth x
expect 2 'not a Gaussian-mixture toy' metrics a.csv b.csv --modes moons
[[ ! -e never.csv && ! -e never.npy && ! -e never.txt ]] && pass "nothing written" || fail "a usage error wrote a file"

finish
