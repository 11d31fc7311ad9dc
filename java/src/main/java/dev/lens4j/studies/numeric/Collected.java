package dev.lens4j.studies.numeric;

import dev.lens4j.analysis.NeuronScoring.Prompt;
import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Positions;
import dev.lens4j.model.Batches;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.PaddedBatch;

import java.util.ArrayList;
import java.util.List;

/**
 * One pass over the prompts (length-sorted, left-padded batches) keeping only what the geometry and readout need:
 * blocks.{l}.hook_resid_post at each prompt's last token for every layer, and the forced-choice margin
 * logit(yes) - logit(no) of the last position.
 */
final class Collected {
    final List<Prompt> prompts;
    final List<String> groups;
    final int[] group;        // index into groups, per prompt
    final boolean[] truth;
    final int layers, dModel;
    final float[][] resid;    // [layer][prompt * d_model]
    final double[] margin;    // raw logit(yes) - logit(no)

    private Collected(List<Prompt> prompts, List<String> groups, int layers, int dModel) {
        this.prompts = prompts;
        this.groups = groups;
        this.layers = layers;
        this.dModel = dModel;
        int n = prompts.size();
        group = new int[n];
        truth = new boolean[n];
        for (int i = 0; i < n; i++) { group[i] = groups.indexOf(prompts.get(i).group()); truth[i] = prompts.get(i).truthYes(); }
        resid = new float[layers][n * dModel];
        margin = new double[n];
    }

    /** Given activations (a planted-structure test builds them by hand). */
    static Collected of(List<Prompt> prompts, List<String> groups, float[][] resid, double[] margin) {
        Collected c = new Collected(prompts, groups, resid.length, resid[0].length / prompts.size());
        for (int l = 0; l < resid.length; l++) System.arraycopy(resid[l], 0, c.resid[l], 0, resid[l].length);
        System.arraycopy(margin, 0, c.margin, 0, margin.length);
        return c;
    }

    int size() { return prompts.size(); }
    boolean predictedYes(int i) { return margin[i] > 0; }

    /** Rows of one layer for the prompts in idx, as doubles. */
    double[][] rows(int layer, int[] idx) {
        double[][] x = new double[idx.length][dModel];
        for (int r = 0; r < idx.length; r++)
            for (int d = 0; d < dModel; d++) x[r][d] = resid[layer][idx[r] * dModel + d];
        return x;
    }

    int[] ofGroup(int g) { return java.util.stream.IntStream.range(0, size()).filter(i -> group[i] == g).toArray(); }
    int[] all() { return java.util.stream.IntStream.range(0, size()).toArray(); }

    boolean[] truthOf(int[] idx) {
        boolean[] y = new boolean[idx.length];
        for (int r = 0; r < idx.length; r++) y[r] = truth[idx[r]];
        return y;
    }

    static Collected run(HookedTransformer model, List<Prompt> prompts, List<String> groups, int batch, StudyProgress progress) {
        int L = model.cfg().nLayers, D = model.cfg().dModel;
        Collected c = new Collected(prompts, groups, L, D);
        String[] names = new String[L];
        for (int l = 0; l < L; l++) names[l] = HookNames.residPost(l);
        List<int[]> seqs = new ArrayList<>();
        for (Prompt p : prompts) seqs.add(p.tokens());
        List<int[]> batches = Batches.byLength(seqs, batch);
        progress.start("activations", prompts.size());
        int done = 0;
        for (int[] b : batches) {
            PaddedBatch pb = Batches.pad(seqs, b, PaddedBatch.Side.LEFT, model.padTokenId());
            var o = new HookedTransformer.RunOptions().cacheNames(names).cachePositions(Positions.last()).logitsLastOnly(true);
            try (var out = model.run(pb, o)) {
                for (int l = 0; l < L; l++) {
                    float[] h = out.cache().get(names[l]).toFloatArray(); // [B, 1, D]
                    for (int r = 0; r < b.length; r++) System.arraycopy(h, r * D, c.resid[l], b[r] * D, D);
                }
                float[] lg = out.logits().toFloatArray();
                int V = (int) out.logits().size(2);
                for (int r = 0; r < b.length; r++) {
                    Prompt p = prompts.get(b[r]);
                    c.margin[b[r]] = (double) lg[r * V + p.yes()] - lg[r * V + p.no()];
                }
            }
            done += b.length;
            progress.update(done);
        }
        return c;
    }
}
