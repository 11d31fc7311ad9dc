package dev.lens4j.cli;

import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.oracle.HfTestCheckpoints;
import dev.lens4j.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.lens4j.cli.CliTest.cli;
import static org.junit.jupiter.api.Assertions.*;

/** The new model families through the CLI, with Pythia's real tokenizer beside a tiny random GPT-NeoX checkpoint. */
class FamilyCliTest {
    static Path tinyPythia(Path dir) throws IOException {
        Path tok = TestCheckpoints.shared().resolve("models/pythia-tokenizer");
        HfTestCheckpoints.neox(dir, 5, true, DType.BF16, 50304); // Pythia's embedding rows (the tokenizer has 50277 ids)
        for (String f : new String[] {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"})
            Files.copy(tok.resolve(f), dir.resolve(f));
        return dir;
    }

    @Test
    void pythiaShapedCheckpointRunsWithItsTokenizer(@TempDir Path dir) throws IOException {
        Path m = tinyPythia(dir);
        CliTest.Result info = cli("info", "--model", m.toString());
        assertEquals(0, info.code(), info.err());
        assertTrue(info.out().contains("GPTNeoXForCausalLM") && info.out().contains("blocks.1.ln2.hook_normalized"), info.out());
        assertFalse(info.out().contains("hook_resid_mid"), "a parallel block has no resid_mid");
        CliTest.Result run = cli("run", "--model", m.toString(), "--prompt", "The capital of France is", "--answer", " Paris", "--top-k", "3");
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().contains("Tokenized prompt: ['<|endoftext|>', 'The', ' capital', ' of', ' France', ' is']"), run.out());
        try (HookedTransformer model = HookedTransformer.fromPretrained(m)) {
            String text = model.generate("Hello", 4);
            assertEquals(text, model.toString(java.util.Arrays.copyOfRange(model.generate(model.toTokens("Hello"), 4), 2, 6)),
                "the new text is the tokenizer's decoding of the new ids");
        }
    }

    @Test
    void unsupportedModelTypeListsTheSupportedOnes(@TempDir Path dir) throws IOException {
        HfTestCheckpoints.neox(dir, 5, true, DType.F32);
        Path f = dir.resolve("config.json");
        Files.writeString(f, Files.readString(f).replace("\"gpt_neox\"", "\"mamba\""));
        CliTest.Result r = cli("info", "--model", dir.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unsupported model_type 'mamba' (supported: gpt2, llama, mistral, gpt_neox, qwen2, gemma, gemma2)"), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace");
    }

    @Test
    void congruenceNamesEmbeddingRowsPastTheTokenizerByNumber(@TempDir Path dir) throws IOException {
        Path m = tinyPythia(dir.resolve("pythia"));
        // 50290 is a padding row of Pythia's embedding: the tokenizer has no text for it
        CliTest.Result r = cli("congruence", "--model", m.toString(), "--token-ids", "50290,510", "--top", "2", "--top-tokens", "3",
                "--out", dir.resolve("cong").toString(), "--json");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("\"50290\""), r.out());
    }
}
