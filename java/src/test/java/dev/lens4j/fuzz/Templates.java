package dev.lens4j.fuzz;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lens4j.load.Checkpoint;
import dev.lens4j.load.HfCheckpointWriter;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.Config;
import dev.lens4j.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Tiny valid Hugging Face checkpoints (1 layer, d_model 8, vocab 11, n_ctx 6), written once per JVM: the fuzz targets
 * start from these and change one part, so that most inputs get past the parts they do not fuzz.
 */
final class Templates {
    static final ObjectMapper JSON = new ObjectMapper();

    /** One model family's valid files: config.json as a tree, model.safetensors as bytes, its tensors by name. */
    record Family(ObjectNode config, byte[] safetensors, Map<String, float[]> values, Map<String, long[]> shapes) {}

    static final Family GPT2;
    static final Family LLAMA;

    static {
        Path dir = null;
        try {
            dir = Files.createTempDirectory("lens4j-fuzz-templates");
            Config g = RandomWeights.gpt2Config(1, 8, 2, 11, 6);
            try (Checkpoint c = new Checkpoint(g.clone(), RandomWeights.gpt2(g, 1))) { HfCheckpointWriter.writeGpt2(c, dir.resolve("gpt2")); }
            Config l = RandomWeights.llamaConfig(1, 8, 2, 1, 12, 11, 6);
            try (Checkpoint c = new Checkpoint(l.clone(), RandomWeights.llama(l, 2))) { HfCheckpointWriter.writeLlama(c, dir.resolve("llama")); }
            GPT2 = family(dir.resolve("gpt2"));
            LLAMA = family(dir.resolve("llama"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            if (dir != null) FuzzContract.deleteTree(dir);
        }
    }

    private Templates() {}

    private static Family family(Path dir) throws IOException {
        ObjectNode cfg = (ObjectNode) JSON.readTree(dir.resolve("config.json").toFile());
        Map<String, float[]> values = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(dir.resolve("model.safetensors"))) {
            for (String n : st.names()) {
                values.put(n, st.readFloats(n));
                shapes.put(n, st.info(n).shape());
            }
        }
        return new Family(cfg, Files.readAllBytes(dir.resolve("model.safetensors")), values, shapes);
    }

    /** Writes the named tensors of a family as one safetensors file. */
    static void writeShard(Family f, Iterable<String> names, Path file) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try {
            for (String n : names) tensors.put(n, Tensor.of(f.values().get(n), f.shapes().get(n)));
            SafeTensors.write(file, tensors, Map.of("format", "pt"));
        } finally {
            tensors.values().forEach(Tensor::close);
        }
    }
}
