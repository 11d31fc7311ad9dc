package dev.lens4j.studies.secondorder;

import dev.lens4j.model.HookedTransformer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Problems as token sequences prompt + answer[:-1] (teacher forcing: the greedy answer equals the answer exactly
 * when every answer token is the argmax after the true prefix), grouped into batches of equal length so no padding
 * is needed. The query position (the seed's final token T) is the prompt's last token.
 */
final class ProblemBatches {
    final List<MathProblems.Problem> problems;
    final int[][] sequences, answers;
    final int[] query;
    final List<int[]> batches = new ArrayList<>();

    ProblemBatches(HookedTransformer model, List<MathProblems.Problem> problems, int batchSize) {
        this.problems = problems;
        int n = problems.size();
        sequences = new int[n][];
        answers = new int[n][];
        query = new int[n];
        Map<Long, List<Integer>> byLength = new TreeMap<>();
        for (int i = 0; i < n; i++) {
            MathProblems.Problem p = problems.get(i);
            int[] prompt = model.toTokens(p.prompt());
            int[] ans = model.answerTokens(p.prompt(), p.answer());
            if (ans.length == 0) throw new IllegalArgumentException("answer '" + p.answer() + "' of problem " + i + " tokenizes to nothing");
            int[] seq = new int[prompt.length + ans.length - 1];
            System.arraycopy(prompt, 0, seq, 0, prompt.length);
            System.arraycopy(ans, 0, seq, prompt.length, ans.length - 1);
            if (seq.length > model.cfg().nCtx)
                throw new IllegalArgumentException("problem " + i + " ('" + p.prompt() + p.answer() + "') is " + seq.length + " tokens, over n_ctx " + model.cfg().nCtx);
            sequences[i] = seq;
            answers[i] = ans;
            query[i] = prompt.length - 1;
            byLength.computeIfAbsent(((long) seq.length << 32) | query[i], k -> new ArrayList<>()).add(i);
        }
        for (List<Integer> group : byLength.values())
            for (int s = 0; s < group.size(); s += batchSize) {
                List<Integer> part = group.subList(s, Math.min(group.size(), s + batchSize));
                batches.add(part.stream().mapToInt(Integer::intValue).toArray());
            }
    }

    int size() { return sequences.length; }

    int[][] tokens(int[] batch) {
        int[][] t = new int[batch.length][];
        for (int i = 0; i < batch.length; i++) t[i] = sequences[batch[i]];
        return t;
    }

    int totalTokens() {
        int t = 0;
        for (int[] s : sequences) t += s.length;
        return t;
    }
}
