package dev.lens4j.load;

import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

class Llama2cCheckpointTest {
    @TempDir Path tmp;

    /** The file's floats after the header, read independently of the loader. */
    static FloatBuffer body(Path f) throws IOException {
        byte[] b = Files.readAllBytes(f);
        return ByteBuffer.wrap(b, 28, b.length - 28).slice().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    }

    @Test void loadsTheRealStories260K() throws IOException {
        Path bin = TestCheckpoints.stories260K();
        try (Checkpoint c = Llama2cCheckpoint.load(bin, LoadOptions.noProcessing())) {
            Config cfg = c.config();
            assertEquals(64, cfg.dModel);
            assertEquals(172, cfg.dMlp);
            assertEquals(5, cfg.nLayers);
            assertEquals(8, cfg.nHeads);
            assertEquals(4, cfg.nKvHeads());
            assertEquals(8, cfg.dHead);
            assertEquals(512, cfg.dVocab);
            assertEquals(512, cfg.nCtx);
            assertTrue(cfg.rotaryAdjacentPairs && cfg.gatedMlp && cfg.finalRms && cfg.isRotary());
            assertEquals("RMS", cfg.normalizationType);
            assertEquals(1e-5, cfg.eps);
            assertEquals(10000, cfg.rotaryBase);
            assertEquals("silu", cfg.actFn);

            int d = 64, L = 5, f = 172, V = 512, kvd = 32, dh = 8;
            FloatBuffer x = body(bin);
            long emb = 0, rmsAtt = emb + (long) V * d, wq = rmsAtt + (long) L * d, wk = wq + (long) L * d * d, wv = wk + (long) L * kvd * d,
                wo = wv + (long) L * kvd * d, rmsFfn = wo + (long) L * d * d, w1 = rmsFfn + (long) L * d, w2 = w1 + (long) L * f * d,
                w3 = w2 + (long) L * d * f, rmsFinal = w3 + (long) L * f * d;
            Weights w = c.weights();
            for (int v = 0; v < V; v += 37) for (int m = 0; m < d; m++) {
                assertEquals(x.get((int) (emb + v * d + m)), w.W_E().get(v, m));
                assertEquals(x.get((int) (emb + v * d + m)), w.W_U().get(m, v), "tied: W_U = W_E^T");
            }
            for (int l = 0; l < L; l++) {
                for (int m = 0; m < d; m++) {
                    assertEquals(x.get((int) (rmsAtt + l * d + m)), w.get(Weights.ln(l, 1, "w")).get(m));
                    assertEquals(x.get((int) (rmsFfn + l * d + m)), w.get(Weights.ln(l, 2, "w")).get(m));
                    for (int i = 0; i < 8; i++) for (int h = 0; h < dh; h++) {
                        int row = i * dh + h;
                        assertEquals(x.get((int) (wq + (long) l * d * d + row * d + m)), w.W_Q(l).get(i, m, h), "W_Q");
                        assertEquals(x.get((int) (wo + (long) l * d * d + m * d + row)), w.W_O(l).get(i, h, m), "W_O");
                        if (i < 4) {
                            assertEquals(x.get((int) (wk + (long) l * kvd * d + row * d + m)), w.W_K(l).get(i, m, h), "W_K");
                            assertEquals(x.get((int) (wv + (long) l * kvd * d + row * d + m)), w.W_V(l).get(i, m, h), "W_V");
                        }
                    }
                    for (int k = 0; k < f; k += 5) {
                        assertEquals(x.get((int) (w1 + (long) l * f * d + k * d + m)), w.W_gate(l).get(m, k), "W_gate = w1^T");
                        assertEquals(x.get((int) (w3 + (long) l * f * d + k * d + m)), w.W_in(l).get(m, k), "W_in = w3^T");
                        assertEquals(x.get((int) (w2 + (long) l * d * f + m * f + k)), w.W_out(l).get(k, m), "W_out = w2^T");
                    }
                }
            }
            for (int m = 0; m < d; m++) assertEquals(x.get((int) (rmsFinal + m)), w.get("ln_final.w").get(m));
            assertTrue(w.has("blocks.0.attn._W_K") && w.has("blocks.0.attn._b_V"));
            assertTrue(WeightProcessing.allZero(w.b_Q(2)) && WeightProcessing.allZero(w.b_out(4)));
        }
    }

    @Test void stories260KWrittenAsHuggingFaceLlamaHasRotateHalfQK() {
        Path bin = TestCheckpoints.stories260K();
        try (Checkpoint c = Llama2cCheckpoint.load(bin, LoadOptions.noProcessing())) {
            HfCheckpointWriter.writeLlama(c, tmp);
            try (Checkpoint hf = HfCheckpoint.load(tmp, LoadOptions.noProcessing()); SafeTensors st = SafeTensors.open(tmp.resolve("model.safetensors"))) {
                assertFalse(st.has("lm_head.weight"), "tied embeddings are written tied");
                assertFalse(st.has("model.layers.0.self_attn.q_proj.bias"), "no attention biases");
                Config a = c.config(), b = hf.config();
                assertFalse(b.rotaryAdjacentPairs);
                assertEquals(a.nKvHeads(), b.nKvHeads());
                assertEquals(a.eps, b.eps);
                assertEquals(a.nCtx, b.nCtx);
                assertEquals(a.rotaryBase, b.rotaryBase);
                HfCheckpointTest.assertRotateHalfOf(c.weights(), hf.weights(), a);
            }
        }
    }

    @Test void defaultLoadFoldsRmsNorm() throws IOException {
        Path bin = TestCheckpoints.stories260K();
        try (Checkpoint raw = Llama2cCheckpoint.load(bin, LoadOptions.noProcessing()); Checkpoint p = Llama2cCheckpoint.load(bin)) {
            assertEquals("RMSPre", p.config().normalizationType);
            assertFalse(p.weights().has("blocks.0.ln1.w"));
            float g = raw.weights().get("blocks.3.ln1.w").get(5);
            assertEquals(raw.weights().W_Q(3).get(2, 5, 1) * g, p.weights().W_Q(3).get(2, 5, 1), 1e-6);
        }
    }

    /** A tiny llama2.c file: dim 4, hidden 6, 1 layer, 2 heads, 1 kv head, vocab 3 (unshared when negative), seq_len 5. */
    static Path tiny(Path f, boolean shared, int dropBytes) throws IOException {
        int d = 4, hid = 6, L = 1, V = 3, seq = 5, kvd = 2, hs = 2;
        long floats = (long) V * d + L * d + (long) L * d * d + 2L * L * kvd * d + (long) L * d * d + L * d + 3L * L * hid * d + d
            + (long) seq * hs + (shared ? 0 : (long) V * d);
        ByteBuffer b = ByteBuffer.allocate((int) (28 + 4 * floats)).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : new int[] {d, hid, L, 2, 1, shared ? V : -V, seq}) b.putInt(v);
        for (int i = 0; i < floats; i++) b.putFloat(i);
        Files.write(f, Arrays.copyOf(b.array(), b.capacity() - dropBytes));
        return f;
    }

    @Test void unsharedClassifierFollowsFreqCis() throws IOException {
        Path f = tiny(tmp.resolve("t.bin"), false, 0);
        try (Checkpoint c = Llama2cCheckpoint.load(f, LoadOptions.noProcessing())) {
            long total = (Files.size(f) - 28) / 4;
            long wcls = total - 3 * 4;
            for (int v = 0; v < 3; v++) for (int m = 0; m < 4; m++) {
                assertEquals(wcls + v * 4 + m, c.weights().W_U().get(m, v), "W_U = wcls^T");
                assertEquals(v * 4 + m, c.weights().W_E().get(v, m));
            }
            assertEquals(2, c.config().dHead);
            assertEquals(5, c.config().nCtx);
        }
        try (Checkpoint c = Llama2cCheckpoint.load(tiny(tmp.resolve("s.bin"), true, 0), LoadOptions.noProcessing())) {
            assertEquals(c.weights().W_E().get(2, 1), c.weights().W_U().get(1, 2));
        }
    }

    private void assertBad(Path f, String... fragments) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> Llama2cCheckpoint.load(f).close());
        assertTrue(e.getMessage().contains(f.toString()), "names the file: " + e.getMessage());
        for (String s : fragments) assertTrue(e.getMessage().contains(s), "'" + s + "' in: " + e.getMessage());
    }

    @Test void badFiles() throws IOException {
        assertBad(tmp.resolve("missing.bin"), "no such");
        Path good = tiny(tmp.resolve("good.bin"), false, 0);
        long size = Files.size(good);
        assertBad(tiny(tmp.resolve("trunc.bin"), false, 4), "implies " + size + " bytes", "has " + (size - 4), "truncated");
        Path longer = tmp.resolve("long.bin");
        Files.write(longer, Arrays.copyOf(Files.readAllBytes(good), (int) size + 8));
        assertBad(longer, "trailing");
        assertBad(Files.write(tmp.resolve("short.bin"), new byte[10]), "shorter than the 28-byte");
        ByteBuffer h = ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : new int[] {4, 6, 1, 0, 1, 3, 5}) h.putInt(v);
        assertBad(Files.write(tmp.resolve("zero.bin"), h.array()), "n_heads = 0");
        h.clear();
        for (int v : new int[] {4, 6, 1, 3, 1, 3, 5}) h.putInt(v);
        assertBad(Files.write(tmp.resolve("odd.bin"), h.array()), "inconsistent");
        h.clear();
        for (int v : new int[] {0x616b3432, 2, 4, 6, 1, 3, 5}) h.putInt(v);
        assertBad(Files.write(tmp.resolve("v1.bin"), h.array()), "ak42");
        h.clear();
        for (int v : new int[] {1 << 30, 1 << 30, 1 << 30, 2, 2, 1 << 30, 1 << 30}) h.putInt(v);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Llama2cCheckpoint.readConfig(Files.write(tmp.resolve("huge.bin"), h.array())));
        assertTrue(e.getMessage().contains("overflow") || e.getMessage().contains("absurd"), e.getMessage());
    }
}
