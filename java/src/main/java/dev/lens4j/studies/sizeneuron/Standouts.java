package dev.lens4j.studies.sizeneuron;

import dev.lens4j.analysis.Stats;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Neurons that stand out of a layer's per-neuron patching distribution (the seed's "check for neurons which stand out
 * from the rest: tail of the distribution, distance from the mean"): z = (v - mean) / std over the layer's neurons
 * (population std), and the gap to the next-highest neuron of the same layer.
 */
public final class Standouts {
    private Standouts() {}

    /** One neuron of one layer: its normalised patching value, z-score, gap above the layer's next value, rank (1 = highest). */
    public record Neuron(int layer, int neuron, double value, double z, double gap, int rank) {
        public String label() { return "L" + layer + "N" + neuron; }
    }

    /** z-scores of every value (0 where every value is equal). */
    public static double[] zScores(double[] v) {
        double mean = Stats.mean(v), sd = Stats.std(v);
        double[] z = new double[v.length];
        for (int i = 0; i < v.length; i++) z[i] = sd > 0 ? (v[i] - mean) / sd : 0;
        return z;
    }

    /** Every neuron of a layer with its z-score, gap and rank, highest value first. */
    public static List<Neuron> rank(int layer, double[] v) {
        double[] z = zScores(v);
        int[] order = Stats.argsortDescending(v);
        List<Neuron> out = new ArrayList<>(v.length);
        for (int r = 0; r < order.length; r++) {
            int n = order[r];
            double next = r + 1 < order.length ? v[order[r + 1]] : v[n];
            out.add(new Neuron(layer, n, v[n], z[n], v[n] - next, r + 1));
        }
        return out;
    }

    /** The top {@code count} neurons over several layers by z-score (ties: larger value, then lower layer and index). */
    public static List<Neuron> top(List<List<Neuron>> layers, int count) {
        List<Neuron> all = new ArrayList<>();
        for (List<Neuron> l : layers) all.addAll(l);
        all.sort(Comparator.comparingDouble((Neuron n) -> -n.z()).thenComparingDouble(n -> -n.value())
                .thenComparingInt(Neuron::layer).thenComparingInt(Neuron::neuron));
        return new ArrayList<>(all.subList(0, Math.min(count, all.size())));
    }
}
