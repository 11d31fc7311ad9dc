package dev.lens4j.load;

import dev.lens4j.model.Weights;
import dev.lens4j.oracle.HfOracle;
import dev.lens4j.oracle.HfTestCheckpoints;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.LongToDoubleFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Weights streamed from bf16 files straight into TransformerLens's layouts hold exactly (bit for bit) what TL's
 * convert_*_weights einops rearrangements give, written here index by index from the Hugging Face tensors; chunk
 * boundaries change nothing; and loading allocates no native memory beyond the weights and no whole-tensor heap copy.
 */
class StreamedLayoutTest {
    @TempDir Path tmp;

    /** expected(flat index of the TL tensor) for every element, compared as float bits. */
    private static void assertLayout(Weights w, String name, LongToDoubleFunction expected) {
        float[] got = w.get(name).toFloatArray();
        for (int k = 0; k < got.length; k++) {
            float e = (float) expected.applyAsDouble(k);
            if (Float.floatToRawIntBits(e) != Float.floatToRawIntBits(got[k]))
                throw new AssertionError(name + "[" + k + "]: expected " + e + ", got " + got[k]);
        }
    }

    private static double[] hf(HfOracle.HfModel m, String name) { return m.tensors().get(name).data(); }

    /** TL [.., r] flat k from HF Linear [rows, cols] transposed: 'out in -> in out'. */
    private static LongToDoubleFunction transposed(double[] src, long rows, long cols) {
        return k -> src[(int) ((k % rows) * cols + k / rows)];
    }

    /** TL [n, m, h] from HF [(n h), m]: '(n h) m -> n m h'. */
    private static LongToDoubleFunction heads(double[] src, int m, int dh) {
        return k -> { long i = k / ((long) m * dh), c = (k / dh) % m, e = k % dh; return src[(int) ((i * dh + e) * m + c)]; };
    }

    @Test void llamaQwen2AndGemmaLayoutsAreTheEinopsRearrangementsBitForBit() {
        int d = 32, dh = 8, ff = 48, V = 61;
        HfOracle.HfModel q = HfTestCheckpoints.llamaLike(tmp.resolve("qwen2"), 3, "qwen2", false, false, DType.BF16);
        try (Checkpoint c = HfCheckpoint.load(tmp.resolve("qwen2"), LoadOptions.noProcessing())) {
            Weights w = c.weights();
            for (int l = 0; l < 2; l++) {
                String p = "model.layers." + l + ".";
                assertLayout(w, Weights.attn(l, "W_Q"), heads(hf(q, p + "self_attn.q_proj.weight"), d, dh));
                assertLayout(w, Weights.attn(l, "_W_K"), heads(hf(q, p + "self_attn.k_proj.weight"), d, dh));
                assertLayout(w, Weights.attn(l, "_W_V"), heads(hf(q, p + "self_attn.v_proj.weight"), d, dh));
                assertLayout(w, Weights.attn(l, "b_Q"), k -> hf(q, p + "self_attn.q_proj.bias")[(int) k]);
                assertLayout(w, Weights.attn(l, "_b_V"), k -> hf(q, p + "self_attn.v_proj.bias")[(int) k]);
                // W_O [n, h, m] = o_proj [m, (n h)] transposed
                assertLayout(w, Weights.attn(l, "W_O"), transposed(hf(q, p + "self_attn.o_proj.weight"), d, 4L * dh));
                assertLayout(w, Weights.mlp(l, "W_in"), transposed(hf(q, p + "mlp.up_proj.weight"), ff, d));
                assertLayout(w, Weights.mlp(l, "W_gate"), transposed(hf(q, p + "mlp.gate_proj.weight"), ff, d));
                assertLayout(w, Weights.mlp(l, "W_out"), transposed(hf(q, p + "mlp.down_proj.weight"), d, ff));
            }
            assertLayout(w, "unembed.W_U", transposed(hf(q, "lm_head.weight"), V, d));
        }
        HfOracle.HfModel g = HfTestCheckpoints.gemma2(tmp.resolve("gemma2"), 4, DType.BF16);
        try (Checkpoint c = HfCheckpoint.load(tmp.resolve("gemma2"), LoadOptions.noProcessing())) {
            Weights w = c.weights();
            double[] emb = hf(g, "model.embed_tokens.weight");
            float scale = (float) Math.sqrt(d);
            assertLayout(w, "embed.W_E", k -> (float) emb[(int) k] * scale); // TL: embed * sqrt(d_model), in float32
            assertLayout(w, "unembed.W_U", transposed(emb, V, d));             // tied: the unscaled embedding, transposed
            assertLayout(w, Weights.attn(2, "_W_K"), heads(hf(g, "model.layers.2.self_attn.k_proj.weight"), d, 12));
            assertLayout(w, "blocks.1.ln2_post.w", k -> 1f + (float) hf(g, "model.layers.1.post_feedforward_layernorm.weight")[(int) k]);
        }
    }

    @Test void neoxFusedQkvSplitsBitForBit() {
        int d = 32, dh = 8, ff = 64, V = 53;
        HfOracle.HfModel m = HfTestCheckpoints.neox(tmp, 5, true, DType.BF16);
        try (Checkpoint c = HfCheckpoint.load(tmp, LoadOptions.noProcessing())) {
            Weights w = c.weights();
            String[] ws = {"W_Q", "W_K", "W_V"}, bs = {"b_Q", "b_K", "b_V"};
            for (int l = 0; l < 2; l++) {
                String p = "gpt_neox.layers." + l + ".";
                double[] qkv = hf(m, p + "attention.query_key_value.weight"), qkvb = hf(m, p + "attention.query_key_value.bias");
                for (int x = 0; x < 3; x++) {
                    int xx = x;
                    // W_X[i, m, e] = qkv[(i*3 + x)*d_head + e, m]
                    assertLayout(w, Weights.attn(l, ws[x]), k -> { long i = k / (d * dh), c2 = (k / dh) % d, e = k % dh;
                        return qkv[(int) (((i * 3 + xx) * dh + e) * d + c2)]; });
                    assertLayout(w, Weights.attn(l, bs[x]), k -> qkvb[(int) (((k / dh) * 3 + xx) * dh + k % dh)]);
                }
                assertLayout(w, Weights.attn(l, "W_O"), transposed(hf(m, p + "attention.dense.weight"), d, d));
                assertLayout(w, Weights.mlp(l, "W_out"), transposed(hf(m, p + "mlp.dense_4h_to_h.weight"), d, ff));
            }
            assertLayout(w, "unembed.W_U", transposed(hf(m, "embed_out.weight"), V, d));
        }
    }

    /** Chunks of one row, of several rows, and ending mid-tensor give the same tensor as one whole read. */
    @Test void chunkBoundariesChangeNothing() {
        HfTestCheckpoints.neox(tmp, 6, true, DType.BF16);
        try (SafeTensors st = SafeTensors.open(tmp.resolve("model.safetensors"))) {
            String name = "gpt_neox.layers.0.mlp.dense_h_to_4h.weight"; // [64, 32]
            try (Tensor whole = st.read(name)) {
                float[] expected = whole.toFloatArray();
                for (int chunk : new int[] {1, 32, 33, 100, 1 << 22}) {
                    try (Tensor t = Tensor.zeros(32, 64)) {
                        RowScatter.scatter(st, name, 32, chunk, RowScatter.transpose(t, 64, 32));
                        float[] got = t.toFloatArray();
                        for (int r = 0; r < 64; r++)
                            for (int c = 0; c < 32; c++) assertEquals(expected[r * 32 + c], got[c * 64 + r], "chunk " + chunk);
                    }
                }
            }
        }
    }

    /** Each tensor lands in its final place: native memory peaks at the weights themselves, processed or not. */
    @Test void loadingPeaksAtExactlyTheWeightsNativeBytes() throws IOException {
        Map<String, Path> dirs = Map.of(
            "gpt2", TestCheckpoints.gpt2(tmp.resolve("gpt2"), TestCheckpoints.tinyGpt2Config(), 1, DType.BF16),
            "llama", TestCheckpoints.llama(tmp.resolve("llama"), 2),
            "gemma2", path(tmp.resolve("gemma2"), () -> HfTestCheckpoints.gemma2(tmp.resolve("gemma2"), 3, DType.BF16)),
            "neox", path(tmp.resolve("neox"), () -> HfTestCheckpoints.neox(tmp.resolve("neox"), 4, false, DType.F32)));
        for (var e : dirs.entrySet())
            for (LoadOptions o : new LoadOptions[] {LoadOptions.noProcessing(), LoadOptions.defaults()}) {
                long before = Tensor.liveBytes();
                Tensor.resetPeakBytes();
                try (Checkpoint c = HfCheckpoint.load(e.getValue(), o)) {
                    long held = Tensor.liveBytes() - before;
                    assertEquals(4 * c.weights().parameterCount(), held, e.getKey());
                    // processing only removes (norm weights): the peak is the unprocessed weights, nothing transient
                    assertEquals(WeightBudget.residentBytes(HfCheckpoint.readConfig(e.getValue())), Tensor.peakBytes() - before, e.getKey() + " " + o);
                }
                assertEquals(before, Tensor.liveBytes());
            }
    }

    /**
     * Heap: a bf16 checkpoint of 77 MB loads through staging buffers reused across tensors (at most 32 MB): the loading
     * thread allocates less than half the file, where converting through fresh buffers allocates at least the file.
     */
    @Test void loadingAllocatesLessHeapThanHalfTheFile() throws IOException {
        var cfg = RandomWeights.gpt2Config(1, 768, 12, 50257, 16);
        Path dir = TestCheckpoints.gpt2(tmp.resolve("wide"), cfg, 9, DType.BF16);
        long file = java.nio.file.Files.size(dir.resolve("model.safetensors"));
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().getId();
        HfCheckpoint.load(dir, LoadOptions.noProcessing()).close(); // warm up class loading
        long h0 = mx.getThreadAllocatedBytes(tid);
        HfCheckpoint.load(dir, LoadOptions.noProcessing()).close();
        long heap = mx.getThreadAllocatedBytes(tid) - h0;
        assertTrue(file > 75_000_000L, "file " + file);
        assertTrue(heap < file / 2, "heap allocated while loading: " + heap + " bytes, file " + file);
    }

    private static Path path(Path p, Runnable write) { write.run(); return p; }
}
