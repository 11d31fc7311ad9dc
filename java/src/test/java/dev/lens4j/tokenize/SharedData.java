package dev.lens4j.tokenize;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates ../shared (surefire passes it as lens4j.shared); tests skip when a clone has no such folder. */
final class SharedData {
    private SharedData() {}

    static Path file(String relative) {
        String root = System.getProperty("lens4j.shared");
        Assumptions.assumeTrue(root != null && !root.isEmpty(),
                "skipped: system property lens4j.shared is not set (run through Maven, or pass -Dlens4j.shared=...)");
        Path p = Path.of(root).resolve(relative);
        Assumptions.assumeTrue(Files.exists(p), "skipped: shared test data absent: " + p);
        return p;
    }

    static Path gpt2Dir() { return file("models/gpt2-tokenizer"); }

    static Path tok512() { return file("models/stories260K/tok512.bin"); }
}
