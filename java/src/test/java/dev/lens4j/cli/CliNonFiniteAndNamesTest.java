package dev.lens4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.lens4j.cli.CliTest.cli;
import static dev.lens4j.cli.CliTest.stories;
import static org.junit.jupiter.api.Assertions.*;

/** NaN weights never reach the output as "NaN%" with exit 0; a --hooks regex that selects nothing is an error. */
class CliNonFiniteAndNamesTest {
    /** stories260K with one NaN in layer 0's attention RMSNorm weight (llama2.c layout: header, token_embedding, rms_att). */
    private static Path storiesWithNaN(Path dir) throws Exception {
        Path src = Path.of(stories());
        byte[] b = Files.readAllBytes(src);
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        int dim = bb.getInt(0), vocab = Math.abs(bb.getInt(20));
        bb.putFloat(28 + 4 * (vocab * dim + 3), Float.NaN);
        Path bin = Files.write(dir.resolve("stories-nan.bin"), b);
        Files.copy(src.resolveSibling("tok512.bin"), dir.resolve("tok512.bin"));
        return bin;
    }

    private static void assertOneLine(CliTest.Result r, String... fragments) {
        assertEquals(2, r.code(), r.out() + r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertFalse(r.out().contains("NaN"), r.out());
        for (String f : fragments) assertTrue(r.err().contains(f), "'" + f + "' in " + r.err());
    }

    @Test void nanWeightIsRejectedAtLoadNamingIt(@TempDir Path dir) throws Exception {
        Path bin = storiesWithNaN(dir);
        assertOneLine(cli("run", "--model", bin.toString(), "--prompt", "Once upon a time", "--top-k", "3"),
            "weight 'blocks.0.ln1.w'", "NaN at element 3", "--allow-nonfinite");
    }

    @Test void allowedNanWeightFailsAtRunTimeNamingTheHookPoint(@TempDir Path dir) throws Exception {
        Path bin = storiesWithNaN(dir);
        // processed, ln1.w is folded into W_Q/K/V; unprocessed, TL's RMS hook_normalized comes before the weight: either way
        // the NaN first shows in block 0's queries
        assertOneLine(cli("run", "--model", bin.toString(), "--allow-nonfinite", "--prompt", "Once upon a time", "--top-k", "3"),
            "the logits hold NaN", "non-finite values first appear at blocks.0.attn.hook_q (NaN");
        assertOneLine(cli("run", "--model", bin.toString(), "--allow-nonfinite", "--no-process-weights", "--prompt", "Once upon a time"),
            "non-finite values first appear at blocks.0.attn.hook_q (NaN");
        assertOneLine(cli("generate", "--model", bin.toString(), "--allow-nonfinite", "--prompt", "", "--max-new-tokens", "3"),
            "non-finite values first appear at blocks.0.");
        Path out = dir.resolve("c.safetensors");
        assertOneLine(cli("cache", "--model", bin.toString(), "--allow-nonfinite", "--prompt", "Once", "--out", out.toString()),
            "non-finite values first appear at blocks.0.");
        assertFalse(Files.exists(out), "nothing written");
    }

    @Test void hooksRegexThatMatchesNothing(@TempDir Path dir) {
        Path out = dir.resolve("c.safetensors");
        CliTest.Result r = cli("cache", "--model", stories(), "--prompt", "Once", "--hooks", "resid_pree", "--out", out.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--hooks 'resid_pree' matches no hook point"), r.err());
        assertFalse(Files.exists(out));
        r = cli("grads", "--model", stories(), "--prompt", "Once upon a", "--answer", " time", "--wrong", " day", "--hooks", "hook_zz",
            "--out", out.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--hooks 'hook_zz' matches no hook point"), r.err());
    }
}
