package dev.lens4j.spark;

import dev.lens4j.cli.SparkJobs.ModelSpec;
import dev.lens4j.scan.Corpus;
import dev.lens4j.scan.NeuronScan;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * `./lens4j scan` as a Spark job: the corpus's documents (ids as the plain scan numbers them) in contiguous
 * partitions; each executor scans its partitions with the model it loaded once, commits each partition's statistics
 * to DIR/spark-parts and sends them back; a tree of native merges gives the corpus's statistics, which the driver
 * writes exactly as the plain scan does (neurons.safetensors, index.json, docs.jsonl, the browser).
 */
final class ScanJob {
    /** A document as executors receive it. */
    record Doc(long id, String file, int line, String text) implements Serializable {
        Corpus.Document document() { return new Corpus.Document(id, Path.of(file), line, text); }
    }

    /** What a run did: partitions computed now, those a previous run had committed, seconds in the job and writing the outputs. */
    record Outcome(int computed, int reused, double jobSeconds, double outputSeconds) {}

    private ScanJob() {}

    static Outcome run(SparkSession spark, ModelSpec spec, List<Path> corpusPaths, NeuronScan.Options o, int partitions, Path out) {
        if (partitions < 1) throw new IllegalArgumentException("--partitions must be >= 1, got " + partitions);
        if (o.maxTokens() != Long.MAX_VALUE) throw new IllegalArgumentException("a Spark scan covers the whole corpus: no --max-tokens");
        Corpus corpus = Corpus.of(corpusPaths);
        List<Doc> docs = documents(spark, corpus, corpusPaths);
        CommittedParts parts = new CommittedParts(out, key(spec, corpus, o, partitions));
        int reused = parts.count(partitions);
        List<String> hooks = o.hooks();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        long t0 = System.nanoTime();
        ScanPartial total = sc.parallelize(docs, partitions).mapPartitionsWithIndex((index, it) -> {
            ExecutorModels.startTask(index);
            Path file = parts.file(index);
            if (Files.isRegularFile(file)) return List.of(ScanPartial.read(file)).iterator(); // committed by an earlier run
            Iterator<Corpus.Document> mine = new Iterator<>() {
                @Override public boolean hasNext() { return it.hasNext(); }
                @Override public Corpus.Document next() { return it.next().document(); }
            };
            ScanPartial p;
            try (NeuronScan.Part part = NeuronScan.scanPart(ExecutorModels.get(spec), mine, o)) {
                p = ScanPartial.of(part);
            }
            p.write(file);
            return List.of(p).iterator();
        }, false).treeReduce((a, b) -> ScanPartial.merge(a, b, hooks), 2);
        long t1 = System.nanoTime();
        List<String> names = corpus.files().stream().map(Path::toString).toList();
        NeuronScan.writeOutputs(ExecutorModels.get(spec), () -> docs.stream().map(Doc::document).iterator(), names, o, out, total.toPart(hooks));
        return new Outcome(partitions - reused, reused, (t1 - t0) / 1e9, (System.nanoTime() - t1) / 1e9);
    }

    /**
     * The documents in id order: text files and JSON lines as the plain scan reads them; Parquet files or directories
     * (every path named *.parquet) through Spark, one document per row of their "text" column, numbered in file order.
     */
    private static List<Doc> documents(SparkSession spark, Corpus corpus, List<Path> paths) {
        long parquet = paths.stream().filter(p -> p.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".parquet")).count();
        List<Doc> docs = new ArrayList<>();
        if (parquet == 0) {
            for (Iterator<Corpus.Document> it = corpus.documents(); it.hasNext(); ) {
                Corpus.Document d = it.next();
                docs.add(new Doc(d.id(), d.file().toString(), d.line(), d.text()));
            }
            return docs;
        }
        if (parquet != paths.size()) throw new IllegalArgumentException("--corpus: Parquet (*.parquet) and text corpora cannot be mixed: " + paths);
        for (Path p : paths) {
            var df = spark.read().parquet(p.toString());
            if (!java.util.Arrays.asList(df.columns()).contains("text"))
                throw new IllegalArgumentException("corpus " + p + ": a Parquet corpus needs a string column \"text\", found " + java.util.Arrays.toString(df.columns()));
            int line = 0;
            for (Iterator<org.apache.spark.sql.Row> it = df.select("text").toLocalIterator(); it.hasNext(); ) {
                org.apache.spark.sql.Row r = it.next();
                line++;
                if (r.isNullAt(0)) throw new IllegalArgumentException("corpus " + p + " row " + line + ": \"text\" is null");
                docs.add(new Doc(docs.size(), p.toString(), line, r.getString(0)));
            }
        }
        return docs;
    }

    /** What a committed partition depends on: a rerun with anything else changed must not reuse it. */
    private static String key(ModelSpec spec, Corpus corpus, NeuronScan.Options o, int partitions) {
        StringBuilder k = new StringBuilder("lens4j spark scan\nmodel=").append(spec).append("\noptions=").append(o.resumeKey())
                .append("\npartitions=").append(partitions).append('\n');
        for (Path f : corpus.files()) {
            try {
                k.append("corpus=").append(f).append(" bytes=").append(Files.size(f)).append(" modified=").append(Files.getLastModifiedTime(f)).append('\n');
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("corpus " + f + ": " + e.getMessage(), e);
            }
        }
        return k.toString();
    }

}
