package dev.lens4j.load;

import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.*;

/** Every way a Hugging Face directory can be broken gives a CheckpointException naming the file and the tensor. */
class HfCheckpointBadInputTest {
    @TempDir Path tmp;

    private static void assertBad(Path dir, String... fragments) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> HfCheckpoint.load(dir).close());
        for (String s : fragments) assertTrue(e.getMessage().contains(s), "'" + s + "' in: " + e.getMessage());
    }

    /** Rewrites model.safetensors after editing its tensors (all read as F32 / I32). */
    private static void editTensors(Path dir, Consumer<Map<String, Tensor>> edit) {
        Path f = dir.resolve("model.safetensors");
        Map<String, Tensor> m = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(f)) { for (String n : st.names()) m.put(n, st.read(n)); }
        edit.accept(m);
        SafeTensors.write(f, m, null);
        m.values().forEach(Tensor::close);
    }

    private static void editConfig(Path dir, String from, String to) throws IOException {
        Path c = dir.resolve("config.json");
        String s = Files.readString(c);
        assertTrue(s.contains(from), "fixture config.json contains " + from);
        Files.writeString(c, s.replace(from, to));
    }

    @Test void missingDirectoryOrConfig() throws IOException {
        assertBad(tmp.resolve("nope"), "nope", "no such checkpoint directory");
        Path d = Files.createDirectories(tmp.resolve("empty"));
        assertBad(d, d.resolve("config.json").toString(), "missing");
    }

    @Test void configNotJson() throws IOException {
        Path d = TestCheckpoints.gpt2(tmp, 1);
        Files.writeString(d.resolve("config.json"), "{\"model_type\": \"gpt2\",");
        assertBad(d, "config.json", "not valid JSON");
    }

    @Test void unknownModelType() throws IOException {
        Path d = TestCheckpoints.gpt2(tmp, 1);
        editConfig(d, "\"gpt2\"", "\"bert\"");
        assertBad(d, "unsupported model_type 'bert'", "gpt2, llama, mistral");
    }

    @Test void missingConfigField() throws IOException {
        Path d = TestCheckpoints.llama(tmp, 1);
        editConfig(d, "\"hidden_size\"", "\"hidden_sizzle\"");
        assertBad(d, "config.json", "missing 'hidden_size'");
    }

    @Test void noWeightsFile() throws IOException {
        Path d = TestCheckpoints.gpt2(tmp, 1);
        Files.delete(d.resolve("model.safetensors"));
        assertBad(d, "no model.safetensors or model.safetensors.index.json");
    }

    @Test void missingWeight() {
        Path d = TestCheckpoints.gpt2(tmp, 1);
        editTensors(d, m -> m.remove("transformer.h.1.mlp.c_fc.bias").close());
        assertBad(d, "missing weight 'transformer.h.1.mlp.c_fc.bias'");
        Path l = TestCheckpoints.llama(tmp.resolve("l"), 1);
        editTensors(l, m -> m.remove("lm_head.weight").close());
        assertBad(l, "missing weight 'lm_head.weight'");
    }

    @Test void shapeNotMatchingConfig() throws IOException {
        Path d = TestCheckpoints.gpt2(tmp, 1);
        editConfig(d, "\"n_inner\" : 64", "\"n_inner\" : 70");
        assertBad(d, "'transformer.h.0.mlp.c_fc.weight'", "has shape [16, 64]", "implies [16, 70]", "model.safetensors");
        Path l = TestCheckpoints.llama(tmp.resolve("l"), 1);
        editConfig(l, "\"num_key_value_heads\" : 2", "\"num_key_value_heads\" : 4");
        assertBad(l, "'model.layers.0.self_attn.k_proj.weight'", "has shape [8, 16]", "implies [16, 16]");
    }

    @Test void integerDtypeForAWeight() {
        Path d = TestCheckpoints.gpt2(tmp, 1);
        editTensors(d, m -> m.put("transformer.ln_f.bias", Tensor.ofInts(new int[16], 16)));
        assertBad(d, "'transformer.ln_f.bias'", "dtype I32", "float");
    }

    @Test void truncatedWeightsFile() throws IOException {
        Path d = TestCheckpoints.gpt2(tmp, 1);
        Path f = d.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(f);
        Files.write(f, Arrays.copyOf(b, b.length - 100));
        assertBad(d, f.toString(), "data section");
    }

    @Test void brokenShardIndex() throws IOException {
        Path d = TestCheckpoints.gpt2(tmp, 1);
        Files.move(d.resolve("model.safetensors"), d.resolve("model-00001-of-00001.safetensors"));
        Path index = d.resolve("model.safetensors.index.json");
        Files.writeString(index, "{\"weight_map\":{\"transformer.wte.weight\":\"model-00002-of-00002.safetensors\"}}");
        assertBad(d, "model-00002-of-00002.safetensors", "no such");
        Files.writeString(index, "{\"weight_map\":{\"transformer.nothing\":\"model-00001-of-00001.safetensors\"}}");
        assertBad(d, "'transformer.nothing'", "does not hold it");
        Files.writeString(index, "{\"weight_map\":{\"transformer.wte.weight\":\"../escape.safetensors\"}}");
        assertBad(d, "invalid shard name");
        // every tensor of a listed shard must be in the weight_map, under that shard
        Files.writeString(index, "{\"weight_map\":{\"transformer.wte.weight\":\"model-00001-of-00001.safetensors\"}}");
        assertBad(d, "model-00001-of-00001.safetensors holds tensor 'transformer.wpe.weight'", "does not list");
        Files.writeString(index, "{\"weight_map\": 3}");
        assertBad(d, "no weight_map");
    }

    @Test void unsupportedLlamaVariants() throws IOException {
        Path d = TestCheckpoints.llama(tmp, 1);
        editConfig(d, "\"rope_scaling\" : null", "\"rope_scaling\" : {\"rope_type\": \"yarn\", \"factor\": 8.0}");
        assertBad(d, "rope_scaling", "not supported");
    }
}
