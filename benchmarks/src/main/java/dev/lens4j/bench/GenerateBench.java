package dev.lens4j.bench;

import dev.lens4j.model.GenerateOptions;
import dev.lens4j.model.HookedTransformer;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * Generation speed with and without the KV cache: greedy continuation of BOS on a checkpoint (stories260K by default)
 * for n new tokens, alternating the two (A B A B ...) so both see the same machine load, and checking that they give
 * the same tokens. With the cache each token costs one position's forward (O(n) work in all, attention aside);
 * without it the whole prefix is recomputed per token (O(n^2)).
 * Usage: GenerateBench [model=../shared/models/stories260K/stories260K.bin] [newTokens=256] [rounds=3] [threads=1]
 */
public final class GenerateBench {
    public static void main(String[] args) {
        Path model = Path.of(args.length > 0 ? args[0] : "../shared/models/stories260K/stories260K.bin");
        int n = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : 1;
        try (HookedTransformer m = HookedTransformer.fromPretrained(model)) {
            m.backend().setNumThreads(threads);
            int[][] bos = {m.toTokens("", true)};
            GenerateOptions cached = GenerateOptions.greedy(n).stopAtEos(false);
            GenerateOptions full = GenerateOptions.greedy(n).stopAtEos(false).useKvCache(false);
            double[] tc = new double[rounds], tf = new double[rounds];
            int[] a = null, b = null;
            for (int i = -1; i < rounds; i++) { // one warm-up round
                long s0 = System.nanoTime();
                a = m.generate(bos, cached)[0];
                long s1 = System.nanoTime();
                b = m.generate(bos, full)[0];
                long s2 = System.nanoTime();
                if (i >= 0) { tc[i] = (s1 - s0) / 1e9; tf[i] = (s2 - s1) / 1e9; }
            }
            int made = a.length - 1;
            System.out.printf("%s: %d new tokens from BOS, greedy, %d native thread(s), median of %d interleaved rounds%n",
                    model.getFileName(), made, threads, rounds);
            System.out.println("same tokens with and without the cache: " + Arrays.equals(a, b));
            double mc = SideBySide.median(tc), mf = SideBySide.median(tf);
            System.out.printf("  KV cache     %7.3f s  %8.1f tokens/s%n", mc, made / mc);
            System.out.printf("  no KV cache  %7.3f s  %8.1f tokens/s%n", mf, made / mf);
            System.out.printf("  speed-up %.1fx%n", mf / mc);
        }
    }
}
