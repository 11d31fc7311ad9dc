#!/usr/bin/env bash
# The one script for a GPU machine (issue 13 items 5 and 6): builds native/ with CMake, runs every CUDA kernel
# against its CPU twin (lens4j_cuda_check) and timed at GPT-2-small sizes (--time), compares lens4j's kernels and a
# whole GPT-2 built from them with PyTorch on the same GPU (scripts/gpu/torch_compare.py), runs the benchmarks
# (scripts/gpu/bench.py) and, when a Java runtime was carried, the CLI on the GPU. Everything lands in OUT: one
# log per step and summary.json (at most 8 files, as the device tool returns). Each step runs under `timeout`,
# inside one overall budget, so the whole script ends well inside a 10-minute call.
#
# Here, before the device call:  scripts/gpu-check.sh --prepare    (packs OpenBLAS into java/target/gpu-carry)
# On the GPU machine:            scripts/gpu-check.sh                (carry: java/target/gpu-carry)
# Without a GPU (the same pipeline on the CUDA emulation, toy sizes, times meaningless):
#                                scripts/gpu-check.sh --emulated [--prebuilt java/target/native-build]
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CARRY="$ROOT/java/target/gpu-carry"
usage() {
    cat <<EOF
usage: scripts/gpu-check.sh [options]
  --emulated          use lens4j_cuda_emu / lens4j_cuda_emu_check and CPU torch at toy sizes (no GPU needed)
  --prepare           here, before a device call: pack OpenBLAS (and a Java runtime, see --with-java) into
                      java/target/gpu-carry and print the run command; needs 'mvn -pl java install' done
  --with-java         with --prepare: also a jlink'ed runtime and the jars for the Java end-to-end step
  --out DIR           where logs and summary.json go (default: \$OUT, else java/target/gpu-check)
  --build-dir DIR     CMake build directory (default: /tmp/lens4j-gpu-build, or ...-emu with --emulated)
  --prebuilt DIR      use libraries already built in DIR (skips the build step)
  --openblas PATH     bytedeco OpenBLAS: a directory with libopenblas.so.0 and include/, or the .tar.xz that
                      --prepare makes (default: java/target/gpu-carry/openblas.tar.xz, else java/target/openblas/...)
  --python PY         Python with torch (default: python3)
  --jobs N            parallel build jobs (default: nproc)
  --steps LIST        comma-separated subset of: build,kernels,kernels-time,torch-compare,bench,java (default: all)
  --budget SECONDS    overall time budget; steps that would overrun it are cut (default 540)
  --kernels-filter S  run only the kernel checks whose name contains S (default: all)
EOF
}
die() { echo "gpu-check: $*" >&2; exit 2; }

EMULATED=0 PREPARE=0 WITH_JAVA=0 OUTDIR=${OUT:-} BUILD= PREBUILT= OPENBLAS= PY=python3 JOBS=$(nproc 2>/dev/null || echo 4)
STEPS=build,kernels,kernels-time,torch-compare,bench,java BUDGET=540 FILTER=
while [ $# -gt 0 ]; do
    case "$1" in
        --emulated) EMULATED=1 ;;
        --prepare) PREPARE=1 ;;
        --with-java) WITH_JAVA=1 ;;
        --out|--build-dir|--prebuilt|--openblas|--python|--jobs|--steps|--budget|--kernels-filter)
            [ $# -ge 2 ] || die "$1 needs a value"
            case "$1" in
                --out) OUTDIR=$2 ;; --build-dir) BUILD=$2 ;; --prebuilt) PREBUILT=$2 ;; --openblas) OPENBLAS=$2 ;;
                --python) PY=$2 ;; --jobs) JOBS=$2 ;; --steps) STEPS=$2 ;; --budget) BUDGET=$2 ;;
                --kernels-filter) FILTER=$2 ;;
            esac
            shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option '$1' (--help lists the options)" ;;
    esac
    shift
done
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || die "--jobs '$JOBS': not a positive integer"
[[ "$BUDGET" =~ ^[1-9][0-9]*$ ]] || die "--budget '$BUDGET': not a positive integer"
for s in ${STEPS//,/ }; do
    case "$s" in build|kernels|kernels-time|torch-compare|bench|java) ;; *) die "--steps: unknown step '$s'" ;; esac
done

if [ "$PREPARE" = 1 ]; then exec "$ROOT/scripts/gpu/prepare-carry.sh" "$CARRY" "$WITH_JAVA"; fi

# ---- where things go
[ -n "$OUTDIR" ] || OUTDIR="$ROOT/java/target/gpu-check"
if [ -e "$OUTDIR" ] && [ ! -d "$OUTDIR" ]; then die "--out $OUTDIR: exists and is not a directory"; fi
mkdir -p "$OUTDIR" || die "--out $OUTDIR: cannot create it"
OUTDIR=$(cd "$OUTDIR" && pwd)
# never write through a link or into a FIFO / device someone left under one of our names
for f in gpu-check.log build.log kernels.log kernels-time.log torch-compare.log bench.log java.log summary.json; do
    if [ -L "$OUTDIR/$f" ] || { [ -e "$OUTDIR/$f" ] && [ ! -f "$OUTDIR/$f" ]; }; then
        die "--out $OUTDIR: $f exists and is not a regular file"
    fi
done
if [ -n "$PREBUILT" ]; then
    [ -d "$PREBUILT" ] || die "--prebuilt $PREBUILT: not a directory"
    BUILD=$(cd "$PREBUILT" && pwd)
    STEPS=$(echo ",$STEPS," | sed 's/,build,/,/; s/^,//; s/,$//')
fi
[ -n "$BUILD" ] || BUILD=/tmp/lens4j-gpu-build$([ "$EMULATED" = 1 ] && echo -emu)
if [ -e "$BUILD" ] && [ ! -d "$BUILD" ]; then die "--build-dir $BUILD: exists and is not a directory"; fi
WORK=$(mktemp -d /tmp/lens4j-gpu-check.XXXXXX) || die "cannot make a work directory under /tmp"
trap 'rm -rf "$WORK"' EXIT
if [ "$EMULATED" = 1 ]; then
    KIND=emu LIB="$BUILD/liblens4j_cuda_emu.so" CHECK="$BUILD/lens4j_cuda_emu_check"
else
    KIND=cuda LIB="$BUILD/liblens4j_cuda.so" CHECK="$BUILD/lens4j_cuda_check"
fi
LOG="$OUTDIR/gpu-check.log"
: > "$LOG"
log() { echo "$*" | tee -a "$LOG"; }
START=$(date +%s)
STEPS_TSV="$WORK/steps.tsv"
: > "$STEPS_TSV"

# run_step NAME BUDGET CMD...: runs CMD under timeout (its budget, or what is left of the overall one), output to
# OUTDIR/NAME.log; records name, status (pass / FAIL / timeout / skipped), exit status and seconds.
run_step() {
    local name=$1 budget=$2; shift 2
    case ",$STEPS," in *",$name,"*) ;; *) return 0 ;; esac
    local left=$(( BUDGET - ($(date +%s) - START) ))
    if [ "$left" -lt 10 ]; then  # asked for and not run: a failure, not a skip
        printf '%s\ttimeout\t-\t0\tnot run: no time left in the %ss budget\n' "$name" "$BUDGET" >> "$STEPS_TSV"
        log "== $name: not run (no time left in the ${BUDGET}s budget)"
        return 0
    fi
    [ "$budget" -le "$left" ] || budget=$left
    log "== $name (up to ${budget}s)"
    local t0=$(date +%s) rc
    # a step may be a shell function: run it in a child bash that has them all (export -f below)
    timeout --kill-after=5 "$budget" bash -c '"$@"' step "$@" > "$OUTDIR/$name.log" 2>&1
    rc=$?
    local secs=$(( $(date +%s) - t0 )) status=pass note=
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then status=timeout note="killed after ${budget}s"
    elif [ "$rc" != 0 ]; then status=FAIL note="exit status $rc"; fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$rc" "$secs" "$note" >> "$STEPS_TSV"
    tail -n 3 "$OUTDIR/$name.log" | sed 's/^/   /' | tee -a "$LOG"
    log "   -> $status (${secs}s${note:+, $note})"
}
skip_step() {  # NAME REASON
    case ",$STEPS," in *",$1,"*) ;; *) return 0 ;; esac
    printf '%s\tskipped\t-\t0\t%s\n' "$1" "$2" >> "$STEPS_TSV"
    log "== $1: skipped ($2)"
}

# ---- the machine
log "lens4j gpu-check $(date -u +%Y-%m-%dT%H:%M:%SZ) mode=$KIND commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
{
    echo "host: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
    command -v nvcc >/dev/null && nvcc --version | tail -n 2 | head -n 1
    echo "cmake: $(cmake --version 2>/dev/null | head -n 1)"
    echo "python: $("$PY" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available())' 2>&1 | tail -n 1)"
} 2>&1 | tee -a "$LOG"

# cuBLAS, which lens4j_cuda dlopens at run time: the toolkit's, else the one PyTorch's pip wheels carry
if [ "$KIND" = cuda ]; then
    CUBLAS_DIRS=$( { ls -d /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib 2>/dev/null
        "$PY" -c 'import os, nvidia
for root in nvidia.__path__:
    for d, _, files in os.walk(root):
        if any(f.startswith("libcublas.so") for f in files): print(d)' 2>/dev/null; } | tr '\n' ':')
    export LD_LIBRARY_PATH="${CUBLAS_DIRS}${LD_LIBRARY_PATH:-}"
    log "cuBLAS search path: ${CUBLAS_DIRS:-none found}"
fi

# ---- build
find_openblas() {  # prints OPENBLAS_ROOT (unpacking a .tar.xz into WORK), or fails
    local src=$OPENBLAS
    if [ -z "$src" ]; then
        for c in "$CARRY/openblas.tar.xz" "$ROOT/java/target/openblas/org/bytedeco/openblas/linux-x86_64"; do
            [ -e "$c" ] && { src=$c; break; }
        done
    fi
    [ -n "$src" ] || { echo "no OpenBLAS: run scripts/gpu-check.sh --prepare here and carry java/target/gpu-carry, or pass --openblas" >&2; return 1; }
    if [ -f "$src" ]; then
        mkdir -p "$WORK/openblas"
        "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$src" "$WORK/openblas" || { echo "--openblas $src: cannot unpack" >&2; return 1; }
        src="$WORK/openblas"
    fi
    [ -f "$src/libopenblas.so.0" ] && [ -f "$src/include/cblas.h" ] || { echo "--openblas $src: no libopenblas.so.0 and include/cblas.h there" >&2; return 1; }
    echo "$src"
}
build() {
    local ob targets cuda_flags=()
    ob=$(find_openblas) || return 1
    if [ "$KIND" = emu ]; then
        targets="lens4j_cpu lens4j_cuda_emu lens4j_cuda_emu_check"
        cuda_flags=(-DLENS4J_NO_CUDA=ON)
    else
        targets="lens4j_cpu lens4j_cuda lens4j_cuda_check"
        local nvcc; nvcc=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null) || { echo "no nvcc on this machine" >&2; return 1; }
        cuda_flags=(-DCMAKE_CUDA_COMPILER="$nvcc")
    fi
    # the flags java/pom.xml passes (Release, OPENBLAS_ROOT); sm_80 + sm_90 come from cmake/Lens4jCuda.cmake
    cmake -S "$ROOT/native" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DOPENBLAS_ROOT="$ob" "${cuda_flags[@]}" || return 1
    if [ "$KIND" = cuda ] && ! grep -q '^CMAKE_CUDA_COMPILER:' "$BUILD/CMakeCache.txt"; then
        echo "CMake did not enable CUDA (no working nvcc): lens4j_cuda cannot be built" >&2; return 1
    fi
    cmake --build "$BUILD" --target $targets -j "$JOBS"
}
export ROOT CARRY OPENBLAS WORK PY KIND BUILD JOBS CHECK LIB OUTDIR FILTER
export -f find_openblas build
run_step build 240 build

# ---- the kernel checks: every l4jc_* against its l4j_* twin, then timed at GPT-2-small sizes
kernel_checks() {
    [ -x "$CHECK" ] || { echo "$CHECK: not built" >&2; return 1; }
    "$CHECK" "$@" ${FILTER:+"$FILTER"} | tee "$WORK/check.out"
    local rc=${PIPESTATUS[0]}
    [ "$rc" = 0 ] || return "$rc"
    # the runner exits 0 when it finds no device; on a GPU run that is a failure
    ! grep -q '^no CUDA device' "$WORK/check.out" || { echo "no CUDA device found by lens4j_cuda" >&2; return 1; }
}
export -f kernel_checks
run_step kernels 60 kernel_checks
if [ "$KIND" = emu ]; then skip_step kernels-time "emulated: kernel times mean nothing"
else run_step kernels-time 90 kernel_checks --time; fi

# ---- PyTorch on the same device
export PYTHONUNBUFFERED=1
python_step() {  # NAME SCRIPT
    [ -f "$LIB" ] || { echo "$LIB: not built" >&2; return 1; }
    "$PY" "$ROOT/scripts/gpu/$2" --lib "$LIB" --kind "$KIND" --json "$WORK/$1.json"
}
export -f python_step
run_step torch-compare 100 python_step torch-compare torch_compare.py
run_step bench 120 python_step bench bench.py

# ---- the Java end to end, when a runtime and the jars were carried
if [ -f "$CARRY/java.tar.xz" ]; then
    run_step java 90 "$ROOT/scripts/gpu/java-e2e.sh" "$CARRY" "$KIND" "$LIB" "$WORK"
else
    skip_step java "no Java runtime carried (scripts/gpu-check.sh --prepare --with-java; see benchmarks/README.md)"
fi

# ---- summary.json
"$PY" "$ROOT/scripts/gpu/summary.py" --steps "$STEPS_TSV" --work "$WORK" --logs "$OUTDIR" --mode "$KIND" \
    --seconds $(( $(date +%s) - START )) --out "$OUTDIR/summary.json" 2>&1 | tee -a "$LOG"
[ "${PIPESTATUS[0]}" = 0 ] || { log "gpu-check: could not write summary.json"; exit 1; }
if grep -qP '\t(FAIL|timeout)\t' "$STEPS_TSV"; then log "gpu-check: FAILED (see summary.json)"; exit 1; fi
log "gpu-check: done in $(( $(date +%s) - START ))s; results in $OUTDIR"
