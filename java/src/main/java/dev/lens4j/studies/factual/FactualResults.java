package dev.lens4j.studies.factual;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lens4j.load.RegularFiles;
import dev.lens4j.studies.StudyJson;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.TestPrompt;
import dev.lens4j.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** results.json (every number, with model, config, dataset, versions), the tensors and the dataset of the factual-knowledge study. */
final class FactualResults {
    private FactualResults() {}

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** Top-level keys, in order (tests check every one is present). */
    static final List<String> SECTIONS = List.of("study", "versions", "model", "config", "seeds", "dataset", "answer_map", "prompts",
            "filter", "logit_lens", "increase_per_layer_type", "dla_components", "dla_heads", "patching", "timings");

    static Path write(Path file, HookedTransformer model, FactualAnalysis an, FactualStudy.Options o, double analysisS, double totalS) throws IOException {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("study", "factual-knowledge (seed 004)");
        r.put("versions", StudyJson.versions(dev.lens4j.backend.CpuBackend.get().numThreads()));
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("path", o.model);
        m.put("process_weights", o.processWeights);
        m.put("config", JSON.readTree(model.cfg().toJson()));
        r.put("model", m);
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("top_k", o.topK);
        c.put("min_prob_diff", o.minProbDiff);
        c.put("top_heads", o.topHeads);
        c.put("patch_batch", o.patchBatch);
        c.put("prepend_bos", model.cfg().defaultPrependBos);
        c.put("metric", "label-aligned: sum of the label's answer-set logits (probabilities) minus the other set's, at the last position");
        r.put("config", c);
        r.put("seeds", Map.of("note", "none: every step is deterministic (no sampling, no random data)"));

        List<Map<String, Object>> rows = new ArrayList<>();
        for (var p : an.prompts) {
            Map<String, Object> q = new LinkedHashMap<>();
            q.put("line", p.q.line());
            q.put("question", p.q.question());
            q.put("answer", p.q.answer());
            if (p.q.corrupt() != null) q.put("corrupt", p.q.corrupt());
            rows.add(q);
        }
        r.put("dataset", Map.of("source", o.questionsSource, "questions", rows));
        Map<String, Object> am = new LinkedHashMap<>();
        am.put("source", o.answerMapSource);
        am.put("True", an.trueTexts);
        am.put("False", an.falseTexts);
        am.put("True_ids", an.trueIds);
        am.put("False_ids", an.falseIds);
        am.put("dropped_multi_token", an.droppedTexts);
        r.put("answer_map", am);

        List<Map<String, Object>> prompts = new ArrayList<>();
        for (int i = 0; i < an.prompts.size(); i++) {
            var p = an.prompts.get(i);
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("index", i);
            e.put("question", p.q.question());
            e.put("answer", p.q.answer());
            e.put("str_tokens", p.strTokens);
            e.put("logit_diff", p.logitDiff);
            e.put("prob_diff", p.probDiff);
            e.put("kept", p.kept);
            e.put("label_set_best_rank", p.labelRank);
            e.put("label_set_best_rank_token", p.labelRankToken);
            e.put("test_prompt", testPrompt(p.testPrompt));
            prompts.add(e);
        }
        r.put("prompts", prompts);
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("rule", "keep prompts with prob_diff >= min_prob_diff (the seed dropped p_diff < 0.15)");
        f.put("min_prob_diff", o.minProbDiff);
        f.put("kept", indices(an, true));
        f.put("dropped", indices(an, false));
        f.put("mean_logit_diff_all", an.prompts.stream().mapToDouble(p -> p.logitDiff).average().orElse(0));
        f.put("mean_prob_diff_all", an.prompts.stream().mapToDouble(p -> p.probDiff).average().orElse(0));
        r.put("filter", f);

        List<FactualAnalysis.PromptResult> kept = an.kept();
        Map<String, Object> lens = new LinkedHashMap<>();
        lens.put("what", "accumulated residual (incl. mid) at the last position, final-LN scaled, dotted with the label-aligned answer direction");
        lens.put("labels", an.lensLabels);
        lens.put("mean", an.meanLens);
        lens.put("per_prompt", perPrompt(an, kept, p -> p.lens));
        r.put("logit_lens", lens);
        Map<String, Object> inc = new LinkedHashMap<>();
        inc.put("attn_by_layer", an.attnIncrease);
        inc.put("mlp_by_layer", an.mlpIncrease);
        inc.put("attn_after_layer_0", an.attnIncreaseAfterLayer0);
        inc.put("mlp_after_layer_0", an.mlpIncreaseAfterLayer0);
        inc.put("attn_all", an.attnIncreaseAll);
        inc.put("mlp_all", an.mlpIncreaseAll);
        r.put("increase_per_layer_type", inc);
        Map<String, Object> dla = new LinkedHashMap<>();
        dla.put("labels", an.componentLabels);
        dla.put("mean", an.meanComponents);
        dla.put("per_prompt", perPrompt(an, kept, p -> p.components));
        Map<String, Object> bias = new LinkedHashMap<>();
        for (var p : kept) bias.put(Integer.toString(an.prompts.indexOf(p)), p.unembedBias);
        dla.put("unembed_bias", bias);
        dla.put("note", "components + unembed_bias = logit_diff, except under a final logit soft cap (Gemma 2)");
        r.put("dla_components", dla);
        Map<String, Object> heads = new LinkedHashMap<>();
        heads.put("shape", new int[] {an.nLayers, an.nHeads});
        heads.put("mean", grid(an.meanHeads, an.nHeads));
        heads.put("top", an.topHeads(o.topHeads));
        heads.put("per_prompt", perPrompt(an, kept, p -> p.heads));
        r.put("dla_heads", heads);
        r.put("patching", patching(an));
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("analysis_s", analysisS);
        t.put("total_s", totalS);
        r.put("timings", t);
        StudyJson.write(file, r); // NaN and infinities as null: results.json stays valid JSON
        return file;
    }

    private static Map<String, Object> patching(FactualAnalysis an) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("what", "activation patching (clean question into its corrupt version), metric normalised: 0 = corrupted, 1 = clean");
        out.put("patched_prompts", an.patchedPrompts);
        if (an.patchHeadsMean != null) out.put("attn_head_out_all_pos_mean", grid(an.patchHeadsMean, an.nHeads));
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int i = 0; i < an.prompts.size(); i++) {
            var p = an.prompts.get(i);
            if (p.patchResidPre == null) continue;
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("index", i);
            e.put("corrupt", p.q.corrupt());
            e.put("corrupt_str_tokens", p.corruptStrTokens);
            e.put("clean_metric", p.cleanMetric);
            e.put("corrupted_metric", p.corruptMetric);
            e.put("resid_pre", grid(p.patchResidPre, p.patchPositions));
            e.put("attn_head_out_all_pos", grid(p.patchHeads, an.nHeads));
            rows.add(e);
        }
        out.put("per_prompt", rows);
        return out;
    }

    private static Map<String, Object> testPrompt(TestPrompt t) {
        Map<String, Object> e = new LinkedHashMap<>();
        List<Map<String, Object>> top = new ArrayList<>();
        for (var c : t.topK()) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("rank", c.rank());
            x.put("token", c.token());
            x.put("str", c.str());
            x.put("logit", c.logit());
            x.put("prob", c.prob());
            top.add(x);
        }
        e.put("top", top);
        return e;
    }

    private static List<Integer> indices(FactualAnalysis an, boolean kept) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < an.prompts.size(); i++) if (an.prompts.get(i).kept == kept) out.add(i);
        return out;
    }

    private static Map<String, double[]> perPrompt(FactualAnalysis an, List<FactualAnalysis.PromptResult> kept,
                                                   java.util.function.Function<FactualAnalysis.PromptResult, double[]> f) {
        Map<String, double[]> out = new LinkedHashMap<>();
        for (var p : kept) out.put(Integer.toString(an.prompts.indexOf(p)), f.apply(p));
        return out;
    }

    static double[][] grid(double[] flat, int cols) {
        double[][] g = new double[flat.length / cols][cols];
        for (int i = 0; i < flat.length; i++) g[i / cols][i % cols] = flat[i];
        return g;
    }

    /** factual.safetensors: per-prompt metrics, the logit lens, DLA and patching grids of the kept prompts. */
    static Path writeTensors(Path file, FactualAnalysis an, FactualStudy.Options o) throws IOException {
        List<FactualAnalysis.PromptResult> kept = an.kept();
        int N = an.prompts.size(), K = kept.size(), L = an.nLayers, H = an.nHeads;
        Map<String, Tensor> t = new LinkedHashMap<>();
        try {
            double[] ld = new double[N], pd = new double[N];
            for (int i = 0; i < N; i++) { ld[i] = an.prompts.get(i).logitDiff; pd[i] = an.prompts.get(i).probDiff; }
            t.put("logit_diff", Tensor.of(floats(ld), N));
            t.put("prob_diff", Tensor.of(floats(pd), N));
            t.put("logit_lens", Tensor.of(stack(kept, p -> p.lens), K, an.lensLabels.size()));
            t.put("dla_components", Tensor.of(stack(kept, p -> p.components), K, an.componentLabels.size()));
            t.put("dla_heads", Tensor.of(stack(kept, p -> p.heads), K, L, H));
            if (an.patchHeadsMean != null) t.put("patch_attn_head_out_mean", Tensor.of(floats(an.patchHeadsMean), L, H));
            for (int i = 0; i < N; i++) {
                var p = an.prompts.get(i);
                if (p.patchResidPre == null) continue;
                t.put("patch_resid_pre." + i, Tensor.of(floats(p.patchResidPre), L, p.patchPositions));
                t.put("patch_attn_head_out." + i, Tensor.of(floats(p.patchHeads), L, H));
            }
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("model", o.model);
            meta.put("process_weights", Boolean.toString(o.processWeights));
            meta.put("producer", "lens4j 0.1.0");
            List<Integer> keptIdx = new ArrayList<>();
            for (var p : kept) keptIdx.add(an.prompts.indexOf(p));
            meta.put("kept_prompts", JSON.writeValueAsString(keptIdx));
            meta.put("logit_lens_labels", JSON.writeValueAsString(an.lensLabels));
            meta.put("dla_components_labels", JSON.writeValueAsString(an.componentLabels));
            SafeTensors.write(file, t, meta);
        } finally {
            t.values().forEach(Tensor::close);
        }
        return file;
    }

    private static float[] stack(List<FactualAnalysis.PromptResult> ps, java.util.function.Function<FactualAnalysis.PromptResult, double[]> f) {
        int w = f.apply(ps.get(0)).length;
        float[] out = new float[ps.size() * w];
        for (int i = 0; i < ps.size(); i++) {
            double[] v = f.apply(ps.get(i));
            for (int j = 0; j < w; j++) out[i * w + j] = (float) v[j];
        }
        return out;
    }

    private static float[] floats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    /** questions.csv (re-readable with --questions) and answer_map.json: the data the run used. */
    static void writeDataset(Path dir, List<FactualData.Question> qs, FactualData.AnswerMap map) throws IOException {
        boolean corrupt = qs.stream().anyMatch(q -> q.corrupt() != null);
        StringBuilder b = new StringBuilder(corrupt ? "question,answer,corrupt\n" : "question,answer\n");
        for (var q : qs) {
            b.append(csv(q.question())).append(',').append(q.answer() ? "True" : "False");
            if (corrupt) b.append(',').append(q.corrupt() == null ? "" : csv(q.corrupt()));
            b.append('\n');
        }
        RegularFiles.writeString(dir.resolve("questions.csv"), b.toString());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("True", map.trueTexts());
        m.put("False", map.falseTexts());
        RegularFiles.writeString(dir.resolve("answer_map.json"), JSON.writeValueAsString(m));
    }

    private static String csv(String s) { return "\"" + s.replace("\"", "\"\"") + "\""; }
}
