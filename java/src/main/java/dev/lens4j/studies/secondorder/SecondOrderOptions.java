package dev.lens4j.studies.secondorder;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/** Options of `study second-order` (seed 002), checked against the model by {@link #validate(int)}. */
public final class SecondOrderOptions {
    public int problems = 1000;
    public long seed = 2;
    public double trainFraction = 0.8;
    /** Layers for the per-neuron analyses; null = auto (the critical layers by mean-ablation). */
    public int[] layers;
    /** Critical layers kept by auto; 0 = min(6, half of the layers with later heads, rounded up). */
    public int criticalLayers = 0;
    /** 0: every neuron of the selected layers where it fits in {@link #rank1BudgetBytes}; K: the top K per layer by the seed's scores. */
    public int sampleNeurons = 0;
    public long rank1BudgetBytes = 256L << 20;
    /** A neuron's effect on a problem is significant when |φ| exceeds this share of the problem's Σ|φ| over all neurons. */
    public double significance = 0.01;
    /** OMP sparsity (the seed's m). */
    public int ompAtoms = 16;
    public int batchSize = 32;
    public List<String> concepts = Concepts.defaults();
    public String conceptsSource = "default (seed 002's math concepts + number and operator words)";
    public Path out = Path.of("lens4j-out", "second-order");

    /** Throws IllegalArgumentException naming the option and value. */
    public SecondOrderOptions validate(int nLayers) {
        if (problems < 10 || problems > 1_000_000) throw new IllegalArgumentException("--problems must be in [10, 1000000], got " + problems);
        if (!(trainFraction > 0 && trainFraction < 1)) throw new IllegalArgumentException("--train-fraction must be in (0, 1), got " + trainFraction);
        int nTrain = (int) Math.round(problems * trainFraction);
        if (nTrain < 5 || problems - nTrain < 5)
            throw new IllegalArgumentException("--problems " + problems + " with --train-fraction " + trainFraction + " leaves " + nTrain
                    + " train / " + (problems - nTrain) + " validation problems; each needs at least 5");
        if (nLayers < 2) throw new IllegalArgumentException("second-order effects need a model with at least 2 layers, got " + nLayers);
        if (layers != null) {
            if (layers.length == 0) throw new IllegalArgumentException("--layers is empty");
            for (int l : layers)
                if (l < 0 || l > nLayers - 2)
                    throw new IllegalArgumentException("--layers: layer " + l + " is out of range [0, " + (nLayers - 2) + "] (the model has "
                            + nLayers + " layers; the last has no later heads)");
            if (Arrays.stream(layers).distinct().count() != layers.length) throw new IllegalArgumentException("--layers repeats a layer: " + Arrays.toString(layers));
        }
        if (criticalLayers < 0) throw new IllegalArgumentException("--critical-layers must be >= 0, got " + criticalLayers);
        if (sampleNeurons < 0) throw new IllegalArgumentException("--sample-neurons must be >= 0, got " + sampleNeurons);
        if (!(significance > 0 && significance < 1)) throw new IllegalArgumentException("--significance must be in (0, 1), got " + significance);
        if (ompAtoms < 1) throw new IllegalArgumentException("--omp-atoms must be >= 1, got " + ompAtoms);
        if (batchSize < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batchSize);
        if (concepts == null || concepts.isEmpty()) throw new IllegalArgumentException("no concepts");
        if (out == null) throw new IllegalArgumentException("no output folder given");
        return this;
    }

    /** Critical layers auto keeps for a model (never more than the layers with later heads). */
    public int criticalCount(int nLayers) {
        int candidates = nLayers - 1;
        return criticalLayers > 0 ? Math.min(criticalLayers, candidates) : Math.min(6, (candidates + 1) / 2);
    }

    /** Parses --layers: "auto" or a comma list of integers. */
    public static int[] parseLayers(String s) {
        if (s == null || s.strip().equalsIgnoreCase("auto")) return null;
        String[] parts = s.split(",");
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                out[i] = Integer.parseInt(parts[i].strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--layers must be auto or a comma list of layer numbers, got '" + parts[i].strip() + "' in '" + s + "'");
            }
        }
        return out;
    }
}
