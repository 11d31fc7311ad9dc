package dev.lens4j.model;

import dev.lens4j.load.CheckpointException;
import dev.lens4j.load.Llama2cCheckpointTestAccess;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.tensor.Tensor;
import dev.lens4j.train.Lens4jCheckpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * 10,000 bad inputs in one JVM (mutated safetensors, config.json, index, llama2.c files, tokenizers, lens4j checkpoints),
 * each loaded end to end and, when it loads, run: every outcome is a model or an exception of lens4j's own kinds with
 * a message, and Tensor.liveBytes ends exactly where it started.
 */
class MixedBadInputsTest {
    @TempDir Path tmp;

    static final int CASES = 10_000;
    static final String[] JSON_VALUES = {"-1", "0", "1", "3", "2147483648", "1e9", "-0.5", "null", "true", "\"x\"", "[]", "{}", "1.5",
        "\"gelu\"", "\"silu\"", "9999999999999999999999"};

    /** A model directory (or .bin) and the files in it that may be mutated. */
    record Kind(String name, Path model, Map<String, byte[]> files) {}

    @Test @Timeout(120) void tenThousandBadInputsLeakNothingAndFailCleanly() throws Exception {
        Path tmp = scratch();
        List<Kind> kinds = new ArrayList<>();
        kinds.add(kind("gpt2", TestCheckpoints.gpt2(tmp.resolve("gpt2"), 1), false));
        kinds.add(kind("llama", TestCheckpoints.llama(tmp.resolve("llama"), 2), false));
        Path sharded = TestCheckpoints.gpt2(tmp.resolve("sharded"), 3);
        dev.lens4j.load.ShardedIndexTestAccess.shard(sharded);
        kinds.add(kind("sharded", sharded, false));
        Path trained = tmp.resolve("lens4j");
        Config cfg = TestCheckpoints.tinyGpt2Config();
        try (Weights w = RandomWeights.gpt2(cfg, 4)) { Lens4jCheckpoint.save(cfg, w, trained, null); }
        kinds.add(kind("lens4j", trained, false));
        Path binDir = Files.createDirectories(tmp.resolve("llama2c"));
        Path bin = Llama2cCheckpointTestAccess.tiny(binDir.resolve("m.bin"));
        Files.write(binDir.resolve("tokenizer.bin"), llama2cTokenizer(3));
        Map<String, byte[]> llama2c = new LinkedHashMap<>(); // ordered: the case sequence is reproducible
        llama2c.put("m.bin", Files.readAllBytes(bin));
        llama2c.put("tokenizer.bin", Files.readAllBytes(binDir.resolve("tokenizer.bin")));
        kinds.add(new Kind("llama2c", bin, llama2c));
        // a Hugging Face tokenizer costs a native load each time: one kind, last (half a share below), mutates only that file
        Path withTokenizer = TestCheckpoints.gpt2(tmp.resolve("tokenizer"), 5);
        Files.writeString(withTokenizer.resolve("tokenizer.json"), FailedLoadLeakTest.tokenizerJson(6));
        kinds.add(new Kind("tokenizer", withTokenizer, Map.of("tokenizer.json", Files.readAllBytes(withTokenizer.resolve("tokenizer.json")))));

        Random rng = new Random(20261130);
        // tiny models: one native thread; OpenMP barriers on a busy machine would dominate the time
        int threads = dev.lens4j.backend.CpuBackend.get().numThreads();
        dev.lens4j.backend.CpuBackend.get().setNumThreads(1);
        long before = Tensor.liveBytes(), count = Tensor.liveCount();
        Map<String, Integer> outcomes = new TreeMap<>();
        List<String> wrong = new ArrayList<>();
        for (int i = 0; i < CASES; i++) {
            // the tokenizer kind (a native load per case, ~10x the others) gets half a share
            int slot = i % (2 * kinds.size() - 1);
            Kind k = kinds.get(slot < 2 * (kinds.size() - 1) ? slot / 2 : kinds.size() - 1);
            List<String> names = new ArrayList<>(k.files.keySet());
            String file = names.get(rng.nextInt(names.size()));
            byte[] original = k.files.get(file);
            Path dir = Files.isDirectory(k.model) ? k.model : k.model.getParent();
            String how = mutate(rng, file, original, dir.resolve(file));
            String outcome;
            try (HookedTransformer m = HookedTransformer.fromPretrained(k.model, null, LoadOptions.defaults(), null)) {
                try (Tensor logits = m.forward(new int[] {0, 1, 2})) { outcome = "loaded and ran"; }
            } catch (CheckpointException | IllegalArgumentException | NonFiniteException e) { // TokenizerException is an IllegalArgumentException
                outcome = e.getClass().getSimpleName();
                String msg = e.getMessage();
                boolean ownType = e.getClass() == IllegalArgumentException.class || e.getClass().getName().startsWith("dev.lens4j.");
                if (!ownType || msg == null || msg.isBlank())
                    wrong.add(k.name + "/" + file + " " + how + ": message " + (msg == null ? "null" : "'" + msg + "'"));
            } catch (Throwable e) {
                outcome = "WRONG " + e.getClass().getSimpleName();
                wrong.add(k.name + "/" + file + " " + how + ": " + e);
            }
            outcomes.merge(outcome, 1, Integer::sum);
            Files.write(dir.resolve(file), original); // restore for the next case
            if (wrong.size() > 20) break;
        }
        dev.lens4j.backend.CpuBackend.get().setNumThreads(threads);
        if (!tmp.equals(this.tmp)) deleteTree(tmp);
        assertEquals(List.of(), wrong, "outcomes: " + outcomes);
        assertEquals(before, Tensor.liveBytes(), "live native bytes after " + CASES + " bad inputs; outcomes " + outcomes);
        assertEquals(count, Tensor.liveCount(), "live tensors; outcomes " + outcomes);
        assertTrue(outcomes.getOrDefault("CheckpointException", 0) > CASES / 4, "mostly rejected: " + outcomes);
        assertTrue(outcomes.getOrDefault("loaded and ran", 0) > 0, "some mutations are harmless: " + outcomes);
    }

    /** RAM-backed when the machine has /dev/shm: 20,000 small writes to a busy disk take longer than the loads. */
    private Path scratch() throws Exception {
        Path shm = Path.of("/dev/shm");
        return Files.isDirectory(shm) && Files.isWritable(shm) ? Files.createTempDirectory(shm, "lens4j-mixed") : tmp;
    }

    private static void deleteTree(Path root) throws Exception {
        try (var s = Files.walk(root)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    private static Kind kind(String name, Path dir, boolean withTokenizer) throws Exception {
        if (withTokenizer) Files.writeString(dir.resolve("tokenizer.json"), FailedLoadLeakTest.tokenizerJson(6));
        Map<String, byte[]> files = new LinkedHashMap<>();
        try (var s = Files.list(dir)) {
            for (Path p : s.sorted().toList()) files.put(p.getFileName().toString(), Files.readAllBytes(p));
        }
        return new Kind(name, dir, files);
    }

    static byte[] llama2cTokenizer(int n) {
        ByteBuffer b = ByteBuffer.allocate(4 + n * 10).order(ByteOrder.LITTLE_ENDIAN).putInt(2);
        for (int i = 0; i < n; i++) b.putFloat(-i).putInt(2).put((byte) 'a').put((byte) ('a' + i));
        return b.array();
    }

    private static final Pattern NUMBER = Pattern.compile("-?\\d+(\\.\\d+)?([eE][-+]?\\d+)?|true|false|null|\"[a-z_]+\"");

    /** Writes a mutated copy of original to target; returns what was done. */
    static String mutate(Random rng, String name, byte[] original, Path target) throws Exception {
        byte[] b = original.clone();
        String how;
        int kind = rng.nextInt(name.endsWith(".json") ? 8 : 6);
        switch (kind) {
            case 0 -> { // flip a few bytes anywhere
                int n = 1 + rng.nextInt(4);
                for (int j = 0; j < n && b.length > 0; j++) b[rng.nextInt(b.length)] ^= (byte) (1 << rng.nextInt(8));
                how = "flipped " + n + " bits";
            }
            case 1 -> {
                int len = b.length == 0 ? 0 : rng.nextInt(b.length);
                b = java.util.Arrays.copyOf(b, len);
                how = "truncated to " + len;
            }
            case 2 -> {
                int extra = 1 + rng.nextInt(16);
                b = java.util.Arrays.copyOf(b, b.length + extra);
                how = "appended " + extra + " zero bytes";
            }
            case 3 -> { // the first 8 bytes: safetensors header length, llama2.c dim and hidden_dim
                if (b.length >= 8) {
                    ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
                    long delta = rng.nextInt(33) - 16;
                    bb.putLong(0, bb.getLong(0) + (rng.nextBoolean() ? delta : delta << 32));
                }
                how = "shifted the first 8 bytes";
            }
            case 4 -> { // NaN or Inf somewhere in the data (aligned to 4 bytes from the end: safetensors data and llama2.c floats)
                if (b.length >= 8) {
                    int at = b.length - 4 * (1 + rng.nextInt(Math.max(1, (b.length - 8) / 4)));
                    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putFloat(at, rng.nextBoolean() ? Float.NaN : Float.NEGATIVE_INFINITY);
                }
                how = "wrote a non-finite float";
            }
            case 5 -> {
                int at = b.length == 0 ? 0 : rng.nextInt(b.length);
                b[Math.max(0, Math.min(at, b.length - 1))] = (byte) rng.nextInt(256);
                how = "random byte";
            }
            default -> { // JSON: replace one value with another kind of value
                String s = new String(b, StandardCharsets.UTF_8);
                List<int[]> spans = new ArrayList<>();
                Matcher m = NUMBER.matcher(s);
                while (m.find()) spans.add(new int[] {m.start(), m.end()});
                if (spans.isEmpty()) { how = "no JSON value"; break; }
                int[] sp = spans.get(rng.nextInt(spans.size()));
                String v = JSON_VALUES[rng.nextInt(JSON_VALUES.length)];
                b = (s.substring(0, sp[0]) + v + s.substring(sp[1])).getBytes(StandardCharsets.UTF_8);
                how = "replaced '" + s.substring(sp[0], sp[1]) + "' with " + v;
            }
        }
        Files.write(target, b);
        return how;
    }
}
