package dev.lens4j.fuzz;

import dev.lens4j.load.Checkpoint;
import dev.lens4j.load.CheckpointException;
import dev.lens4j.load.HfCheckpoint;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;
import dev.lens4j.tokenize.Tokenizer;
import dev.lens4j.tokenize.TokenizerException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The fuzzers' findings as plain tests, each of which failed before its fix (the inputs themselves are in the corpus). */
class FuzzFindingsTest {
    @Test
    void tokenizerThatFailsAfterTheWeightsLoadedLeaksNothing(@TempDir Path dir) throws Exception {
        Path bin = Files.write(dir.resolve("m.bin"), Llama2cFuzzTest.model(Llama2cFuzzTest.DEFAULTS, 0, -1, 0));
        Path tok = Files.write(dir.resolve("tokenizer.bin"), Llama2cFuzzTest.tokenizer(-1, 3, -1, 0)); // max_token_length -1
        long before = Tensor.liveBytes();
        assertThrows(TokenizerException.class, () -> HookedTransformer.fromPretrained(bin, tok, LoadOptions.defaults(), null));
        assertEquals(before, Tensor.liveBytes());
    }

    @Test
    void shardNameWithANulCharacterIsACheckpointError(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("config.json"), Templates.GPT2.config().toString());
        Templates.writeShard(Templates.GPT2, Templates.GPT2.values().keySet(), dir.resolve("model-00001-of-00001.safetensors"));
        String first = Templates.GPT2.values().keySet().iterator().next();
        Files.writeString(dir.resolve("model.safetensors.index.json"),
            "{\"weight_map\": {\"" + first + "\": \"model-00001-of-00001.safetensors\\u0000\"}}");
        CheckpointException e = assertThrows(CheckpointException.class, () -> HfCheckpoint.load(dir));
        assertTrue(e.getMessage().contains("maps to an invalid shard name"), e.getMessage());
    }

    @Test
    void encodeErrorInsideTheTokenizerLibraryIsATokenizerException(@TempDir Path dir) throws Exception {
        Path f = Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"hello\": 0},"
            + " \"unk_token\": \"[UNK]\"}, \"pre_tokenizer\": {\"type\": \"Whitespace\"}}");
        try (Tokenizer tok = Tokenizer.load(f)) {
            assertEquals(1, tok.encode("hello").length);
            TokenizerException e = assertThrows(TokenizerException.class, () -> tok.encode("hello world"));
            assertTrue(e.getMessage().startsWith("cannot encode with " + f + ": "), e.getMessage());
        }
    }

    @Test
    void absurdNCtxLoadsWithoutRunningOutOfMemory() {
        // the finding: an absurd n_ctx ran the heap out building rotary tables for every position up front. Tables
        // are now built for the positions a run uses, so any declared context loads at once and runs short prompts
        for (int nCtx : new int[] {500_000_000, Integer.MAX_VALUE}) {
            Config cfg = RandomWeights.llamaConfig(1, 8, 2, 1, 12, 11, 6);
            Config huge = cfg.clone();
            huge.nCtx = nCtx;
            org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(20), () -> {
                try (HookedTransformer m = new HookedTransformer(huge, RandomWeights.llama(cfg, 1)); Tensor logits = m.forward(new int[] {1, 2})) {
                    assertEquals(11, logits.size(2));
                }
            });
        }
        // a real long context still loads: Llama 3.1's 131072 positions
        Config cfg = RandomWeights.llamaConfig(1, 8, 2, 1, 12, 11, 131072);
        try (HookedTransformer m = new HookedTransformer(cfg, RandomWeights.llama(cfg, 1)); Tensor logits = m.forward(new int[] {1, 2})) {
            assertEquals(11, logits.size(2));
        }
    }
}
