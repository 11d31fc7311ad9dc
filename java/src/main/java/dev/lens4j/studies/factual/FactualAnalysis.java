package dev.lens4j.studies.factual;

import dev.lens4j.analysis.CacheDecomposition;
import dev.lens4j.analysis.Mat;
import dev.lens4j.analysis.Patching;
import dev.lens4j.analysis.ResidualStack;
import dev.lens4j.hooks.Positions;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.HookedTransformer.RunOptions;
import dev.lens4j.model.Metric;
import dev.lens4j.model.TestPrompt;
import dev.lens4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Seed 004's analyses, one prompt at a time (prompts differ in length): test_prompt, the summed-logit and summed-
 * probability differences between the answer sets (aligned with the label: the true set minus the other), the filter,
 * then on the prompts the model gets right the logit lens of the accumulated residual along the label-aligned answer
 * direction, the attention and MLP increases, direct logit attribution by component and by head, and, for prompts
 * with a corrupted version, activation patching over resid_pre [layer, pos] and head outputs [layer, head].
 * Plain data (doubles) so the report and results.json read the same numbers.
 */
public final class FactualAnalysis {
    /** Progress of the long parts: stage name, steps done, steps in all. */
    public interface Progress { void step(String stage, int done, int total); }

    public final int nLayers, nHeads;
    public int[] trueIds, falseIds;
    /** The answer-map texts in use (the built-in map's single-token ones). */
    public final List<String> trueTexts = new ArrayList<>(), falseTexts = new ArrayList<>();
    /** Answer-map texts dropped from the built-in map because this tokenizer makes them several tokens. */
    public final List<String> droppedTexts = new ArrayList<>();
    public final List<PromptResult> prompts = new ArrayList<>();
    public List<String> lensLabels, componentLabels;
    /** Means over the kept prompts. */
    public double[] meanLens, meanComponents, meanHeads, attnIncrease, mlpIncrease;
    public double attnIncreaseAfterLayer0, mlpIncreaseAfterLayer0, attnIncreaseAll, mlpIncreaseAll;
    /** Patched head outputs over the patched prompts: mean patched metric normalised by the mean clean / corrupted metric. */
    public double[] patchHeadsMean;
    public int patchedPrompts;

    /** Everything computed for one question. */
    public static final class PromptResult {
        public FactualData.Question q;
        public List<String> strTokens;
        public TestPrompt testPrompt;
        /** Best rank (0 = top) of a token of the label's answer set, and that token. */
        public int labelRank, labelRankToken;
        /** Label-aligned: sum of the label's set minus the other set's (logits; softmax probabilities). */
        public double logitDiff, probDiff;
        public boolean kept;
        // analyses (kept prompts only)
        public double[] lens, components, heads;
        /** The unembedding bias's share of the logit difference (DLA components + this = logitDiff, without a soft cap). */
        public double unembedBias;
        // patching (kept prompts with a corrupt question)
        public List<String> corruptStrTokens;
        public double cleanMetric, corruptMetric;
        public double[] patchResidPre, patchResidPreRaw, patchHeads, patchHeadsRaw; // [layer, pos], [layer, head]
        public int patchPositions;
    }

    FactualAnalysis(int nLayers, int nHeads) { this.nLayers = nLayers; this.nHeads = nHeads; }

    /** Token ids of the answer map; the built-in map drops multi-token texts (recorded), a given map must be exact. */
    static int[] ids(HookedTransformer model, List<String> texts, boolean lenient, List<String> dropped, List<String> used, String key, String source) {
        List<Integer> out = new ArrayList<>();
        for (String t : texts) {
            try {
                out.add(model.toSingleToken(t));
                used.add(t);
            } catch (IllegalArgumentException e) {
                if (!lenient) throw new IllegalArgumentException("--answer-map " + source + ": '" + key + "' entry " + e.getMessage());
                dropped.add(t);
            }
        }
        if (out.isEmpty()) throw new IllegalArgumentException("no '" + key + "' text of the built-in answer map is one token for this tokenizer: give --answer-map FILE");
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    public static FactualAnalysis run(HookedTransformer model, List<FactualData.Question> questions, FactualData.AnswerMap map,
                                      boolean builtInMap, FactualStudy.Options o, Progress progress) {
        var cfg = model.cfg();
        FactualAnalysis an = new FactualAnalysis(cfg.nLayers, cfg.nHeads);
        an.trueIds = ids(model, map.trueTexts(), builtInMap, an.droppedTexts, an.trueTexts, "True", o.answerMapSource);
        an.falseIds = ids(model, map.falseTexts(), builtInMap, an.droppedTexts, an.falseTexts, "False", o.answerMapSource);
        for (int i = 0; i < an.trueIds.length; i++)
            for (int f : an.falseIds)
                if (an.trueIds[i] == f)
                    throw new IllegalArgumentException("--answer-map " + o.answerMapSource + ": '" + an.trueTexts.get(i) + "' (token " + f
                            + ") is in both the True and the False set");
        int n = questions.size();
        for (int i = 0; i < n; i++) {
            PromptResult p = an.score(model, questions.get(i), o.topK);
            p.kept = p.probDiff >= o.minProbDiff; // the seed drops the prompts it gets wrong (p_diff < 0.15)
            an.prompts.add(p);
            if (progress != null) progress.step("test_prompt", i + 1, n);
        }
        List<PromptResult> kept = an.prompts.stream().filter(p -> p.kept).toList();
        if (kept.isEmpty())
            throw new IllegalArgumentException("the model gets every question wrong (no prompt has an aligned probability difference >= "
                    + o.minProbDiff + "); lower --min-prob-diff (e.g. -1 keeps every prompt)");
        int patchTotal = (int) kept.stream().filter(p -> p.q.corrupt() != null).count(), k = 0;
        for (PromptResult p : kept) {
            an.analyse(model, p, o.patchBatch);
            if (progress != null) progress.step("logit lens, DLA, patching", ++k, kept.size());
        }
        an.summarise(kept);
        an.patchedPrompts = patchTotal;
        return an;
    }

    private int[] labelSet(boolean label) { return label ? trueIds : falseIds; }

    /** Summed logits of a set minus another's, with the sign of the label: what the seed calls the logit difference. */
    private double aligned(float[] v, int off, boolean label) {
        double s = 0;
        for (int t : trueIds) s += v[off + t];
        for (int t : falseIds) s -= v[off + t];
        return label ? s : -s;
    }

    private PromptResult score(HookedTransformer model, FactualData.Question q, int topK) {
        PromptResult p = new PromptResult();
        p.q = q;
        int[] tokens = tokens(model, q.question(), q.line(), "question");
        p.strTokens = model.toStrTokens(tokens);
        // TL's test_prompt; the answer's rank is the best rank of the label's set (the map's tokens, not re-tokenised in context)
        p.testPrompt = model.testPrompt(q.question(), null, topK);
        float[] logits;
        try (var out = model.run(new int[][] {tokens}, new RunOptions().logitsLastOnly(true))) {
            logits = out.logits().toFloatArray();
        }
        p.labelRank = Integer.MAX_VALUE;
        for (int t : labelSet(q.answer())) {
            int rank = 0;
            for (float v : logits) if (v > logits[t]) rank++;
            if (rank < p.labelRank) { p.labelRank = rank; p.labelRankToken = t; }
        }
        p.logitDiff = aligned(logits, 0, q.answer());
        double[] prob = softmax(logits);
        double s = 0;
        for (int t : trueIds) s += prob[t];
        for (int t : falseIds) s -= prob[t];
        p.probDiff = q.answer() ? s : -s;
        return p;
    }

    /** The prompt's tokens (BOS as the model's default), refused when longer than the context, naming the line. */
    private static int[] tokens(HookedTransformer model, String text, int line, String what) {
        int[] t = model.toTokens(text);
        if (t.length > model.cfg().nCtx)
            throw new IllegalArgumentException("line " + line + ": the " + what + " is " + t.length + " tokens, longer than the model's context n_ctx = "
                    + model.cfg().nCtx);
        return t;
    }

    static double[] softmax(float[] x) {
        double max = Double.NEGATIVE_INFINITY, z = 0;
        for (float v : x) max = Math.max(max, v);
        double[] p = new double[x.length];
        for (int i = 0; i < x.length; i++) z += p[i] = Math.exp(x[i] - max);
        for (int i = 0; i < x.length; i++) p[i] /= z;
        return p;
    }

    /** The label-aligned answer direction in the residual stream: sum W_U[:, label set] - sum W_U[:, other set]. */
    private float[] direction(CacheDecomposition cd, boolean label) {
        return cd.tokenSetDirection(labelSet(label), labelSet(!label));
    }

    private void analyse(HookedTransformer model, PromptResult p, int patchBatch) {
        int[] tokens = model.toTokens(p.q.question());
        Positions last = Positions.last();
        try (var run = model.run(new int[][] {tokens}, new RunOptions().cacheAll())) {
            CacheDecomposition cd = run.cache().analyses();
            float[] dir = direction(cd, p.q.answer());
            try (ResidualStack acc = cd.accumulatedResid(-1, true, false, last, false);
                 ResidualStack dec = cd.decomposeResid(-1, false, CacheDecomposition.Mode.ALL, false, last, true);
                 ResidualStack heads = cd.stackHeadResults(-1, false, last, false)) {
                lensLabels = acc.labels();
                componentLabels = dec.labels();
                p.lens = values(cd.directionAttrs(acc, dir, last));
                p.components = values(cd.directionAttrs(dec, dir, last));
                p.heads = values(cd.directionAttrs(heads, dir, last));
            }
            float[] bU = model.weights().b_U().toFloatArray();
            p.unembedBias = aligned(bU, 0, p.q.answer());
            if (p.q.corrupt() != null) patch(model, p, tokens, run.cache(), patchBatch);
        }
    }

    private void patch(HookedTransformer model, PromptResult p, int[] clean, dev.lens4j.hooks.ActivationCache cache, int batch) {
        int[] corrupt = tokens(model, p.q.corrupt(), p.q.line(), "corrupt question");
        p.corruptStrTokens = model.toStrTokens(corrupt);
        if (corrupt.length != clean.length)
            throw new IllegalArgumentException("line " + p.q.line() + ": the corrupt question is " + corrupt.length + " tokens " + p.corruptStrTokens
                    + ", the question " + clean.length + " " + p.strTokens + "; patching needs equal token lengths");
        int[][] c = {corrupt};
        Metric m = alignedMetric(p.q.answer());
        p.cleanMetric = p.logitDiff;
        p.corruptMetric = Patching.baseline(model, c, m);
        if (!(Math.abs(p.cleanMetric - p.corruptMetric) > 1e-6 * Math.max(1, Math.abs(p.cleanMetric))))
            throw new IllegalArgumentException("line " + p.q.line() + ": the question and its corrupt version give the same logit difference ("
                    + p.cleanMetric + "): nothing to patch; remove the clue so the answer changes");
        Patching.Grid resid = Patching.residPre(model, c, cache, m, batch);
        Patching.Grid heads = Patching.attnHeadOutAllPos(model, c, cache, m, batch);
        p.patchPositions = clean.length;
        p.patchResidPreRaw = resid.values();
        p.patchHeadsRaw = heads.values();
        p.patchResidPre = Patching.normalised(resid.values(), p.cleanMetric, p.corruptMetric);
        p.patchHeads = Patching.normalised(heads.values(), p.cleanMetric, p.corruptMetric);
    }

    /** The label-aligned summed-logit difference at the last position, with its gradient, summed over the batch. */
    Metric alignedMetric(boolean label) {
        int[] a = labelSet(label), b = labelSet(!label);
        return (logits, B, P, V, grad) -> {
            double s = 0;
            for (int r = 0; r < B; r++) {
                int row = (r * P + P - 1) * V;
                for (int t : a) { s += logits[row + t]; grad[row + t] += 1; }
                for (int t : b) { s -= logits[row + t]; grad[row + t] -= 1; }
            }
            return s;
        };
    }

    private void summarise(List<PromptResult> kept) {
        meanLens = mean(kept, x -> x.lens);
        meanComponents = mean(kept, x -> x.components);
        meanHeads = mean(kept, x -> x.heads);
        // labels 0_pre, 0_mid, 1_pre, ..., final_post: attention moves l_pre -> l_mid, the MLP l_mid -> (l+1)_pre
        attnIncrease = new double[nLayers];
        mlpIncrease = new double[nLayers];
        for (int l = 0; l < nLayers; l++) {
            attnIncrease[l] = meanLens[2 * l + 1] - meanLens[2 * l];
            mlpIncrease[l] = meanLens[2 * l + 2] - meanLens[2 * l + 1];
            attnIncreaseAll += attnIncrease[l];
            mlpIncreaseAll += mlpIncrease[l];
            if (l >= 1) { attnIncreaseAfterLayer0 += attnIncrease[l]; mlpIncreaseAfterLayer0 += mlpIncrease[l]; }
        }
        List<PromptResult> patched = kept.stream().filter(x -> x.patchHeadsRaw != null).toList();
        if (!patched.isEmpty()) {
            double clean = 0, corrupt = 0;
            for (PromptResult x : patched) { clean += x.cleanMetric; corrupt += x.corruptMetric; }
            double[] raw = mean(patched, x -> x.patchHeadsRaw);
            patchHeadsMean = Patching.normalised(raw, clean / patched.size(), corrupt / patched.size());
        }
    }

    public List<PromptResult> kept() { return prompts.stream().filter(p -> p.kept).toList(); }

    private static double[] mean(List<PromptResult> ps, java.util.function.Function<PromptResult, double[]> f) {
        double[] out = new double[f.apply(ps.get(0)).length];
        for (PromptResult p : ps) {
            double[] v = f.apply(p);
            for (int i = 0; i < out.length; i++) out[i] += v[i] / ps.size();
        }
        return out;
    }

    /** The values of a result tensor, which this closes. */
    private static double[] values(Tensor t) {
        try (t) { return Mat.toDouble(t.toFloatArray()); }
    }

    /** Heads ranked by |mean attribution|: "L{l}H{h}" -> value, largest first. */
    public Map<String, Double> topHeads(int k) {
        List<Integer> idx = new ArrayList<>();
        for (int i = 0; i < meanHeads.length; i++) idx.add(i);
        idx.sort((a, b) -> Double.compare(Math.abs(meanHeads[b]), Math.abs(meanHeads[a])));
        Map<String, Double> out = new LinkedHashMap<>();
        for (int i : idx.subList(0, Math.min(k, idx.size()))) out.put("L" + i / nHeads + "H" + i % nHeads, meanHeads[i]);
        return out;
    }
}
