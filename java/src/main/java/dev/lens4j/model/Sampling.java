package dev.lens4j.model;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * TL's utils.sample_logits over one row of logits: greedy at temperature 0 (or without sampling), else the logits
 * divided by the temperature, restricted to the top k (ties at the k-th value kept, as TL) or else the top-p nucleus,
 * and one draw from the softmax. The draw comes from a seeded SplittableRandom, so a seed reproduces the tokens (the
 * stream is not torch's, so the tokens differ from a TL run with the same seed).
 */
final class Sampling {
    private Sampling() {}

    static int sample(float[] logits, int offset, int V, GenerateOptions o, SplittableRandom rnd) {
        if (!o.doSample || o.temperature == 0) return argmax(logits, offset, V);
        double[] l = new double[V];
        for (int v = 0; v < V; v++) l[v] = logits[offset + v] / o.temperature;
        if (o.topK > 0) {
            if (o.topK < V) {
                double[] sorted = l.clone();
                Arrays.sort(sorted);
                double kth = sorted[V - o.topK];
                for (int v = 0; v < V; v++) if (l[v] < kth) l[v] = Double.NEGATIVE_INFINITY;
            }
        } else if (o.topP > 0) {
            Integer[] order = new Integer[V];
            for (int v = 0; v < V; v++) order[v] = v;
            Arrays.sort(order, (a, b) -> Double.compare(l[b], l[a]));
            double[] p = softmax(l);
            double cum = 0;
            boolean remove = false;
            for (int i = 0; i < V; i++) { // remove once the probability before this token already exceeds top_p
                if (remove) l[order[i]] = Double.NEGATIVE_INFINITY;
                cum += p[order[i]];
                if (cum > o.topP) remove = true;
            }
        }
        double[] p = softmax(l);
        double u = rnd.nextDouble(), acc = 0;
        int last = -1;
        for (int v = 0; v < V; v++) {
            if (p[v] == 0) continue;
            acc += p[v];
            last = v;
            if (u < acc) return v;
        }
        return last; // rounding: u landed past the last cumulative sum
    }

    static int argmax(float[] logits, int offset, int V) {
        int best = 0;
        for (int v = 1; v < V; v++) if (logits[offset + v] > logits[offset + best]) best = v;
        return best;
    }

    private static double[] softmax(double[] l) {
        double max = Double.NEGATIVE_INFINITY;
        for (double x : l) max = Math.max(max, x);
        double sum = 0;
        double[] p = new double[l.length];
        for (int i = 0; i < l.length; i++) sum += p[i] = l[i] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(l[i] - max);
        for (int i = 0; i < l.length; i++) p[i] /= sum;
        return p;
    }
}
