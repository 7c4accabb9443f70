#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Strong scaling of gfd::mpi::flow on this machine, in one run: the same KL flow (N = M, d = 2,
# exact evaluator) on 1 rank and on 2 ranks with one OpenMP thread each, then on 1 rank with 2
# threads (what one process does with the same cores), and the cost model's crossover from the
# measured pair rate (bench_mpi.cpp). Usage: benchmarks/mpi_scaling.sh [build dir] [N] [steps]
set -euo pipefail
build=${1:-build}
n=${2:-40000}
steps=${3:-3}
bench=$build/benchmarks/bench_mpi
[[ -x $bench ]] || { echo "no $bench: configure with MPI (libopenmpi-dev) and build bench_mpi" >&2; exit 2; }
# Benchmarks want the CPU's own kernels, not a forced OpenBLAS core type.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "== 1 rank, 1 thread"
OMP_NUM_THREADS=1 mpirun -np 1 "$bench" "$n" "$steps" 2
echo "== 2 ranks, 1 thread each"
OMP_NUM_THREADS=1 mpirun -np 2 "$bench" "$n" "$steps" 2
echo "== 1 rank, 2 threads (OpenMP, for comparison)"
OMP_NUM_THREADS=2 mpirun -np 1 --bind-to none "$bench" "$n" "$steps" 2
