#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end: the cases of a hostile user's session (issue "Bad input, tried as a hostile user
# would"): no hang, no silent no-op, no NaN or Inf printed with exit 0, no input destroyed by an
# output, no temporary left behind, early range checks with the usable range in the message,
# messages that are short and escaped, and no silently accepted nonsense.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "$@"

# no_nan_inf FILE...: none of the files prints a NaN or an infinity.
no_nan_inf() {
  if grep -qiE '(^|[^a-z])(-?nan|-?inf)([^a-z]|$)' "$@"; then
    fail "NaN or Inf printed: $(grep -iE 'nan|inf' "$@" | head -n 3)"
  else
    pass "no NaN or Inf in $*"
  fi
}

# scaled FACTOR IN OUT: multiplies every coordinate of a header + 2-column CSV.
scaled() {
  awk -v s="$1" -F, 'NR == 1 { print; next } { printf "%.17g,%.17g\n", $1 * s, $2 * s }' "$2" >"$3"
}

"$GFD" sample moons --n 400 --seed 1 --out a.csv >/dev/null
"$GFD" sample moons --n 400 --seed 2 --out b.csv >/dev/null

# --- The hang: Wood's vMF sampler at a concentration where 4 kappa^2 overflows -----------------
set +e
timeout 120 "$GFD" drift --manifold sphere --kappa 1e308 --steps 5 --n 200 --out vmf.csv --quiet \
  >out.txt 2>err.txt
rc=$?
set -e
if [[ $rc -eq 124 ]]; then fail "drift --kappa 1e308 hangs"
elif [[ $rc -ne 0 ]]; then fail "drift --kappa 1e308 exited $rc: $(cat err.txt)"
else pass "drift --manifold sphere --kappa 1e308 finishes"; fi
no_nan_inf out.txt vmf.csv

# --- The silent no-op: a step so large that step x velocity overflows ----------------------------
expect 0 '' drift --target moons --n 300 --steps 0 --out start.csv --quiet
expect 0 '' drift --target moons --n 300 --steps 5 --dt 1e200 --out huge_dt.csv --quiet
if cmp -s start.csv huge_dt.csv; then fail "--dt 1e200 left every particle where it started"
else pass "--dt 1e200 moves the particles (by the displacement cap)"; fi
no_nan_inf huge_dt.csv
expect 1 'is not finite at step' drift --target moons --n 300 --steps 5 --dt 1e200 \
  --max-displacement 0 --out never.csv --quiet

# --- Metrics and KDE of clouds at extreme scales: finite, and scale-equivariant -------------------
"$GFD" metrics a.csv b.csv >m1.txt
for s in 1e154 1e300 1e-300; do
  scaled "$s" a.csv a_$s.csv
  scaled "$s" b.csv b_$s.csv
  expect 0 'energy distance' metrics a_$s.csv b_$s.csv
  cp out.txt m_$s.txt
  no_nan_inf m_$s.txt
  e1=$(value_of 'energy distance' m1.txt)
  es=$(value_of 'energy distance' m_$s.txt)
  if awk -v a="$e1" -v b="$es" -v s="$s" 'BEGIN { r = b / (a * s); exit !(r > 0.999 && r < 1.001) }'; then
    pass "energy distance scales with the clouds (x $s)"
  else
    fail "energy distance at x $s is $es, expected $s x $e1"
  fi
  m1=$(value_of 'MMD^2' m1.txt)
  ms=$(value_of 'MMD^2' m_$s.txt)
  if awk -v a="$m1" -v b="$ms" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-3 * (a < 0 ? -a : a)) }'; then
    pass "MMD^2 with the median bandwidth is scale-invariant (x $s)"
  else
    fail "MMD^2 at x $s is $ms, expected $m1"
  fi
  expect 0 'bandwidth' kde --data a_$s.csv --out kde_$s.csv
  no_nan_inf kde_$s.csv
done

# --- Outputs that are the same file as an input, or as another output ------------------------------
cp a.csv keep.csv
check_input_kept() {
  if cmp -s a.csv keep.csv; then pass "input kept: $1"; else fail "input overwritten: $1"; cp keep.csv a.csv; fi
}
expect 2 'is the same file as --target' drift --target a.csv --out a.csv --steps 1
check_input_kept "drift --target a.csv --out a.csv"
expect 2 'is the same file as --target' drift --target a.csv --out ./a.csv --steps 1
check_input_kept "drift --out ./a.csv"
mkdir -p sub
expect 2 'is the same file as --target' drift --target a.csv --out sub/../a.csv --steps 1
check_input_kept "drift --out sub/../a.csv"
ln -sf a.csv link.csv
expect 2 'is the same file as --target' drift --target a.csv --out link.csv --steps 1
check_input_kept "drift --out through a symbolic link"
ln -f a.csv hard.csv
expect 2 'is the same file as --target' drift --target hard.csv --out a.csv --steps 1
check_input_kept "drift with a hard link"
expect 2 'is the same file as --init' drift --target moons --init a.csv --out a.csv --steps 1
check_input_kept "drift --init a.csv --out a.csv"
expect 2 'is the same file as --data' kde --data a.csv --out a.csv
check_input_kept "kde --data a.csv --out a.csv"
expect 2 'is the same file as --query' kde --data b.csv --query a.csv --out a.csv
check_input_kept "kde --query a.csv --out a.csv"
expect 2 'is the same file as input' convert a.csv ./a.csv
check_input_kept "convert a.csv ./a.csv"
expect 2 'is the same file as --target' train --target a.csv --out m.gfdgen --log a.csv --steps 2
check_input_kept "train --log a.csv"
expect 2 'one output would overwrite the other' drift --target moons --out x.csv --trajectory x.csv --steps 1
[[ ! -e x.csv ]] && pass "no output written on an output collision" || fail "x.csv written"
expect 0 '' train --target moons --steps 3 --batch 64 --out model.gfdgen --quiet
cp model.gfdgen model.csv
cp model.csv model_keep.csv
expect 2 'is the same file as --model' generate --model model.csv --out model.csv --n 10
cmp -s model.csv model_keep.csv && pass "model kept" || fail "generate overwrote its model"

# An output that is a symbolic link is written through: the link stays, its target is replaced.
ln -sf real_out.csv out_link.csv
expect 0 '' drift --target moons --n 100 --steps 2 --out out_link.csv --quiet
if [[ -L out_link.csv && -s real_out.csv ]]; then pass "an output symbolic link is written through"
else fail "the output link was replaced or its target not written"; fi

# --- No temporary left behind when the file-size limit (SIGXFSZ) stops a write -------------------
"$GFD" sample moons --n 20000 --out big.csv >/dev/null
set +e
(ulimit -f 64; "$GFD" convert big.csv big.npy) >out.txt 2>err.txt
rc=$?
set -e
if [[ $rc -eq 2 ]] && grep -q 'File too large' err.txt; then pass "convert past ulimit -f fails with the cause"
else fail "convert past ulimit -f: exit $rc, $(cat err.txt)"; fi
[[ ! -e big.npy ]] || fail "a partial big.npy was left"
set +e
(ulimit -f 8; "$GFD" sample moons --n 50 --out small.csv --png big.png) >out.txt 2>err.txt
rc=$?
set -e
if [[ $rc -eq 2 ]] && grep -q 'big.png.*File too large' err.txt; then pass "a PNG write failure exits 2 with its cause"
else fail "PNG write failure: exit $rc, $(cat err.txt)"; fi
no_temporaries

# --- Ranges checked up front, with the usable range in the message ------------------------------
expect 2 'outside \[1e-152, 1e\+152\]' drift --bandwidth 1e-300 --out never.csv
expect 2 'outside \[1e-152, 1e\+152\]' drift --bandwidth 1e300 --out never.csv
expect 2 'outside \[1e-152, 1e\+152\]' drift --anneal 1e200: --out never.csv
expect 2 'alpha = 1e\+06 is outside \[-22, 24\]' drift --divergence alpha --alpha 1e6 --out never.csv
expect 2 'in \[0, 1e6\]' drift --divergence mixed --mix 1e308:1e308 --out never.csv
expect 2 '--lr: must be in \(0, 1\]' train --target moons --lr 1e300 --out never.gfdgen
expect 2 '--eta: must be in \(0, 1e\+06\]' train --target moons --eta 1e308 --out never.gfdgen
expect 2 'outside \[1e-152, 1e\+152\]' train --target moons --bandwidth 1e-300 --out never.gfdgen
scaled 1e300 a.csv a_huge.csv
expect 2 '--target a_huge.csv: coordinates up to .* rescale the data' drift --target a_huge.csv --out never.csv

# --- Messages: abbreviated, escaped, no 309-digit numbers, naming the right thing ------------------
{ echo "x0,x1"; printf '1,'; head -c 200000 /dev/zero | tr '\0' '7'; echo; } >long_cell.csv
expect 2 'long_cell.csv:2:2: number out of range.*bytes' kde --data long_cell.csv --out never.csv
[[ $(wc -c <err.txt) -lt 1000 ]] && pass "a 200000-digit cell gives a short message" || fail "message of $(wc -c <err.txt) bytes"
printf 'x0,x1\n1,2\x1b[31m\n' >escape.csv
expect 2 'escape.csv:2:2: not a number' kde --data escape.csv --out never.csv
if grep -q $'\x1b' err.txt; then fail "a terminal escape from the file reached stderr raw"
else pass "binary bytes are escaped (\\x1b)"; fi
grep -qF '\x1b' err.txt && pass "the escape is shown as \\x1b" || fail "no \\x1b in $(cat err.txt)"
printf 'x0,x1\n1,2\0tail\n' >nul.csv
expect 2 "not a number: '2\\\\x00tail'" kde --data nul.csv --out never.csv
expect 2 '--dt: must be finite and > 0' drift --dt -1
if grep -q '17976931348623157' err.txt; then fail "a range message prints the largest double in full"
else pass "range messages give short numbers"; fi
expect 2 '' drift --dt "$(head -c 5000 /dev/zero | tr '\0' '9')"
[[ $(wc -c <err.txt) -lt 2500 ]] && pass "a 5000-digit option value gives a short message" || fail "message of $(wc -c <err.txt) bytes"
expect 0 'bandwidth' kde --data a_1e300.csv --out never_k.csv
{ echo "x0,x1"; for i in $(seq 1 50); do echo "0.5,0.5"; done; } >same.csv
expect 0 'MMD' drift --target same.csv --bandwidth 0.1 --steps 5 --out same_out.csv --quiet
no_nan_inf out.txt

# --- Nonsense no longer accepted silently --------------------------------------------------------
expect 2 'a seed is an integer in \[0, 18446744073709551615\]' sample moons --seed -1 --out never.csv
expect 2 'a seed is an integer' sample moons --seed 18446744073709551616 --out never.csv
expect 0 '' sample moons --n 10 --seed 18446744073709551615 --out max_seed.csv
expect 2 '--threads: must be an integer in \[0, 1024\]' drift --threads 10000 --out never.csv
expect 2 '--n 500 and --init a.csv: the file gives the particles' drift --target moons --init a.csv --n 500 --out never.csv
expect 0 'N = 400 particles, M = 400 targets' drift --target moons --init a.csv --steps 1 --out init_out.csv --quiet
# An input that never ends (a FIFO fed forever) is refused at 1 GiB, not read until memory runs out.
mkfifo endless.csv
(yes '1,2' >endless.csv 2>/dev/null || true) &
feeder=$!
expect 2 'endless.csv: not a regular file, and more than 1024 MiB came from it' kde --data endless.csv --out never.csv
kill "$feeder" 2>/dev/null || true
wait "$feeder" 2>/dev/null || true

[[ ! -e never.csv && ! -e never.gfdgen ]] && pass "no output of a refused run" || fail "a refused run wrote its output"
no_temporaries
finish
