package dev.lens4j.studies.secondorder;

import dev.lens4j.analysis.SecondOrderEffects;
import dev.lens4j.analysis.Stats;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * Seed 002 end to end: generated math/logic problems, correctness by the greedy answer, critical layers by
 * mean-ablation, the correctness direction, second-order effects of every neuron (analysis.SecondOrderEffects),
 * then sparsity, layer concentration, rank-1 structure, accuracy under rank-1 / mean replacement, and OMP over a
 * concept dictionary. Writes results.json, report.html, problems.jsonl and second_order.safetensors.
 */
public final class SecondOrderStudy {
    private SecondOrderStudy() {}

    /** Progress of a stage: done of total steps (batches or layers). */
    public interface Progress { void update(String stage, int done, int total); }

    /** Everything the outputs are made of. */
    public record Result(SecondOrderOptions options, String modelName, java.util.List<MathProblems.Problem> problems, ProblemBatches data,
                         CleanPass clean, double[][] layerAblation, int[] critical, int[] layers, boolean layersAuto, double[] direction,
                         String directionSource, int[][] neurons, String neuronSelection, SecondOrderPass pass, Characterisation ch,
                         double accNeuronMeanAblated, double[] timings, java.util.List<String> concepts, int[][] conceptTokens) {}

    public record Summary(Result result, Path outDir, Path resultsJson, Path report, Path problemsFile, Path tensors, int plots, double seconds) {}

    public static Summary run(HookedTransformer model, String modelName, SecondOrderOptions o, Progress progress, PrintStream log) throws IOException {
        long t0 = System.nanoTime();
        var cfg = model.cfg();
        o.validate(cfg.nLayers);
        SecondOrderEffects.requireSupported(cfg);
        if (!model.hasTokenizer()) throw new IllegalArgumentException("model '" + modelName + "' has no tokenizer: the problems are text");
        Path out = o.out.toAbsolutePath().normalize();
        dev.lens4j.studies.GrokkingStudy.checkWritable(out);
        Progress pr = progress != null ? progress : (s, d, t) -> {};
        double[] timings = new double[6];

        var problems = MathProblems.generate(o.problems, o.seed, o.trainFraction);
        ProblemBatches data = new ProblemBatches(model, problems, o.batchSize);
        int[][] conceptTokens = new int[o.concepts.size()][];
        for (int c = 0; c < conceptTokens.length; c++) {
            conceptTokens[c] = model.answerTokens("The", " " + o.concepts.get(c));
            if (conceptTokens[c].length == 0) throw new IllegalArgumentException("concept '" + o.concepts.get(c) + "' tokenizes to nothing");
        }
        if (log != null)
            log.printf("second-order: %d problems (%d tokens, %d batches), %d layers x %d neurons, %d heads%n", data.size(), data.totalTokens(),
                    data.batches.size(), cfg.nLayers, cfg.dMlp, cfg.nHeads);

        long s0 = System.nanoTime();
        int nb = data.batches.size();
        CleanPass clean = new CleanPass(model, data, d -> pr.update("clean pass", d, nb));
        timings[0] = secs(s0);

        s0 = System.nanoTime();
        double[][] ablation = new double[cfg.nLayers][];
        for (int l = 0; l < cfg.nLayers; l++) {
            ablation[l] = CleanPass.ablateLayer(model, data, l, clean.meanMlpOut[l]);
            pr.update("layer mean-ablation", l + 1, cfg.nLayers);
        }
        double baseLp = CleanPass.mean(clean.firstLogProb);
        double[] drop = new double[cfg.nLayers - 1];
        for (int l = 0; l < drop.length; l++) drop[l] = baseLp - ablation[l][1];
        int[] critical = Arrays.stream(Stats.argsortDescending(drop)).limit(o.criticalCount(cfg.nLayers)).sorted().toArray();
        int[] layers = o.layers != null ? o.layers.clone() : critical.clone();
        Arrays.sort(layers);
        timings[1] = secs(s0);

        boolean[] train = new boolean[data.size()];
        for (int x = 0; x < train.length; x++) train[x] = problems.get(x).train();
        String[] source = new String[1];
        double[] direction = correctnessDirection(model, clean, data, train, source);

        s0 = System.nanoTime();
        try (SecondOrderEffects so = new SecondOrderEffects(model, direction)) {
            String[] how = new String[1];
            int[][] neurons = rank1Neurons(model, so, o, clean, layers, direction, data.size(), how);
            SecondOrderPass pass = new SecondOrderPass(model, so, data, layers, neurons, d -> pr.update("second-order pass", d, nb));
            timings[2] = secs(s0);

            s0 = System.nanoTime();
            double[][] atoms = conceptAtoms(model, conceptTokens);
            Characterisation ch = new Characterisation(model, so, o, data, clean, pass, layers, neurons, atoms,
                    d -> pr.update("rank-1 and OMP", d, layers.length));
            timings[3] = secs(s0);

            s0 = System.nanoTime();
            boolean[] ablated = CleanPass.ablateNeurons(model, data, layers, neurons, clean.meanPost, d -> pr.update("neuron mean-ablation", d, nb));
            boolean[] valMask = new boolean[train.length];
            for (int x = 0; x < train.length; x++) valMask[x] = !train[x];
            double accAblated = CleanPass.fraction(ablated, valMask);
            timings[4] = secs(s0);

            Result r = new Result(o, modelName, problems, data, clean, ablation, critical, layers, o.layers == null, direction, source[0],
                    neurons, how[0], pass, ch, accAblated, timings, o.concepts, conceptTokens);
            s0 = System.nanoTime();
            SecondOrderReport rep = new SecondOrderReport(r, cfg);
            Path html = rep.build().write(out.resolve("report.html"));
            Path problemsFile = SecondOrderResults.writeProblems(out.resolve("problems.jsonl"), r);
            Path tensors = SecondOrderResults.writeTensors(out.resolve("second_order.safetensors"), r, cfg);
            timings[5] = secs(s0);
            double total = secs(t0);
            Path json = SecondOrderResults.write(out.resolve("results.json"), r, cfg, total);
            return new Summary(r, out, json, html, problemsFile, tensors, rep.plotCount(), total);
        }
    }

    /** The terminal summary: accuracy, layers, each seed expectation with its measured number, and the files written. */
    public static String summaryText(Summary s) {
        Result r = s.result();
        StringBuilder b = new StringBuilder();
        b.append(String.format(java.util.Locale.ROOT, "%nSecond-order effects (seed 002), %s: %d problems in %.1f s%n", r.modelName(), r.problems().size(), s.seconds()));
        b.append(String.format(java.util.Locale.ROOT, "  greedy accuracy %s (first token %s); critical layers %s; analysed %s%n",
                SecondOrderResults.pct(CleanPass.fraction(r.clean().correct, null)), SecondOrderResults.pct(CleanPass.fraction(r.clean().firstCorrect, null)),
                Arrays.toString(r.critical()), Arrays.toString(r.layers())));
        for (SecondOrderResults.Expectation e : SecondOrderResults.expectations(r))
            b.append(String.format(java.util.Locale.ROOT, "  %-75s %9s  (seed: %s) %s%n", e.finding(),
                    e.finding().startsWith("accuracy drop") ? String.format(java.util.Locale.ROOT, "%+.1f pt", 100 * e.measured()) : SecondOrderResults.pct(e.measured()),
                    e.expected(), e.holds() ? "holds" : "does not hold"));
        b.append("wrote ").append(s.outDir()).append('\n');
        b.append("  results.json              every number, config, seeds, versions, timings\n");
        b.append("  report.html               ").append(s.plots()).append(" plots, one self-contained file\n");
        b.append("  problems.jsonl            the problems, their split and correctness\n");
        b.append("  second_order.safetensors  phi per layer [problems, d_mlp], direction, principal directions\n");
        return b.toString();
    }

    private static double secs(long t0) { return (System.nanoTime() - t0) / 1e9; }

    /**
     * Mean final residual (query position) of correct minus incorrect train problems; when one class is empty
     * (a model that gets none right), the mean over train problems of the answer token's unembedding minus the
     * mean unembedding, as the seed's U_embed projection would read it. Which one is used is recorded.
     */
    static double[] correctnessDirection(HookedTransformer model, CleanPass clean, ProblemBatches data, boolean[] train, String[] source) {
        int d = model.cfg().dModel, nc = 0, ni = 0;
        double[] c = new double[d], w = new double[d];
        for (int x = 0; x < train.length; x++) {
            if (!train[x]) continue;
            double[] r = clean.finalResid[x];
            if (clean.correct[x]) { nc++; for (int j = 0; j < d; j++) c[j] += r[j]; }
            else { ni++; for (int j = 0; j < d; j++) w[j] += r[j]; }
        }
        double[] dir = new double[d];
        if (nc > 0 && ni > 0) {
            for (int j = 0; j < d; j++) dir[j] = c[j] / nc - w[j] / ni;
            source[0] = "correct_minus_incorrect (" + nc + " correct, " + ni + " incorrect train problems)";
        } else {
            int[][] ans = new int[train.length][];
            int k = 0;
            for (int x = 0; x < train.length; x++) if (train[x]) ans[k++] = new int[] {data.answers[x][0]};
            double[][] atoms = conceptAtoms(model, Arrays.copyOf(ans, k));
            for (double[] a : atoms) for (int j = 0; j < d; j++) dir[j] += a[j] / k;
            source[0] = "answer_unembedding (all " + (nc + ni) + " train problems are " + (nc == 0 ? "incorrect" : "correct")
                    + ", so correct minus incorrect is undefined: the mean of W_U[:, answer] - mean_v W_U[:, v])";
        }
        return dir;
    }

    /** Unembedding direction of each concept: mean over its tokens of W_U[:, t] minus the mean column. */
    static double[][] conceptAtoms(HookedTransformer model, int[][] tokens) {
        return model.readWeights(w -> {
            Tensor wu = w.get("unembed.W_U");
            int d = (int) wu.size(0), v = (int) wu.size(1);
            float[] u = wu.toFloatArray();
            double[] meanCol = new double[d];
            for (int j = 0; j < d; j++) { double s = 0; for (int t = 0; t < v; t++) s += u[j * v + t]; meanCol[j] = s / v; }
            double[][] atoms = new double[tokens.length][d];
            for (int c = 0; c < tokens.length; c++)
                for (int t : tokens[c]) for (int j = 0; j < d; j++) atoms[c][j] += (u[j * v + t] - meanCol[j]) / tokens[c].length;
            return atoms;
        });
    }

    /**
     * The neurons whose vector effects are kept: every neuron of the selected layers when their per-head weights fit
     * the budget (and no sampling was asked), else the seed's top K per layer by the mean rank of mean |activation|,
     * variance and direct effect (mean |p_T| · |W_out[n] · direction|).
     */
    static int[][] rank1Neurons(HookedTransformer model, SecondOrderEffects so, SecondOrderOptions o, CleanPass clean, int[] layers,
                                double[] direction, int n, String[] how) {
        int dMlp = model.cfg().dMlp;
        long bytes = 0;
        for (int l : layers) bytes += (long) n * dMlp * so.laterHeads(l) * 4;
        int[][] out = new int[layers.length][];
        if (o.sampleNeurons == 0 && bytes <= o.rank1BudgetBytes) {
            for (int li = 0; li < layers.length; li++) out[li] = IntStream.range(0, dMlp).toArray();
            how[0] = "all " + dMlp + " neurons of each selected layer";
            return out;
        }
        int k = Math.min(dMlp, o.sampleNeurons > 0 ? o.sampleNeurons : 100);
        for (int li = 0; li < layers.length; li++) {
            int l = layers[li];
            double[] wd = model.readWeights(w -> {
                float[] wo = w.get("blocks." + l + ".mlp.W_out").toFloatArray();
                int d = direction.length;
                double[] r = new double[dMlp];
                for (int j = 0; j < dMlp; j++) { double s = 0; for (int e = 0; e < d; e++) s += wo[j * d + e] * direction[e]; r[j] = Math.abs(s); }
                return r;
            });
            double[] direct = new double[dMlp];
            for (int j = 0; j < dMlp; j++) direct[j] = clean.meanAbsAct[l][j] * wd[j];
            double[] score = new double[dMlp];
            for (double[] crit : new double[][] {clean.meanAbsAct[l], clean.varAct[l], direct}) {
                int[] order = Stats.argsortDescending(crit);
                for (int r = 0; r < dMlp; r++) score[order[r]] -= r;
            }
            out[li] = Arrays.stream(Stats.argsortDescending(score)).limit(k).sorted().toArray();
        }
        how[0] = (o.sampleNeurons > 0 ? "sampled as asked" : "sampled: all neurons would need " + (bytes >> 20) + " MiB of per-head weights (budget "
                + (o.rank1BudgetBytes >> 20) + " MiB)") + ": top " + k + " per layer by mean rank of mean |activation|, variance and direct effect";
        return out;
    }
}
