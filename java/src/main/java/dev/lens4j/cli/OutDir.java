package dev.lens4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/** An --out DIR that a command fills with named files: checked before any work, so a bad path fails fast. */
final class OutDir {
    private OutDir() {}

    /** Fails when DIR is not a directory, or one of the files exists as something other than a regular file (a FIFO would hang a write). */
    static void check(Path dir, String... files) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) throw new IllegalArgumentException("--out " + dir + " exists and is not a directory");
        for (String f : files) {
            Path p = dir.resolve(f);
            if (Files.exists(p, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
                throw new IllegalArgumentException("--out " + dir + ": " + f + " exists and is not a regular file; not writing over it");
        }
    }

    static Path create(Path dir) throws IOException { return Files.createDirectories(dir); }
}
