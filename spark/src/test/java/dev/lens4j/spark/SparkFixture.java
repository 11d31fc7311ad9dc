package dev.lens4j.spark;

import dev.lens4j.load.SafeTensors;
import dev.lens4j.tensor.Tensor;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the Spark tests share: one local session (2 task slots, a failed task retried once), stories260K, comparisons. */
final class SparkFixture {
    static final String MASTER = "local[2,2]";

    private SparkFixture() {}

    static SparkSession session() {
        return SparkSession.builder().appName("lens4j-test").master(MASTER).config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "2").getOrCreate();
    }

    /** ../shared's stories260K (a real trained Llama), or a skipped test saying it is absent. */
    static Path stories260K() {
        String p = System.getProperty("lens4j.shared");
        Path f = p == null ? null : Path.of(p, "models/stories260K/stories260K.bin");
        Assumptions.assumeTrue(f != null && Files.isRegularFile(f), "skipped: ../shared/models/stories260K/stories260K.bin not found (lens4j.shared=" + p + ")");
        return f;
    }

    /** Every tensor of a safetensors file as doubles, by name. */
    static Map<String, double[]> read(Path file) {
        Map<String, double[]> out = new TreeMap<>();
        try (SafeTensors st = SafeTensors.open(file)) {
            for (String n : st.names())
                try (Tensor t = st.read(n)) {
                    double[] d = new double[(int) t.numel()];
                    if (t.dtype() == dev.lens4j.tensor.DType.F32) { float[] f = t.toFloatArray(); for (int i = 0; i < d.length; i++) d[i] = f[i]; }
                    else { int[] v = t.toIntArray(); for (int i = 0; i < d.length; i++) d[i] = v[i]; }
                    out.put(n, d);
                }
        }
        return out;
    }

    /** Same tensors; integer ones (top-k documents, positions, fill counts) exactly, the others within tol (relative above 1). */
    static void assertSameTensors(Path expected, Path actual, double tol) {
        Map<String, double[]> a = read(expected), b = read(actual);
        assertEquals(a.keySet(), b.keySet());
        for (String n : a.keySet()) {
            double[] x = a.get(n), y = b.get(n);
            assertEquals(x.length, y.length, n);
            for (int i = 0; i < x.length; i++) {
                if (Double.isNaN(x[i])) { assertTrue(Double.isNaN(y[i]), n + "[" + i + "]"); continue; }
                double allowed = n.endsWith("top_docs") || n.endsWith("top_positions") || n.endsWith("filled") ? 0 : tol * Math.max(1, Math.abs(x[i]));
                assertTrue(Math.abs(x[i] - y[i]) <= allowed, n + "[" + i + "]: expected " + x[i] + ", got " + y[i]);
            }
        }
    }
}
