package dev.lens4j.bench;

import dev.lens4j.backend.Backend;
import dev.lens4j.backend.CpuBackend;
import dev.lens4j.backend.F32Gemm;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;

import java.util.Arrays;
import java.util.Locale;

/**
 * The float32 profile of benchmarks/README.md, in one run: the sgemm rate at each GEMM shape of the pass and the floor
 * it implies (the pass's FLOPs at those rates), the time per backend op of a forward, a forward caching every hook
 * point and all-neuron attribution (median of `reps` runs each), and lens4j's peak native memory above the weights.
 * Usage: ForwardProfile [shape=gpt2-small] [batch=8] [seq=128] [reps=3] (reps 0: only the memory)
 */
public final class ForwardProfile {
    public static void main(String[] args) {
        String shape = args.length > 0 ? args[0] : "gpt2-small";
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int seq = args.length > 2 ? Integer.parseInt(args[2]) : 128;
        int reps = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        Backend cpu = CpuBackend.get();
        System.out.printf("%s batch %d x seq %d, %d native threads, OpenBLAS core %s (OPENBLAS_CORETYPE=%s)%n", shape, batch, seq,
                CpuBackend.get().numThreads(), CpuBackend.get().blasCoreName(), System.getenv().getOrDefault("OPENBLAS_CORETYPE", "unset"));
        OpProfile profile = new OpProfile();
        try (Workloads w = new Workloads(shape, batch, seq, profile.wrap(cpu))) {
            double floor = reps > 0 ? floorMs(w.cfg, batch, seq, cpu) : 0;
            for (String name : reps > 0 ? new String[] {"forward", "cache", "attribution"} : new String[0]) {
                w.run(name); // warm-up
                double[] ms = new double[reps];
                for (int i = 0; i < reps; i++) {
                    profile.reset();
                    long t0 = System.nanoTime();
                    w.run(name);
                    ms[i] = (System.nanoTime() - t0) / 1e6;
                }
                double median = SideBySide.median(ms);
                System.out.printf(Locale.ROOT, "%n%s: median %.0f ms of %s (%.2fx the forward floor); ops of the last run:%n",
                        name, median, Arrays.toString(ms), median / floor);
                System.out.print(profile.table(ms[reps - 1]));
            }
            System.out.println();
            System.out.println(memory(w));
        }
    }

    /** The forward's FLOPs (all positions unembedded, causal attention) at the sgemm rate measured per shape. */
    static double floorMs(Config c, int batch, int seq, Backend be) {
        long N = (long) batch * seq, D = c.dModel, HD = (long) c.nHeads * c.dHead, F = c.dMlp, V = c.dVocabOut();
        long[][] shapes = {{N, 3 * HD, D}, {N, D, HD}, {N, F, D}, {N, D, F}, {N, V, D}}; // QKV, W_O, W_in, W_out, W_U
        String[] names = {"QKV (fused)", "W_O", "W_in", "W_out", "W_U"};
        long[] count = {c.nLayers, c.nLayers, c.nLayers, c.nLayers, 1};
        double total = 0, flops = 0, attnRate = 0;
        System.out.println("\nsgemm (lens4j's backend: " + F32Gemm.describe() + "; min of 3) at the forward's shapes:");
        for (int i = 0; i < shapes.length; i++) {
            long m = shapes[i][0], n = shapes[i][1], k = shapes[i][2];
            double best = Double.MAX_VALUE;
            try (Tensor a = be.zeros(m, k); Tensor b = be.zeros(k, n); Tensor out = be.empty(m, n)) {
                for (int r = 0; r < 4; r++) {
                    long t0 = System.nanoTime();
                    be.gemm(false, false, m, n, k, 1f, a, 0, k, b, 0, n, 0f, out, 0, n, null, 0);
                    if (r > 0) best = Math.min(best, (System.nanoTime() - t0) / 1e6);
                }
            }
            double f = 2.0 * m * n * k, rate = f / best / 1e6; // GFLOP/s
            if (i == 1) attnRate = rate;
            System.out.printf(Locale.ROOT, "  %-12s %5d x %5d x %5d  %7.2f ms  %6.1f GFLOP/s  x%d%n", names[i], m, n, k, best, rate, count[i]);
            total += count[i] * best;
            flops += count[i] * f;
        }
        // QK^T and pattern @ V over the causal half, at the W_O shape's rate
        double attn = c.nLayers * 2.0 * 2.0 * batch * c.nHeads * (seq * (seq + 1) / 2.0) * c.dHead;
        total += attn / attnRate / 1e6;
        flops += attn;
        System.out.printf(Locale.ROOT, "forward floor: %.1f GFLOP (%.1f GFLOP of causal attention) -> %.0f ms (%.1f GFLOP/s)%n",
                flops / 1e9, attn / 1e9, total, flops / total / 1e6);
        return total;
    }

    /** Peak native bytes above the weights of each pass (Tensor's high-water mark). */
    static String memory(Workloads w) {
        double mib = 1 << 20;
        long base = Tensor.liveBytes();
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "peak native memory above the %.0f MiB of weights:", base / mib));
        HookedTransformer m = w.model;
        Runnable[] passes = {
                () -> m.forward(w.clean).close(),
                () -> m.run(w.clean, new HookedTransformer.RunOptions().logitsLastOnly(true)).close(),
                () -> m.run(w.clean, new HookedTransformer.RunOptions().noLogits(true)).close(),
                () -> m.run(w.clean, new HookedTransformer.RunOptions().cacheAll()).close(),
                () -> w.run("attribution"),
                () -> m.backward(w.clean, w.metric, new HookedTransformer.RunOptions()).close()};
        String[] names = {"forward (all logits)", "forward (last-position logits)", "forward (no logits)", "forward + full cache",
                "attribution", "clean forward + backward"};
        for (int i = 0; i < passes.length; i++) {
            Tensor.resetPeakBytes();
            passes[i].run();
            s.append(String.format(Locale.ROOT, "%n  %-32s %7.0f MiB", names[i], (Tensor.peakBytes() - base) / mib));
        }
        long N = (long) w.batch * w.seq;
        return s.append(String.format(Locale.ROOT, "%n  (logits of every position: %.0f MiB)", N * w.cfg.dVocabOut() * 4 / mib)).toString();
    }
}
