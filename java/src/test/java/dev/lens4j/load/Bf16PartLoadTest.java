package dev.lens4j.load;

import dev.lens4j.backend.CpuBackend;
import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import dev.lens4j.oracle.HfTestCheckpoints;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A bf16 load processes and rounds each part (embedding, unembedding, block) as it arrives ({@link Bf16Parts}). Its
 * weights must be bit for bit what a float32 load, processed, then rounded whole ({@link Bf16Weights#convert}) gives,
 * for every family and every combination of the processing steps; and its native memory must peak near the bf16
 * weights, not at the float32 ones.
 */
class Bf16PartLoadTest {
    @TempDir Path tmp;

    /** One checkpoint of each loader path: LN with biases (tied and untied), RMS (GQA, tied and untied, q/k/v biases), Gemma's adjustments. */
    private Map<String, Path> checkpoints() {
        Map<String, Path> m = new LinkedHashMap<>();
        m.put("gpt2 tied", TestCheckpoints.gpt2(tmp.resolve("gpt2"), RandomWeights.gpt2Config(3, 16, 4, 37, 12), 1, DType.F32));
        m.put("gpt2 untied", untiedGpt2(tmp.resolve("gpt2-untied")));
        m.put("llama untied", dir(tmp.resolve("llama"), d -> HfTestCheckpoints.llamaLike(d, 3, "llama", false, false, DType.F32)));
        m.put("llama tied", dir(tmp.resolve("llama-tied"), d -> HfTestCheckpoints.llamaLike(d, 4, "llama", true, false, DType.BF16)));
        m.put("qwen2", dir(tmp.resolve("qwen2"), d -> HfTestCheckpoints.llamaLike(d, 5, "qwen2", false, false, DType.F32)));
        m.put("gemma", dir(tmp.resolve("gemma"), d -> HfTestCheckpoints.gemma(d, 6, DType.F32)));
        m.put("gemma2", dir(tmp.resolve("gemma2"), d -> HfTestCheckpoints.gemma2(d, 7, DType.F32)));
        m.put("neox", dir(tmp.resolve("neox"), d -> HfTestCheckpoints.neox(d, 8, true, DType.F32)));
        return m;
    }

    /** Every on/off combination of fold_ln, center_writing_weights, center_unembed, fold_value_biases, and no processing. */
    private static LoadOptions[] optionSets() {
        LoadOptions[] o = new LoadOptions[17];
        for (int bits = 0; bits < 16; bits++)
            o[bits] = LoadOptions.defaults().foldLn((bits & 1) != 0).centerWritingWeights((bits & 2) != 0)
                .centerUnembed((bits & 4) != 0).foldValueBiases((bits & 8) != 0);
        o[16] = LoadOptions.noProcessing();
        return o;
    }

    @Test void partByPartEqualsFloat32ThenRoundedBitForBit() {
        int compared = 0;
        for (var e : checkpoints().entrySet())
            for (LoadOptions o : optionSets()) {
                String what = e.getKey() + " " + o;
                try (Checkpoint ref = HfCheckpoint.load(e.getValue(), o);
                     Checkpoint parts = HfCheckpoint.load(e.getValue(), copy(o).dtype(DType.BF16))) {
                    Bf16Weights.convert(ref.weights(), CpuBackend.get()); // the whole-model way
                    assertEquals(ref.config().toJson(), parts.config().toJson(), what + ": config (normalization, *_folded flags)");
                    assertEquals(ref.weights().names(), parts.weights().names(), what + ": weight names");
                    for (String name : ref.weights().names()) {
                        Tensor a = ref.weights().get(name), b = parts.weights().get(name);
                        assertEquals(Bf16Weights.isMatrix(name) ? DType.BF16 : DType.F32, b.dtype(), what + ": " + name);
                        assertEquals(a.dtype(), b.dtype(), what + ": " + name);
                        assertArrayEquals(a.shape(), b.shape(), what + ": " + name);
                        float[] x = a.toFloatArray(), y = b.toFloatArray(); // bf16 widens exactly: equal bits iff equal bf16 bits
                        for (int i = 0; i < x.length; i++)
                            if (Float.floatToRawIntBits(x[i]) != Float.floatToRawIntBits(y[i]))
                                fail(what + ": " + name + "[" + i + "] " + x[i] + " vs " + y[i]);
                        compared++;
                    }
                }
            }
        assertTrue(compared > 8 * 17 * 20, "weights compared: " + compared);
    }

    /**
     * Native memory: a 16-block model whose blocks outweigh its embeddings peaks within 1.15x of its bf16 weights, under
     * WeightBudget's bound, and well under its float32 weights (the whole-model way peaks above them).
     */
    @Test void peaksNearTheBf16WeightsNotTheFloat32Ones() {
        Config cfg = RandomWeights.llamaConfig(16, 64, 4, 2, 256, 50, 16);
        Path dir = TestCheckpoints.llama(tmp.resolve("deep"), cfg, 11, DType.BF16);
        Config read = HfCheckpoint.readConfig(dir);
        for (LoadOptions o : new LoadOptions[] {LoadOptions.noProcessing(), LoadOptions.defaults()}) {
            long before = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            try (Checkpoint c = HfCheckpoint.load(dir, copy(o).dtype(DType.BF16))) {
                long held = Tensor.liveBytes() - before, peak = Tensor.peakBytes() - before;
                if (!o.processWeights()) assertEquals(WeightBudget.residentBytes(read, DType.BF16), held, "bf16 resident bytes, unprocessed");
                assertTrue(peak <= WeightBudget.peakBytes(read, DType.BF16), "peak " + peak + " over the bound " + WeightBudget.peakBytes(read, DType.BF16));
                assertTrue(peak <= 1.15 * held, "peak " + peak + " vs held " + held + " (" + o + ")");
                assertTrue(peak < 0.6 * WeightBudget.residentBytes(read), "peak " + peak + " vs float32 weights " + WeightBudget.residentBytes(read));
            }
            assertEquals(before, Tensor.liveBytes(), "nothing left after close");
        }
    }

    /**
     * At the real shapes, from the config alone: Gemma-2-2B's bf16 weights are 6.41 GB (the matrices in 2 bytes, W_U its own
     * matrix as in TransformerLens) and a part-by-part load peaks within 1.05x of them; GPT-2 xl's the same.
     */
    @Test void realShapesPeakJustAboveTheirBf16Weights() throws java.io.IOException {
        for (String shape : new String[] {"gemma2-2b", "gpt2-xl"}) {
            Path d = java.nio.file.Files.createDirectories(tmp.resolve(shape));
            java.nio.file.Files.writeString(d.resolve("config.json"), RandomCheckpointFiles.config(shape));
            Config c = HfCheckpoint.readConfig(d);
            long params = WeightBudget.parameterCount(c), bf16 = WeightBudget.residentBytes(c, DType.BF16);
            if (shape.equals("gemma2-2b")) {
                // 26 x (W_Q, W_O 8 x 2304 x 256; W_K, W_V 4 x 2304 x 256; 3 MLP matrices 2304 x 9216) + W_E + W_U 256000 x 2304
                long matrices = 26L * (2 * 8 * 2304 * 256 + 2 * 4 * 2304 * 256 + 3L * 2304 * 9216) + 2L * 256000 * 2304;
                assertEquals(4 * params - 2 * matrices, bf16);
                assertEquals(6.41e9, bf16, 0.01e9);
            }
            double ratio = (double) WeightBudget.peakBytes(c, DType.BF16) / bf16;
            assertTrue(ratio > 1 && ratio < 1.05, shape + ": bf16 load peak / bf16 weights = " + ratio);
        }
    }

    /**
     * The memory check before loading counts what a bf16 load holds: GPT-2 with 4096 blocks of width 65536 needs 768 TB as
     * float32 and about half that (the matrices in bf16, the rest float32, plus one block in float32 in flight: 384.1 TB) as bf16.
     */
    @Test void aBf16LoadThatCannotFitIsRefusedWithItsBf16Need() throws java.io.IOException {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("huge"));
        java.nio.file.Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"gpt2\", \"n_embd\": 65536, \"n_layer\": 4096,"
            + " \"n_head\": 64, \"n_positions\": 1024, \"vocab_size\": 50257}");
        long before = Tensor.liveBytes();
        CheckpointException e = assertThrows(CheckpointException.class, () -> HfCheckpoint.load(dir, LoadOptions.defaults().dtype(DType.BF16)));
        assertTrue(e.getMessage().startsWith(dir + ": its weights need 384.1 TB as BF16"), e.getMessage());
        assertEquals(before, Tensor.liveBytes());
    }

    /** A NaN in a late block is refused with the float32 load's message, and everything read so far is freed. */
    @Test void nonFiniteWeightIsRefusedAsInFloat32AndNothingLeaks() {
        Path d = dir(tmp.resolve("nan"), p -> HfTestCheckpoints.gemma2(p, 9, DType.F32));
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(d.resolve("model.safetensors"))) {
            for (String n : st.names()) tensors.put(n, st.read(n));
        }
        String bad = "model.layers.1.mlp.down_proj.weight";
        float[] v = tensors.get(bad).toFloatArray();
        v[5] = Float.NaN;
        try (Tensor old = tensors.put(bad, Tensor.of(v, tensors.get(bad).shape()))) {
            SafeTensors.write(d.resolve("model.safetensors"), tensors, Map.of("format", "pt"), DType.F32);
        } finally {
            tensors.values().forEach(Tensor::close);
        }
        long before = Tensor.liveBytes();
        CheckpointException f32 = assertThrows(CheckpointException.class, () -> HfCheckpoint.load(d, LoadOptions.defaults()));
        CheckpointException bf16 = assertThrows(CheckpointException.class, () -> HfCheckpoint.load(d, LoadOptions.defaults().dtype(DType.BF16)));
        assertTrue(f32.getMessage().contains("'blocks.1.mlp.W_out' holds NaN"), f32.getMessage());
        assertEquals(f32.getMessage(), bf16.getMessage());
        assertEquals(before, Tensor.liveBytes(), "native bytes after the failed loads");
    }

    private static LoadOptions copy(LoadOptions o) {
        return new LoadOptions().processWeights(o.processWeights()).foldLn(o.foldLn()).centerWritingWeights(o.centerWritingWeights())
            .centerUnembed(o.centerUnembed()).foldValueBiases(o.foldValueBiases()).allowNonFinite(o.allowNonFinite());
    }

    /** GPT-2 with its own lm_head (W_U independent of W_E). */
    private static Path untiedGpt2(Path dir) {
        Config cfg = RandomWeights.gpt2Config(2, 16, 4, 37, 12);
        try (Checkpoint c = new Checkpoint(cfg.clone(), RandomWeights.gpt2(cfg, 2))) {
            Random r = new Random(3);
            float[] u = new float[16 * 37];
            for (int i = 0; i < u.length; i++) u[i] = (float) (0.3 * r.nextGaussian());
            c.weights().put("unembed.W_U", Tensor.of(u, 16, 37));
            HfCheckpointWriter.writeGpt2(c, dir, DType.F32);
        }
        return dir;
    }

    private static Path dir(Path d, java.util.function.Consumer<Path> write) { write.accept(d); return d; }
}
