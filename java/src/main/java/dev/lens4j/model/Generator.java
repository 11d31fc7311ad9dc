package dev.lens4j.model;

import dev.lens4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * TL's HookedTransformer.generate over token ids: prompts left-padded into one batch (as TL pads for generation), a
 * KV cache so each step runs only the new tokens (or, without it, the whole sequence each step), sampling as
 * {@link Sampling}, and stop_at_eos: a row that emitted EOS is finished (TL keeps filling it with EOS; here its output
 * ends at that EOS) and generation stops when every row has. Never runs past n_ctx. The caller holds the model's guard.
 */
final class Generator {
    private final HookedTransformer model;
    private final GenerateOptions o;
    private final int eos; // -1: none

    Generator(HookedTransformer model, GenerateOptions o, int eos) { this.model = model; this.o = o; this.eos = eos; }

    /** Each prompt followed by its new tokens (no padding). */
    int[][] run(List<int[]> prompts) {
        if (prompts == null || prompts.isEmpty()) throw new IllegalArgumentException("no prompts given");
        for (int i = 0; i < prompts.size(); i++)
            if (prompts.get(i) == null || prompts.get(i).length == 0)
                throw new IllegalArgumentException("prompt " + i + " has no tokens: generation needs at least one (e.g. BOS)");
        int B = prompts.size(), nCtx = model.cfg().nCtx, V = model.cfg().dVocabOut();
        PaddedBatch batch = PaddedBatch.of(prompts, PaddedBatch.Side.LEFT, model.padTokenId());
        SplittableRandom rnd = new SplittableRandom(o.seeded ? o.seed : new SplittableRandom().nextLong());
        List<List<Integer>> added = new ArrayList<>();
        for (int b = 0; b < B; b++) added.add(new ArrayList<>());
        boolean[] finished = new boolean[B];
        HookedTransformer.RunOptions ro = new HookedTransformer.RunOptions().hooks(o.hooks).logitsLastOnly(true);
        int S = batch.seq();
        try (KvCache kv = o.useKvCache ? new KvCache(model.cfg().nLayers, batch) : null) {
            int[][] step = batch.tokens(); // what the next forward runs: the prompt, then one new token per row
            for (int i = 0; i < o.maxNewTokens && S + i < nCtx; i++) {
                float[] logits;
                if (kv != null) {
                    try (Tensor t = model.tokenTensor(step); HookedTransformer.Output out = model.forwardUnguarded(t, ro, null, kv)) {
                        logits = out.logits().toFloatArray();
                    }
                } else {
                    PaddedBatch sofar = PaddedBatch.of(sequences(prompts, added), PaddedBatch.Side.LEFT, model.padTokenId());
                    try (Tensor t = model.tokenTensor(sofar.tokensUnsafe()); HookedTransformer.Output out = model.forwardUnguarded(t, ro, sofar, null)) {
                        logits = out.logits().toFloatArray();
                    }
                }
                int[][] next = new int[B][1];
                for (int b = 0; b < B; b++) {
                    int token = Sampling.sample(logits, b * V, V, o, rnd);
                    next[b][0] = finished[b] ? eos : token; // TL feeds finished rows EOS
                    if (!finished[b]) added.get(b).add(token);
                    if (o.stopAtEos && token == eos) finished[b] = true;
                }
                step = next;
                if (o.stopAtEos && allTrue(finished)) break;
            }
        }
        List<int[]> out = sequences(prompts, added);
        return out.toArray(new int[0][]);
    }

    private static List<int[]> sequences(List<int[]> prompts, List<List<Integer>> added) {
        List<int[]> out = new ArrayList<>(prompts.size());
        for (int b = 0; b < prompts.size(); b++) {
            int[] p = prompts.get(b);
            int[] s = Arrays.copyOf(p, p.length + added.get(b).size());
            for (int j = 0; j < added.get(b).size(); j++) s[p.length + j] = added.get(b).get(j);
            out.add(s);
        }
        return out;
    }

    private static boolean allTrue(boolean[] a) {
        for (boolean x : a) if (!x) return false;
        return true;
    }
}
