package dev.lens4j.spark;

import dev.lens4j.cli.SparkJobs.ModelSpec;
import dev.lens4j.cli.SparkJobs.PromptResults;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A per-prompt sweep (score-neurons, metric) as a Spark job: each executor computes its partition's prompts with the
 * model it loaded once and commits them to DIR/spark-parts as columns (line [n], one F32 [n, width] tensor per value).
 * Width-1 columns come back to the driver per prompt, wider ones summed in double in prompt order (read from the
 * committed file, so a reused partition sums exactly as a computed one); the committed rows joined with their prompts
 * become DIR/prompts.parquet.
 */
final class PromptSweepJob {
    /** One prompt as executors receive it: its line in the prompt file and what the kind needs. */
    interface Item extends Serializable { int line(); }

    /** What a kind computes per prompt and its Parquet rows. Its toString (a record's) names its options, for the job key. */
    interface Kind<T extends Item> extends Serializable {
        StructType schema();

        /** The items' values in item order: column name -> [n][width]. */
        Map<String, float[][]> compute(HookedTransformer model, List<T> items);

        /** The Parquet row of one item, given its values (column name -> [width]). */
        Row row(T item, Map<String, float[]> values);
    }

    /** A committed partition as the driver receives it. */
    record Partial(int[] lines, Map<String, float[]> perPrompt, Map<String, double[]> sums) implements Serializable {}

    private PromptSweepJob() {}

    static <T extends Item> PromptResults run(SparkSession spark, ModelSpec spec, Kind<T> kind, List<T> items, int partitions, Path out) {
        if (partitions < 1) throw new IllegalArgumentException("--partitions must be >= 1, got " + partitions);
        if (items.isEmpty()) throw new IllegalArgumentException("no prompts given");
        CommittedParts parts = new CommittedParts(out, key(spec, kind, items, partitions));
        int reused = parts.count(partitions);
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        JavaRDD<T> input = sc.parallelize(items, partitions); // the same split every time: part p always holds the same prompts
        List<Partial> partials = input.mapPartitionsWithIndex((index, it) -> {
            ExecutorModels.startTask(index);
            Path file = parts.file(index);
            if (!Files.isRegularFile(file)) {
                List<T> mine = new ArrayList<>();
                it.forEachRemaining(mine::add);
                commit(mine.isEmpty() ? Map.of() : kind.compute(ExecutorModels.get(spec), mine), mine, file);
            }
            return List.of(partialOf(file)).iterator();
        }, false).collect();
        var rows = input.mapPartitionsWithIndex((index, it) -> rowsOf(kind, it, parts.file(index)), false);
        spark.createDataFrame(rows, kind.schema()).write().mode(SaveMode.Overwrite).parquet(out.resolve("prompts.parquet").toString());
        System.err.printf("spark: %d partition(s) computed, %d reused from %s%n", partitions - reused, reused, out.resolve("spark-parts"));
        return combine(partials, items.size());
    }

    /** Partials in partition order, so in prompt order: per-prompt values concatenated, sums added. */
    private static PromptResults combine(List<Partial> partials, int n) {
        Map<String, double[]> perPrompt = new LinkedHashMap<>(), sums = new LinkedHashMap<>();
        int at = 0;
        for (Partial p : partials) {
            for (var e : p.perPrompt().entrySet()) {
                double[] all = perPrompt.computeIfAbsent(e.getKey(), k -> new double[n]);
                for (int i = 0; i < e.getValue().length; i++) all[at + i] = e.getValue()[i];
            }
            for (var e : p.sums().entrySet()) {
                double[] s = sums.computeIfAbsent(e.getKey(), k -> new double[e.getValue().length]);
                for (int j = 0; j < s.length; j++) s[j] += e.getValue()[j];
            }
            at += p.lines().length;
        }
        if (at != n) throw new IllegalStateException("sweep gathered " + at + " prompts of " + n);
        return new PromptResults(perPrompt, sums);
    }

    private static <T extends Item> void commit(Map<String, float[][]> columns, List<T> items, Path file) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        try {
            if (!items.isEmpty()) {
                t.put("line", Tensor.ofInts(items.stream().mapToInt(Item::line).toArray(), items.size()));
                columns.forEach((name, rows) -> {
                    int w = rows[0].length;
                    float[] f = new float[rows.length * w];
                    for (int i = 0; i < rows.length; i++) System.arraycopy(rows[i], 0, f, i * w, w);
                    t.put(name, Tensor.of(f, rows.length, w));
                });
            }
            SafeTensors.write(file, t, Map.of("prompts", Integer.toString(items.size())));
        } finally {
            t.values().forEach(Tensor::close);
        }
    }

    /** A committed partition's columns: line, and name -> [n * width] with its width. */
    private record Columns(int[] lines, Map<String, float[]> values, Map<String, Integer> widths) {}

    private static Columns read(Path file) {
        try (SafeTensors st = SafeTensors.open(file)) {
            int n = Integer.parseInt(st.metadata().get("prompts"));
            Map<String, float[]> values = new LinkedHashMap<>();
            Map<String, Integer> widths = new LinkedHashMap<>();
            int[] lines = new int[0];
            for (String name : st.names())
                try (Tensor t = st.read(name)) {
                    if (name.equals("line")) lines = t.toIntArray();
                    else { values.put(name, t.toFloatArray()); widths.put(name, (int) t.size(1)); }
                }
            if (lines.length != n) throw new IllegalArgumentException(lines.length + " lines for " + n + " prompts");
            return new Columns(lines, values, widths);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": not a committed sweep partition (" + e.getMessage() + ")");
        }
    }

    private static Partial partialOf(Path file) {
        Columns c = read(file);
        int n = c.lines().length;
        Map<String, float[]> perPrompt = new LinkedHashMap<>();
        Map<String, double[]> sums = new LinkedHashMap<>();
        c.values().forEach((name, v) -> {
            int w = c.widths().get(name);
            if (w == 1) { perPrompt.put(name, v); return; }
            double[] s = new double[w];
            for (int i = 0; i < n; i++) for (int j = 0; j < w; j++) s[j] += v[i * w + j];
            sums.put(name, s);
        });
        return new Partial(c.lines(), perPrompt, sums);
    }

    private static <T extends Item> Iterator<Row> rowsOf(Kind<T> kind, Iterator<T> it, Path file) {
        Columns c = read(file);
        List<Row> rows = new ArrayList<>(c.lines().length);
        for (int i = 0; it.hasNext(); i++) {
            T item = it.next();
            if (i >= c.lines().length || c.lines()[i] != item.line())
                throw new IllegalStateException(file + " does not hold the prompt of line " + item.line() + " at row " + i);
            Map<String, float[]> values = new LinkedHashMap<>();
            for (var e : c.values().entrySet()) {
                int w = c.widths().get(e.getKey());
                float[] v = new float[w];
                System.arraycopy(e.getValue(), i * w, v, 0, w);
                values.put(e.getKey(), v);
            }
            rows.add(kind.row(item, values));
        }
        return rows.iterator();
    }

    /** The job's identity: model, kind and options, the prompts (their serialized form, hashed) and the partitioning. */
    private static String key(ModelSpec spec, Kind<?> kind, List<? extends Item> items, int partitions) {
        try (ByteArrayOutputStream b = new ByteArrayOutputStream(); ObjectOutputStream o = new ObjectOutputStream(b)) {
            o.writeObject(new ArrayList<>(items));
            o.flush();
            String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b.toByteArray()));
            return "lens4j spark sweep " + kind + "\nmodel=" + spec + "\nprompts=" + items.size() + " sha256=" + hash + "\npartitions=" + partitions + "\n";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
