#!/usr/bin/env bash
# Build, then in one run: the JMH forward benchmarks (lens4j and libtorch), lens4j next to libtorch eager interleaved
# in one JVM (forward, forward + cache, attribution against autograd), the float32 profile (sgemm floor, time per op,
# peak memory), and lens4j alternating with TransformerLens and plain PyTorch (benchmarks/python/compare.py).
# Extra arguments go to JMH, e.g.: benchmarks/run.sh -wi 1 -i 3
# Environment: LENS4J_JMH=0 skips JMH; LENS4J_PYTHON is the Python with TransformerLens (default python3; may start
# with VAR=value settings, e.g. "PYTHONPATH=/work/tl/site:/work/tl/stubs /usr/bin/python3"); LENS4J_PY_ROUNDS
# (default 3) alternating rounds; LENS4J_PYTHON=none skips the Python comparison; LENS4J_ROUNDS (default 8) rounds of
# the in-JVM side-by-sides (attribution: half as many); LENS4J_PROFILE_REPS (default 3) runs per profiled pass.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mvn -B -q -DskipTests install > /dev/null
cp="benchmarks/target/lens4j-benchmarks-0.1.0-SNAPSHOT.jar:java/target/lens4j-0.1.0-SNAPSHOT.jar:$(cat benchmarks/target/classpath.txt)"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; load average $(cut -d' ' -f1-3 /proc/loadavg)"
jv() { java -Xmx8g --enable-native-access=ALL-UNNAMED -cp "$cp" "$@"; }
if [ "${LENS4J_JMH:-1}" != 0 ]; then jv dev.lens4j.bench.BenchMain ForwardBench "$@"; fi
rounds=${LENS4J_ROUNDS:-8}
jv dev.lens4j.bench.SideBySide gpt2-small 8 128 "$rounds"
jv dev.lens4j.bench.AttributionSideBySide gpt2-small 8 128 $(( (rounds + 1) / 2 ))
jv dev.lens4j.bench.ForwardProfile gpt2-small 8 128 "${LENS4J_PROFILE_REPS:-3}"
if [ "${LENS4J_PYTHON:-}" != none ]; then
  python3 benchmarks/python/compare.py --java-cp "$cp" --python "${LENS4J_PYTHON:-python3}" --rounds "${LENS4J_PY_ROUNDS:-3}"
fi
