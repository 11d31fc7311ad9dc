package dev.lens4j.cli;

import dev.lens4j.model.HookedTransformer;

import java.util.List;

/** Prompts with an answer and a wrong token each (fields "prompt", "answer", "wrong"; the options are the defaults), tokenised. */
record AnswerPrompts(int[][] tokens, int[] answer, int[] wrong) {
    static AnswerPrompts tokenize(HookedTransformer model, List<PromptLines.Line> lines, String answer, String wrong) {
        int n = lines.size();
        int[][] tokens = new int[n][];
        int[] a = new int[n], w = new int[n];
        for (int i = 0; i < n; i++) {
            PromptLines.Line l = lines.get(i);
            String p = l.require("prompt", null, "--prompt");
            tokens[i] = model.toTokens(p);
            a[i] = model.answerToken(p, l.require("answer", answer, "--answer"));
            w[i] = model.answerToken(p, l.require("wrong", wrong, "--wrong"));
        }
        return new AnswerPrompts(tokens, a, w);
    }
}
