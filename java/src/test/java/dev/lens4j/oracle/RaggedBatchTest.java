package dev.lens4j.oracle;

import dev.lens4j.hooks.ActivationCache;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.hooks.Positions;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.HookedTransformer.RunOptions;
import dev.lens4j.model.Metrics;
import dev.lens4j.model.PaddedBatch;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Ragged batches as TransformerLens runs them: a padded batch gives, per row, the logits, every cached activation at
 * real positions, the gradients at every hook point and the weight gradients (summed over rows) that each sequence
 * gets run alone; for left and right padding, on GPT-2 (learned positions), Llama (rotary, GQA) and Gemma 2-like
 * (sliding window shorter than the prompts, soft caps, post norms) configs with random weights.
 */
class RaggedBatchTest {
    private static final int[] LENGTHS = {7, 3, 10, 1, 6};
    private static final int PAD = 5;
    private static final double TOL = 2e-4;

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String label : List.of("gpt2", "llama", "gemma2-like", "neox-parallel"))
            for (PaddedBatch.Side side : PaddedBatch.Side.values())
                for (boolean split : new boolean[] {false, true}) out.add(Arguments.of(label, side, split));
        return out.stream();
    }

    /** A hook that reads the scores forces the split attention path (scores, softmax, apply) instead of the fused kernel. */
    private static Hooks splitPath(boolean split) {
        return split ? Hooks.none().add(n -> n.endsWith("hook_attn_scores"), (t, h) -> null) : Hooks.none();
    }

    private static List<int[]> prompts(int vocab) {
        int[][] all = TinyModels.tokens(99, LENGTHS.length, 10, vocab);
        List<int[]> rows = new ArrayList<>();
        for (int b = 0; b < LENGTHS.length; b++) rows.add(java.util.Arrays.copyOf(all[b], LENGTHS[b]));
        return rows;
    }

    @ParameterizedTest(name = "{0}, {1} padding, split path {2}")
    @MethodSource("cases")
    void paddedBatchEqualsEachPromptAlone(String label, PaddedBatch.Side side, boolean split) {
        long live = Tensor.liveBytes();
        TinyModels.Tiny tiny = TinyModels.build(label, 11);
        try (HookedTransformer model = new HookedTransformer(tiny.cfg(), tiny.weights())) {
            List<int[]> rows = prompts(tiny.cfg().dVocab);
            PaddedBatch batch = PaddedBatch.of(rows, side, PAD);
            int S = batch.seq();
            try (HookedTransformer.Output padded = model.run(batch, new RunOptions().cacheAll().hooks(splitPath(split)))) {
                ActivationCache pc = padded.cache();
                int[][] mask = pc.attentionMask();
                assertNotNull(mask, "the cache keeps the attention mask");
                for (int b = 0; b < rows.size(); b++) {
                    int start = batch.start(b), len = rows.get(b).length;
                    for (int p = 0; p < S; p++) assertEquals(p >= start && p < start + len ? 1 : 0, mask[b][p], "mask row " + b + " pos " + p);
                    try (HookedTransformer.Output alone = model.run(new int[][] {rows.get(b)}, new RunOptions().cacheAll())) {
                        String what = label + " " + side + " row " + b;
                        compareRows(what + " logits", alone.logits(), padded.logits(), b, start, len, 1);
                        for (String name : model.hookNames()) {
                            boolean attn = name.endsWith("hook_attn_scores") || name.endsWith("hook_pattern");
                            compareRows(what + " " + name, alone.cache().get(name), pc.get(name), b, start, len, attn ? 2 : 1);
                        }
                    }
                }
            }
            // each row's last real token: logitsLastOnly and Positions.lastReal()
            try (HookedTransformer.Output last = model.run(batch, new RunOptions().logitsLastOnly(true)
                    .cacheNames("blocks.1.hook_resid_post").cachePositions(Positions.lastReal()))) {
                for (int b = 0; b < rows.size(); b++)
                    try (HookedTransformer.Output alone = model.run(new int[][] {rows.get(b)}, new RunOptions().logitsLastOnly(true)
                            .cacheNames("blocks.1.hook_resid_post").cachePositions(Positions.last()))) {
                        compareRows(label + " " + side + " last logits row " + b, alone.logits(), last.logits(), b, 0, 1, 1);
                        compareRows(label + " " + side + " lastReal resid row " + b, alone.cache().get("blocks.1.hook_resid_post"),
                                last.cache().get("blocks.1.hook_resid_post"), b, 0, 1, 1);
                    }
            }
        }
        assertEquals(live, Tensor.liveBytes(), "no native bytes left behind");
    }

    @ParameterizedTest(name = "{0}, {1} padding, split path {2}")
    @MethodSource("cases")
    void paddedBatchGradientsEqualEachPromptAlone(String label, PaddedBatch.Side side, boolean split) {
        long live = Tensor.liveBytes();
        TinyModels.Tiny tiny = TinyModels.build(label, 12);
        try (HookedTransformer model = new HookedTransformer(tiny.cfg(), tiny.weights())) {
            int V = tiny.cfg().dVocab;
            List<int[]> rows = prompts(V);
            PaddedBatch batch = PaddedBatch.of(rows, side, PAD);
            int[] answers = new int[rows.size()], wrongs = new int[rows.size()];
            for (int b = 0; b < rows.size(); b++) { answers[b] = (3 * b + 1) % V; wrongs[b] = (7 * b + 2) % V; }
            RunOptions opts = new RunOptions().cacheAllGrads().allWeightGrads().hooks(splitPath(split));
            try (HookedTransformer.Gradients g = model.backward(batch, Metrics.logitDiff(answers, wrongs), opts)) {
                double sum = 0;
                java.util.Map<String, double[]> weightSum = new java.util.HashMap<>();
                for (int b = 0; b < rows.size(); b++) {
                    int start = batch.start(b), len = rows.get(b).length;
                    try (HookedTransformer.Gradients a = model.backward(new int[][] {rows.get(b)},
                            Metrics.logitDiff(answers[b], wrongs[b]), new RunOptions().cacheAllGrads().allWeightGrads())) {
                        sum += a.value();
                        String what = label + " " + side + " row " + b + " grad ";
                        for (String name : g.grads().keys()) {
                            boolean attn = name.endsWith("hook_attn_scores") || name.endsWith("hook_pattern");
                            compareRows(what + name, a.grads().get(name), g.grads().get(name), b, start, len, attn ? 2 : 1);
                        }
                        for (var e : a.weightGrads().asMap().entrySet()) {
                            float[] w = e.getValue().toFloatArray();
                            double[] acc = weightSum.computeIfAbsent(e.getKey(), k -> new double[w.length]);
                            for (int i = 0; i < w.length; i++) acc[i] += w[i];
                        }
                    }
                }
                assertEquals(sum, g.value(), 1e-4 * Math.max(1, Math.abs(sum)), "metric summed over rows");
                for (var e : weightSum.entrySet())
                    CpuKernelsAssert.close(label + " " + side + " weight grad " + e.getKey(), e.getValue(),
                            g.weightGrads().get(e.getKey()).toFloatArray(), TOL);
            }
        }
        assertEquals(live, Tensor.liveBytes(), "no native bytes left behind");
    }

    @ParameterizedTest(name = "{0}, {1} padding, split path {2}")
    @MethodSource("cases")
    void nextTokenLossCountsOnlyRealPredictions(String label, PaddedBatch.Side side, boolean split) {
        TinyModels.Tiny tiny = TinyModels.build(label, 13);
        try (HookedTransformer model = new HookedTransformer(tiny.cfg(), tiny.weights())) {
            List<int[]> rows = prompts(tiny.cfg().dVocab);
            PaddedBatch batch = PaddedBatch.of(rows, side, PAD);
            double total = 0;
            int n = 0;
            for (int[] row : rows) {
                if (row.length < 2) continue;
                try (HookedTransformer.Gradients a = model.backward(new int[][] {row}, Metrics.nextTokenLoss(new int[][] {row}), new RunOptions())) {
                    total += a.value() * (row.length - 1);
                    n += row.length - 1;
                }
            }
            try (HookedTransformer.Gradients g = model.backward(batch, Metrics.nextTokenLoss(batch.tokens()), new RunOptions().hooks(splitPath(split)))) {
                assertEquals(total / n, g.value(), 1e-5, "mean loss over the real next-token predictions");
            }
            assertEquals(total / n, model.loss(batch), 1e-5, "loss(PaddedBatch)");
        }
    }

    /**
     * Row b of the padded tensor at real positions start..start+len-1 (along dim; for scores and patterns also the key
     * dim 3) against the single run [1, len, ...]. Infinities (masked scores) must match exactly.
     */
    static void compareRows(String what, Tensor alone, Tensor padded, int b, int start, int len, int dim) {
        long[] as = alone.shape(), ps = padded.shape();
        assertEquals(as.length, ps.length, what + " rank");
        float[] a = alone.toFloatArray(), p = padded.toFloatArray();
        boolean keys = dim == 2;
        int S = (int) ps[dim], A = (int) as[dim];
        long outer = 1, inner = 1;
        for (int i = 1; i < dim; i++) outer *= ps[i];
        for (int i = dim + 1; i < ps.length; i++) inner *= ps[i];
        if (keys) inner = 1; // [B, H, S, S]: walk keys explicitly
        double max = 1, err = 0;
        for (float x : a) if (Float.isFinite(x)) max = Math.max(max, Math.abs(x));
        for (long o = 0; o < outer; o++)
            for (int i = 0; i < len; i++) {
                int aRow = (int) ((o * A + i) * (keys ? A : inner)), pRow = (int) ((((long) b * outer + o) * S + start + i) * (keys ? S : inner));
                int cols = keys ? len : (int) inner;
                for (int c = 0; c < cols; c++) {
                    float x = a[aRow + c], y = p[pRow + (keys ? start : 0) + c];
                    if (Float.isInfinite(x) || Float.isInfinite(y)) { assertEquals(x, y, what + ": masked entries"); continue; }
                    err = Math.max(err, Math.abs(x - y));
                }
            }
        assertTrue(err <= TOL * max, what + ": max abs error " + err + " > " + TOL + " x " + max);
    }
}
