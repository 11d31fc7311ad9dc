package dev.lens4j.bench;

import dev.lens4j.backend.Bf16Gemm;
import dev.lens4j.backend.CpuBackend;
import dev.lens4j.load.Bf16Weights;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Shapes;

/**
 * Forward passes with float32 and with bf16 weights (the same random weights, rounded), interleaved (A B A B ...)
 * in one JVM so both see the same machine load; prints median milliseconds, tokens/s and the ratio.
 * Usage: Bf16SideBySide [shape=gpt2-small] [batch=8] [seq=128] [rounds=8] [threads=all]
 */
public final class Bf16SideBySide {
    public static void main(String[] args) {
        String shape = args.length > 0 ? args[0] : "gpt2-small";
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int seq = args.length > 2 ? Integer.parseInt(args[2]) : 128;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 8;
        if (args.length > 4) CpuBackend.get().setNumThreads(Integer.parseInt(args[4]));
        Config cfg = Shapes.get(shape);
        var w16 = cfg.isRotary() ? RandomWeights.llama(cfg, 1234) : RandomWeights.gpt2(cfg, 1234);
        Bf16Weights.convert(w16, CpuBackend.get());
        try (HookedTransformer f32 = new HookedTransformer(cfg, cfg.isRotary() ? RandomWeights.llama(cfg, 1234) : RandomWeights.gpt2(cfg, 1234));
             HookedTransformer bf16 = new HookedTransformer(cfg.clone(), w16)) {
            int[][] tokens = BenchTokens.random(batch, seq, cfg.dVocab, 7);
            double[] a = new double[rounds], b = new double[rounds];
            for (int i = -2; i < rounds; i++) { // two warm-up rounds
                long s0 = System.nanoTime();
                try (var logits = f32.forward(tokens)) { /* timed */ }
                long s1 = System.nanoTime();
                try (var logits = bf16.forward(tokens)) { /* timed */ }
                long s2 = System.nanoTime();
                if (i >= 0) { a[i] = (s1 - s0) / 1e6; b[i] = (s2 - s1) / 1e6; }
            }
            double ma = SideBySide.median(a), mb = SideBySide.median(b), tok = batch * seq;
            System.out.printf("%s batch %d x seq %d, %d rounds interleaved, %d threads, AVX512-BF16 %s%n", shape, batch, seq, rounds,
                    CpuBackend.get().numThreads(), Bf16Gemm.hasNativeBf16() ? "yes" : "no (widening fallback)");
            System.out.printf("  f32 weights   %8.1f ms  %8.1f tokens/s%n", ma, tok * 1000 / ma);
            System.out.printf("  bf16 weights  %8.1f ms  %8.1f tokens/s  %.2fx f32%n", mb, tok * 1000 / mb, ma / mb);
            float[] l32, l16;
            try (var x = f32.forward(tokens); var y = bf16.forward(tokens)) { l32 = x.toFloatArray(); l16 = y.toFloatArray(); }
            int V = cfg.dVocabOut(), same = 0, rows = l32.length / V;
            double maxErr = 0, maxRef = 0;
            for (int i = 0; i < l32.length; i++) { maxErr = Math.max(maxErr, Math.abs(l32[i] - l16[i])); maxRef = Math.max(maxRef, Math.abs(l32[i])); }
            for (int r = 0; r < rows; r++) if (argmax(l32, r * V, V) == argmax(l16, r * V, V)) same++;
            System.out.printf("  logits: max |bf16 - f32| %.3g (max |f32| %.3g, relative %.2e), top-1 agreement %d / %d%n",
                    maxErr, maxRef, maxErr / maxRef, same, rows);
        }
    }

    private static int argmax(float[] x, int off, int n) {
        int best = 0;
        for (int j = 1; j < n; j++) if (x[off + j] > x[off + best]) best = j;
        return best;
    }
}
