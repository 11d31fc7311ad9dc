package dev.lens4j.bench;

import dev.lens4j.analysis.AttributionPatching;
import dev.lens4j.backend.Backend;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Metric;
import dev.lens4j.model.Metrics;
import dev.lens4j.model.Shapes;
import org.bytedeco.javacpp.FloatPointer;

/**
 * The work benchmarks/python/ compares with TransformerLens and plain PyTorch, on random weights: a forward with the
 * logits of every position, a forward caching every hook point, all-neuron attribution patching, and zero-ablation
 * of head 0 in every layer (a hook on attn.hook_z). Inputs follow the same rules on the Python side (its own random draws).
 */
final class Workloads implements AutoCloseable {
    static final String[] NAMES = {"forward", "cache", "attribution", "ablation"};

    final Config cfg;
    final HookedTransformer model;
    final int batch, seq;
    final int[][] clean, corrupt;
    final int[] answers, wrongs;
    final Metric metric;
    private final HookedTransformer.RunOptions cacheAll = new HookedTransformer.RunOptions().cacheAll();
    private final Hooks ablateHead0;

    Workloads(String shape, int batch, int seq, Backend backend) {
        this.cfg = Shapes.get(shape);
        this.model = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 1234), null, backend);
        this.batch = batch;
        this.seq = seq;
        BenchTokens.Contrast in = BenchTokens.contrast(batch, seq, cfg.dVocab, 7);
        clean = in.clean();
        corrupt = in.corrupt();
        answers = in.answers();
        wrongs = in.wrongs();
        metric = Metrics.logitDiff(answers, wrongs);
        float[] zeros = new float[cfg.dHead];
        ablateHead0 = Hooks.none().addRegex("attn\\.hook_z$", (z, hp) -> {
            long rows = z.size(0) * z.size(1), rowLen = z.size(2) * z.size(3);
            FloatPointer p = z.floatPointer();
            for (long i = 0; i < rows; i++) p.position(i * rowLen).put(zeros, 0, zeros.length); // head 0 of each row
            return null;
        });
    }

    /** Runs one workload once; returns a number from its result so nothing is optimised away. */
    double run(String name) {
        switch (name) {
            case "forward": try (var logits = model.forward(clean)) { return logits.size(2); }
            case "cache": try (var out = model.run(clean, cacheAll)) { return out.cache().size(); }
            case "attribution": return AttributionPatching.run(model, clean, corrupt, metric).mlpNeuron(0, 0);
            case "ablation": try (var logits = model.runWithHooks(clean, ablateHead0)) { return logits.size(2); }
            default: throw new IllegalArgumentException("unknown workload '" + name + "' (known: forward, cache, attribution, ablation)");
        }
    }

    @Override public void close() { model.close(); }
}
