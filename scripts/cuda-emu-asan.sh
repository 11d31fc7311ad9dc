#!/usr/bin/env bash
# The emulated CUDA kernels and their checks under AddressSanitizer: device buffers are allocated at their exact size
# (native/cuda/emu), so a kernel that reads or writes one element past a buffer is reported with its frame. Builds in
# java/target/native-asan (needs the OpenBLAS that `mvn -pl java install` unpacks); runs the emulation's self-checks
# and every kernel check under each seed given (default: 1 2). Slow (minutes); not part of `mvn test`.
# Usage: scripts/cuda-emu-asan.sh [seed...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/java/target/native-asan
openblas=$root/java/target/openblas/org/bytedeco/openblas/linux-x86_64
[ -d "$openblas" ] || { echo "no unpacked OpenBLAS at $openblas: run 'mvn -B -pl java install -DskipTests' first" >&2; exit 2; }
cmake -S "$root/native" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOPENBLAS_ROOT="$openblas" \
      -DLENS4J_EMU_ASAN=ON -DLENS4J_NO_CUDA=ON > "$build.configure.log"
cmake --build "$build" --target lens4j_cuda_emu_selftest lens4j_cuda_emu_check -j"${JOBS:-1}"
# leaks are the Java tests' business (Tensor.liveBytes); fibers switch stacks, so no stack-use-after-return checks
export ASAN_OPTIONS=detect_leaks=0:detect_stack_use_after_return=0:abort_on_error=0:halt_on_error=1
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2)
"$build/lens4j_cuda_emu_selftest"
for s in "${seeds[@]}"; do
    echo "== kernel checks under AddressSanitizer, L4J_EMU_SEED=$s"
    L4J_EMU_SEED=$s "$build/lens4j_cuda_emu_check"
done
