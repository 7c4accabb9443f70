#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end: `gfd drift --conditional` (each class's particles toward that class's targets) and
# the labels it reads and writes: `gfd sample --labels`, --label-column for CSV (a name) and .npy
# (an index), the label column of --out. Class K's particles must land in class K's region:
# within 3 sd of their own mode (8gaussians, 25gaussians: the modes' parameters are the toys'
# documented ones, not read from the code) or nearer a target of their own moon (moons).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "$@"

for spec in 8gaussians:8:800 25gaussians:25:1500; do
  IFS=: read -r toy k n <<<"$spec"
  expect 0 "conditional: $k classes" drift --target "$toy" --conditional --n "$n" --steps 300 --out "c_$toy.csv" --quiet
  grep -q "class agreement" out.txt || fail "$toy: no class agreement line"
  [[ $(head -n 1 "c_$toy.csv") == "x0,x1,label" ]] || fail "$toy: --out header is '$(head -n 1 "c_$toy.csv")'"
  [[ $(($(wc -l <"c_$toy.csv") - 1)) -eq $n ]] || fail "$toy: --out has $(($(wc -l <"c_$toy.csv") - 1)) particles, expected $n"
  share=$(share_own_mode "c_$toy.csv" "$k")
  if less_than 0.95 "$share"; then
    pass "$toy: $share of the particles are within 3 sd of their own class's mode (>= 0.95)"
  else
    fail "$toy: only $share of the particles are within 3 sd of their own class's mode"
  fi
  # Every class gets particles in proportion to its targets: all K labels appear.
  classes=$(tail -n +2 "c_$toy.csv" | cut -d, -f3 | sort -u | wc -l)
  [[ $classes -eq $k ]] || fail "$toy: $classes classes among the particles, expected $k"
done

# moons from a labelled file (CSV: the column named label; .npy: the last column).
expect 0 '2 classes' sample moons --n 1000 --seed 3 --labels --out moons.csv
expect 0 '' convert moons.csv moons.npy
# share_own_moon FILE: the share of FILE's particles whose nearest point of moons.csv has their label.
share_own_moon() {
  awk -F, 'FNR == 1 { next } NR == FNR { tx[++m] = $1; ty[m] = $2; tl[m] = $3; next }
    { best = 1e300; for (j = 1; j <= m; ++j) { d = ($1 - tx[j]) ^ 2 + ($2 - ty[j]) ^ 2; if (d < best) { best = d; l = tl[j] } }
      n++; if (l == $3) same++ }
    END { printf "%.4f\n", same / n }' moons.csv "$1"
}
for target in moons.csv:label moons.npy:-1; do
  IFS=: read -r file col <<<"$target"
  expect 0 'conditional: 2 classes' drift --target "$file" --conditional --label-column "$col" --n 600 --steps 300 \
    --out "c_$file.csv" --quiet
  share=$(share_own_moon "c_$file.csv")
  if less_than 0.95 "$share"; then
    pass "$file (--label-column $col): $share of the particles are nearest a target of their own moon"
  else
    fail "$file (--label-column $col): only $share of the particles are nearest a target of their own moon"
  fi
done
# The default label column is "label"; a labelled --init file keeps its particles' classes.
expect 0 '' drift --target moons.csv --conditional --steps 1 --out x1.csv --quiet
expect 0 '' drift --target moons.csv --conditional --init x1.csv --steps 2 --out x2.csv --quiet
if cmp -s <(tail -n +2 x1.csv | cut -d, -f3) <(tail -n +2 x2.csv | cut -d, -f3); then
  pass "a labelled --init file keeps its particles' classes"
else
  fail "the classes of a labelled --init file changed"
fi

# Bad input: exit 2 with a message naming the problem.
printf 'x0,x1,label\n0,0,0\n1,1,0.5\n2,2,1\n' >frac.csv
printf 'x0,x1,label\n0,0,9\n1,1,9\n' >alien.csv
expect 2 'has no classes' drift --target swissroll --conditional --steps 1 --quiet
expect 2 'needs --conditional' drift --target moons.csv --label-column label --steps 1 --quiet
expect 2 "no label column 'class' \(columns: x0, x1, label" drift --target moons.csv --conditional --label-column class --steps 1
expect 2 'label 0.5 of point 2' drift --target frac.csv --conditional --steps 1 --quiet
expect 2 'class 9 has 2 particles but 0 targets' drift --target moons.csv --conditional --init alien.csv --steps 1 --quiet
expect 2 'trajectory' drift --target moons --conditional --trajectory t.csv --steps 1 --quiet
expect 2 'not on the sphere' drift --manifold sphere --target vmf-mixture --conditional --steps 1 --quiet

finish
