#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end: `gfd train --conditional` (Deng et al.'s class-conditional training with
# classifier-free guidance) and `gfd generate --class K --cfg W`.
#  - Class K's samples land in class K's region (>= 95 %): within 3 sd of their own mode on
#    8gaussians and 25gaussians (the toys' documented parameters, share_own_mode in common.sh),
#    nearest a data point of their own moon on moons (from a labelled CSV, --label-column).
#  - Guidance on classes that overlap (8gaussians with 60 % of the labels drawn at random among
#    the other classes): raising omega from 1 to 3 raises precision (share of a class's samples
#    within 3 sd of its mode) and lowers coverage (share of a fresh sample of the class, its
#    relabelled points included, with a generated sample of the class within 3 sd),
#    monotonically.
#  - Model files: a conditional model is format version 2 and refuses generate without --class;
#    an unconditional one refuses --class.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "$@"
steps=${GFD_CONDITIONAL_STEPS:-1500}

for spec in 8gaussians:8 25gaussians:25; do
  IFS=: read -r toy k <<<"$spec"
  toy_steps=$steps
  [[ $toy == 25gaussians ]] && toy_steps=$((2 * steps))  # 25 classes: each is seen a third as often
  expect 0 "conditional: $k classes" train --target "$toy" --conditional --steps "$toy_steps" --out "$toy.gfdgen" --quiet
  grep -q "within 3 sd of the own class's mode" out.txt || fail "$toy: no own-mode line"
  expect 0 "of $k classes" generate --model "$toy.gfdgen" --class all --cfg 1 --n 400 --out "g_$toy.csv"
  [[ $(head -n 1 "g_$toy.csv") == "x0,x1,label,cfg" ]] || fail "$toy: header '$(head -n 1 "g_$toy.csv")'"
  share=$(share_own_mode "g_$toy.csv" "$k")
  if less_than 0.95 "$share"; then
    pass "$toy: $share of every class's samples are within 3 sd of the class's mode (>= 0.95)"
  else
    fail "$toy: only $share of the samples are within 3 sd of their class's mode"
  fi
done

# moons from a labelled CSV; the region of a class: nearer a data point of its own moon.
expect 0 '2 classes' sample moons --n 4000 --seed 3 --labels --out moons.csv
expect 0 'conditional: 2 classes' train --target moons.csv --label-column label --steps "$steps" --out moons.gfdgen --quiet
for c in 0 1; do
  expect 0 "class $c" generate --model moons.gfdgen --class "$c" --n 500 --out "g_moons$c.csv"
done
own=$(awk -F, 'FNR == 1 { next } NR == FNR { if (NR % 3 == 0) { tx[++m] = $1; ty[m] = $2; tl[m] = $3 }; next }
  { best = 1e300; for (j = 1; j <= m; ++j) { d = ($1 - tx[j]) ^ 2 + ($2 - ty[j]) ^ 2; if (d < best) { best = d; l = tl[j] } }
    n++; if (l == $3) same++ } END { printf "%.4f\n", same / n }' moons.csv g_moons0.csv g_moons1.csv)
if less_than 0.95 "$own"; then
  pass "moons: $own of the samples are nearest a data point of their own moon (>= 0.95)"
else
  fail "moons: only $own of the samples are nearest a data point of their own moon"
fi

# Guidance trades coverage for precision where classes overlap.
expect 0 '60% relabelled' sample 8gaussians --n 8000 --seed 1 --labels --label-noise 0.6 --out overlap.csv
expect 0 '60% relabelled' sample 8gaussians --n 4000 --seed 2 --labels --label-noise 0.6 --out fresh.csv
expect 0 'conditional: 8 classes' train --target overlap.csv --label-column label --steps "$steps" --out overlap.gfdgen --quiet
scales=1,1.5,2,2.5,3
expect 0 'at guidance 1,1.5,2,2.5,3' generate --model overlap.gfdgen --class all --cfg "$scales" --n 400 \
  --out g_overlap.csv
# Per scale, averaged over the classes: precision = share of class c's samples within 3 sd of
# mode c; coverage = sum over the modes m of min(share of c's samples within 3 sd of m, share of
# a fresh sample of class c within 3 sd of m), the overlap of the two mode histograms (1 = the
# class's relabelled points are reproduced too). 8gaussians: radius 2 sqrt 2, sd 0.2.
awk -F, 'function mode_of(x, y,   m, a) { for (m = 0; m < 8; ++m) { a = m * atan2(1, 1)
      if ((x - 2 * sqrt(2) * cos(a)) ^ 2 + (y - 2 * sqrt(2) * sin(a)) ^ 2 <= 0.36) return m }
    return -1 }
  FNR == 1 { next }
  NR == FNR { c = $3; pn[c]++; m = mode_of($1, $2); if (m >= 0) ph[c, m]++; next }
  { c = $3; w = $4; if (!(w in seen)) { seen[w] = 1; order[++ws] = w }
    qn[w, c]++; m = mode_of($1, $2); if (m >= 0) qh[w, c, m]++ }
  END { for (s = 1; s <= ws; ++s) { w = order[s]; prec = 0; cov = 0
      for (c = 0; c < 8; ++c) { prec += qh[w, c, c] / qn[w, c] / 8
        for (m = 0; m < 8; ++m) { q = qh[w, c, m] / qn[w, c]; p = ph[c, m] / pn[c]; cov += (q < p ? q : p) / 8 } }
      printf "%s %.4f %.4f\n", w, prec, cov } }' fresh.csv g_overlap.csv >tradeoff.txt
cat tradeoff.txt
awk 'NR == 1 { p = $2; c = $3; next }
  { if ($2 < p - 0.005) { print "precision fell from " p " to " $2 " at cfg " $1; bad = 1 }
    if ($3 > c + 0.005) { print "coverage rose from " c " to " $3 " at cfg " $1; bad = 1 }
    p = $2; c = $3 } END { exit bad }' tradeoff.txt || fail "guidance is not monotone (see above)"
first=($(head -n 1 tradeoff.txt)) last=($(tail -n 1 tradeoff.txt))
less_than "$(awk -v p="${first[1]}" 'BEGIN { print p + 0.1 }')" "${last[1]}" ||
  fail "precision rose only from ${first[1]} to ${last[1]} (expected >= 0.1)"
less_than "${last[2]}" "$(awk -v c="${first[2]}" 'BEGIN { print c - 0.1 }')" ||
  fail "coverage fell only from ${first[2]} to ${last[2]} (expected >= 0.1)"
pass "cfg 1 -> 3: precision ${first[1]} -> ${last[1]}, coverage ${first[2]} -> ${last[2]}, monotone (0.005 slack)"

# Model files and the command line.
expect 2 'is conditional \(8 classes\): give --class' generate --model overlap.gfdgen --n 5 --out x.csv
expect 2 'the model has classes 0 to 7' generate --model overlap.gfdgen --class 8 --n 5 --out x.csv
expect 0 'outside the guidance scales the model was trained on' generate --model overlap.gfdgen --class 0 --cfg 6 --n 5 --out x.csv
expect 0 '' train --target moons --steps 2 --out plain.gfdgen --quiet
expect 2 'unconditional model: --class and --cfg' generate --model plain.gfdgen --class 0 --n 5 --out x.csv
expect 2 'has no classes' train --target swissroll --conditional --steps 2 --out x.gfdgen
expect 2 'give --label-column' train --target moons.csv --conditional --steps 2 --out x.gfdgen
expect 2 'needs --divergence drifting-deng' train --target moons --conditional --divergence kl --steps 2 --out x.gfdgen
expect 2 "no label column 'klass'" train --target moons.csv --label-column klass --steps 2 --out x.gfdgen
expect 0 "column named 'label'; it is used as a coordinate \(d = 3\)" train --target moons.csv --steps 2 --holdout 0 --out x.gfdgen --quiet
expect 0 "column named 'label'; it is used as a coordinate" drift --target moons.csv --steps 1 --out x.csv --quiet
[[ $(od -An -tu1 -j8 -N1 overlap.gfdgen | tr -d ' ') == 2 ]] || fail "a conditional model is not format version 2"
[[ $(od -An -tu1 -j8 -N1 plain.gfdgen | tr -d ' ') == 1 ]] || fail "an unconditional model is not format version 1"
finish
