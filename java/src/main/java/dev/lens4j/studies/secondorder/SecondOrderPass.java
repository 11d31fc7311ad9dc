package dev.lens4j.studies.secondorder;

import dev.lens4j.analysis.SecondOrderEffects;
import dev.lens4j.model.HookedTransformer;

import java.util.function.IntConsumer;

/**
 * One forward over every problem caching hook_post, ln1 scales and attention patterns, turned into φ for every
 * neuron of every layer (one GEMM per layer and batch) and, for the rank-1 neurons of the selected layers, the
 * per-head weights m[x, s, (l',h)] their vector-valued effects are made of.
 */
final class SecondOrderPass {
    /** φ[l][x * d_mlp + n]; the last layer (no later heads) stays zero. */
    final float[][] phi;
    /** mixing[li][(x * S + s) * K + k] for selected layer li. */
    final float[][] mixing;

    SecondOrderPass(HookedTransformer model, SecondOrderEffects so, ProblemBatches data, int[] layers, int[][] neurons, IntConsumer progress) {
        var cfg = model.cfg();
        int n = data.size(), L = cfg.nLayers, dMlp = cfg.dMlp;
        phi = new float[L][n * dMlp];
        mixing = new float[layers.length][];
        for (int li = 0; li < layers.length; li++) mixing[li] = new float[n * neurons[li].length * so.laterHeads(layers[li])];
        String[] names = so.hookNames().toArray(String[]::new);
        int done = 0;
        for (int[] batch : data.batches) {
            int q = data.query[batch[0]];
            try (var out = model.run(data.tokens(batch), new HookedTransformer.RunOptions().cacheNames(names).noLogits(true))) {
                for (int l = 0; l < L - 1; l++) {
                    float[] e = so.effects(out.cache(), l, q);
                    for (int b = 0; b < batch.length; b++) System.arraycopy(e, b * dMlp, phi[l], batch[b] * dMlp, dMlp);
                }
                for (int li = 0; li < layers.length; li++) {
                    int s = neurons[li].length, k = so.laterHeads(layers[li]);
                    float[] m = so.mixing(out.cache(), layers[li], q, neurons[li]);
                    for (int b = 0; b < batch.length; b++) System.arraycopy(m, b * s * k, mixing[li], batch[b] * s * k, s * k);
                }
            }
            progress.accept(++done);
        }
    }
}
