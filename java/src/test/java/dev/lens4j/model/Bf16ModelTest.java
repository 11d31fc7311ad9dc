package dev.lens4j.model;

import dev.lens4j.analysis.AttributionPatching;
import dev.lens4j.backend.Bf16Gemm;
import dev.lens4j.backend.CpuBackend;
import dev.lens4j.load.Bf16Weights;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.oracle.HfTestCheckpoints;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * bf16-resident weights against the float32 model, per model: logits, top-1 agreement, activation gradients, weight
 * gradients and attribution-patching scores. Two references:
 * - the float32 model with its matrices rounded to bf16 in place (the same numbers in float32 kernels): the bf16 run
 *   must match it up to the rounding of activations to bf16 inside the AVX512-BF16 GEMM (exactly, up to float
 *   summation order, on the widening path). This catches a weight read at the wrong place or layout;
 * - the float32 model as loaded: the documented accuracy of bf16 weights (bounds below, the measured values printed).
 */
class Bf16ModelTest {
    @TempDir Path tmp;
    private long liveAtStart;

    @BeforeEach void start() { liveAtStart = Tensor.liveBytes(); }
    @AfterEach void noLeak() { assertEquals(liveAtStart, Tensor.liveBytes(), "native bytes leaked"); }

    /** What one comparison measured. */
    record Accuracy(double logitRelErr, double top1, double gradCorr, double weightGradCorr, double attrCorr) {}

    @Test void stories260K() {
        Path bin = TestCheckpoints.stories260K();
        Accuracy a = compare("stories260K", bin, 512, 0.02, 0.999);
        assertTrue(a.top1() >= 0.97, "top-1 agreement " + a.top1());
    }

    @Test void randomGpt2() {
        Path dir = TestCheckpoints.gpt2(tmp.resolve("gpt2"), RandomWeights.gpt2Config(3, 64, 4, 200, 48), 11, DType.F32);
        compare("random GPT-2", dir, 200, 0.03, 0.999);
    }

    @Test void randomGemma2() {
        HfTestCheckpoints.gemma2(tmp.resolve("gemma2"), 5, DType.F32);
        compare("random Gemma 2", tmp.resolve("gemma2"), 61, 0.03, 0.999);
    }

    /** Loads f32, f32-with-rounded-matrices and bf16, and compares them on 4 seeded sequences of 20 tokens. */
    private Accuracy compare(String label, Path model, int vocab, double maxLogitRelErr, double minCorr) {
        SplittableRandom r = new SplittableRandom(42);
        int[][] clean = new int[4][20], corrupt = new int[4][20];
        for (int b = 0; b < 4; b++)
            for (int p = 0; p < 20; p++) { clean[b][p] = 1 + r.nextInt(vocab - 1); corrupt[b][p] = p == 18 ? 1 + r.nextInt(vocab - 1) : clean[b][p]; }
        try (HookedTransformer f32 = HookedTransformer.fromPretrained(model, null, LoadOptions.defaults(), CpuBackend.get());
             HookedTransformer rounded = HookedTransformer.fromPretrained(model, null, LoadOptions.defaults(), CpuBackend.get());
             HookedTransformer bf16 = HookedTransformer.fromPretrained(model, null, LoadOptions.defaults().dtype(DType.BF16), CpuBackend.get())) {
            long f32Bytes = bytes(f32.weights()), bf16Bytes = bytes(bf16.weights());
            for (var e : bf16.weights().asMap().entrySet())
                assertEquals(Bf16Weights.isMatrix(e.getKey()) ? DType.BF16 : DType.F32, e.getValue().dtype(), e.getKey());
            assertTrue(bf16Bytes < 0.6 * f32Bytes, label + ": bf16 weights take " + bf16Bytes + " bytes vs " + f32Bytes);
            rounded.editWeights(w -> {
                for (String n : new java.util.ArrayList<>(w.names())) if (Bf16Weights.isMatrix(n)) w.put(n, roundedCopy(w.get(n)));
            });

            float[] l32 = logits(f32, clean), lr = logits(rounded, clean), l16 = logits(bf16, clean);
            // the metric: the f32 model's top token against its median token at row 0's last position (two arbitrary
            // tokens can have near-identical unembeddings, whose logit difference is then mostly rounding noise)
            int V = f32.cfg().dVocabOut(), last = 19 * V;
            Integer[] order = new Integer[V];
            for (int j = 0; j < V; j++) order[j] = j;
            java.util.Arrays.sort(order, (x, y) -> Float.compare(l32[last + y], l32[last + x]));
            Metric metric = Metrics.logitDiff(order[0], order[V / 2]);
            double scale = maxAbs(l32);
            // against the same rounded weights in f32 kernels: only the activations' rounding differs (2^-9 relative)
            double vsRounded = maxAbsDiff(lr, l16) / scale;
            assertTrue(vsRounded < (Bf16Gemm.hasNativeBf16() ? 0.02 : 1e-5), label + ": bf16 vs f32 on rounded weights " + vsRounded);
            double logitRelErr = maxAbsDiff(l32, l16) / scale;
            double top1 = top1Agreement(l32, l16, f32.cfg().dVocabOut());

            double gradCorr, weightGradCorr;
            var opts = new HookedTransformer.RunOptions().cacheGradNames("blocks.0.hook_resid_pre").weightGrads(n -> n.endsWith("blocks.0.mlp.W_out") || n.endsWith("blocks.0.attn.W_Q"));
            try (var g32 = f32.backward(clean, metric, opts); var g16 = bf16.backward(clean, metric, opts); var gr = rounded.backward(clean, metric, opts)) {
                double vsRoundedGrad = correlation(gr.grads().get("blocks.0.hook_resid_pre").toFloatArray(), g16.grads().get("blocks.0.hook_resid_pre").toFloatArray());
                assertTrue(vsRoundedGrad > 0.999, label + ": bf16 backward vs f32 backward on rounded weights, correlation " + vsRoundedGrad);
                gradCorr = correlation(g32.grads().get("blocks.0.hook_resid_pre").toFloatArray(), g16.grads().get("blocks.0.hook_resid_pre").toFloatArray());
                weightGradCorr = Math.min(
                        correlation(g32.weightGrads().get("blocks.0.mlp.W_out").toFloatArray(), g16.weightGrads().get("blocks.0.mlp.W_out").toFloatArray()),
                        correlation(g32.weightGrads().get("blocks.0.attn.W_Q").toFloatArray(), g16.weightGrads().get("blocks.0.attn.W_Q").toFloatArray()));
                assertEquals(DType.F32, g16.weightGrads().get("blocks.0.mlp.W_out").dtype(), "weight gradients stay f32");
            }
            var a32 = AttributionPatching.run(f32, clean, corrupt, metric);
            var a16 = AttributionPatching.run(bf16, clean, corrupt, metric);
            double attrCorr = Math.min(correlation(flat(a32.mlpNeurons()), flat(a16.mlpNeurons())), correlation(flat(a32.heads()), flat(a16.heads())));

            Accuracy acc = new Accuracy(logitRelErr, top1, gradCorr, weightGradCorr, attrCorr);
            System.out.printf("bf16 accuracy %s: logit max err / max |logit| %.2e (vs f32 on rounded weights %.2e), top-1 %.3f, "
                    + "grad corr %.6f, weight grad corr %.6f, attribution corr %.6f, weights %d -> %d bytes%n",
                    label, logitRelErr, vsRounded, top1, gradCorr, weightGradCorr, attrCorr, f32Bytes, bf16Bytes);
            assertTrue(logitRelErr < maxLogitRelErr, label + ": " + acc);
            assertTrue(gradCorr > minCorr && weightGradCorr > minCorr && attrCorr > minCorr, label + ": " + acc);
            assertTrue(logitRelErr > 0, label + ": bf16 rounding changes the logits");
            return acc;
        }
    }

    @Test void weightsOfABf16ModelAreReplacedNotWrittenInPlace() {
        Path dir = TestCheckpoints.gpt2(tmp.resolve("g"), 3);
        int[][] tokens = {{1, 2, 3, 4, 5}};
        try (HookedTransformer m = HookedTransformer.fromPretrained(dir, null, LoadOptions.defaults().dtype(DType.BF16), CpuBackend.get())) {
            String name = "blocks.0.mlp.W_out";
            RuntimeException e = assertThrows(RuntimeException.class, () -> m.editWeights(w -> w.get(name).put(0f, 0, 0)));
            assertTrue(e.getMessage().contains("BF16"), e.getMessage());
            float[] before = logits(m, tokens);
            // zero the layer's W_out as an f32 replacement: the forward runs it in f32 and the MLP stops contributing
            m.editWeights(w -> w.put(name, Tensor.zeros(w.get(name).shape())));
            float[] zeroed = logits(m, tokens);
            m.editWeights(w -> w.put(name, Bf16Gemm.toBf16(w.get(name))));
            assertEquals(DType.BF16, m.weights().get(name).dtype());
            assertArrayEquals(zeroed, logits(m, tokens), 1e-6f, "a zero bf16 W_out is a zero f32 W_out");
            assertFalse(java.util.Arrays.equals(before, zeroed), "the replacement took effect");
        }
    }

    @Test void weightBasedAnalysesReadBf16Weights() {
        // W_out @ W_U and W_E @ W_in with bf16 weights equal the same products of the rounded weights in f32: bf16
        // values are exact in bf16 and in f32, so only the summation order differs
        Path dir = TestCheckpoints.gpt2(tmp.resolve("c"), RandomWeights.gpt2Config(2, 64, 4, 200, 16), 4, DType.F32);
        int[] tokens = {5, 17, 199};
        try (HookedTransformer bf16 = HookedTransformer.fromPretrained(dir, null, LoadOptions.defaults().dtype(DType.BF16), CpuBackend.get());
             HookedTransformer rounded = HookedTransformer.fromPretrained(dir, null, LoadOptions.defaults(), CpuBackend.get())) {
            rounded.editWeights(w -> {
                for (String n : new java.util.ArrayList<>(w.names())) if (Bf16Weights.isMatrix(n)) w.put(n, roundedCopy(w.get(n)));
            });
            var c16 = dev.lens4j.analysis.NeuronCongruence.compute(bf16, tokens, 5);
            var cr = dev.lens4j.analysis.NeuronCongruence.compute(rounded, tokens, 5);
            assertArrayEquals(cr.output(), c16.output(), 1e-5f * (float) maxAbs(cr.output()));
            assertArrayEquals(cr.input(), c16.input(), 1e-5f * (float) maxAbs(cr.input()));
        }
    }

    @Test void loadOptionsRefuseOtherDtypes() {
        assertThrows(IllegalArgumentException.class, () -> LoadOptions.defaults().dtype(DType.F16));
        assertEquals(DType.F32, LoadOptions.defaults().dtype(), "float32 stays the default");
    }

    private static Tensor roundedCopy(Tensor t) {
        try (Tensor h = Bf16Gemm.toBf16(t)) { return Tensor.of(h.toFloatArray(), t.shape()); }
    }

    private static float[] logits(HookedTransformer m, int[][] tokens) {
        try (Tensor t = m.forward(tokens)) { return t.toFloatArray(); }
    }

    private static long bytes(Weights w) {
        long n = 0;
        for (Tensor t : w.asMap().values()) n += t.numel() * t.dtype().bytes;
        return n;
    }

    private static double top1Agreement(float[] a, float[] b, int vocab) {
        int rows = a.length / vocab, same = 0;
        for (int i = 0; i < rows; i++) if (argmax(a, i * vocab, vocab) == argmax(b, i * vocab, vocab)) same++;
        return (double) same / rows;
    }

    private static int argmax(float[] x, int off, int n) {
        int best = 0;
        for (int j = 1; j < n; j++) if (x[off + j] > x[off + best]) best = j;
        return best;
    }

    private static double maxAbs(float[] x) {
        double m = 0;
        for (float v : x) m = Math.max(m, Math.abs(v));
        return m;
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    private static float[] flat(double[][] x) {
        int n = 0;
        for (double[] row : x) n += row.length;
        float[] out = new float[n];
        int k = 0;
        for (double[] row : x) for (double v : row) out[k++] = (float) v;
        return out;
    }

    static double correlation(float[] a, float[] b) {
        double ma = 0, mb = 0;
        for (int i = 0; i < a.length; i++) { ma += a[i]; mb += b[i]; }
        ma /= a.length;
        mb /= b.length;
        double sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.length; i++) {
            sab += (a[i] - ma) * (b[i] - mb);
            saa += (a[i] - ma) * (a[i] - ma);
            sbb += (b[i] - mb) * (b[i] - mb);
        }
        return sab / Math.sqrt(saa * sbb);
    }
}
