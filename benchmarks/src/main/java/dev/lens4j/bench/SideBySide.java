package dev.lens4j.bench;

import dev.lens4j.load.RandomWeights;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Shapes;
import org.bytedeco.javacpp.PointerScope;

import java.util.Arrays;

/**
 * lens4j and libtorch forward passes interleaved (A B A B ...) in one JVM on the same weights and tokens, so both
 * see the same machine load; prints median milliseconds and the ratio. Complements JMH on a shared, noisy machine.
 * Usage: SideBySide [shape=gpt2-small] [batch=8] [seq=128] [rounds=8]
 */
public final class SideBySide {
    public static void main(String[] args) {
        String shape = args.length > 0 ? args[0] : "gpt2-small";
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int seq = args.length > 2 ? Integer.parseInt(args[2]) : 128;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 8;
        Config cfg = Shapes.get(shape);
        try (HookedTransformer model = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 1234));
             TorchGpt2 torch = new TorchGpt2(cfg, model.weights())) {
            int[][] tokens = BenchTokens.random(batch, seq, cfg.dVocab, 7);
            int[] flat = BenchTokens.flat(tokens);
            var cacheAll = new HookedTransformer.RunOptions().cacheAll();
            double[] l = new double[rounds], c = new double[rounds], t = new double[rounds];
            for (int i = -2; i < rounds; i++) { // two warm-up rounds
                long s0 = System.nanoTime();
                try (var logits = model.forward(tokens)) { /* timed */ }
                long s1 = System.nanoTime();
                try (var out = model.run(tokens, cacheAll)) { /* timed */ }
                long s2 = System.nanoTime();
                try (PointerScope scope = new PointerScope()) { torch.forward(flat, batch, seq); }
                long s3 = System.nanoTime();
                if (i >= 0) { l[i] = (s1 - s0) / 1e6; c[i] = (s2 - s1) / 1e6; t[i] = (s3 - s2) / 1e6; }
            }
            double ml = median(l), mc = median(c), mt = median(t), tok = batch * seq;
            System.out.printf("%s batch %d x seq %d, %d rounds interleaved, threads lens4j %d / libtorch %d%n", shape, batch, seq,
                    rounds, dev.lens4j.backend.CpuBackend.get().numThreads(), TorchGpt2.threads());
            System.out.printf("  lens4j forward          %8.1f ms  %8.1f tokens/s  %.2fx libtorch%n", ml, tok * 1000 / ml, mt / ml);
            System.out.printf("  lens4j forward + cache  %8.1f ms  %8.1f tokens/s  %.2fx libtorch%n", mc, tok * 1000 / mc, mt / mc);
            System.out.printf("  libtorch forward        %8.1f ms  %8.1f tokens/s%n", mt, tok * 1000 / mt);
        }
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
