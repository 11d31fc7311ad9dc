package dev.lens4j.bench;

import dev.lens4j.backend.CpuBackend;

import java.util.Arrays;
import java.util.Locale;

/**
 * lens4j's side of benchmarks/python/compare.py: each workload once as warm-up, then `reps` times; prints one JSON
 * line {"impl": "lens4j", "threads": T, "ms": {workload: [times]}} that compare.py reads.
 * Usage: Baselines shape batch seq reps workload[,workload...]
 */
public final class Baselines {
    public static void main(String[] args) {
        if (args.length != 5) {
            System.err.println("usage: Baselines SHAPE BATCH SEQ REPS WORKLOAD[,WORKLOAD...]  (workloads: " + String.join(", ", Workloads.NAMES) + ")");
            System.exit(2);
        }
        int batch = Integer.parseInt(args[1]), seq = Integer.parseInt(args[2]), reps = Integer.parseInt(args[3]);
        String[] names = args[4].split(",");
        StringBuilder json = new StringBuilder();
        try (Workloads w = new Workloads(args[0], batch, seq, CpuBackend.get())) {
            json.append(String.format(Locale.ROOT, "{\"impl\": \"lens4j\", \"threads\": %d, \"ms\": {", CpuBackend.get().numThreads()));
            for (int n = 0; n < names.length; n++) {
                double[] ms = new double[reps];
                w.run(names[n]);
                for (int i = 0; i < reps; i++) {
                    long t0 = System.nanoTime();
                    w.run(names[n]);
                    ms[i] = (System.nanoTime() - t0) / 1e6;
                }
                json.append(n == 0 ? "" : ", ").append('"').append(names[n]).append("\": ");
                json.append(Arrays.toString(Arrays.stream(ms).mapToObj(v -> String.format(Locale.ROOT, "%.1f", v)).toArray()));
            }
        }
        System.out.println(json.append("}}"));
    }
}
