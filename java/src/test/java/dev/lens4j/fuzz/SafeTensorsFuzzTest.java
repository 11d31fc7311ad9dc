package dev.lens4j.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The safetensors reader on arbitrary bytes: open, list, read every tensor it claims to hold.
 * Seeds (SafeTensorsFuzzTestInputs/safetensors/) are small valid files of every dtype lens4j reads, plus findings.
 */
class SafeTensorsFuzzTest {
    @FuzzTest(maxDuration = "10m")
    void safetensors(byte[] data) { run(data); }

    /** One input; true when it loaded and ran, false when it was rejected with an accepted exception. */
    static boolean run(byte[] data) {
        return FuzzContract.check(tmp -> {
            Path f = Files.write(tmp.resolve("model.safetensors"), data);
            try (SafeTensors st = SafeTensors.open(f)) {
                st.metadata().forEach((k, v) -> { if (k == null || v == null) throw new AssertionError("null metadata"); });
                for (String name : st.names()) {
                    SafeTensors.Info i = st.info(name);
                    if (!i.isFloat() && !i.isInt()) continue;
                    try (Tensor t = st.read(name)) {
                        if (t.numel() != i.numel()) throw new AssertionError(name + ": read " + t.numel() + " elements, header says " + i.numel());
                    }
                }
            }
        });
    }
}
