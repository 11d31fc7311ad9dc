package dev.lens4j.cli;

import dev.lens4j.load.Fifos;
import dev.lens4j.load.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static dev.lens4j.cli.CliTest.cli;
import static dev.lens4j.cli.CliTest.stories;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Every command's --out: exit 2 and one line for a target that is not a regular file; symlinks written through.
 * Input files likewise must be regular files.
 */
class OutputFilesCliTest {
    private static CliTest.Result cache(Path out) {
        return cli("cache", "--model", stories(), "--prompt", "Once", "--hooks", "hook_embed", "--out", out.toString());
    }

    private static void assertOneLineError(CliTest.Result r, String... fragments) {
        assertEquals(2, r.code(), r.out() + r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        for (String f : fragments) assertTrue(r.err().contains(f), "'" + f + "' in " + r.err());
    }

    @Test void outIsADirectory(@TempDir Path dir) throws Exception {
        assertOneLineError(cache(dir), "directory", "not a regular file");
        try (Stream<Path> s = Files.list(dir.getParent())) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().equals(dir.getFileName() + ".tmp")), "no DIR.tmp left behind");
        }
    }

    @Test void outIsEmpty() {
        assertOneLineError(cli("cache", "--model", stories(), "--prompt", "Once", "--out", ""), "empty output path");
    }

    @Test @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) void outIsAFifo(@TempDir Path dir) throws Exception {
        Path fifo = Fifos.make(dir.resolve("pipe.safetensors"));
        assertOneLineError(cache(fifo), "not a regular file");
        assertTrue(Fifos.isFifo(fifo), "the FIFO is still a FIFO, not replaced by a regular file");
        Path link = Files.createSymbolicLink(dir.resolve("dev-like"), fifo);
        assertOneLineError(cache(link), "not a regular file");
        assertTrue(Files.isSymbolicLink(link) && Fifos.isFifo(fifo));
        try (Stream<Path> s = Files.list(dir)) { assertEquals(2, s.count(), "no temporary file left"); }
    }

    /** An input FIFO is refused, not opened (reading one blocks until a writer comes). */
    @Test @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) void promptsFileIsAFifo(@TempDir Path dir) throws Exception {
        Path fifo = Fifos.make(dir.resolve("prompts.txt"));
        assertOneLineError(cli("grads", "--model", stories(), "--prompts", fifo.toString(), "--answer", " a", "--wrong", " b",
            "--out", dir.resolve("g.safetensors").toString()), "prompts.txt", "not a regular file");
    }

    @Test void outIsASymlinkToARegularFile(@TempDir Path dir) throws Exception {
        Path real = Files.createDirectories(dir.resolve("real")).resolve("cache.safetensors");
        Files.writeString(real, "stale");
        Path link = Files.createSymbolicLink(dir.resolve("cache.safetensors"), real);
        CliTest.Result r = cache(link);
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isSymbolicLink(link), "the link is kept");
        try (SafeTensors st = SafeTensors.open(real)) { assertTrue(st.has("hook_embed")); }
        try (Stream<Path> s = Files.list(real.getParent())) { assertEquals(List.of(real), s.toList()); }
    }
}
