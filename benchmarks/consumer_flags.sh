#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What each compiler flag buys a program that includes gfd's headers (README "Performance",
# "Compiler flags for your own code"). Builds benchmarks/flag_probe.cpp with g++ once per flag
# set, the way a consumer's build would, runs each build in turn (never two at once) and prints a
# Markdown table: seconds per exact score pass and the speed-up over the first row. The double
# checksums of all builds must agree to 1e-12 relative (float to 1e-4), or the script fails.
#
#     benchmarks/consumer_flags.sh [repetitions=3]
#
# Needs g++, Eigen and, for the last row, Debian's libopenblas-openmp-dev (scripts/deps).
# Unset OPENBLAS_CORETYPE, which forces an older OpenBLAS kernel. Takes about 5 minutes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
reps=${1:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

base=(-std=c++20 -DNDEBUG -Iinclude $(pkg-config --cflags eigen3))
blas_dir=/usr/lib/$(gcc -print-multiarch)/openblas-openmp
names=("-O2" "-O3" "-O3 -fopenmp" "-O3 -fopenmp -march=native" "-O3 -fopenmp -march=native + OpenBLAS")
flags=("-O2" "-O3" "-O3 -fopenmp" "-O3 -fopenmp -march=native"
       "-O3 -fopenmp -march=native -DGFD_USE_OPENBLAS -I/usr/include/$(gcc -print-multiarch)/openblas-openmp")
links=("" "" "" "" "-L$blas_dir -Wl,-rpath,$blas_dir -lopenblas")
if [[ ! -e $blas_dir/libopenblas.so ]]; then
  echo "consumer_flags: $blas_dir/libopenblas.so not found (libopenblas-openmp-dev): OpenBLAS row skipped" >&2
  unset 'names[4]' 'flags[4]' 'links[4]'
fi

for i in "${!flags[@]}"; do
  echo "building: ${names[$i]}" >&2
  # shellcheck disable=SC2086
  g++ "${base[@]}" ${flags[$i]} benchmarks/flag_probe.cpp -o "$out/probe$i" ${links[$i]}
done
for i in "${!flags[@]}"; do
  echo "running:  ${names[$i]}" >&2
  "$out/probe$i" "$reps" > "$out/result$i"
done

python3 - "$out" "${names[@]}" <<'EOF'
import sys
out, names = sys.argv[1], sys.argv[2:]
rows = []
for i in range(len(names)):
    r = {}
    for line in open(f"{out}/result{i}"):
        case, sec, chk = line.split()
        r[case] = (float(sec), float(chk))
    rows.append(r)
cases = list(rows[0])
for c in cases:
    ref = rows[0][c][1]
    tol = 1e-12 if "double" in c else 1e-4
    for n, r in zip(names, rows):
        if abs(r[c][1] - ref) > tol * abs(ref):
            sys.exit(f"consumer_flags: {c} with '{n}' sums differently: {r[c][1]!r} against {ref!r}")
heads = {"d2_double": "d = 2, double", "d2_float": "d = 2, float",
         "d512_double": "d = 512, double", "d512_float": "d = 512, float"}
print("| flags | " + " | ".join(heads[c] for c in cases) + " |")
print("|---|" + "---:|" * len(cases))
for n, r in zip(names, rows):
    cells = [f"{r[c][0]:.3f} s ({rows[0][c][0] / r[c][0]:.1f}x)" for c in cases]
    print(f"| `{n}` | " + " | ".join(cells) + " |")
print("\nd = 2: N = M = 16384, d = 512: N = M = 4096; exact Gaussian scores, best of the repetitions;"
      " speed-up against the first row. Sums agree across builds (double 1e-12, float 1e-4).")
EOF
