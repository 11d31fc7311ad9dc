package dev.lens4j.load;

import java.io.IOException;
import java.nio.file.Path;

/** Test fixtures of this package for tests elsewhere. */
public final class Llama2cCheckpointTestAccess {
    private Llama2cCheckpointTestAccess() {}

    /** Llama2cCheckpointTest's tiny llama2.c file (vocab 3, shared classifier). */
    public static Path tiny(Path f) throws IOException { return Llama2cCheckpointTest.tiny(f, true, 0); }
}
