package dev.lens4j.tokenize;

import dev.lens4j.load.Checkpoint;
import dev.lens4j.load.HfCheckpointWriter;
import dev.lens4j.load.Llama2cCheckpoint;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** Generated text is decoded as the tokenizer's own decoder chain renders the whole output (TL's generate). */
class GenerateDecodingTest {
    @TempDir Path tmp;

    /** stories260K as a Hugging Face Llama directory with a Llama-style tokenizer.json. */
    private Path hfStories() {
        Path dir = tmp.resolve("stories260K-hf");
        try (Checkpoint raw = Llama2cCheckpoint.load(SharedData.file("models/stories260K/stories260K.bin"), LoadOptions.noProcessing())) {
            HfCheckpointWriter.writeLlama(raw, dir);
        }
        LlamaTokenizerJson.write(SharedData.tok512(), dir);
        return dir;
    }

    @Test
    void llamaTokenizerJsonEncodesLikeTok512() {
        Path dir = hfStories();
        try (Tokenizer hf = Tokenizer.load(dir.resolve("tokenizer.json")); Tokenizer bin = Tokenizer.load(SharedData.tok512())) {
            String text = "Once upon a time, there was a little girl named Lily.";
            assertArrayEquals(bin.encode(text), hf.encode(text));
        }
    }

    @Test
    void generateFromBosOnHfLlamaHasNoLeadingSpace() {
        try (HookedTransformer model = HookedTransformer.fromPretrained(hfStories())) {
            String text = model.generate("", 20);
            assertTrue(text.startsWith("Once upon a time, there was a little girl named Lily"), "'" + text + "'");
            // what the decoder chain gives for the whole output after BOS (TL: tokenizer.decode(output[1:]))
            int[] all = model.generate(model.toTokens("", true), 20);
            assertEquals(model.tokenizer().decode(java.util.Arrays.copyOfRange(all, 1, all.length)), text);
        }
    }

    @Test
    void generateAfterAPromptReturnsOnlyTheNewText() {
        try (HookedTransformer model = HookedTransformer.fromPretrained(hfStories())) {
            String prompt = "Once upon a time, there was a little girl named";
            String text = model.generate(prompt, 8);
            assertTrue(text.startsWith(" Lily"), "'" + text + "'");
            assertTrue((prompt + text).startsWith(model.generate("", 30).substring(0, prompt.length())));
        }
    }

    /**
     * With the real GPT-2, Pythia and Gemma 3 tokenizers (random one-layer models of their vocabularies): prompt text
     * plus generated text is the decoder chain's rendering of the whole output after BOS, as TL's generate returns it.
     */
    @ParameterizedTest
    @ValueSource(strings = {"models/gpt2-tokenizer", "models/pythia-tokenizer", "models/gemma3-tokenizer"})
    void promptPlusGeneratedTextIsTheWholeOutputDecoded(String tokenizerDir) {
        Tokenizer tok = Tokenizer.load(SharedData.file(tokenizerDir).resolve("tokenizer.json"));
        Config cfg = RandomWeights.gpt2Config(1, 16, 4, tok.vocabSize(), 32);
        try (HookedTransformer model = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 3), tok, null)) {
            for (String prompt : new String[] {"", "Paris is", " The capital of France"}) {
                int[] start = model.toTokens(prompt, true);
                int[] all = model.generate(start, 6);
                String whole = tok.decode(java.util.Arrays.copyOfRange(all, 1, all.length));
                String head = tok.decode(java.util.Arrays.copyOfRange(start, 1, start.length));
                assertEquals(whole, head + model.generate(prompt, 6), tokenizerDir + ", prompt '" + prompt + "'");
            }
        }
    }
}
