package dev.lens4j.bench;

import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Shapes;
import dev.lens4j.scan.NeuronStats;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The neuron scan's overhead: a forward (no logits, as the scan runs it) against the same forward with every
 * layer's mlp.hook_post folded into the capture kernel (top-k 20 + moments per neuron), interleaved A B A B on the
 * same batches of random tokens so both see the same machine load. Prints medians, tokens/s and the overhead.
 * Usage: ScanBench [shape=gpt2-small] [batch=8] [seq=128] [rounds=8]
 */
public final class ScanBench {
    public static void main(String[] args) {
        String shape = args.length > 0 ? args[0] : "gpt2-small";
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8, seq = args.length > 2 ? Integer.parseInt(args[2]) : 128;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 8;
        Config cfg = Shapes.get(shape);
        SplittableRandom r = new SplittableRandom(3);
        int[][] tokens = new int[batch][seq];
        for (int[] row : tokens) for (int p = 0; p < seq; p++) row[p] = r.nextInt(cfg.dVocab);
        long[] doc = new long[batch * seq];
        int[] pos = new int[batch * seq];
        for (int i = 0; i < doc.length; i++) { doc[i] = i / seq; pos[i] = i % seq; }
        List<NeuronStats> stats = new ArrayList<>();
        try (HookedTransformer model = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 1234))) {
            Hooks scan = Hooks.none();
            for (int l = 0; l < cfg.nLayers; l++) {
                NeuronStats s = new NeuronStats(cfg.dMlp, 20);
                stats.add(s);
                scan.add(HookNames.mlpPost(l), (a, hp) -> { s.update(a, doc, pos); return null; });
            }
            var plain = new HookedTransformer.RunOptions().noLogits(true);
            var scanned = new HookedTransformer.RunOptions().noLogits(true).hooks(scan);
            for (int i = 0; i < 2; i++) { run(model, tokens, plain); run(model, tokens, scanned); }
            double[] a = new double[rounds], b = new double[rounds];
            for (int i = 0; i < rounds; i++) { a[i] = run(model, tokens, plain); b[i] = run(model, tokens, scanned); }
            Arrays.sort(a);
            Arrays.sort(b);
            double ma = a[rounds / 2], mb = b[rounds / 2], tok = batch * seq;
            System.out.printf("%s, batch %d x %d, %d threads, median of %d interleaved rounds:%n", shape, batch, seq, dev.lens4j.backend.CpuBackend.get().numThreads(), rounds);
            System.out.printf("  forward (no logits):           %8.1f ms  %7.0f tokens/s%n", ma, tok / ma * 1000);
            System.out.printf("  forward + scan of %2d layers:   %8.1f ms  %7.0f tokens/s%n", cfg.nLayers, mb, tok / mb * 1000);
            System.out.printf("  scan overhead: %.1f%%%n", (mb / ma - 1) * 100);
        } finally {
            stats.forEach(NeuronStats::close);
        }
    }

    private static double run(HookedTransformer model, int[][] tokens, HookedTransformer.RunOptions o) {
        long t0 = System.nanoTime();
        try (var out = model.run(tokens, o)) { /* timed */ }
        return (System.nanoTime() - t0) / 1e6;
    }
}
