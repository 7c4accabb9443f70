# SPDX-License-Identifier: MIT
# Shared helpers of the `gfd` command-line tests. Sourced by each test script as
#   source common.sh "$@"      with "$@" = <path to the gfd binary> <scratch directory>
# The scratch directory is emptied and becomes the working directory.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 <gfd binary> <scratch directory>" >&2
  exit 2
fi
GFD=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
WORK=$2
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
pass() { echo "ok:   $*"; }

# run_gfd ARGS...: runs gfd, stdout to out.txt, stderr to err.txt; sets $rc.
run_gfd() {
  set +e
  "$GFD" "$@" >out.txt 2>err.txt
  rc=$?
  set -e
}

# expect CODE 'REGEX' ARGS...: gfd ARGS must exit with CODE and print REGEX (extended, on
# stdout or stderr; empty = no check).
expect() {
  local code=$1 pattern=$2
  shift 2
  run_gfd "$@"
  if [[ $rc -ne $code ]]; then
    fail "gfd $* exited $rc, expected $code; stderr: $(cat err.txt)"
    return 0
  fi
  if [[ -n $pattern ]] && ! grep -qE -- "$pattern" out.txt err.txt; then
    fail "gfd $* (exit $rc) did not print /$pattern/; stdout: $(cat out.txt); stderr: $(cat err.txt)"
    return 0
  fi
  pass "gfd $* -> exit $code"
}

# value_of 'LABEL' FILE: the last field of the first line of FILE containing LABEL.
value_of() { grep -F -- "$1" "$2" | head -n 1 | awk '{print $NF}'; }

# less_than A B: succeeds when A < B (floating point).
less_than() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# share_own_mode FILE K: the share of FILE's particles (x0,x1,label) within 3 sd of their
# label's mode: 8gaussians (K = 8: radius 2 sqrt 2, angle c pi / 4, sd 0.2) or 25gaussians (K =
# 25: centre (g[c / 5], g[c % 5]), g = -3, -1.5, 0, 1.5, 3, sd 0.1).
share_own_mode() {
  awk -F, -v k="$2" 'NR > 1 { c = $3;
      if (k == 8) { a = c * atan2(1, 1); cx = 2 * sqrt(2) * cos(a); cy = 2 * sqrt(2) * sin(a); sd = 0.2 }
      else { cx = -3 + 1.5 * int(c / 5); cy = -3 + 1.5 * (c % 5); sd = 0.1 }
      n++; if (($1 - cx) ^ 2 + ($2 - cy) ^ 2 <= (3 * sd) ^ 2) near++ }
    END { printf "%.4f\n", near / n }' "$1"
}


# no_temporaries: no file of a failed atomic write may be left behind.
no_temporaries() {
  local left
  left=$(find . -name '*.tmp-*' | head -n 5)
  [[ -z $left ]] || fail "temporary files left behind: $left"
}

finish() {
  no_temporaries
  if [[ $failures -ne 0 ]]; then
    echo "$failures check(s) failed" >&2
    exit 1
  fi
  echo "all checks passed"
}
