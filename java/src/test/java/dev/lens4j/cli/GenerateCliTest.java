package dev.lens4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static dev.lens4j.cli.CliTest.cli;
import static dev.lens4j.cli.CliTest.stories;
import static org.junit.jupiter.api.Assertions.*;

/** The generate command's TL options: several prompts, sampling with a seed, stop_at_eos, the KV cache switch, bad values. */
class GenerateCliTest {
    @Test void severalPromptsGreedyMatchEachAloneAndTheUncachedRun() throws Exception {
        CliTest.Result both = cli("generate", "--model", stories(), "--prompt", "Once upon a time", "--prompt", "The dog",
                "--max-new-tokens", "30", "--json");
        assertEquals(0, both.code(), both.err());
        JsonNode j = new ObjectMapper().readTree(both.out());
        assertEquals(2, j.size());
        CliTest.Result first = cli("generate", "--model", stories(), "--prompt", "Once upon a time", "--max-new-tokens", "30");
        assertEquals(j.get(0).asText() + "\n", first.out(), "batched equals alone");
        CliTest.Result uncached = cli("generate", "--model", stories(), "--prompt", "Once upon a time", "--prompt", "The dog",
                "--max-new-tokens", "30", "--json", "--no-kv-cache");
        assertEquals(both.out(), uncached.out(), "the KV cache changes no token");
    }

    @Test void samplingWithASeedIsReproducible() {
        String[] args = {"generate", "--model", stories(), "--prompt", "Once upon a time", "--max-new-tokens", "40",
                "--temperature", "1.5", "--top-k", "20", "--seed", "7"};
        CliTest.Result a = cli(args), b = cli(args);
        assertEquals(0, a.code(), a.err());
        assertEquals(a.out(), b.out());
        args[args.length - 1] = "8";
        CliTest.Result c = cli(args);
        assertNotEquals(a.out(), c.out(), "another seed, another story");
    }

    @Test void stopAtEosEndsTheTextAndNoStopAtEosGoesOn() throws Exception {
        // stories260K separates stories with BOS (id 1), never its tokenizer's EOS: name id 1 as the EOS
        ObjectMapper json = new ObjectMapper();
        CliTest.Result stop = cli("generate", "--model", stories(), "--prompt", "", "--max-new-tokens", "400", "--eos-token-id", "1", "--json");
        CliTest.Result go = cli("generate", "--model", stories(), "--prompt", "", "--max-new-tokens", "400", "--eos-token-id", "1",
                "--no-stop-at-eos", "--json");
        assertEquals(0, stop.code(), stop.err());
        assertEquals(0, go.code(), go.err());
        String stopped = json.readTree(stop.out()).get(0).asText(), full = json.readTree(go.out()).get(0).asText();
        assertTrue(stopped.endsWith("<s>"), "the text ends at the EOS: " + stopped);
        assertTrue(full.startsWith(stopped) && full.length() > stopped.length(), "without stop_at_eos the text goes on past the story's end");
    }

    @Test void badValuesExitWithStatusTwoAndOneLine() {
        String[][] bad = {
                {"--temperature", "-1"}, {"--temperature", "1", "--top-p", "1.5"}, {"--temperature", "1", "--top-k", "0"},
                {"--top-k", "5"}, {"--max-new-tokens", "-3"}, {"--eos-token-id", "100000"}};
        for (String[] extra : bad) {
            String[] args = new String[5 + extra.length];
            System.arraycopy(new String[] {"generate", "--model", stories(), "--prompt", "Hi"}, 0, args, 0, 5);
            System.arraycopy(extra, 0, args, 5, extra.length);
            CliTest.Result r = cli(args);
            assertEquals(2, r.code(), String.join(" ", extra) + ": " + r.err());
            assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
            assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
        }
    }
}
