package dev.lens4j.studies.sizeneuron;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Seed 001's automated spike detection on a logit-lens curve: block l is flagged when the logit difference jumps
 * between consecutive layers, curve[l + 1] - curve[l] > threshold (curve[l] read at resid_pre of block l, the last
 * entry at the final residual).
 */
public final class SpikeDetection {
    private SpikeDetection() {}

    /** A jump of block {@code layer}: curve[layer + 1] - curve[layer]. */
    public record Jump(int layer, double jump) {}

    /** Every consecutive difference, block 0 first. */
    public static double[] jumps(double[] curve) {
        if (curve.length < 2) throw new IllegalArgumentException("a logit-lens curve needs at least 2 points, got " + curve.length);
        double[] j = new double[curve.length - 1];
        for (int l = 0; l < j.length; l++) j[l] = curve[l + 1] - curve[l];
        return j;
    }

    /** The default threshold: half the largest jump, so only the sharpest rises are flagged. */
    public static double defaultThreshold(double[] curve) {
        double max = Double.NEGATIVE_INFINITY;
        for (double j : jumps(curve)) max = Math.max(max, j);
        return 0.5 * max;
    }

    /**
     * Blocks whose jump exceeds the threshold, largest first, at most maxLayers. When none does (a curve that never
     * rises by that much), the single largest jump is returned, so the neuron sweep always has a layer.
     */
    public static List<Jump> detect(double[] curve, double threshold, int maxLayers) {
        if (maxLayers < 1) throw new IllegalArgumentException("maxLayers must be >= 1, got " + maxLayers);
        if (Double.isNaN(threshold)) throw new IllegalArgumentException("the spike threshold is NaN");
        double[] j = jumps(curve);
        List<Jump> all = new ArrayList<>();
        for (int l = 0; l < j.length; l++) all.add(new Jump(l, j[l]));
        all.sort(Comparator.comparingDouble((Jump x) -> -x.jump()).thenComparingInt(Jump::layer));
        List<Jump> out = new ArrayList<>();
        for (Jump x : all) if (x.jump() > threshold && out.size() < maxLayers) out.add(x);
        if (out.isEmpty()) out.add(all.get(0));
        return out;
    }
}
