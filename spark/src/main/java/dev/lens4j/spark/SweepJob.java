package dev.lens4j.spark;

import dev.lens4j.analysis.AttributionPatching;
import dev.lens4j.cli.SparkJobs.ModelSpec;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Metrics;
import dev.lens4j.tensor.Tensor;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Attribution patching over many prompt pairs as a Spark job: each executor runs its partitions' pairs one at a time
 * with the model it loaded once, commits the partition's per-pair scores to DIR/spark-parts and sends back their sum;
 * the sums are tree-reduced, and the committed per-pair scores become DIR/prompts.parquet.
 */
final class SweepJob {
    /** One pair as executors receive it: its line in the prompt file and its tokens. */
    record Pair(int line, int[] clean, int[] corrupt, int answer, int wrong) implements Serializable {}

    /** Summed scores (flattened as AttributionPatching.Result.of takes them) over `pairs` pairs. */
    record Sum(int pairs, double[] mlp, double[] heads, double[] resid, double clean, double corrupt) implements Serializable {
        Sum plus(Sum o) {
            if (pairs == 0) return o;
            if (o.pairs == 0) return this;
            return new Sum(pairs + o.pairs, add(mlp, o.mlp), add(heads, o.heads), add(resid, o.resid), clean + o.clean, corrupt + o.corrupt);
        }

        private static double[] add(double[] a, double[] b) {
            double[] r = a.clone();
            for (int i = 0; i < r.length; i++) r[i] += b[i];
            return r;
        }
    }

    static final StructType SCHEMA = new StructType()
            .add("line", DataTypes.IntegerType, false)
            .add("clean_metric", DataTypes.DoubleType, false)
            .add("corrupt_metric", DataTypes.DoubleType, false)
            .add("mlp_neurons", DataTypes.createArrayType(DataTypes.FloatType, false), false)
            .add("heads", DataTypes.createArrayType(DataTypes.FloatType, false), false)
            .add("resid_pre", DataTypes.createArrayType(DataTypes.FloatType, false), false);

    private SweepJob() {}

    static AttributionPatching.Result run(SparkSession spark, ModelSpec spec, int[][] clean, int[][] corrupt, int[] answer, int[] wrong,
                                          int[] lines, int partitions, Path out) {
        if (partitions < 1) throw new IllegalArgumentException("--partitions must be >= 1, got " + partitions);
        int n = clean.length;
        List<Pair> pairs = new ArrayList<>(n);
        for (int i = 0; i < n; i++) pairs.add(new Pair(lines[i], clean[i], corrupt[i], answer[i], wrong[i]));
        CommittedParts parts = new CommittedParts(out, key(spec, pairs, partitions));
        HookedTransformer driverModel = ExecutorModels.get(spec);
        int L = driverModel.cfg().nLayers, F = driverModel.cfg().dMlp, H = driverModel.cfg().nHeads, S = clean[0].length;
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Sum total = sc.parallelize(pairs, partitions).mapPartitionsWithIndex((index, it) -> {
            ExecutorModels.startTask(index);
            Path file = parts.file(index);
            if (!Files.isRegularFile(file)) commit(ExecutorModels.get(spec), it, file);
            return List.of(sumOf(file)).iterator();
        }, false).treeReduce(Sum::plus, 2);
        // the committed per-pair scores as one Parquet table, in line order
        var rows = sc.parallelize(IntStream.range(0, partitions).boxed().toList(), partitions)
                .flatMap(p -> rowsOf(parts.file(p)).iterator());
        spark.createDataFrame(rows, SCHEMA).write().mode(SaveMode.Overwrite).parquet(out.resolve("prompts.parquet").toString());
        if (total.pairs() != n) throw new IllegalStateException("sweep summed " + total.pairs() + " pairs of " + n);
        return AttributionPatching.Result.of(L, F, H, S, total.mlp(), total.heads(), total.resid(), total.clean(), total.corrupt());
    }

    /** Runs each pair alone and writes the partition's per-pair scores: line [n], metrics [n, 2], and [n, ...] per score. */
    private static void commit(HookedTransformer model, Iterator<Pair> it, Path file) {
        List<Integer> lineNos = new ArrayList<>();
        List<double[]> metrics = new ArrayList<>(), mlp = new ArrayList<>(), heads = new ArrayList<>(), resid = new ArrayList<>();
        while (it.hasNext()) {
            Pair p = it.next();
            var r = AttributionPatching.run(model, new int[][] {p.clean()}, new int[][] {p.corrupt()},
                    Metrics.logitDiff(new int[] {p.answer()}, new int[] {p.wrong()}));
            lineNos.add(p.line());
            metrics.add(new double[] {r.cleanMetric(), r.corruptMetric()});
            mlp.add(flat(r.mlpNeurons()));
            heads.add(flat(r.heads()));
            resid.add(flat(r.residPre()));
        }
        Map<String, Tensor> t = new LinkedHashMap<>();
        try {
            t.put("line", Tensor.ofInts(lineNos.stream().mapToInt(Integer::intValue).toArray(), lineNos.size()));
            t.put("metrics", stack(metrics, 2));
            t.put("mlp_neurons", stack(mlp, mlp.isEmpty() ? 0 : mlp.get(0).length));
            t.put("heads", stack(heads, heads.isEmpty() ? 0 : heads.get(0).length));
            t.put("resid_pre", stack(resid, resid.isEmpty() ? 0 : resid.get(0).length));
            SafeTensors.write(file, t, Map.of("sums", sumsJson(metrics, mlp, heads, resid)));
        } finally {
            t.values().forEach(Tensor::close);
        }
    }

    private static double[] flat(double[][] rows) { return Arrays.stream(rows).flatMapToDouble(Arrays::stream).toArray(); }

    private static Tensor stack(List<double[]> rows, int width) {
        float[] f = new float[rows.size() * width];
        for (int i = 0; i < rows.size(); i++) for (int j = 0; j < width; j++) f[i * width + j] = (float) rows.get(i)[j];
        return Tensor.of(f, rows.size(), width);
    }

    /** The partition's sums in double precision (hex doubles), so that a reused partition sums exactly as a computed one. */
    private static String sumsJson(List<double[]> metrics, List<double[]> mlp, List<double[]> heads, List<double[]> resid) {
        StringBuilder b = new StringBuilder().append(metrics.size());
        for (List<double[]> rows : List.of(metrics, mlp, heads, resid)) {
            double[] s = rows.isEmpty() ? new double[0] : new double[rows.get(0).length];
            for (double[] r : rows) for (int j = 0; j < s.length; j++) s[j] += r[j];
            b.append(';');
            for (int j = 0; j < s.length; j++) b.append(j == 0 ? "" : ",").append(Double.toHexString(s[j]));
        }
        return b.toString();
    }

    private static Sum sumOf(Path file) {
        try (SafeTensors st = SafeTensors.open(file)) {
            String[] f = st.metadata().get("sums").split(";", -1);
            double[][] v = new double[4][];
            for (int i = 0; i < 4; i++) v[i] = f[i + 1].isEmpty() ? new double[0] : Arrays.stream(f[i + 1].split(",")).mapToDouble(Double::parseDouble).toArray();
            int pairs = Integer.parseInt(f[0]);
            return pairs == 0 ? new Sum(0, null, null, null, 0, 0) : new Sum(pairs, v[1], v[2], v[3], v[0][0], v[0][1]);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": not a committed sweep partition (" + e.getMessage() + ")");
        }
    }

    private static List<Row> rowsOf(Path file) {
        try (SafeTensors st = SafeTensors.open(file); Tensor line = st.read("line"); Tensor m = st.read("metrics");
             Tensor mlp = st.read("mlp_neurons"); Tensor heads = st.read("heads"); Tensor resid = st.read("resid_pre")) {
            int n = (int) line.size(0);
            int[] l = line.toIntArray();
            float[] mv = m.toFloatArray(), a = mlp.toFloatArray(), h = heads.toFloatArray(), r = resid.toFloatArray();
            List<Row> rows = new ArrayList<>(n);
            for (int i = 0; i < n; i++)
                rows.add(RowFactory.create(l[i], (double) mv[2 * i], (double) mv[2 * i + 1], slice(a, i, n), slice(h, i, n), slice(r, i, n)));
            return rows;
        }
    }

    private static Float[] slice(float[] all, int i, int n) {
        int w = all.length / n;
        Float[] out = new Float[w];
        for (int j = 0; j < w; j++) out[j] = all[i * w + j];
        return out;
    }

    private static String key(ModelSpec spec, List<Pair> pairs, int partitions) {
        int h = 1;
        for (Pair p : pairs) h = 31 * (31 * (31 * (31 * h + p.line()) + Arrays.hashCode(p.clean())) + Arrays.hashCode(p.corrupt())) + 31 * p.answer() + p.wrong();
        return "lens4j spark sweep\nmodel=" + spec + "\npairs=" + pairs.size() + " hash=" + Integer.toHexString(h) + "\npartitions=" + partitions + "\n";
    }
}
