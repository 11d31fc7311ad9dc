#!/usr/bin/env bash
# Spark scan throughput on this machine: the plain scan against --spark local[1] and local[2], same corpus and options.
# Needs ../shared/models/stories260K and the spark module built (mvn -B -pl spark -am package -DskipTests).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="$root/../shared/models/stories260K/stories260K.bin"
work="${1:-/tmp/lens4j-spark-bench}"
docs="${DOCS:-2000}"
mkdir -p "$work"
python3 - "$work/corpus.jsonl" "$docs" <<'PY'
import json, sys
w = ["Once upon a time", "there was a little girl named Lily", "She loved to play outside", "in the park with her dog",
     "One day", "the sun was shining", "and the birds sang", "Tom said hello"]
with open(sys.argv[1], "w") as f:
    for d in range(int(sys.argv[2])):
        f.write(json.dumps({"text": ", ".join(w[(d + i * 3) % 8] for i in range(1 + (d * 7) % 17)) + "."}) + "\n")
PY
export LENS4J_JAVA_OPTS=-Xmx3g
run() { # name, args...
  local name="$1"; shift
  rm -rf "$work/$name"
  local t0=$(date +%s.%N)
  timeout 900 "$root/lens4j" scan --model "$model" --corpus "$work/corpus.jsonl" --out "$work/$name" "$@" > "$work/$name.log" 2>&1 || echo "$name failed" >&2
  local t1=$(date +%s.%N)
  printf "%-28s %6.1f s   %s\n" "$name" "$(echo "$t1 - $t0" | bc)" "$(grep -h -E '^spark:|^scanned' "$work/$name.log" | tr '\n' ' ')"
}
"$root/lens4j" info --model "$model" > /dev/null # builds once, outside the timings
run plain-threads1 --threads 1
run spark-local1 --spark 'local[1]' --partitions 8
run spark-local2 --spark 'local[2]' --partitions 8
run plain-threads2 --threads 2
for n in spark-local1 spark-local2; do
  cmp -s "$work/plain-threads1/neurons.safetensors" "$work/$n/neurons.safetensors" && echo "$n: neurons.safetensors identical to the plain scan" \
    || echo "$n: neurons.safetensors differs from the plain scan (compare within 1e-6 with the tests' checker)"
done
