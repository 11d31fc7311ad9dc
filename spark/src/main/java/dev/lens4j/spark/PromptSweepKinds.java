package dev.lens4j.spark;

import dev.lens4j.analysis.NeuronScoring;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Metrics;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The kinds of `./lens4j sweep` run by PromptSweepJob: score-neurons and metric. */
final class PromptSweepKinds {
    private PromptSweepKinds() {}

    /** A forced-choice prompt of score-neurons (NeuronScoring.Prompt, serializable). */
    record NeuronItem(int line, int[] tokens, int yes, int no, boolean truthYes, String group) implements PromptSweepJob.Item {
        static NeuronItem of(int line, NeuronScoring.Prompt p) { return new NeuronItem(line, p.tokens(), p.yes(), p.no(), p.truthYes(), p.group()); }

        NeuronScoring.Prompt prompt() { return new NeuronScoring.Prompt(tokens, yes, no, truthYes, group); }
    }

    /**
     * Seed 000's neuron scores of block `layer`, one prompt at a time (as the attribution sweep runs its pairs): a prompt's
     * scores do not depend on which prompts share its partition, so they are the same for any --partitions.
     */
    record ScoreNeurons(int layer) implements PromptSweepJob.Kind<NeuronItem> {
        static final StructType SCHEMA = new StructType()
                .add("line", DataTypes.IntegerType, false)
                .add("group", DataTypes.StringType, false)
                .add("truth", DataTypes.StringType, false)
                .add("margin", DataTypes.DoubleType, false)
                .add("c", DataTypes.createArrayType(DataTypes.FloatType, false), false);

        @Override public StructType schema() { return SCHEMA; }

        @Override public Map<String, float[][]> compute(HookedTransformer model, List<NeuronItem> items) {
            int n = items.size();
            float[][] margin = new float[n][], c = new float[n][], g = new float[n][];
            for (int i = 0; i < n; i++) {
                NeuronScoring.Scores s = NeuronScoring.score(model, layer, List.of(items.get(i).prompt()));
                margin[i] = new float[] {(float) s.margin(0)};
                c[i] = s.c(0);
                g[i] = s.g(0);
            }
            Map<String, float[][]> m = new LinkedHashMap<>();
            m.put("margin", margin);
            m.put("c", c);
            m.put("g", g);
            return m;
        }

        @Override public Row row(NeuronItem item, Map<String, float[]> v) {
            return RowFactory.create(item.line(), item.group(), item.truthYes() ? "yes" : "no", (double) v.get("margin")[0], boxed(v.get("c")));
        }
    }

    /** A prompt of the metric kind with its answer and wrong tokens. */
    record MetricItem(int line, int[] tokens, int answer, int wrong) implements PromptSweepJob.Item {}

    /** logit(answer) - logit(wrong) and log p(answer) at the last position, one plain forward per prompt. */
    record ForwardMetric() implements PromptSweepJob.Kind<MetricItem> {
        static final StructType SCHEMA = new StructType()
                .add("line", DataTypes.IntegerType, false)
                .add("logit_diff", DataTypes.DoubleType, false)
                .add("log_prob", DataTypes.DoubleType, false);

        @Override public StructType schema() { return SCHEMA; }

        @Override public Map<String, float[][]> compute(HookedTransformer model, List<MetricItem> items) {
            int n = items.size();
            float[][] diff = new float[n][], logProb = new float[n][];
            for (int i = 0; i < n; i++) {
                MetricItem it = items.get(i);
                try (var out = model.run(new int[][] {it.tokens()}, new HookedTransformer.RunOptions().logitsLastOnly(true))) {
                    float[] row = out.logits().toFloatArray();
                    int V = row.length;
                    diff[i] = new float[] {(float) Metrics.logitDiff(it.answer(), it.wrong()).evaluate(row, 1, 1, V, new float[V])};
                    logProb[i] = new float[] {(float) -Metrics.crossEntropyLast(new int[] {it.answer()}).evaluate(row, 1, 1, V, new float[V])};
                }
            }
            Map<String, float[][]> m = new LinkedHashMap<>();
            m.put("logit_diff", diff);
            m.put("log_prob", logProb);
            return m;
        }

        @Override public Row row(MetricItem item, Map<String, float[]> v) {
            return RowFactory.create(item.line(), (double) v.get("logit_diff")[0], (double) v.get("log_prob")[0]);
        }
    }

    private static Float[] boxed(float[] f) {
        Float[] out = new Float[f.length];
        for (int i = 0; i < f.length; i++) out[i] = f[i];
        return out;
    }
}
