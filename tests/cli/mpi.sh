#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end: `mpirun -np P gfd drift` (examples/cli/ranks.hpp). A run on P ranks writes the same
# particles as one process (to round-off: the ring adds the kernel sums in another order), prints
# its header and metrics once and names the ranks; bad input on any rank ends every rank with
# exit code 2 and one message, never a hang; a rank that dies ends the others.
# Needs the MPI launcher in $GFD_MPIEXEC (CMake passes FindMPI's MPIEXEC_EXECUTABLE).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "$@"
MPIEXEC=${GFD_MPIEXEC:-mpirun}
# Open MPI refuses to run as root without these (CI runs as root); one OpenMP thread per rank.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1

# run_mpi P ARGS...: gfd ARGS on P ranks within 120 s, stdout to out.txt, stderr to err.txt; sets $rc.
run_mpi() {
  local p=$1
  shift
  set +e
  timeout 120 "$MPIEXEC" --oversubscribe -np "$p" "$GFD" "$@" >out.txt 2>err.txt
  rc=$?
  set -e
}

# max_rel A.csv B.csv: max |a - b| / max |b| over every coordinate (same shape required).
max_rel() {
  paste -d, "$1" "$2" | awk -F, 'NR > 1 { n = NF / 2; for (i = 1; i <= n; ++i) {
      d = $i - $(i + n); if (d < 0) d = -d; if (d > md) md = d;
      b = $(i + n); if (b < 0) b = -b; if (b > mb) mb = b } }
    END { if (NR < 2 || mb == 0) { print "nan"; exit } printf "%.3g\n", md / mb }'
}

# same_as_one_process P TOL LABEL ARGS...: gfd drift ARGS on one process and on P ranks write
# particles within TOL (max relative) of each other; the P-rank header names the ranks.
same_as_one_process() {
  local p=$1 tol=$2 label=$3
  shift 3
  run_gfd drift "$@" --quiet --out one.csv
  [[ $rc -eq 0 ]] || { fail "$label: one process exited $rc: $(cat err.txt)"; return 0; }
  run_mpi "$p" drift "$@" --quiet --out many.csv
  [[ $rc -eq 0 ]] || { fail "$label: $p ranks exited $rc: $(cat err.txt)"; return 0; }
  grep -qE "on $p MPI ranks?\b" out.txt || fail "$label: the header does not name the $p ranks: $(head -3 out.txt)"
  local headers flows writes
  headers=$(grep -c '^gfd drift:' out.txt || true)
  flows=$(grep -c '^  flow: ' out.txt || true)
  writes=$(grep -c 'wrote many.csv' out.txt || true)
  [[ $headers -eq 1 && $flows -eq 1 && $writes -eq 1 ]] ||
    fail "$label: $headers headers, $flows flow lines and $writes writes on $p ranks, expected one each"
  local r
  r=$(max_rel many.csv one.csv)
  if less_than "$r" "$tol"; then
    pass "$label: $p ranks = one process to $r relative (<= $tol)"
  else
    fail "$label: $p ranks differ from one process by $r relative (tolerance $tol)"
  fi
}

# 1. The same particles on 1, 2 and 3 ranks: a sharded divergence (KL, the ring), the default
# annealed schedule (its start needs the particles of every rank), Heun, a replicated one
# (the drifting field couples every particle), the tree evaluator per block, the sphere.
same_as_one_process 1 1e-12 "KL" --target moons --n 300 --steps 20 --bandwidth 0.3
same_as_one_process 2 1e-12 "KL" --target moons --n 300 --steps 20 --bandwidth 0.3
same_as_one_process 3 1e-12 "KL, annealed, heun" --target 8gaussians --n 301 --m 250 --steps 15 --stepper heun
same_as_one_process 3 1e-12 "chi2 reverse, laplacian" --target checkerboard --n 200 --steps 10 \
  --divergence chi2-reverse --kernel laplacian --bandwidth 0.4
same_as_one_process 2 1e-12 "drifting (replicated)" --target 8gaussians --n 200 --steps 10 --divergence drifting
same_as_one_process 2 1e-9 "tree evaluator" --target moons --n 400 --steps 5 --evaluator tree --tolerance 1e-12 \
  --bandwidth 0.3
same_as_one_process 2 1e-12 "sphere" --manifold sphere --target vmf-mixture --n 200 --steps 10
# A target file read by rank 0 and scattered, and a trajectory gathered from every rank.
expect 0 '' sample 25gaussians --n 500 --seed 7 --out target.csv
run_gfd drift --target target.csv --n 200 --steps 6 --trajectory-every 3 --trajectory t1.csv --quiet
run_mpi 2 drift --target target.csv --n 200 --steps 6 --trajectory-every 3 --trajectory t2.csv --quiet
if [[ $rc -eq 0 ]] && less_than "$(max_rel t2.csv t1.csv)" 1e-12; then
  pass "a file target and --trajectory on 2 ranks equal one process ($(max_rel t2.csv t1.csv))"
else
  fail "file target / trajectory on 2 ranks: exit $rc, difference $(max_rel t2.csv t1.csv 2>/dev/null || echo -)"
fi

# 2. Bad input ends every rank with exit code 2 and one message, within the timeout.
# expect_mpi P CODE 'REGEX' ARGS...
expect_mpi() {
  local p=$1 code=$2 pattern=$3
  shift 3
  run_mpi "$p" "$@"
  if [[ $rc -ne $code ]]; then
    fail "mpirun -np $p gfd $* exited $rc, expected $code (124: a hang); stderr: $(cat err.txt)"
    return 0
  fi
  local n
  n=$(grep -cE -- "$pattern" err.txt || true)
  if [[ $n -ne 1 ]]; then
    fail "mpirun -np $p gfd $*: /$pattern/ printed $n times, expected once; stderr: $(cat err.txt)"
    return 0
  fi
  pass "mpirun -np $p gfd $* -> exit $code, one message"
}
printf 'x0,x1\n0.1,0.2\n0.3,nan\n0.5,0.6\n' >nan.csv
expect_mpi 3 2 'missing\.csv' drift --target missing.csv --quiet
expect_mpi 2 2 'nan\.csv' drift --target nan.csv --quiet
expect_mpi 2 2 'nan\.csv' drift --target moons --init nan.csv --quiet
expect_mpi 2 2 'dt' drift --dt -1 --quiet
expect_mpi 2 2 'adaptive' drift --target moons --n 100 --steps 3 --stepper adaptive --quiet
expect_mpi 2 2 'only gfd drift runs across ranks' sample moons --n 10
expect_mpi 3 2 'N = 2 particles and M = 2 targets across 3 MPI ranks' drift --n 2 --m 2 --steps 1 --quiet
expect_mpi 2 2 'in double only' drift --target moons --n 100 --steps 3 --precision float --quiet

# 3. A rank that dies (SIGKILL, as the out-of-memory killer would) ends the run with a non-zero
# exit code instead of leaving rank 0 waiting in the ring.
set +e
timeout 120 "$MPIEXEC" --oversubscribe -np 2 "$GFD" drift --target moons --n 2000 --steps 100000 \
  --bandwidth 0.3 --quiet --out never.csv >out.txt 2>err.txt &
launcher=$!
set -e
victim=""
for _ in $(seq 1 200); do
  for pid in $(pgrep -x gfd || true); do
    if { tr '\0' '\n' </proc/"$pid"/environ | grep -qx 'OMPI_COMM_WORLD_RANK=1\|PMIX_RANK=1'; } 2>/dev/null; then
      victim=$pid
    fi
  done
  [[ -n $victim ]] && break
  sleep 0.1
done
if [[ -z $victim ]]; then
  fail "rank 1 of the long run never appeared"
  kill "$launcher" 2>/dev/null || true
  wait "$launcher" 2>/dev/null || true
else
  sleep 2  # inside the flow
  kill -9 "$victim"
  set +e
  wait "$launcher"
  rc=$?
  set -e
  if [[ $rc -ne 0 && $rc -ne 124 && ! -e never.csv ]]; then
    pass "a killed rank ends the run: exit $rc, no output written"
  else
    fail "after rank 1 was killed the run exited $rc (124: it hung), output written: $([[ -e never.csv ]] && echo yes || echo no)"
  fi
fi

finish
