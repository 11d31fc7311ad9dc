package dev.lens4j.model;

import dev.lens4j.load.LoadOptions;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.tensor.Tensor;
import dev.lens4j.tokenize.TokenizerException;
import dev.lens4j.train.Lens4jCheckpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** A load that fails after the weights are in memory frees them: Tensor.liveBytes ends where it started. */
class FailedLoadLeakTest {
    @TempDir Path tmp;

    /** A WordLevel tokenizer.json with the given number of tokens. */
    static String tokenizerJson(int tokens) {
        StringBuilder vocab = new StringBuilder();
        for (int i = 0; i < tokens; i++) vocab.append(i == 0 ? "" : ",").append("\"t").append(i).append("\":").append(i);
        return "{\"version\":\"1.0\",\"added_tokens\":[],\"model\":{\"type\":\"WordLevel\",\"vocab\":{" + vocab
            + "},\"unk_token\":\"t0\"},\"pre_tokenizer\":{\"type\":\"Whitespace\"}}";
    }

    private static <T extends Throwable> void failsWithoutLeaking(Class<T> type, Path model, String fragment) {
        long before = Tensor.liveBytes(), count = Tensor.liveCount();
        for (int i = 0; i < 30; i++) {
            T e = assertThrows(type, () -> HookedTransformer.fromPretrained(model, null, LoadOptions.defaults(), null).close());
            assertTrue(e.getMessage().contains(fragment), e.getMessage());
        }
        assertEquals(before, Tensor.liveBytes(), "live native bytes after 30 failed loads");
        assertEquals(count, Tensor.liveCount(), "live tensors after 30 failed loads");
    }

    @Test void tokenizerThatFailsAfterTheWeightsLoaded() throws Exception {
        Path d = TestCheckpoints.gpt2(tmp, 1);
        Files.writeString(d.resolve("tokenizer.json"), "{\"model\": ");
        failsWithoutLeaking(TokenizerException.class, d, "tokenizer.json");
    }

    @Test void tokenizerLargerThanTheVocabulary() throws Exception {
        Path d = TestCheckpoints.gpt2(tmp, 1);
        Files.writeString(d.resolve("tokenizer.json"), tokenizerJson(TestCheckpoints.tinyGpt2Config().dVocab + 5));
        failsWithoutLeaking(IllegalArgumentException.class, d, "d_vocab");
        Files.writeString(d.resolve("tokenizer.json"), tokenizerJson(6));
        try (HookedTransformer m = HookedTransformer.fromPretrained(d)) { assertEquals(6, m.tokenizer().vocabSize()); } // control
    }

    @Test void llama2cWithABrokenTokenizerBeside() throws Exception {
        Path bin = dev.lens4j.load.Llama2cCheckpointTestAccess.tiny(tmp.resolve("m.bin"));
        Files.write(tmp.resolve("tokenizer.bin"), new byte[] {7, 0, 0, 0, 1, 2});
        failsWithoutLeaking(TokenizerException.class, bin, "tokenizer");
    }

    /** A lens4j checkpoint whose weights load but fail the model's checkWeights (a weight missing). */
    @Test void lens4jCheckpointThatFailsCheckWeights() {
        Config cfg = TestCheckpoints.tinyGpt2Config();
        Path dir = tmp.resolve("trained");
        try (Weights w = RandomWeights.gpt2(cfg, 2)) {
            Map<String, Tensor> kept = new LinkedHashMap<>(w.asMap());
            kept.remove("blocks.1.mlp.b_out");
            Lens4jCheckpoint.save(cfg, w, dir, null);
            SafeTensors.write(dir.resolve(Lens4jCheckpoint.WEIGHTS_FILE), kept, Map.of("format", "lens4j"));
        }
        failsWithoutLeaking(IllegalArgumentException.class, dir, "blocks.1.mlp.b_out");
    }

    /** The constructor owns what it is given: weights that fail its checks are freed, with anything it derived. */
    @Test void constructorFreesWeightsItRejects() {
        Config cfg = TestCheckpoints.tinyLlamaConfig(); // rotary: the constructor also builds tables
        long before = Tensor.liveBytes();
        Weights w = RandomWeights.llama(cfg, 1);
        w.remove("unembed.b_U").close();
        assertThrows(IllegalArgumentException.class, () -> new HookedTransformer(cfg, w));
        assertEquals(before, Tensor.liveBytes());
        assertTrue(w.asMap().isEmpty(), "the rejected weights are closed");
    }
}
