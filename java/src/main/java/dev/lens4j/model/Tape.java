package dev.lens4j.model;

import dev.lens4j.tensor.Tensor;

import java.util.HashMap;
import java.util.Map;

/** What a forward pass keeps for its backward pass: the values that flowed (after forward hooks). */
final class Tape {
    /** One normalisation: its input, scale [B,S,1], TL's hook_normalized value, and its output. */
    record Norm(Tensor x, Tensor scale, Tensor normalized, Tensor out) {}

    static final class Layer {
        Tensor residPre, v, rq, rk, pattern, z, mid, pre, lin, post;
        Tensor probs; // softmax(scores) before a pattern hook changed it (null when unhooked: pattern is it)
        Tensor cappedScores; // soft-capped, masked scores before any hook (only with attention soft-capping)
    }

    Tensor tokens;
    final Layer[] layers;
    final Map<String, Norm> norms = new HashMap<>();
    Norm lnFinal;
    Tensor unembedIn;
    Tensor cappedLogits; // with output soft-capping: the capped logits the metric saw
    boolean lastOnly;
    // ragged batches (null for a rectangular run): see HookedTransformer.Run.ragged
    long[] keyRanges;
    int[] positionIds;
    int[] lastIndices;
    Tensor[] rotaryRows;

    Tape(int nLayers) {
        layers = new Layer[nLayers];
        for (int i = 0; i < nLayers; i++) layers[i] = new Layer();
    }
}
