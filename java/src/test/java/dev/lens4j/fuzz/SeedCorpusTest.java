package dev.lens4j.fuzz;

import dev.lens4j.cli.PromptLinesFuzzTest;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The checked-in seeds (seed-*) are what SeedCorpus says they are: valid inputs that each target loads and runs to the
 * end, so fuzzing starts deep and the replay exercises the success paths, not only rejections.
 */
class SeedCorpusTest {
    @Test
    void everySeedLoadsAndRuns() throws Exception {
        int n = 0;
        n += checkSeeds(SafeTensorsFuzzTest.class, "safetensors", SafeTensorsFuzzTest::run);
        n += checkSeeds(ConfigJsonFuzzTest.class, "configJson", b -> ConfigJsonFuzzTest.run(SeedCorpus.provider(b)));
        n += checkSeeds(ShardedIndexFuzzTest.class, "shardedIndex", b -> ShardedIndexFuzzTest.run(SeedCorpus.provider(b)));
        n += checkSeeds(Llama2cFuzzTest.class, "llama2c", b -> Llama2cFuzzTest.run(SeedCorpus.provider(b)));
        n += checkSeeds(TokenizerFuzzTest.class, "tokenizer", b -> TokenizerFuzzTest.run(SeedCorpus.provider(b)));
        n += checkSeeds(PromptLinesFuzzTest.class, "promptLines", b -> PromptLinesFuzzTest.run(SeedCorpus.provider(b)));
        assertEquals(30, n, "number of seed files");
    }

    private static int checkSeeds(Class<?> target, String method, Predicate<byte[]> run) throws IOException, URISyntaxException {
        var url = target.getResource(target.getSimpleName() + "Inputs/" + method);
        assertTrue(url != null, target.getSimpleName() + ": no seed directory on the classpath");
        List<Path> seeds;
        try (Stream<Path> s = Files.list(Path.of(url.toURI()))) {
            seeds = s.filter(p -> p.getFileName().toString().startsWith("seed-")).sorted().toList();
        }
        assertTrue(seeds.size() >= 3, target.getSimpleName() + ": only " + seeds.size() + " seeds");
        for (Path p : seeds) assertTrue(run.test(Files.readAllBytes(p)), () -> p + " was rejected: " + FuzzContract.lastRejection);
        return seeds.size();
    }
}
