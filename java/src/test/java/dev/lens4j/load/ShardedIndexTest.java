package dev.lens4j.load;

import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** model.safetensors.index.json is validated like a safetensors header: every weight in exactly the one listed shard. */
class ShardedIndexTest {
    @TempDir Path tmp;

    static final String A = "model-00001-of-00002.safetensors", B = "model-00002-of-00002.safetensors";

    /** The tiny GPT-2 split into two shards: the first half of the tensors in A, the rest in B. Returns the tensor names. */
    static List<String> shard(Path dir) {
        Path single = dir.resolve("model.safetensors");
        Map<String, Tensor> a = new LinkedHashMap<>(), b = new LinkedHashMap<>();
        List<String> names;
        try (SafeTensors st = SafeTensors.open(single)) {
            names = new ArrayList<>(st.names());
            for (int i = 0; i < names.size(); i++) (i < names.size() / 2 ? a : b).put(names.get(i), st.read(names.get(i)));
        }
        SafeTensors.write(dir.resolve(A), a, null);
        SafeTensors.write(dir.resolve(B), b, null);
        a.values().forEach(Tensor::close);
        b.values().forEach(Tensor::close);
        try { Files.delete(single); } catch (IOException e) { throw new RuntimeException(e); }
        return names;
    }

    static String index(List<String> names, String first, String second) {
        StringBuilder s = new StringBuilder("{\"metadata\": {}, \"weight_map\": {");
        for (int i = 0; i < names.size(); i++)
            s.append(i == 0 ? "" : ", ").append('"').append(names.get(i)).append("\": ").append(i < names.size() / 2 ? first : second);
        return s.append("}}").toString();
    }

    private static void assertBad(Path dir, String... fragments) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> HfCheckpoint.load(dir).close());
        for (String s : fragments) assertTrue(e.getMessage().contains(s), "'" + s + "' in: " + e.getMessage());
    }

    @Test void validIndexLoads() throws IOException {
        Path d = TestCheckpoints.gpt2(tmp, 1);
        List<String> names = shard(d);
        Files.writeString(d.resolve("model.safetensors.index.json"), index(names, "\"" + A + "\"", "\"" + B + "\""));
        long before = Tensor.liveBytes();
        try (Checkpoint c = HfCheckpoint.load(d)) { assertTrue(c.weights().names().contains("embed.W_E")); }
        assertEquals(before, Tensor.liveBytes());
    }

    @Test void weightInTwoShardsOrNotListed() throws IOException {
        Path d = TestCheckpoints.gpt2(tmp, 1);
        List<String> names = shard(d);
        Path idx = d.resolve("model.safetensors.index.json");
        // a copy of the first tensor also in B: two shards hold it
        Map<String, Tensor> b = new LinkedHashMap<>();
        try (SafeTensors sa = SafeTensors.open(d.resolve(A)); SafeTensors sb = SafeTensors.open(d.resolve(B))) {
            for (String n : sb.names()) b.put(n, sb.read(n));
            b.put(names.get(0), sa.read(names.get(0)));
        }
        SafeTensors.write(d.resolve(B), b, null);
        b.values().forEach(Tensor::close);
        Files.writeString(idx, index(names, "\"" + A + "\"", "\"" + B + "\""));
        assertBad(d, B + " holds tensor '" + names.get(0) + "'", "puts in " + A);
    }

    @Test void shardNamesArePlainFileNamesInTheDirectory() throws IOException {
        Path d = TestCheckpoints.gpt2(tmp, 1);
        List<String> names = shard(d);
        Path idx = d.resolve("model.safetensors.index.json");
        for (String bad : new String[] {"\"" + d.resolve(B).toAbsolutePath() + "\"", "\"../" + B + "\"", "\"..\"", "\"\"", "3", "null",
                "[\"" + B + "\"]", "\"sub\\\\" + B + "\"", "\"a\\u0000b\""}) {
            Files.writeString(idx, index(names, "\"" + A + "\"", bad));
            assertBad(d, "invalid shard name");
        }
    }

    @Test void indexIsStrictJson() throws IOException {
        Path d = TestCheckpoints.gpt2(tmp, 1);
        List<String> names = shard(d);
        Path idx = d.resolve("model.safetensors.index.json");
        String good = index(names, "\"" + A + "\"", "\"" + B + "\"");
        Files.writeString(idx, good + " {}");
        assertBad(d, "not valid JSON");
        Files.writeString(idx, good.replace("{\"metadata\": {}, \"weight_map\": {", "{\"metadata\": {}, \"weight_map\": {\"" + names.get(0) + "\": \"" + A + "\", "));
        assertBad(d, "Duplicate field");
        byte[] bytes = good.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        bytes[good.indexOf("model-0000")] = (byte) 0xc3; // a lead byte followed by ASCII: malformed
        Files.write(idx, bytes);
        assertBad(d, "not valid UTF-8");
    }

    /** Opening a FIFO for reading blocks until a writer comes: it used to hang forever. */
    @Test @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) void fifoShardOrIndexIsRejectedNotOpened() throws Exception {
        Path d = TestCheckpoints.gpt2(tmp, 1);
        List<String> names = shard(d);
        Path idx = d.resolve("model.safetensors.index.json");
        Files.writeString(idx, index(names, "\"" + A + "\"", "\"pipe.safetensors\""));
        Fifos.make(d.resolve("pipe.safetensors"));
        assertBad(d, "pipe.safetensors", "not a regular file");
        Files.delete(idx);
        Fifos.make(idx);
        assertBad(d, "model.safetensors.index.json", "not a regular file");
        Files.delete(idx);
        Fifos.make(d.resolve("model.safetensors"));
        assertBad(d, "model.safetensors", "not a regular file");
    }
}
