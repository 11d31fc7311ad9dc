package dev.lens4j.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.hooks.ActivationCache;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * TransformerLens state dicts written by torch.save (fixtures made by TL 2.12 itself on torch 1.13, with TL's
 * logits and activations: scripts/fixtures/make_pth_fixtures.py), and hostile pickles that must be refused with
 * nothing executed.
 */
class TorchCheckpointTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static Path fixture(String name) throws URISyntaxException {
        return Path.of(TorchCheckpointTest.class.getResource("/dev/lens4j/load/pth/" + name + "/model.pth").toURI());
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "gpt2-processed", "llama-gqa"})
    void loadsTransformerLensStateDictsWithTheirLogits(String name) throws Exception {
        Path pth = fixture(name);
        JsonNode expected = JSON.readTree(pth.resolveSibling("expected.json").toFile());
        int[] tokens = JSON.convertValue(expected.get("tokens"), int[].class);
        long before = Tensor.liveBytes();
        try (HookedTransformer model = HookedTransformer.fromPretrained(pth, null, LoadOptions.defaults(), null);
             var run = model.run(new int[][] {tokens}, new HookedTransformer.RunOptions().cacheAll())) {
            assertClose(expected.get("logits"), run.logits(), name + " logits");
            ActivationCache cache = run.cache();
            for (String hook : new String[] {"blocks.0.attn.hook_pattern", "blocks." + (model.cfg().nLayers - 1) + ".hook_resid_post"})
                assertClose(expected.get(hook), cache.get(hook), name + " " + hook);
        }
        assertEquals(before, Tensor.liveBytes(), "everything freed");
    }

    @Test void directoryWithOnePthAndItsConfigLoads() throws Exception {
        Path dir = fixture("gpt2").getParent();
        try (HookedTransformer model = HookedTransformer.fromPretrained(dir)) {
            assertEquals(2, model.cfg().nLayers);
            assertEquals(24, model.cfg().dVocab);
        }
    }

    @Test void cliTakesAStateDictAndItsConfig(@TempDir Path dir) throws Exception {
        Path pth = dir.resolve("m.pth"), cfg = dir.resolve("tl_config.json");
        Files.copy(fixture("llama-gqa"), pth);
        Files.copy(fixture("llama-gqa").resolveSibling("config.json"), cfg);
        var out = new java.io.ByteArrayOutputStream();
        var old = System.out;
        int rc;
        try {
            System.setOut(new java.io.PrintStream(out, true, StandardCharsets.UTF_8));
            rc = dev.lens4j.cli.Main.execute("info", "--model", pth.toString(), "--config", cfg.toString(), "--json");
        } finally {
            System.setOut(old);
        }
        assertEquals(0, rc, out.toString());
        assertTrue(out.toString().contains("\"n_key_value_heads\" : 2") || out.toString().contains("\"n_key_value_heads\":2"), out.toString());
    }

    private static void assertClose(JsonNode ref, Tensor got, String what) {
        float[] g = got.toFloatArray();
        double[] r = flatten(ref);
        assertEquals(r.length, g.length, what + ": element count");
        double max = 1;
        for (double v : r) max = Math.max(max, Math.abs(v));
        for (int i = 0; i < r.length; i++)
            assertEquals(r[i], g[i], 1e-4 * max, what + " [" + i + "] against TransformerLens");
    }

    private static double[] flatten(JsonNode n) {
        java.util.List<Double> out = new java.util.ArrayList<>();
        flattenInto(n, out);
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static void flattenInto(JsonNode n, java.util.List<Double> out) {
        if (n.isArray()) for (JsonNode c : n) flattenInto(c, out);
        else out.add(n.asDouble());
    }

    // ---------------------------------------------------------------- hostile files

    /** A few pickle opcodes, enough to write the hostile streams below. */
    static final class Pickle {
        final ByteArrayOutputStream b = new ByteArrayOutputStream();
        Pickle op(int... bytes) { for (int x : bytes) b.write(x); return this; }
        Pickle global(String module, String name) { op('c'); text(module + "\n" + name + "\n"); return this; }
        Pickle str(String s) {
            byte[] u = s.getBytes(StandardCharsets.UTF_8);
            op('X', u.length & 0xff, (u.length >> 8) & 0xff, 0, 0);
            b.writeBytes(u);
            return this;
        }
        Pickle int1(int v) { return op('K', v); }
        void text(String s) { b.writeBytes(s.getBytes(StandardCharsets.US_ASCII)); }
        byte[] bytes() { return b.toByteArray(); }
        static Pickle start() { return new Pickle().op(0x80, 2); }
    }

    /** {'w': tensor of `size` elements over a FloatStorage of `numel`} */
    static byte[] stateDict(int size, int numel) {
        return Pickle.start().op('}').str("w")
                .global("torch._utils", "_rebuild_tensor_v2")
                .op('(').op('(').str("storage").global("torch", "FloatStorage").str("0").str("cpu").int1(numel).op('t').op('Q')
                .int1(0).int1(size).op(0x85).int1(1).op(0x85).op(0x89).global("collections", "OrderedDict").op(')').op('R')
                .op('t').op('R').op('s').op('.').bytes();
    }

    static Path zip(Path dir, byte[] pkl, byte[] storage) throws IOException {
        Path f = dir.resolve("model.pth");
        try (OutputStream os = Files.newOutputStream(f); ZipOutputStream z = new ZipOutputStream(os)) {
            z.putNextEntry(new ZipEntry("archive/data.pkl"));
            z.write(pkl);
            if (storage != null) {
                z.putNextEntry(new ZipEntry("archive/data/0"));
                z.write(storage);
            }
            z.putNextEntry(new ZipEntry("archive/version"));
            z.write("3\n".getBytes(StandardCharsets.US_ASCII));
        }
        return f;
    }

    @Test void handWrittenStateDictReads(@TempDir Path dir) throws IOException {
        byte[] data = new byte[16];
        java.nio.ByteBuffer.wrap(data).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(new float[] {1, 2, 3, 4});
        Map<String, Tensor> sd = TorchCheckpoint.readStateDict(zip(dir, stateDict(4, 4), data));
        assertArrayEquals(new float[] {1, 2, 3, 4}, sd.get("w").toFloatArray());
        sd.values().forEach(Tensor::close);
    }

    @Test void hostileFilesAreRefusedAndNothingRuns(@TempDir Path dir) throws IOException {
        Path marker = dir.resolve("pwned");
        byte[] floats = new byte[16];
        Pickle inst = Pickle.start().op('(').str("touch " + marker).op('i');
        inst.text("os\nsystem\n");
        Object[][] cases = {
            {Pickle.start().global("posix", "system").str("touch " + marker).op(0x85).op('R').op('.').bytes(), floats, "refused global 'posix.system'"},
            {Pickle.start().global("os", "system").str("touch " + marker).op(0x85).op('R').op('.').bytes(), floats, "refused global 'os.system'"},
            {Pickle.start().str("builtins").str("eval").op(0x93).str("1").op(0x85).op('R').op('.').bytes(), floats, "refused global 'builtins.eval'"},
            {Pickle.start().global("collections", "OrderedDict").op(')').op(0x81).op('.').bytes(), floats, "not allowed"}, // NEWOBJ
            {inst.op('.').bytes(), floats, "not allowed"},                                                             // INST
            // an allowed callable given a state to BUILD (a __setstate__ trick) or called with odd arguments
            {Pickle.start().op(')').op('}').op('b').op('.').bytes(), floats, "BUILD on Tuple"},
            {Pickle.start().global("collections", "OrderedDict").str("x").op(0x85).op('R').op('.').bytes(), floats, "OrderedDict with arguments"},
            {stateDict(4, 4), new byte[12], "holds 12 bytes, but its header says 4 elements"},   // storage lies about its size
            {stateDict(8, 4), floats, "reads element 7 of a storage of 4"},                     // tensor past its storage
            {stateDict(4, 4), null, "missing from the archive"},
            {Pickle.start().op(']').op('.').bytes(), floats, "not a state dict"},
            {Pickle.start().op('}').str("w").int1(3).op('s').op('.').bytes(), floats, "is not a tensor"},
            {Pickle.start().op('}').bytes(), floats, "pickle ends without STOP"},
            {Pickle.start().op('X', 0xff, 0xff, 0xff, 0x7f).bytes(), floats, "past the end"},
            {Pickle.start().op('h', 9).op('.').bytes(), floats, "memo 9 is empty"},
            {Pickle.start().op('.').bytes(), floats, "stack"},
        };
        long before = Tensor.liveBytes();
        for (Object[] c : cases) {
            Path f = zip(dir, (byte[]) c[0], (byte[]) c[1]);
            CheckpointException e = assertThrows(CheckpointException.class, () -> TorchCheckpoint.readStateDict(f), (String) c[2]);
            assertTrue(e.getMessage().contains((String) c[2]), "'" + c[2] + "' in: " + e.getMessage());
            assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        }
        assertFalse(Files.exists(marker), "nothing was executed");
        assertEquals(before, Tensor.liveBytes(), "failed loads free what they read");
    }

    @Test void truncatedAndForeignArchivesAreRefused(@TempDir Path dir) throws Exception {
        byte[] good = Files.readAllBytes(fixture("gpt2"));
        for (int cut : new int[] {0, 10, good.length / 2, good.length - 30}) {
            Path f = dir.resolve("cut" + cut + ".pth");
            Files.write(f, java.util.Arrays.copyOf(good, cut));
            CheckpointException e = assertThrows(CheckpointException.class, () -> TorchCheckpoint.readStateDict(f));
            assertNotNull(e.getMessage());
        }
        Path legacy = dir.resolve("legacy.pt"); // pre-1.6 torch.save: a bare pickle, not a zip
        Files.write(legacy, Pickle.start().op('}').op('.').bytes());
        assertTrue(assertThrows(CheckpointException.class, () -> TorchCheckpoint.readStateDict(legacy)).getMessage().contains("not a torch.save zip"));
        Path noConfig = dir.resolve("alone.pth");
        Files.write(noConfig, good);
        assertTrue(assertThrows(CheckpointException.class, () -> TorchCheckpoint.load(noConfig, null)).getMessage().contains("--config"));
    }

    @Test void unsupportedTransformerLensConfigsNameTheField(@TempDir Path dir) throws Exception {
        String cfg = Files.readString(fixture("gpt2").resolveSibling("config.json"));
        for (String[] c : new String[][] {{"\"parallel_attn_mlp\": false", "\"parallel_attn_mlp\": true", "parallel_attn_mlp"},
                {"\"positional_embedding_type\": \"standard\"", "\"positional_embedding_type\": \"alibi\"", "alibi"}}) {
            assertTrue(cfg.contains(c[0]), "fixture has " + c[0]);
            Path f = dir.resolve("config.json");
            Files.writeString(f, cfg.replace(c[0], c[1]));
            CheckpointException e = assertThrows(CheckpointException.class, () -> TorchCheckpoint.readConfig(f));
            assertTrue(e.getMessage().contains(c[2]), e.getMessage());
        }
    }
}
