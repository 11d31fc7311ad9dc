package dev.lens4j.spark;

import dev.lens4j.cli.Main;
import dev.lens4j.cli.SparkJobs;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.scan.NeuronScan;
import dev.lens4j.tensor.Tensor;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Spark scan against the plain scan of the same corpus (the reference: one process, documents in order):
 * the same files, top-k lists identical, moments within 1e-6, whatever the partitioning, with failed tasks, and after
 * an interrupted job.
 */
class SparkScanTest {
    static SparkSession spark;
    static final AtomicInteger failedTasks = new AtomicInteger();
    @TempDir static Path tmp;
    static Path model, corpus, plain;

    @BeforeAll static void setUp() throws IOException {
        model = SparkFixture.stories260K();
        spark = SparkFixture.session();
        spark.sparkContext().addSparkListener(new SparkListener() {
            @Override public void onTaskEnd(SparkListenerTaskEnd e) { if (e.taskInfo().failed()) failedTasks.incrementAndGet(); }
        });
        // documents of many lengths: some split over several 32-token rows, one empty, one a plain text file
        corpus = Files.createDirectories(tmp.resolve("corpus"));
        StringBuilder jl = new StringBuilder();
        String[] words = {"Once upon a time", "there was a little girl named Lily", "She loved to play outside", "in the park with her dog",
                "One day", "the sun was shining", "and the birds sang", "Tom said hello"};
        for (int d = 0; d < 23; d++) {
            StringBuilder t = new StringBuilder();
            for (int w = 0; w < 1 + (d * 7) % 17; w++) t.append(w == 0 ? "" : ", ").append(words[(d + w * 3) % words.length]);
            jl.append("{\"text\": \"").append(d == 5 ? "" : t + ".").append("\"}\n");
        }
        Files.writeString(corpus.resolve("a.jsonl"), jl);
        Files.writeString(corpus.resolve("b.txt"), "The little dog ran to the park. Lily was happy and she smiled at the sun.");
        plain = tmp.resolve("plain");
        assertEquals(0, Main.execute(scanArgs(plain)));
    }

    @AfterAll static void tearDown() { if (spark != null) spark.stop(); }

    static String[] scanArgs(Path out, String... more) {
        return Stream.concat(Stream.of("scan", "--model", model.toString(), "--corpus", corpus.toString(), "--hooks", "mlp\\.hook_post$|hook_resid_post$",
                "--top-k", "5", "--seq-len", "32", "--batch", "4", "--out", out.toString()), Stream.of(more)).toArray(String[]::new);
    }

    static void assertSameAsPlain(Path out) throws IOException {
        SparkFixture.assertSameTensors(plain.resolve("neurons.safetensors"), out.resolve("neurons.safetensors"), 1e-6);
        assertEquals(Files.readString(plain.resolve("docs.jsonl")), Files.readString(out.resolve("docs.jsonl")));
        assertEquals(Files.readString(plain.resolve("index.json")), Files.readString(out.resolve("index.json")));
        assertEquals(Files.readString(plain.resolve("browser/h0/n3.html")), Files.readString(out.resolve("browser/h0/n3.html")));
    }

    @Test void cliScanWithSparkEqualsThePlainScan() throws IOException {
        long live = Tensor.liveBytes();
        Path out = tmp.resolve("cli");
        assertEquals(0, Main.execute(scanArgs(out, "--spark", SparkFixture.MASTER, "--partitions", "5")));
        assertSameAsPlain(out);
        // fixed key order, so that runs in different JVMs write the same bytes
        assertEquals("{\"id\":0,\"file\":\"" + corpus.resolve("a.jsonl") + "\",\"line\":1}", Files.readAllLines(out.resolve("docs.jsonl")).get(0));
        try (Stream<Path> parts = Files.list(out.resolve("spark-parts"))) {
            assertEquals(5, parts.filter(p -> p.getFileName().toString().startsWith("part-")).count());
        }
        assertEquals(live, Tensor.liveBytes(), "native memory left after the job");
    }

    @Test void anyPartitioningGivesTheSameResult() throws IOException {
        for (int p : new int[] {1, 2, 24, 40}) { // 24 docs: one per partition; 40: empty partitions too
            Path out = tmp.resolve("p" + p);
            var r = run(out, p, null, null);
            assertEquals(p, r.computed());
            assertEquals(0, r.reused());
            assertSameAsPlain(out);
        }
    }

    @Test void failedTasksAreRetriedWithTheSameResult() throws IOException {
        int before = failedTasks.get();
        Path out = tmp.resolve("retried");
        run(out, 4, "0,3", null);
        assertTrue(failedTasks.get() - before >= 2, "the injected failures happened: " + (failedTasks.get() - before));
        assertSameAsPlain(out);
    }

    @Test void aRerunAfterAnInterruptedJobSkipsCommittedPartitions() throws IOException {
        long live = Tensor.liveBytes();
        Path out = tmp.resolve("interrupted");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> run(out, 6, null, "5"));
        assertTrue(e.getMessage().contains("injected failure in partition 5"), e.getMessage());
        assertEquals(live, Tensor.liveBytes(), "native memory left after the failed job");
        int committed;
        try (Stream<Path> parts = Files.list(out.resolve("spark-parts"))) {
            committed = (int) parts.filter(p -> p.getFileName().toString().startsWith("part-")).count();
        }
        assertTrue(committed >= 1 && committed <= 5, "partitions committed before the failure: " + committed);
        assertTrue(!Files.exists(out.resolve("neurons.safetensors")));
        var r = run(out, 6, null, null);
        assertEquals(6 - committed, r.computed());
        assertEquals(committed, r.reused());
        assertSameAsPlain(out);
    }

    @Test void aParquetCorpusGivesTheStatisticsOfTheSameDocumentsAsJsonLines() throws IOException {
        // the JSON lines and then the text file, as rows of one Parquet file in the plain scan's document order
        List<String> texts = new java.util.ArrayList<>();
        for (String line : Files.readAllLines(corpus.resolve("a.jsonl")))
            texts.add(new com.fasterxml.jackson.databind.ObjectMapper().readTree(line).get("text").asText());
        texts.add(Files.readString(corpus.resolve("b.txt")));
        Path pq = tmp.resolve("corpus.parquet");
        spark.createDataset(texts, org.apache.spark.sql.Encoders.STRING()).toDF("text").coalesce(1).write().parquet(pq.toString());
        Path out = tmp.resolve("parquet");
        assertEquals(0, Main.execute("scan", "--model", model.toString(), "--corpus", pq.toString(), "--hooks", "mlp\\.hook_post$|hook_resid_post$",
                "--top-k", "5", "--seq-len", "32", "--batch", "4", "--out", out.toString(), "--spark", SparkFixture.MASTER, "--partitions", "3"));
        SparkFixture.assertSameTensors(plain.resolve("neurons.safetensors"), out.resolve("neurons.safetensors"), 1e-6);
        assertTrue(Files.readString(out.resolve("docs.jsonl")).contains("\"line\":24"), "rows are numbered as lines");
    }

    @Test void aRerunWithOtherOptionsDoesNotReuseParts() {
        Path out = tmp.resolve("other");
        run(out, 3, null, null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> run(out, 4, null, null));
        assertTrue(e.getMessage().contains("holds partitions of another job"), e.getMessage());
    }

    /** The job as the CLI runs it, with the options of scanArgs and injected faults (partition lists). */
    static ScanJob.Outcome run(Path out, int partitions, String failFirst, String failAlways) {
        SparkJobs.ModelSpec spec = new SparkJobs.ModelSpec(model.toString(), null, null, false, false, null);
        List<String> hooks;
        try (HookedTransformer m = spec.load()) {
            hooks = m.hookNames().stream().filter(n -> n.matches(".*(mlp\\.hook_post|hook_resid_post)$")).toList();
        }
        var o = new NeuronScan.Options(hooks, 5, 32, 4, Long.MAX_VALUE, 50, 24, 0);
        var sc = spark.sparkContext();
        sc.setLocalProperty(ExecutorModels.FAIL_FIRST_ATTEMPT, failFirst);
        sc.setLocalProperty(ExecutorModels.FAIL_ALWAYS, failAlways);
        try {
            return LensSparkJobs.inSession(SparkFixture.MASTER, "test", s -> ScanJob.run(s, spec, List.of(corpus), o, partitions, out));
        } finally {
            sc.setLocalProperty(ExecutorModels.FAIL_FIRST_ATTEMPT, null);
            sc.setLocalProperty(ExecutorModels.FAIL_ALWAYS, null);
        }
    }
}
