package dev.lens4j.fuzz;

import dev.lens4j.load.CheckpointException;
import dev.lens4j.tensor.Tensor;
import dev.lens4j.tokenize.TokenizerException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The contract every fuzz target checks: for any input, lens4j returns a result or throws one of its own
 * exceptions with a message, and frees every native byte it allocated for that input.
 *
 * <p>Accepted exceptions:
 * <ul>
 *   <li>{@link CheckpointException} and {@link TokenizerException}: lens4j's own types for bad files;</li>
 *   <li>{@link dev.lens4j.model.NonFiniteException}: weights that are finite but overflow in the forward pass (say
 *   1e38 in W_U) give NaN/Inf logits, which a run reports naming where they first appear;</li>
 *   <li>a plain {@link IllegalArgumentException} (not a subclass such as NumberFormatException) thrown by lens4j code
 *       itself, i.e. its top stack frame is in {@code dev.lens4j}: how Config.validate, Pretrained and the CLI's
 *       input parsers report bad input. The same class thrown from inside the JDK (ByteBuffer.allocate, Arrays, a
 *       charset) is an unchecked JDK exception escaping, and fails.</li>
 * </ul>
 * Each accepted exception must carry a non-blank message (the user sees nothing else). Anything else, including
 * every {@link Error} (OutOfMemoryError, StackOverflowError), fails the input: Jazzer reports it as a finding.
 */
public final class FuzzContract {
    private FuzzContract() {}

    /** The message of the last accepted exception, for the seed check's failure message. */
    static volatile String lastRejection;

    public interface Body { void run(Path tmp) throws IOException; }

    /**
     * Runs body in a fresh temp directory, checks what it throws and that native memory returns to where it was.
     * Returns whether body completed (false: it threw an accepted exception).
     */
    public static boolean check(Body body) {
        long before = Tensor.liveBytes();
        Path tmp;
        try {
            tmp = Files.createTempDirectory("lens4j-fuzz");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        boolean completed = false;
        RuntimeException rejection = null;
        try {
            body.run(tmp);
            completed = true;
        } catch (RuntimeException e) {
            if (!accepted(e)) throw e;
            rejection = e;
            lastRejection = e.getMessage();
        } catch (IOException e) {
            throw new UncheckedIOException("the harness could not write its input", e);
        } finally {
            deleteTree(tmp);
        }
        long after = Tensor.liveBytes();
        if (after != before)
            throw new AssertionError("native memory leaked: Tensor.liveBytes went from " + before + " to " + after
                + (rejection == null ? " on an input that loaded" : " on an input rejected with: " + rejection), rejection);
        return completed;
    }

    static boolean accepted(RuntimeException e) {
        String m = e.getMessage();
        if (m == null || m.isBlank()) return false;
        if (e instanceof CheckpointException || e instanceof TokenizerException || e instanceof dev.lens4j.model.NonFiniteException) return true;
        if (e.getClass() != IllegalArgumentException.class) return false;
        StackTraceElement[] st = e.getStackTrace();
        return st.length > 0 && st[0].getClassName().startsWith("dev.lens4j.");
    }

    static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try { Files.deleteIfExists(p); } catch (IOException ignored) { }
            });
        } catch (IOException ignored) { }
    }
}
