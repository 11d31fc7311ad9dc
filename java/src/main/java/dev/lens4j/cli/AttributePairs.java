package dev.lens4j.cli;

import dev.lens4j.model.HookedTransformer;

import java.util.List;

/** Clean/corrupt prompt pairs of `attribute` and `sweep`, tokenised and checked: same length within and across pairs. */
record AttributePairs(int[][] clean, int[][] corrupt, int[] answer, int[] wrong) {
    static AttributePairs tokenize(HookedTransformer model, List<PromptLines.Line> lines, String answer, String wrong) {
        int n = lines.size();
        int[][] c = new int[n][], k = new int[n][];
        int[] a = new int[n], w = new int[n];
        for (int i = 0; i < n; i++) {
            PromptLines.Line l = lines.get(i);
            String cl = l.require("clean", null, "--clean"), co = l.require("corrupt", null, "--corrupt");
            c[i] = model.toTokens(cl);
            k[i] = model.toTokens(co);
            if (c[i].length != k[i].length)
                throw new IllegalArgumentException((n > 1 ? "line " + l.number() + ": " : "") + "the clean prompt is " + c[i].length
                        + " tokens " + model.toStrTokens(c[i]) + ", the corrupt prompt " + k[i].length + " tokens " + model.toStrTokens(k[i])
                        + ": attribution patching pairs positions, so they must have the same token length");
            a[i] = model.answerToken(cl, l.require("answer", answer, "--answer"));
            w[i] = model.answerToken(cl, l.require("wrong", wrong, "--wrong"));
        }
        Inputs.oneLength(c, lines, "resid_pre is per position");
        return new AttributePairs(c, k, a, w);
    }
}
