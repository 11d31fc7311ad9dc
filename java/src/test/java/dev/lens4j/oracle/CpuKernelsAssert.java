package dev.lens4j.oracle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tolerance checks shared by the ragged-batch and generation tests. */
final class CpuKernelsAssert {
    private CpuKernelsAssert() {}

    /** max |ref - got| <= rel * max(1, max |ref|). */
    static void close(String what, double[] ref, float[] got, double rel) {
        assertEquals(ref.length, got.length, what + ": length");
        double max = 1, err = 0;
        for (double r : ref) max = Math.max(max, Math.abs(r));
        for (int i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(ref[i] - got[i]));
        assertTrue(err <= rel * max, what + ": max abs error " + err + " > " + rel + " x " + max);
    }
}
