package dev.lens4j.load;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.function.Function;

/**
 * The one place lens4j opens files by name. Inputs: only regular files (opening a FIFO or a device blocks or reads
 * forever). Outputs: written to a fresh temporary file beside the real target and renamed over it, so a reader never
 * sees half a file; only a regular file (or nothing) is ever replaced, a symlink is written through to its target, and the
 * temporary file is removed whatever fails.
 */
public final class RegularFiles {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final int MAX_LINKS = 40; // as Linux's ELOOP limit

    private RegularFiles() {}

    /** Writes the whole file content to an open channel. */
    @FunctionalInterface
    public interface Body {
        void writeTo(FileChannel out) throws IOException;
    }

    // ---------------------------------------------------------------- inputs

    /** Null when the path is a regular file (links followed), else what is wrong with it, e.g. "no such file". */
    public static String inputProblem(Path file) {
        if (file == null || file.toString().isEmpty()) return "empty path";
        if (Files.isRegularFile(file)) return null;
        if (!Files.exists(file)) return "no such file";
        if (Files.isDirectory(file)) return "is a directory, not a regular file";
        return "not a regular file";
    }

    /** Throws error(problem) unless the path is a regular file; call before opening anything for reading. */
    public static void requireInput(Path file, Function<String, ? extends RuntimeException> error) {
        String problem = inputProblem(file);
        if (problem != null) throw error.apply(problem);
    }

    // ---------------------------------------------------------------- outputs

    public static void writeString(Path target, String text) {
        writeBytes(target, text.getBytes(StandardCharsets.UTF_8));
    }

    public static void writeBytes(Path target, byte[] bytes) {
        write(target, ch -> {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) ch.write(b);
        });
    }

    /**
     * Writes target atomically. IllegalArgumentException when the target cannot be a regular file (empty path, directory,
     * device, FIFO, missing parent directory); UncheckedIOException naming the file when writing fails (disk full...).
     */
    public static void write(Path target, Body body) {
        checkOutput(target);
        Path real = realTarget(target);
        Path tmp = createTemp(real);
        boolean moved = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                body.writeTo(ch);
            }
            copyPermissions(real, tmp);
            // re-checked just before the rename: it must still never replace a non-regular file
            if (Files.exists(real, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(real, LinkOption.NOFOLLOW_LINKS))
                throw new IllegalArgumentException(target + ": not a regular file");
            Files.move(tmp, real, StandardCopyOption.ATOMIC_MOVE);
            moved = true;
        } catch (IOException e) {
            throw new UncheckedIOException(target + ": cannot write: " + e, e);
        } finally {
            if (!moved) {
                try { Files.deleteIfExists(tmp); } catch (IOException ignored) { } // best effort; the write error matters more
            }
        }
    }

    /** Fails now, before any work, when {@link #write} to target would be refused (not a regular file, no such directory). */
    public static void checkOutput(Path target) {
        Path dir = realTarget(target).getParent();
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException(target + ": directory " + dir + " does not exist");
    }

    /** The absolute path the content must end up at: symlinks resolved, and it must be a regular file or not exist. */
    static Path realTarget(Path target) {
        if (target == null || target.toString().isEmpty()) throw new IllegalArgumentException("empty output path");
        Path p = target.toAbsolutePath().normalize();
        try {
            if (Files.exists(p)) p = p.toRealPath(); // every link on the way, parents included
            for (int links = 0; Files.isSymbolicLink(p); links++) { // a dangling link: create its target
                if (links == MAX_LINKS) throw new IllegalArgumentException(target + ": too many levels of symbolic links");
                p = p.getParent().resolve(Files.readSymbolicLink(p)).normalize();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(target + ": cannot resolve link: " + e, e);
        }
        if (p.getFileName() == null) throw new IllegalArgumentException(target + ": is a directory, not a regular file");
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS))
            throw new IllegalArgumentException(target + ": is a directory, not a regular file");
        if (Files.exists(p, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
            throw new IllegalArgumentException(target + (p.equals(target.toAbsolutePath().normalize()) ? "" : " (-> " + p + ")")
                + ": not a regular file; lens4j only writes regular files");
        return p;
    }

    /** A new, empty file beside real whose name no other writer picks (random, created exclusively). */
    private static Path createTemp(Path real) {
        for (int attempt = 0; ; attempt++) {
            byte[] r = new byte[8];
            RANDOM.nextBytes(r);
            Path tmp = real.resolveSibling("." + real.getFileName() + "." + HexFormat.of().formatHex(r) + ".tmp");
            try {
                Files.newByteChannel(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
                return tmp;
            } catch (FileAlreadyExistsException e) {
                if (attempt == 10) throw new UncheckedIOException(real + ": cannot create a temporary file: " + e, e);
            } catch (IOException e) {
                throw new UncheckedIOException(real + ": cannot write in " + real.getParent() + ": " + e, e);
            }
        }
    }

    /** An existing file keeps its mode when replaced, as writing it in place would. */
    private static void copyPermissions(Path from, Path to) throws IOException {
        if (!Files.isRegularFile(from, LinkOption.NOFOLLOW_LINKS)) return;
        PosixFileAttributeView src = Files.getFileAttributeView(from, PosixFileAttributeView.class);
        PosixFileAttributeView dst = Files.getFileAttributeView(to, PosixFileAttributeView.class);
        if (src != null && dst != null) dst.setPermissions(src.readAttributes().permissions());
    }
}
