#!/usr/bin/env bash
# gpu-check's Java step: unpacks CARRY/java.tar.xz (a jlink'ed runtime, the jars, stories260K; see
# prepare-carry.sh), checks that the trimmed runtime runs the CLI on the CPU, and, when the CLI has --device,
# runs the same prompt with --device cuda on the library gpu-check just built and compares the top tokens and
# logits with the CPU run. Writes WORK/java.json for summary.json.
set -uo pipefail
CARRY=$1 KIND=$2 LIB=$3 WORK=$4
PY=${PY:-python3}
J="$WORK/java/jre/bin/java"
result() {  # STATUS NOTE: java.json, with the CPU run's answer when there is one
    "$PY" -c 'import json, os, sys
cpu = json.load(open(sys.argv[4])) if os.path.isfile(sys.argv[4]) else None
json.dump({"status": sys.argv[1], "note": sys.argv[2], "cpu": cpu}, open(sys.argv[3], "w"))' "$1" "$2" "$WORK/java.json" "$WORK/java-cpu.json"
    echo "java: $1: $2"
}
mkdir -p "$WORK/java"
"$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$CARRY/java.tar.xz" "$WORK/java" \
    || { result FAIL "cannot unpack $CARRY/java.tar.xz"; exit 1; }
MODEL="$WORK/java/model/stories260K.bin"
[ -f "$MODEL" ] || { result skipped "no model in java.tar.xz (../shared/models/stories260K was absent at --prepare)"; exit 0; }
cli() { "$J" -Xmx4g --enable-native-access=ALL-UNNAMED -Doffline=true "$@"; }
CP="$WORK/java/jars/*"
"$J" -version 2>&1 | head -n 1
PROMPT="Once upon a time, there was a little girl named"
cli -cp "$CP" dev.lens4j.cli.Main run --model "$MODEL" --prompt "$PROMPT" --answer " Lily" --top-k 5 --json > "$WORK/java-cpu.json" \
    || { result FAIL "the trimmed runtime could not run the CLI on the CPU"; exit 1; }
echo "cpu: $(head -c 400 "$WORK/java-cpu.json")"
if ! cli -cp "$CP" dev.lens4j.cli.Main run --help 2>&1 | grep -q -- '--device'; then
    result skipped "the trimmed runtime runs the CLI on the CPU; this build's CLI has no --device option, so nothing ran on the GPU from Java"
    exit 0
fi
if [ "$KIND" != cuda ]; then
    result skipped "the trimmed runtime runs the CLI on the CPU; the emulated --device path is covered by the Maven tests"
    exit 0
fi
cli -Dlens4j.cuda.library="$LIB" -cp "$CP" dev.lens4j.cli.Main run --model "$MODEL" --prompt "$PROMPT" --answer " Lily" \
    --top-k 5 --json --device cuda > "$WORK/java-cuda.json" || { result FAIL "run --device cuda failed"; exit 1; }
echo "cuda: $(head -c 400 "$WORK/java-cuda.json")"
# the same top tokens (run --json's topK), logits within 1e-4 x max|logit|, found wherever the JSON keeps them
"$PY" - "$WORK/java-cpu.json" "$WORK/java-cuda.json" "$WORK/java.json" <<'EOF'
import json, sys
cpu, gpu = (json.load(open(p)) for p in sys.argv[1:3])
def numbers(o, path=''):
    if isinstance(o, dict):
        for k, v in o.items(): yield from numbers(v, f'{path}.{k}')
    elif isinstance(o, list):
        for i, v in enumerate(o): yield from numbers(v, f'{path}[{i}]')
    elif isinstance(o, (int, float)) and not isinstance(o, bool) and 'logit' in path.lower():
        yield path, float(o)
def strings(o):
    return json.dumps(o, sort_keys=True, default=str)
a, b = dict(numbers(cpu)), dict(numbers(gpu))
scale = max([1.0] + [abs(v) for v in a.values()])
err = max([abs(a[k] - b.get(k, float('inf'))) / scale for k in a] or [float('inf')])
tokens_same = [t.get('token') for t in cpu.get('topK', [])] == [t.get('token') for t in gpu.get('topK', [])] if isinstance(cpu, dict) else None
ok = err <= 1e-4 and tokens_same is not False
json.dump({'status': 'pass' if ok else 'FAIL', 'logit_max_rel_err': err, 'logits_compared': len(a),
           'same_top_tokens': tokens_same, 'cpu': cpu, 'cuda': gpu}, open(sys.argv[3], 'w'))
print(f'java: cuda vs cpu logits max rel err {err:.2e} over {len(a)} values, same top tokens {tokens_same}: {"pass" if ok else "FAIL"}')
sys.exit(0 if ok else 1)
EOF
