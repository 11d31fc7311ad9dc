#!/usr/bin/env bash
# Packs what the GPU machine lacks into CARRY (java/target/gpu-carry, ignored by git), for the device tool's
# `carry` (64 MiB in all with the working tree): called by scripts/gpu-check.sh --prepare [--with-java].
#   openblas.tar.xz  bytedeco's libopenblas.so.0 (+ libgfortran, libquadmath) and cblas.h: lens4j_cpu links it,
#                    and lens4j_cuda_check compares every CUDA kernel with lens4j_cpu's. xz: 5.4 MB for 41 MB.
#   java.tar.xz      (--with-java) a jlink'ed runtime of the modules jdeps finds, the runtime jars (rezipped
#                    uncompressed so xz sees the bytes; the tokenizers jar keeps linux-x86_64 only), and
#                    stories260K from ../shared/models when it is there.
set -euo pipefail
CARRY=$1 WITH_JAVA=$2
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OB="$ROOT/java/target/openblas/org/bytedeco/openblas/linux-x86_64"
PY=${PYTHON:-python3}
die() { echo "gpu-check --prepare: $*" >&2; exit 2; }
[ -f "$OB/libopenblas.so.0" ] || die "$OB/libopenblas.so.0 is missing: run 'mvn -B -pl java install -DskipTests' first"
if [ -e "$CARRY" ] && [ ! -d "$CARRY" ]; then die "$CARRY exists and is not a directory"; fi
mkdir -p "$CARRY"
export XZ_OPT=${XZ_OPT:--6}

echo "packing OpenBLAS from $OB"
tar -C "$OB" -cJf "$CARRY/openblas.tar.xz.tmp" libopenblas.so.0 libgfortran.so.5 libquadmath.so.0 include/cblas.h include/openblas_config.h
mv "$CARRY/openblas.tar.xz.tmp" "$CARRY/openblas.tar.xz"

if [ "$WITH_JAVA" = 1 ]; then
    JAR=$(ls "$ROOT"/java/target/lens4j-*.jar 2>/dev/null | grep -v -- '-tests\|-sources' | head -n 1) || true
    [ -n "$JAR" ] || die "no java/target/lens4j-*.jar: run 'mvn -B -pl java install -DskipTests' first"
    STAGE=$(mktemp -d /tmp/lens4j-carry.XXXXXX)
    trap 'rm -rf "$STAGE"' EXIT
    echo "copying the runtime jars (mvn dependency:copy-dependencies, offline)"
    (cd "$ROOT/java" && mvn -B -o dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$STAGE/deps" > "$STAGE/mvn.log" 2>&1) \
        || { tail -n 20 "$STAGE/mvn.log" >&2; die "mvn dependency:copy-dependencies failed"; }
    cp "$JAR" "$STAGE/deps/"
    MODULES=$(jdeps --print-module-deps --ignore-missing-deps --multi-release 17 -cp "$STAGE/deps/*" "$JAR" | tail -n 1)
    # jdk.unsupported: JavaCPP's Unsafe; java.logging, java.management: JNA and DJL at run time
    MODULES="$MODULES,jdk.unsupported,java.logging,java.management"
    echo "jlink --add-modules $MODULES --strip-debug --no-man-pages --no-header-files --compress=0"
    jlink --add-modules "$MODULES" --strip-debug --no-man-pages --no-header-files --compress=0 --output "$STAGE/java/jre"
    mkdir -p "$STAGE/java/jars"
    "$PY" - "$STAGE/deps" "$STAGE/java/jars" <<'EOF'
import pathlib, sys, zipfile
src, dst = map(pathlib.Path, sys.argv[1:])
for jar in sorted(src.glob('*.jar')):
    with zipfile.ZipFile(jar) as zin, zipfile.ZipFile(dst / jar.name, 'w', zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            if jar.name.startswith('tokenizers-') and info.filename.startswith('native/lib/') \
                    and '/linux-x86_64/' not in info.filename and not info.filename.endswith('/'):
                continue  # the other platforms' tokenizer libraries
            zout.writestr(info.filename, zin.read(info), zipfile.ZIP_STORED)
EOF
    if [ -f "$ROOT/../shared/models/stories260K/stories260K.bin" ]; then
        mkdir -p "$STAGE/java/model"
        cp "$ROOT/../shared/models/stories260K/stories260K.bin" "$ROOT/../shared/models/stories260K/tok512.bin" "$STAGE/java/model/"
    else
        echo "note: ../shared/models/stories260K is absent: the Java step will have no model"
    fi
    du -sh "$STAGE/java/jre" "$STAGE/java/jars"
    echo "compressing java.tar.xz (a minute or two)"
    tar -C "$STAGE/java" -cJf "$CARRY/java.tar.xz.tmp" jre jars $( [ -d "$STAGE/java/model" ] && echo model )
    mv "$CARRY/java.tar.xz.tmp" "$CARRY/java.tar.xz"
fi

ls -la "$CARRY"
TREE=$(git -C "$ROOT" ls-files -co --exclude-standard -z | (cd "$ROOT" && xargs -0 du -cb 2>/dev/null) | awk 'END {print $1}')
CARRIED=$(du -cb "$CARRY"/*.tar.xz | awk 'END {print $1}')
echo "working tree $(( TREE / 1048576 )) MiB + carry $(( CARRIED / 1048576 )) MiB = $(( (TREE + CARRIED) / 1048576 )) MiB of the 64 MiB the device tool takes"
echo "device call: run(command='scripts/gpu-check.sh', carry=['java/target/gpu-carry'], timeout_s=600)"
