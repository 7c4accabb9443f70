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
