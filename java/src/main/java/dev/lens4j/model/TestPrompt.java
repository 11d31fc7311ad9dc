package dev.lens4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.util.ArrayList;
import java.util.List;

/**
 * TransformerLens's utils.test_prompt: the prompt's tokens, then for the next position the top-k tokens
 * (logit, probability) and the rank (0 = top) of the answer's first token.
 */
public record TestPrompt(String prompt, List<String> promptStrTokens, String answer, List<String> answerStrTokens,
                         List<Candidate> topK, Candidate answerToken) {

    public record Candidate(int rank, int token, String str, float logit, float prob) {}

    static TestPrompt of(HookedTransformer model, String prompt, int[] promptTokens, String answer, int[] answerTokens,
                         float[] logits, int k) {
        int V = logits.length;
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) max = Math.max(max, v);
        double sum = 0;
        for (float v : logits) sum += Math.exp(v - max);
        double lse = max + Math.log(sum);
        Integer[] order = new Integer[V];
        for (int i = 0; i < V; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
        List<Candidate> top = new ArrayList<>();
        for (int r = 0; r < Math.min(k, V); r++) {
            int t = order[r];
            top.add(new Candidate(r, t, model.tokenizer().tokenString(t), logits[t], (float) Math.exp(logits[t] - lse)));
        }
        Candidate ans = null;
        if (answerTokens.length > 0) {
            int t = answerTokens[0];
            int rank = 0;
            for (int i = 0; i < V; i++) if (logits[i] > logits[t]) rank++;
            ans = new Candidate(rank, t, model.tokenizer().tokenString(t), logits[t], (float) Math.exp(logits[t] - lse));
        }
        return new TestPrompt(prompt, model.toStrTokens(promptTokens), answer,
                answerTokens.length == 0 ? List.of() : model.toStrTokens(answerTokens), top, ans);
    }

    public String toJson() {
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(this);
        } catch (Exception e) { throw new IllegalStateException(e); }
    }

    /** The text TL's test_prompt prints. */
    public String format() {
        StringBuilder sb = new StringBuilder();
        sb.append("Tokenized prompt: ").append(quoted(promptStrTokens)).append('\n');
        if (answer != null) sb.append("Tokenized answer: ").append(quoted(answerStrTokens)).append('\n');
        if (answerToken != null)
            sb.append(String.format("Performance on answer token:%nRank: %-4d Logit: %6.2f Prob: %6.2f%% Token: |%s|%n",
                    answerToken.rank, answerToken.logit, 100 * answerToken.prob, answerToken.str));
        for (Candidate c : topK)
            sb.append(String.format("Top %d th token. Logit: %6.2f Prob: %6.2f%% Token: |%s|%n", c.rank, c.logit, 100 * c.prob, c.str));
        return sb.toString();
    }

    private static String quoted(List<String> toks) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < toks.size(); i++) sb.append(i > 0 ? ", " : "").append('\'').append(toks.get(i)).append('\'');
        return sb.append(']').toString();
    }
}
