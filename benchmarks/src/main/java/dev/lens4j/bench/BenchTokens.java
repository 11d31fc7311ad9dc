package dev.lens4j.bench;

import java.util.SplittableRandom;

/** Seeded random token batches, as lens4j takes them ([batch][pos]) and as libtorch takes them (flat). */
final class BenchTokens {
    private BenchTokens() {}

    static int[][] random(int batch, int seq, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[][] t = new int[batch][seq];
        for (int[] row : t) for (int p = 0; p < seq; p++) row[p] = r.nextInt(vocab);
        return t;
    }

    static int[] flat(int[][] tokens) {
        int seq = tokens[0].length;
        int[] f = new int[tokens.length * seq];
        for (int b = 0; b < tokens.length; b++) System.arraycopy(tokens[b], 0, f, b * seq, seq);
        return f;
    }
}
