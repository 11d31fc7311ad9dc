#!/usr/bin/env bash
# Peak memory and time of loading big checkpoints (LoadBench): writes random-weight bf16 checkpoints of real model
# shapes into DIR (default /work/bench-models; nothing is committed), then loads each in a fresh JVM with the launcher's
# -Xmx8g, once with float32 weights and once with bf16 ones (LOAD_DTYPES="f32 bf16" by default).
# Usage: benchmarks/load.sh [DIR] [SHAPE...]   (shapes: gpt2-large gpt2-xl gemma2-2b; default gpt2-large gemma2-2b)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
dir="${1:-/work/bench-models}"; shift || true
shapes=("$@"); [ ${#shapes[@]} -gt 0 ] || shapes=(gpt2-large gemma2-2b)
mvn -B -DskipTests install > /dev/null
cp="benchmarks/target/lens4j-benchmarks-0.1.0-SNAPSHOT.jar:java/target/lens4j-0.1.0-SNAPSHOT.jar:$(cat benchmarks/target/classpath.txt)"
for s in "${shapes[@]}"; do
  [ -f "$dir/$s/model.safetensors" ] || java -Xmx1g -cp "$cp" dev.lens4j.bench.LoadBench write "$s" "$dir/$s"
  for dtype in ${LOAD_DTYPES:-f32 bf16}; do
    java -Xmx8g --enable-native-access=ALL-UNNAMED -cp "$cp" dev.lens4j.bench.LoadBench load "$dir/$s" 32 "$dtype"
  done
done
