#!/usr/bin/env bash
# Runs the test suite (or the tests named by -Dtest=...) under every OpenBLAS core type this CPU can execute among
# those CI machines use, and several OpenMP thread counts: lens4j's results must not depend on either.
#   scripts/coretype-matrix.sh                       # whole suite, 6 core types x threads 1 2 4
#   THREADS="1 4" scripts/coretype-matrix.sh -Dtest='CpuKernelsTest,BackwardKernelsTest'
set -uo pipefail
cd "$(dirname "$0")/.."
# a core type runs only where the CPU has its instructions (OpenBLAS falls back otherwise)
flags=$(grep -m1 '^flags' /proc/cpuinfo)
has() { [[ " $flags " == *" $1 "* ]]; }
all="unset"
has avx2 && all="$all Haswell Zen"
has avx512f && all="$all SkylakeX"
has avx512_bf16 && all="$all Cooperlake"
has amx_tile && all="$all SapphireRapids"
cores=${CORETYPES:-$all}
threads=${THREADS:-"1 2 4"}
mkdir -p java/target
mvn -B -DskipTests -pl java -am test-compile >java/target/matrix-build.log 2>&1 || { echo "build failed: java/target/matrix-build.log"; exit 1; }
status=0
for c in $cores; do
  for t in $threads; do
    log="java/target/matrix-$c-$t.log"
    if [ "$c" = unset ]; then env -u OPENBLAS_CORETYPE OMP_NUM_THREADS="$t" mvn -B -pl java surefire:test "$@" >"$log" 2>&1
    else OPENBLAS_CORETYPE="$c" OMP_NUM_THREADS="$t" mvn -B -pl java surefire:test "$@" >"$log" 2>&1; fi
    rc=$?
    summary=$(grep -E "^\[(INFO|ERROR|WARNING)\] Tests run: [0-9]+, Failures" "$log" | tail -1 | sed 's/^\[[A-Z]*\] //')
    printf '%-15s threads=%s  rc=%s  %s\n' "$c" "$t" "$rc" "$summary"
    [ $rc -eq 0 ] || status=1
  done
done
exit $status
