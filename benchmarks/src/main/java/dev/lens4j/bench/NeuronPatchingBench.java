package dev.lens4j.bench;

import dev.lens4j.analysis.Patching;
import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Metric;
import dev.lens4j.model.Metrics;
import dev.lens4j.model.Shapes;

import java.util.SplittableRandom;

/**
 * The neuron-patching sweep's cost: every MLP neuron of one layer of a GPT-2-small-shaped model (random weights, a
 * short prompt) patched from the clean run into the corrupted one, (a) as Patching.mlpNeurons runs it (batched
 * variants started from the corrupted residual after the layer) and (b) TransformerLens's way, one full forward of the
 * corrupted prompt per neuron with the patch as a hook. (b) is timed on a sample of neurons and extrapolated to all
 * d_mlp (a full run takes minutes on the 2-core VM); the sampled neurons' values are checked to agree.
 * Both unembed only the last position. A forward-equivalent is one plain forward of the corrupted prompt.
 * Usage: NeuronPatchingBench [shape=gpt2-small] [seq=12] [batch=64] [sample=64] [layers=0,6,11]
 */
public final class NeuronPatchingBench {
    public static void main(String[] args) {
        String shape = args.length > 0 ? args[0] : "gpt2-small";
        int seq = args.length > 1 ? Integer.parseInt(args[1]) : 12;
        int batch = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        int sample = args.length > 3 ? Integer.parseInt(args[3]) : 64;
        String[] layerList = (args.length > 4 ? args[4] : "0,6,11").split(",");
        Config cfg = Shapes.get(shape);
        SplittableRandom r = new SplittableRandom(7);
        int[][] clean = new int[1][seq], corrupt = new int[1][seq];
        for (int p = 0; p < seq; p++) clean[0][p] = corrupt[0][p] = r.nextInt(cfg.dVocab);
        corrupt[0][seq / 2] = (clean[0][seq / 2] + 1) % cfg.dVocab; // one corrupted token mid-prompt
        Metric metric = Metrics.logitDiff(11, 12);
        int F = cfg.dMlp;
        try (HookedTransformer model = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 1234))) {
            var lastOnly = new HookedTransformer.RunOptions().logitsLastOnly(true);
            for (int i = 0; i < 3; i++) try (var o = model.run(corrupt, lastOnly)) { /* warm-up */ }
            double forwardMs = medianMs(5, () -> { try (var o = model.run(corrupt, new HookedTransformer.RunOptions().logitsLastOnly(true))) { } });
            System.out.printf("%s, prompt of %d tokens, %d neurons per layer; one forward (last-position logits): %.1f ms (median of 5)%n",
                    shape, seq, F, forwardMs);
            for (String ls : layerList) {
                int layer = Integer.parseInt(ls.strip());
                try (var cleanRun = model.run(clean, new HookedTransformer.RunOptions().cacheNames(HookNames.mlpPost(layer)).noLogits(true))) {
                    var cache = cleanRun.cache();
                    long t0 = System.nanoTime();
                    Patching.Grid sweep = Patching.mlpNeurons(model, corrupt, cache, metric, layer, null, batch);
                    double sweepMs = (System.nanoTime() - t0) / 1e6;
                    // TL's way on a sample of neurons, spread over the layer
                    float[] cl = cache.get(HookNames.mlpPost(layer)).toFloatArray();
                    double maxDiff = 0;
                    long t1 = System.nanoTime();
                    for (int s = 0; s < sample; s++) {
                        int n = (int) ((long) s * F / sample);
                        Hooks h = Hooks.none().add(HookNames.mlpPost(layer), (a, hp) -> {
                            float[] x = a.toFloatArray();
                            for (int p = 0; p < seq; p++) x[p * F + n] = cl[p * F + n];
                            a.set(x);
                            return null;
                        });
                        try (var o = model.run(corrupt, new HookedTransformer.RunOptions().hooks(h).logitsLastOnly(true))) {
                            float[] lg = o.logits().toFloatArray();
                            double v = metric.evaluate(lg, 1, 1, lg.length, new float[lg.length]);
                            maxDiff = Math.max(maxDiff, Math.abs(v - sweep.get(n)));
                        }
                    }
                    double perNeuronMs = (System.nanoTime() - t1) / 1e6 / sample;
                    double tlMs = perNeuronMs * F;
                    int forwards = (F + batch - 1) / batch;
                    String through = layer + 1 < cfg.nLayers ? "blocks " + (layer + 1) + ".." + (cfg.nLayers - 1) + " + unembed" : "the unembedding only";
                    System.out.printf("layer %2d: batched sweep (%d forwards of %d variants through %s) %.2f s = %.1f forward-equivalents; "
                                    + "one forward per neuron %.1f ms x %d = %.1f s (%d sampled) = %.0f forward-equivalents; speed-up %.1fx; "
                                    + "max |difference| on the sample %.1e%n",
                            layer, forwards, batch, through, sweepMs / 1e3, sweepMs / forwardMs, perNeuronMs, F, tlMs / 1e3,
                            sample, tlMs / forwardMs, tlMs / sweepMs, maxDiff);
                }
            }
        }
    }

    private static double medianMs(int n, Runnable r) {
        double[] t = new double[n];
        for (int i = 0; i < n; i++) {
            long s = System.nanoTime();
            r.run();
            t[i] = (System.nanoTime() - s) / 1e6;
        }
        return SideBySide.median(t);
    }
}
