#!/usr/bin/env bash
# Build, then run the JMH forward benchmarks (lens4j and libtorch in one run) and the interleaved side-by-side.
# Extra arguments go to JMH, e.g.: benchmarks/run.sh -wi 1 -i 3
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mvn -B -q -DskipTests install > /dev/null
cp="benchmarks/target/lens4j-benchmarks-0.1.0-SNAPSHOT.jar:java/target/lens4j-0.1.0-SNAPSHOT.jar:$(cat benchmarks/target/classpath.txt)"
java -Xmx8g --enable-native-access=ALL-UNNAMED -cp "$cp" dev.lens4j.bench.BenchMain ForwardBench "$@"
java -Xmx8g --enable-native-access=ALL-UNNAMED -cp "$cp" dev.lens4j.bench.SideBySide gpt2-small 8 128 8
