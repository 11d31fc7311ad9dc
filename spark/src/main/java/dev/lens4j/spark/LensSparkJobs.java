package dev.lens4j.spark;

import dev.lens4j.analysis.AttributionPatching;
import dev.lens4j.analysis.NeuronScoring;
import dev.lens4j.cli.SparkJobs;
import dev.lens4j.scan.NeuronScan;
import org.apache.spark.sql.SparkSession;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/** The Spark jobs behind `./lens4j scan --spark MASTER` and `./lens4j sweep` (found by ServiceLoader). */
public final class LensSparkJobs implements SparkJobs {
    @Override public void scan(String master, ModelSpec model, List<Path> corpus, NeuronScan.Options options, int partitions, Path out) {
        ScanJob.Outcome r = inSession(master, "lens4j scan", s -> ScanJob.run(s, model, corpus, options, partitions, out));
        System.err.printf("spark: %d partition(s) scanned, %d reused from %s; job %.1f s, outputs %.1f s%n", r.computed(), r.reused(),
                out.resolve("spark-parts"), r.jobSeconds(), r.outputSeconds());
    }

    @Override public AttributionPatching.Result sweep(String master, ModelSpec model, int[][] clean, int[][] corrupt, int[] answer, int[] wrong,
                                                      int[] lines, int partitions, Path out) {
        return inSession(master, "lens4j sweep", s -> SweepJob.run(s, model, clean, corrupt, answer, wrong, lines, partitions, out));
    }

    @Override public PromptResults scoreNeurons(String master, ModelSpec model, List<NeuronScoring.Prompt> prompts, int[] lines, int layer,
                                                int partitions, Path out) {
        List<PromptSweepKinds.NeuronItem> items = new ArrayList<>(prompts.size());
        for (int i = 0; i < prompts.size(); i++) items.add(PromptSweepKinds.NeuronItem.of(lines[i], prompts.get(i)));
        return inSession(master, "lens4j sweep", s -> PromptSweepJob.run(s, model, new PromptSweepKinds.ScoreNeurons(layer), items, partitions, out));
    }

    @Override public PromptResults metric(String master, ModelSpec model, int[][] tokens, int[] answer, int[] wrong, int[] lines, int partitions, Path out) {
        List<PromptSweepKinds.MetricItem> items = new ArrayList<>(tokens.length);
        for (int i = 0; i < tokens.length; i++) items.add(new PromptSweepKinds.MetricItem(lines[i], tokens[i], answer[i], wrong[i]));
        return inSession(master, "lens4j sweep", s -> PromptSweepJob.run(s, model, new PromptSweepKinds.ForwardMetric(), items, partitions, out));
    }

    /** Runs a job in the running session or a new one (stopped after); a local job's models live here, so they are freed. */
    static <T> T inSession(String master, String app, Function<SparkSession, T> job) {
        boolean existed = SparkSession.getActiveSession().isDefined();
        SparkSession s = Sessions.open(master, app);
        try {
            return job.apply(s);
        } catch (Exception e) { // Scala declares no checked exceptions: SparkException arrives undeclared
            if (e instanceof org.apache.spark.SparkException) throw new IllegalStateException("Spark job failed: " + rootMessage(e), e);
            throw e;
        } finally {
            if (Sessions.isLocal(s)) ExecutorModels.closeAll();
            if (!existed) s.stop();
        }
    }

    /** The first cause's message: what the executor said, without Spark's stage and task bookkeeping. */
    private static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) c = c.getCause();
        return c.getMessage() == null ? c.toString() : c.getMessage();
    }
}
