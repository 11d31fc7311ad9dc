package dev.lens4j.spark;

import dev.lens4j.analysis.AttributionPatching;
import dev.lens4j.cli.Main;
import dev.lens4j.cli.SparkJobs;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Spark sweep against `attribute` run in one process (the reference): its sums equal `attribute --prompts
 * --batch 1`, each Parquet row equals `attribute` on that pair alone, with failed tasks and after an interrupted job.
 * (--batch 1: the sweep runs pairs one at a time; a batched forward rounds differently, about 1e-6 relative.)
 */
class SparkSweepTest {
    static SparkSession spark;
    @TempDir static Path tmp;
    static Path model, prompts, reference;
    static final String[][] PAIRS = new String[4][];

    @BeforeAll static void setUp() throws IOException {
        model = SparkFixture.stories260K();
        spark = SparkFixture.session();
        StringBuilder jl = new StringBuilder();
        int i = 0;
        for (String thing : new String[] {"dog", "cat"})
            for (String[] ab : new String[][] {{"Lily", "Tim"}, {"Tim", "Lily"}}) {
                String a = ab[0], b = ab[1];
                PAIRS[i++] = new String[] {a + " went to the park. " + a + " saw a " + thing + ". Then", b + " went to the park. " + b + " saw a " + thing + ". Then",
                        " " + a, " " + b};
                jl.append(String.format("{\"clean\": \"%s\", \"corrupt\": \"%s\", \"answer\": \"%s\", \"wrong\": \"%s\"}%n", (Object[]) PAIRS[i - 1]));
            }
        prompts = tmp.resolve("pairs.jsonl");
        Files.writeString(prompts, jl);
        reference = tmp.resolve("reference.safetensors");
        assertEquals(0, Main.execute("attribute", "--model", model.toString(), "--prompts", prompts.toString(), "--batch", "1", "--out", reference.toString()));
    }

    @AfterAll static void tearDown() { if (spark != null) spark.stop(); }

    @Test void sweepEqualsAttributeAndEachRowEqualsItsPairAlone() throws IOException {
        Path out = tmp.resolve("cli");
        assertEquals(0, Main.execute("sweep", "--model", model.toString(), "--prompts", prompts.toString(), "--spark", SparkFixture.MASTER,
                "--partitions", "3", "--out", out.toString()));
        Path sums = out.resolve("sums.safetensors");
        SparkFixture.assertSameTensors(reference, sums, 1e-6);
        try (SafeTensors a = SafeTensors.open(reference); SafeTensors b = SafeTensors.open(sums)) {
            for (String k : new String[] {"clean_metric", "corrupt_metric"})
                assertEquals(Double.parseDouble(a.metadata().get(k)), Double.parseDouble(b.metadata().get(k)), 1e-9, k);
        }
        List<Row> rows = spark.read().parquet(out.resolve("prompts.parquet").toString()).orderBy("line").collectAsList();
        assertEquals(4, rows.size());
        for (int i = 0; i < 4; i++) {
            Row r = rows.get(i);
            assertEquals(i + 1, r.getInt(0));
            Path alone = tmp.resolve("alone" + i + ".safetensors");
            assertEquals(0, Main.execute("attribute", "--model", model.toString(), "--clean", PAIRS[i][0], "--corrupt", PAIRS[i][1],
                    "--answer", PAIRS[i][2], "--wrong", PAIRS[i][3], "--out", alone.toString()));
            Map<String, double[]> want = SparkFixture.read(alone);
            for (String col : new String[] {"mlp_neurons", "heads", "resid_pre"}) {
                List<Float> got = r.getList(r.fieldIndex(col));
                double[] w = want.get(col);
                assertEquals(w.length, got.size(), col);
                for (int j = 0; j < w.length; j++) assertEquals(w[j], got.get(j), 1e-6 * Math.max(1, Math.abs(w[j])), col + "[" + j + "] line " + (i + 1));
            }
        }
    }

    @Test void failedTasksAndAnInterruptedJobGiveTheSameSums() throws IOException {
        long live = Tensor.liveBytes();
        Path out = tmp.resolve("faults");
        assertThrows(IllegalStateException.class, () -> run(out, 4, null, "3"));
        Map<Path, FileTime> committed = committed(out);
        assertTrue(!committed.isEmpty() && committed.size() < 4, "partitions committed by the interrupted job: " + committed.size());
        var r = run(out, 4, "0,1", null); // partitions 0 and 1 also fail once first
        Map<Path, FileTime> after = committed(out);
        assertEquals(4, after.size());
        committed.forEach((f, time) -> assertEquals(time, after.get(f), f + " was recomputed, not reused"));
        assertEquals(live, Tensor.liveBytes(), "native memory left after the jobs");
        Path sums = tmp.resolve("faults.safetensors");
        Map<String, Tensor> t = r.toTensors();
        try {
            SafeTensors.write(sums, t, Map.of());
        } finally {
            t.values().forEach(Tensor::close);
        }
        SparkFixture.assertSameTensors(reference, sums, 1e-6);
    }

    static Map<Path, FileTime> committed(Path out) throws IOException {
        Map<Path, FileTime> m = new java.util.TreeMap<>();
        try (var s = Files.list(out.resolve("spark-parts"))) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith("part-")).toList()) m.put(p, Files.getLastModifiedTime(p));
        }
        return m;
    }

    static AttributionPatching.Result run(Path out, int partitions, String failFirst, String failAlways) {
        SparkJobs.ModelSpec spec = new SparkJobs.ModelSpec(model.toString(), null, null, false, false, null);
        int n = PAIRS.length;
        int[][] c = new int[n][], k = new int[n][];
        int[] a = new int[n], w = new int[n], lines = new int[n];
        try (HookedTransformer m = spec.load()) {
            for (int i = 0; i < n; i++) {
                c[i] = m.toTokens(PAIRS[i][0]);
                k[i] = m.toTokens(PAIRS[i][1]);
                a[i] = m.answerToken(PAIRS[i][0], PAIRS[i][2]);
                w[i] = m.answerToken(PAIRS[i][0], PAIRS[i][3]);
                lines[i] = i + 1;
            }
        }
        var sc = spark.sparkContext();
        sc.setLocalProperty(ExecutorModels.FAIL_FIRST_ATTEMPT, failFirst);
        sc.setLocalProperty(ExecutorModels.FAIL_ALWAYS, failAlways);
        try {
            return LensSparkJobs.inSession(SparkFixture.MASTER, "test", s -> SweepJob.run(s, spec, c, k, a, w, lines, partitions, out));
        } finally {
            sc.setLocalProperty(ExecutorModels.FAIL_FIRST_ATTEMPT, null);
            sc.setLocalProperty(ExecutorModels.FAIL_ALWAYS, null);
        }
    }

}
