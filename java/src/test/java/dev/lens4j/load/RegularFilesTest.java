package dev.lens4j.load;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** Output files: atomic, through symlinks, never over a non-regular file, nothing left behind on failure. */
class RegularFilesTest {
    @TempDir Path tmp;

    private List<String> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) { return s.map(p -> p.getFileName().toString()).sorted().toList(); }
    }

    @Test void writesAndReplacesARegularFileKeepingItsMode() throws IOException {
        Path f = tmp.resolve("out.json");
        RegularFiles.writeString(f, "one");
        assertEquals("one", Files.readString(f));
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r-----"));
        RegularFiles.writeString(f, "two");
        assertEquals("two", Files.readString(f));
        assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
        assertEquals(List.of("out.json"), listing(tmp), "no temporary file left");
    }

    @Test void writesThroughASymlinkToItsTarget() throws IOException {
        Path real = Files.createDirectories(tmp.resolve("real")).resolve("data.safetensors");
        Files.writeString(real, "old");
        Path link = Files.createSymbolicLink(tmp.resolve("link"), tmp.relativize(real));
        Path link2 = Files.createSymbolicLink(tmp.resolve("link2"), link); // a chain
        RegularFiles.writeString(link2, "new");
        assertTrue(Files.isSymbolicLink(link) && Files.isSymbolicLink(link2), "the links are still links");
        assertEquals("new", Files.readString(real));
        assertEquals(List.of("data.safetensors"), listing(real.getParent()), "the temporary file was beside the real target");
        // a dangling link: its target is created
        Path dangling = Files.createSymbolicLink(tmp.resolve("dangling"), tmp.resolve("real/created.json"));
        RegularFiles.writeString(dangling, "x");
        assertTrue(Files.isSymbolicLink(dangling));
        assertEquals("x", Files.readString(tmp.resolve("real/created.json")));
    }

    @Test void refusesDirectoriesAndEmptyPaths() throws IOException {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RegularFiles.writeString(tmp, "x"));
        assertTrue(e.getMessage().contains("directory") && e.getMessage().contains("not a regular file"), e.getMessage());
        assertTrue(Files.isDirectory(tmp));
        assertFalse(Files.exists(tmp.resolveSibling(tmp.getFileName() + ".tmp")), "the old code left DIR.tmp behind");
        e = assertThrows(IllegalArgumentException.class, () -> RegularFiles.writeString(Path.of(""), "x"));
        assertEquals("empty output path", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> RegularFiles.writeString(tmp.resolve("no/such/dir/f"), "x"));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
        Path linkToDir = Files.createSymbolicLink(tmp.resolve("dirlink"), tmp);
        assertThrows(IllegalArgumentException.class, () -> RegularFiles.writeString(linkToDir, "x"));
        assertTrue(Files.isSymbolicLink(linkToDir));
    }

    /** A FIFO (and a symlink to one) stands in for a device such as /dev/full: never replaced, never written. */
    @Test @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) void neverReplacesOrWritesANonRegularFile() throws Exception {
        Path fifo = Fifos.make(tmp.resolve("pipe"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RegularFiles.writeString(fifo, "x"));
        assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
        assertTrue(Fifos.isFifo(fifo), "still a FIFO");
        Path link = Files.createSymbolicLink(tmp.resolve("link"), fifo);
        e = assertThrows(IllegalArgumentException.class, () -> RegularFiles.writeString(link, "x"));
        assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
        assertTrue(Files.isSymbolicLink(link) && Fifos.isFifo(fifo), "link and FIFO untouched");
        assertEquals(List.of("link", "pipe"), listing(tmp));
    }

    /** /dev/full itself is only looked at: the write is refused before any file is created, and the node is still a device. */
    @Test void devFullIsRefusedAndUntouched() throws IOException {
        Path full = Path.of("/dev/full");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(full, LinkOption.NOFOLLOW_LINKS), "no /dev/full here");
        assertThrows(IllegalArgumentException.class, () -> RegularFiles.realTarget(full)); // the check alone, no write attempted
        assertFalse(Files.isRegularFile(full, LinkOption.NOFOLLOW_LINKS));
        assertTrue(Files.getAttribute(full, "unix:mode", LinkOption.NOFOLLOW_LINKS) instanceof Integer m && (m & 0170000) == 0020000,
            "/dev/full is still a character device");
    }

    @Test void aFailedWriteLeavesTheOldFileAndNoTemporary() throws IOException {
        Path f = tmp.resolve("results.json");
        Files.writeString(f, "old");
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> RegularFiles.write(f, ch -> {
            ch.write(java.nio.ByteBuffer.wrap("partial".getBytes()));
            throw new IOException("No space left on device"); // as ENOSPC surfaces from FileChannel.write
        }));
        assertTrue(e.getMessage().contains("results.json") && e.getMessage().contains("No space left"), e.getMessage());
        assertEquals("old", Files.readString(f));
        assertEquals(List.of("results.json"), listing(tmp));
        assertThrows(IllegalStateException.class, () -> RegularFiles.write(f, ch -> { throw new IllegalStateException("boom"); }));
        assertEquals(List.of("results.json"), listing(tmp), "a runtime failure also removes the temporary file");
    }

    @Test void temporaryNamesDoNotCollide() throws Exception {
        Path f = tmp.resolve("same.bin");
        // the old fixed name FILE.tmp: a stale one, or a directory of that name, must not break or be clobbered
        Files.createDirectories(tmp.resolve("same.bin.tmp"));
        Files.writeString(tmp.resolve(".same.bin.tmp"), "someone else's");
        Thread[] ts = new Thread[4];
        for (int i = 0; i < ts.length; i++) {
            int k = i;
            ts[i] = new Thread(() -> RegularFiles.writeString(f, "writer " + k));
            ts[i].start();
        }
        for (Thread t : ts) t.join();
        assertTrue(Files.readString(f).startsWith("writer "));
        assertEquals(List.of(".same.bin.tmp", "same.bin", "same.bin.tmp"), listing(tmp));
        assertEquals("someone else's", Files.readString(tmp.resolve(".same.bin.tmp")));
    }
}
