package dev.lens4j.studies.secondorder;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Seed 002's data: generated arithmetic and logic problems with unambiguous answers (sums, differences, products,
 * comparisons, parity), in equal shares, from a seeded generator; the first {@code trainFraction} of a seeded
 * shuffle is the train split (the correctness direction and rank-1 fits), the rest validation.
 */
public final class MathProblems {
    private MathProblems() {}

    public enum Kind { SUM, DIFFERENCE, PRODUCT, COMPARISON, PARITY }

    /** One problem: the prompt ends where the answer (which starts with a space) begins. */
    public record Problem(int index, Kind kind, String prompt, String answer, boolean train) {}

    public static List<Problem> generate(int n, long seed, double trainFraction) {
        SplittableRandom r = new SplittableRandom(seed);
        Kind[] kinds = Kind.values();
        List<String[]> raw = new ArrayList<>();
        List<Kind> ks = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Kind k = kinds[i % kinds.length];
            ks.add(k);
            raw.add(make(k, r));
        }
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = order[i]; order[i] = order[j]; order[j] = t;
        }
        int nTrain = (int) Math.round(n * trainFraction);
        boolean[] train = new boolean[n];
        for (int i = 0; i < nTrain; i++) train[order[i]] = true;
        List<Problem> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(new Problem(i, ks.get(i), raw.get(i)[0], raw.get(i)[1], train[i]));
        return out;
    }

    private static String[] make(Kind k, SplittableRandom r) {
        return switch (k) {
            case SUM -> {
                int a = r.nextInt(50), b = r.nextInt(50);
                yield new String[] {a + " + " + b + " =", " " + (a + b)};
            }
            case DIFFERENCE -> {
                int a = r.nextInt(100), b = r.nextInt(a + 1);
                yield new String[] {a + " - " + b + " =", " " + (a - b)};
            }
            case PRODUCT -> {
                int a = r.nextInt(10), b = r.nextInt(10);
                yield new String[] {a + " * " + b + " =", " " + (a * b)};
            }
            case COMPARISON -> {
                int a = r.nextInt(100), b = r.nextInt(100);
                while (b == a) b = r.nextInt(100);
                yield new String[] {"Is " + a + " greater than " + b + "? Answer:", a > b ? " Yes" : " No"};
            }
            case PARITY -> {
                int a = r.nextInt(100);
                yield new String[] {"Is " + a + " even? Answer:", a % 2 == 0 ? " Yes" : " No"};
            }
        };
    }
}
