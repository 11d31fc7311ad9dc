package dev.lens4j.load;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Named pipes for tests: opening one for reading blocks until a writer comes, so code that opens it hangs. */
public final class Fifos {
    private Fifos() {}

    /** Makes a FIFO at path with mkfifo; skips the test, saying why, where mkfifo is absent. */
    public static Path make(Path path) throws Exception {
        boolean made;
        try {
            Process p = new ProcessBuilder("mkfifo", path.toString()).redirectErrorStream(true).start();
            made = p.waitFor() == 0;
        } catch (java.io.IOException e) {
            made = false;
        }
        assumeTrue(made, "mkfifo is not available here: FIFO test skipped");
        assumeTrue(isFifo(path), "mkfifo did not make a FIFO: test skipped");
        return path;
    }

    public static boolean isFifo(Path path) throws Exception {
        return Files.exists(path, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)
            && !Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS) && !Files.isSymbolicLink(path)
            && "p".equals(String.valueOf(Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS) instanceof Integer m
                && (m & 0170000) == 0010000 ? "p" : "x"));
    }
}
