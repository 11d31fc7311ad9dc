package dev.lens4j.studies.numeric;

import dev.lens4j.analysis.NeuronScoring;
import dev.lens4j.analysis.NeuronScoring.Prompt;
import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.model.Batches;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.PaddedBatch;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Part III of seed 000: the second-to-last block's activations patched into the last block (all positions) at five
 * hook points, and the last block's neurons scored by Appendix C's gradient-weighted contribution, the most
 * harmful zero- and mean-ablated (on all prompts, and chosen on a train split and measured on the rest).
 */
final class Causal {
    /** TL's short names of the patched hook points, in the seed's order. */
    static final List<String> PATCH_HOOKS = List.of("resid_post", "post", "resid_pre", "resid_mid", "attn_out");

    /** The seed's label for a short name (TL's "post" is the seed's "mlp_post"). */
    static String label(String hook) { return hook.equals("post") ? "mlp_post" : hook; }

    /** Per hook (seed label): the raw margins logit(yes) - logit(no) per prompt after the patch. */
    final Map<String, double[]> patched = new LinkedHashMap<>();
    /** Hooks the model lacks (parallel blocks have no resid_mid). */
    final List<String> skippedHooks = new ArrayList<>();

    NeuronScoring.Scores scores;
    int[] topGlobal;
    Map<String, int[]> topPerGroup;
    /** Condition name ("zero top 10", ...) -> aligned margins per prompt (all prompts). */
    final Map<String, double[]> ablated = new LinkedHashMap<>();
    /** The split check: which prompts scored (train), neurons chosen on them, aligned margins on the validation prompts. */
    int[] trainRows, validationRows;
    final Map<String, int[]> splitNeurons = new LinkedHashMap<>();
    final Map<String, double[]> splitValidation = new LinkedHashMap<>();

    static Causal patch(HookedTransformer model, Collected c, int batch, StudyProgress progress) {
        Causal r = new Causal();
        int L = c.layers, src = L - 2, dst = L - 1, n = c.size();
        List<String> hooks = new ArrayList<>();
        for (String h : PATCH_HOOKS) {
            if (model.hookNames().contains(HookNames.actName(h, dst))) { hooks.add(h); r.patched.put(label(h), new double[n]); }
            else r.skippedHooks.add(label(h));
        }
        List<int[]> seqs = new ArrayList<>();
        for (Prompt p : c.prompts) seqs.add(p.tokens());
        progress.start("patching L" + src + "->L" + dst, n);
        int done = 0;
        String[] srcNames = hooks.stream().map(h -> HookNames.actName(h, src)).toArray(String[]::new);
        for (int[] b : Batches.byLength(seqs, batch)) {
            PaddedBatch pb = Batches.pad(seqs, b, PaddedBatch.Side.LEFT, model.padTokenId());
            Map<String, float[]> source = new LinkedHashMap<>();
            try (var out = model.run(pb, new HookedTransformer.RunOptions().cacheNames(srcNames).stopAtLayer(dst))) {
                for (int k = 0; k < hooks.size(); k++) source.put(hooks.get(k), out.cache().get(srcNames[k]).toFloatArray());
            }
            for (String h : hooks) {
                float[] values = source.get(h);
                Hooks hk = Hooks.none().add(HookNames.actName(h, dst), (act, hp) -> { act.set(values); return null; });
                double[] m = margins(model, pb, b, c.prompts, hk);
                for (int i = 0; i < b.length; i++) r.patched.get(label(h))[b[i]] = m[i];
            }
            done += b.length;
            progress.update(done);
        }
        return r;
    }

    /** Raw margins logit(yes) - logit(no) at each row's last token under hooks. */
    static double[] margins(HookedTransformer model, PaddedBatch pb, int[] b, List<Prompt> prompts, Hooks hooks) {
        try (var out = model.run(pb, new HookedTransformer.RunOptions().hooks(hooks).logitsLastOnly(true))) {
            float[] lg = out.logits().toFloatArray();
            int V = (int) out.logits().size(2);
            double[] m = new double[b.length];
            for (int i = 0; i < b.length; i++) {
                Prompt p = prompts.get(b[i]);
                m[i] = (double) lg[i * V + p.yes()] - lg[i * V + p.no()];
            }
            return m;
        }
    }

    void neurons(HookedTransformer model, Collected c, NumericOptions o, StudyProgress progress) {
        int layer = c.layers - 1, F = model.cfg().dMlp;
        progress.start("neuron scores", 1);
        scores = NeuronScoring.score(model, layer, c.prompts);
        progress.update(1);
        topGlobal = scores.mostHarmful(Math.min(o.topGlobal, F));
        topPerGroup = scores.mostHarmfulByGroup(Math.min(o.topPerGroup, F));
        float[] mean = NeuronScoring.meanActivations(model, layer, c.prompts);
        progress.start("neuron ablations", 2 * o.ablateTopK.length);
        int step = 0;
        for (int k : o.ablateTopK) {
            int kk = Math.min(k, F);
            int[] top = scores.mostHarmful(kk);
            ablated.put("zero top " + kk, NeuronScoring.evaluate(model, c.prompts, NeuronScoring.ablate(layer, top, null)).margins());
            progress.update(++step);
            ablated.put("mean top " + kk, NeuronScoring.evaluate(model, c.prompts, NeuronScoring.ablate(layer, top, mean)).margins());
            progress.update(++step);
        }
        // train / validation: neurons (and mean values) from the train prompts only, accuracy on the rest
        splitRows(c, o.trainFraction, o.seed);
        List<Prompt> train = pick(c.prompts, trainRows), val = pick(c.prompts, validationRows);
        if (train.isEmpty() || val.isEmpty()) return;
        NeuronScoring.Scores ts = NeuronScoring.score(model, layer, train);
        float[] trainMean = NeuronScoring.meanActivations(model, layer, train);
        splitValidation.put("baseline", NeuronScoring.evaluate(model, val, Hooks.none()).margins());
        for (int k : o.ablateTopK) {
            int kk = Math.min(k, F);
            int[] top = ts.mostHarmful(kk);
            splitNeurons.put("top " + kk, top);
            splitValidation.put("zero top " + kk, NeuronScoring.evaluate(model, val, NeuronScoring.ablate(layer, top, null)).margins());
            splitValidation.put("mean top " + kk, NeuronScoring.evaluate(model, val, NeuronScoring.ablate(layer, top, trainMean)).margins());
        }
    }

    /** Each (group, truth) cell split by the fraction with a seeded shuffle: at least one train row per non-empty cell. */
    void splitRows(Collected c, double fraction, long seed) {
        SplittableRandom r = new SplittableRandom(seed ^ 0x5EED000L);
        List<Integer> tr = new ArrayList<>(), va = new ArrayList<>();
        for (int g = 0; g < c.groups.size(); g++)
            for (boolean t : new boolean[] {true, false}) {
                List<Integer> cell = new ArrayList<>();
                for (int i = 0; i < c.size(); i++) if (c.group[i] == g && c.truth[i] == t) cell.add(i);
                for (int i = cell.size() - 1; i > 0; i--) { int j = r.nextInt(i + 1); Integer x = cell.get(i); cell.set(i, cell.get(j)); cell.set(j, x); }
                int cut = cell.isEmpty() ? 0 : Math.max(1, (int) Math.round(cell.size() * fraction));
                tr.addAll(cell.subList(0, cut));
                va.addAll(cell.subList(cut, cell.size()));
            }
        trainRows = tr.stream().mapToInt(Integer::intValue).sorted().toArray();
        validationRows = va.stream().mapToInt(Integer::intValue).sorted().toArray();
    }

    private static List<Prompt> pick(List<Prompt> all, int[] rows) {
        List<Prompt> out = new ArrayList<>(rows.length);
        for (int i : rows) out.add(all.get(i));
        return out;
    }
}
