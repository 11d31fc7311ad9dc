package dev.lens4j.spark;

import dev.lens4j.cli.Main;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * `sweep --kind score-neurons` against `score-neurons` run in one process on each prompt alone (the sweep scores prompts
 * one at a time; `score-neurons --prompts` batches them, which rounds differently, about 1e-6 relative), and `sweep --kind metric` against a
 * plain forward per prompt with the logit difference and log-softmax computed here; both again after an interrupted job
 * and failed first attempts (the rerun reuses the committed partitions untouched).
 */
class SparkPromptSweepTest {
    static SparkSession spark;
    static final AtomicInteger failedTasks = new AtomicInteger();
    @TempDir static Path tmp;
    static Path model, neuronPrompts, metricPrompts, batched;
    /** score-neurons' c, g, margin and c_per_prompt, from one run per prompt: c and g summed here, in double. */
    static final Map<String, double[]> expected = new java.util.TreeMap<>();
    static final String[] TEXTS = {"Lily was a happy girl. One day,", "Tim was a happy boy. One day,", "Once upon a time, Lily said that",
            "Tom had a red ball. Then", "The little girl went to the park and"};
    static final String[][] ANSWERS = {{" she", " he"}, {" he", " she"}, {" she", " he"}, {" he", " she"}, {" she", " he"}};

    @BeforeAll static void setUp() throws IOException {
        model = SparkFixture.stories260K();
        spark = SparkFixture.session();
        spark.sparkContext().addSparkListener(new SparkListener() {
            @Override public void onTaskEnd(SparkListenerTaskEnd e) { if (e.taskInfo().failed()) failedTasks.incrementAndGet(); }
        });
        StringBuilder sn = new StringBuilder("# forced-choice prompts\n"), mt = new StringBuilder();
        for (int i = 0; i < TEXTS.length; i++) {
            sn.append(String.format("{\"prompt\": \"%s\", \"truth\": \"%s\", \"group\": \"%s\"}%n", TEXTS[i], i % 2 == 0 ? "yes" : "no", i < 3 ? "a" : "b"));
            mt.append(String.format("{\"prompt\": \"%s\", \"answer\": \"%s\", \"wrong\": \"%s\"}%n", TEXTS[i], ANSWERS[i][0], ANSWERS[i][1]));
        }
        neuronPrompts = Files.writeString(tmp.resolve("neurons.jsonl"), sn);
        metricPrompts = Files.writeString(tmp.resolve("metric.jsonl"), mt);
        batched = tmp.resolve("score-neurons.safetensors");
        assertEquals(0, Main.execute("score-neurons", "--model", model.toString(), "--prompts", neuronPrompts.toString(), "--yes", " she", "--no", " he",
                "--layer", "3", "--out", batched.toString()));
        int n = TEXTS.length;
        for (int i = 0; i < n; i++) {
            Path alone = tmp.resolve("alone" + i + ".safetensors");
            assertEquals(0, Main.execute("score-neurons", "--model", model.toString(), "--prompt", TEXTS[i], "--truth", i % 2 == 0 ? "yes" : "no",
                    "--yes", " she", "--no", " he", "--layer", "3", "--out", alone.toString()));
            Map<String, double[]> one = SparkFixture.read(alone);
            int F = one.get("c").length, D = one.get("g").length;
            expected.computeIfAbsent("c_per_prompt", k -> new double[n * F]);
            System.arraycopy(one.get("c"), 0, expected.get("c_per_prompt"), i * F, F);
            expected.computeIfAbsent("margin", k -> new double[n])[i] = one.get("margin")[0];
            for (String k : new String[] {"c", "g"}) {
                double[] sum = expected.computeIfAbsent(k, x -> new double[k.equals("c") ? F : D]);
                for (int j = 0; j < sum.length; j++) sum[j] += one.get(k)[j];
            }
        }
    }

    @AfterAll static void tearDown() { if (spark != null) spark.stop(); }

    static String[] scoreArgs(Path out) {
        return new String[] {"sweep", "--kind", "score-neurons", "--model", model.toString(), "--prompts", neuronPrompts.toString(), "--yes", " she",
                "--no", " he", "--layer", "3", "--spark", SparkFixture.MASTER, "--partitions", "3", "--out", out.toString()};
    }

    static String[] metricArgs(Path out) {
        return new String[] {"sweep", "--kind", "metric", "--model", model.toString(), "--prompts", metricPrompts.toString(),
                "--spark", SparkFixture.MASTER, "--partitions", "3", "--out", out.toString()};
    }

    @Test void scoreNeuronsSweepEqualsScoreNeurons() {
        Path out = tmp.resolve("score");
        assertEquals(0, Main.execute(scoreArgs(out)));
        assertScoresMatchReference(out);
    }

    /** sums.safetensors has score-neurons' c, g and margin; each Parquet row its prompt's c, truth, group, margin. */
    static void assertScoresMatchReference(Path out) {
        Map<String, double[]> want = expected, got = SparkFixture.read(out.resolve("sums.safetensors")), all = SparkFixture.read(batched);
        assertEquals(List.of("c", "g", "margin"), List.copyOf(got.keySet()));
        for (String k : got.keySet()) {
            assertClose(want.get(k), got.get(k), k, 1e-6);
            assertClose(all.get(k), got.get(k), k + " (score-neurons --prompts, batched)", 1e-5);
        }
        try (SafeTensors st = SafeTensors.open(out.resolve("sums.safetensors"))) {
            assertEquals("3", st.metadata().get("layer"));
        }
        List<Row> rows = spark.read().parquet(out.resolve("prompts.parquet").toString()).orderBy("line").collectAsList();
        assertEquals(TEXTS.length, rows.size());
        double[] perPrompt = want.get("c_per_prompt");
        int F = perPrompt.length / TEXTS.length;
        for (int i = 0; i < TEXTS.length; i++) {
            Row r = rows.get(i);
            assertEquals(i + 2, r.getInt(0), "line (after the comment line)");
            assertEquals(i < 3 ? "a" : "b", r.getString(1));
            assertEquals(i % 2 == 0 ? "yes" : "no", r.getString(2));
            assertClose(new double[] {want.get("margin")[i]}, new double[] {r.getDouble(3)}, "margin of line " + (i + 2));
            List<Float> c = r.getList(4);
            assertEquals(F, c.size());
            double[] cw = java.util.Arrays.copyOfRange(perPrompt, i * F, (i + 1) * F), cg = c.stream().mapToDouble(Float::doubleValue).toArray();
            assertClose(cw, cg, "c of line " + (i + 2));
        }
    }

    @Test void metricSweepEqualsAPlainForwardPerPrompt() {
        Path out = tmp.resolve("metric");
        assertEquals(0, Main.execute(metricArgs(out)));
        assertMetricsMatchForward(out);
    }

    /** logit_diff and log_prob per prompt, from each prompt's own forward, computed here in double. */
    static void assertMetricsMatchForward(Path out) {
        int n = TEXTS.length;
        double[] diff = new double[n], logProb = new double[n];
        try (HookedTransformer m = new dev.lens4j.cli.SparkJobs.ModelSpec(model.toString(), null, null, false, false, null).load()) {
            for (int i = 0; i < n; i++) {
                int a = m.answerToken(TEXTS[i], ANSWERS[i][0]), w = m.answerToken(TEXTS[i], ANSWERS[i][1]);
                float[] logits;
                try (var o = m.run(new int[][] {m.toTokens(TEXTS[i])}, new HookedTransformer.RunOptions())) {
                    float[] all = o.logits().toFloatArray();
                    int V = (int) o.logits().size(2);
                    logits = java.util.Arrays.copyOfRange(all, all.length - V, all.length);
                }
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (float x : logits) max = Math.max(max, x);
                for (float x : logits) sum += Math.exp(x - max);
                diff[i] = logits[a] - logits[w];
                logProb[i] = logits[a] - max - Math.log(sum);
            }
        }
        Map<String, double[]> got = SparkFixture.read(out.resolve("metric.safetensors"));
        assertEquals(List.of("log_prob", "logit_diff"), List.copyOf(got.keySet()));
        assertClose(diff, got.get("logit_diff"), "logit_diff");
        assertClose(logProb, got.get("log_prob"), "log_prob");
        assertTrue(java.util.Arrays.stream(diff).anyMatch(d -> Math.abs(d) > 1e-3), "the metric is not trivially zero");
        List<Row> rows = spark.read().parquet(out.resolve("prompts.parquet").toString()).orderBy("line").collectAsList();
        assertEquals(n, rows.size());
        for (int i = 0; i < n; i++) {
            assertEquals(i + 1, rows.get(i).getInt(0));
            assertClose(new double[] {diff[i], logProb[i]}, new double[] {rows.get(i).getDouble(1), rows.get(i).getDouble(2)}, "row of line " + (i + 1));
        }
    }

    @Test void anInterruptedSweepRerunWithFailedAttemptsGivesTheSameResults() throws IOException {
        long live = Tensor.liveBytes();
        Path score = tmp.resolve("score-faults"), metric = tmp.resolve("metric-faults");
        for (Path out : List.of(score, metric)) {
            String[] args = out == score ? scoreArgs(out) : metricArgs(out);
            assertNotEquals(0, withFaults(null, "2", args), "the interrupted job fails");
            assertFalse(Files.exists(out.resolve(out == score ? "sums.safetensors" : "metric.safetensors")));
            Map<Path, FileTime> committed = SparkSweepTest.committed(out);
            assertTrue(!committed.isEmpty() && committed.size() < 3, "partitions committed by the interrupted job: " + committed.size());
            int before = failedTasks.get();
            assertEquals(0, withFaults("0,1,2", null, args), "the rerun, every partition failing once first");
            assertTrue(failedTasks.get() - before >= 1, "an injected first-attempt failure happened");
            Map<Path, FileTime> after = SparkSweepTest.committed(out);
            assertEquals(3, after.size());
            committed.forEach((f, time) -> assertEquals(time, after.get(f), f + " was recomputed, not reused"));
        }
        assertEquals(live, Tensor.liveBytes(), "native memory left after the jobs");
        assertScoresMatchReference(score);
        assertMetricsMatchForward(metric);
        // the same directory with another kind's job is refused, not mixed
        String[] other = metricArgs(score);
        Err e = cli(other);
        assertEquals(2, e.code);
        assertTrue(e.text.contains("holds partitions of another job"), e.text);
    }

    @Test void badKindsOptionsAndFieldsAreOneLineErrors() throws IOException {
        Path out = tmp.resolve("bad");
        assertOneLineError(cli("sweep", "--kind", "neurons", "--model", model.toString(), "--prompts", metricPrompts.toString(), "--out", out.toString()),
                "--kind must be attribute, score-neurons or metric, got 'neurons'");
        assertOneLineError(cli("sweep", "--kind", "metric", "--yes", " she", "--model", model.toString(), "--prompts", metricPrompts.toString(),
                "--out", out.toString()), "--yes does not apply to --kind metric");
        // score-neurons prompts given to the metric kind, and metric prompts lacking an answer
        assertOneLineError(cli("sweep", "--kind", "metric", "--model", model.toString(), "--prompts", neuronPrompts.toString(), "--out", out.toString()),
                "unknown field \"truth\"");
        Path noAnswer = Files.writeString(tmp.resolve("no-answer.jsonl"), "{\"prompt\": \"Lily was\"}\n");
        assertOneLineError(cli("sweep", "--kind", "metric", "--model", model.toString(), "--prompts", noAnswer.toString(), "--out", out.toString()),
                "line 1: no \"answer\" field and no --answer option");
        assertOneLineError(cli("sweep", "--kind", "score-neurons", "--model", model.toString(), "--prompts", metricPrompts.toString(), "--yes", " she",
                "--no", " he", "--out", out.toString()), "unknown field \"answer\"");
        assertOneLineError(cli("sweep", "--kind", "score-neurons", "--model", model.toString(), "--prompts", neuronPrompts.toString(), "--yes", " she",
                "--no", " he", "--layer", "9", "--out", out.toString()), "--layer 9 is out of range");
        assertFalse(Files.exists(out.resolve("spark-parts")), "nothing ran");
    }

    record Err(int code, String text) {}

    static Err cli(String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        System.setErr(new PrintStream(b, true));
        try {
            return new Err(Main.execute(args), b.toString());
        } finally {
            System.setErr(old);
        }
    }

    static void assertOneLineError(Err e, String message) {
        assertEquals(2, e.code, e.text);
        assertTrue(e.text.contains(message), e.text);
        assertEquals(1, e.text.strip().lines().count(), "one line: " + e.text);
    }

    static int withFaults(String failFirst, String failAlways, String... args) {
        var sc = spark.sparkContext();
        sc.setLocalProperty(ExecutorModels.FAIL_FIRST_ATTEMPT, failFirst);
        sc.setLocalProperty(ExecutorModels.FAIL_ALWAYS, failAlways);
        try {
            return cli(args).code;
        } finally {
            sc.setLocalProperty(ExecutorModels.FAIL_FIRST_ATTEMPT, null);
            sc.setLocalProperty(ExecutorModels.FAIL_ALWAYS, null);
        }
    }

    /** Within tol (1e-6 unless given), relative above 1. */
    static void assertClose(double[] want, double[] got, String what) { assertClose(want, got, what, 1e-6); }

    static void assertClose(double[] want, double[] got, String what, double tol) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++)
            assertTrue(Math.abs(want[i] - got[i]) <= tol * Math.max(1, Math.abs(want[i])), what + "[" + i + "]: expected " + want[i] + ", got " + got[i]);
    }
}
