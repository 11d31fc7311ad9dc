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

    /** The attribution benchmarks' inputs: clean prompts, corrupt ones (a quarter of the tokens replaced), answers, wrongs. */
    record Contrast(int[][] clean, int[][] corrupt, int[] answers, int[] wrongs) {}

    static Contrast contrast(int batch, int seq, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[][] clean = new int[batch][seq], corrupt = new int[batch][seq];
        int[] answers = new int[batch], wrongs = new int[batch];
        for (int b = 0; b < batch; b++) {
            for (int p = 0; p < seq; p++) {
                clean[b][p] = r.nextInt(vocab);
                corrupt[b][p] = p % 4 == 1 ? r.nextInt(vocab) : clean[b][p];
            }
            answers[b] = r.nextInt(vocab);
            wrongs[b] = r.nextInt(vocab);
        }
        return new Contrast(clean, corrupt, answers, wrongs);
    }
}
