package dev.lens4j.model;

/** Metrics of the final logits used by the seeds and TransformerLens demos, each with its exact gradient. */
public final class Metrics {
    private Metrics() {}

    /** Sum over the batch of logit(answer) - logit(wrong) at the last position (TL's logits_to_ave_logit_diff, summed). */
    public static Metric logitDiff(int answer, int wrong) {
        return logitDiff(new int[] {answer}, new int[] {wrong});
    }

    /** Per prompt b: logit(answers[b]) - logit(wrongs[b]) at the last position, summed over the batch. */
    public static Metric logitDiff(int[] answers, int[] wrongs) {
        return (logits, B, P, V, grad) -> {
            check(answers, B, V, "answer");
            check(wrongs, B, V, "wrong");
            double s = 0;
            for (int b = 0; b < B; b++) {
                int row = (b * P + P - 1) * V;
                int a = answers[answers.length == 1 ? 0 : b], w = wrongs[wrongs.length == 1 ? 0 : b];
                s += logits[row + a] - logits[row + w];
                grad[row + a] += 1;
                grad[row + w] -= 1;
            }
            return s;
        };
    }

    /** Mean logit of a token set minus mean logit of another set, at the last position, summed over the batch. */
    public static Metric logitSetDiff(int[] setA, int[] setB) {
        return (logits, B, P, V, grad) -> {
            checkSet(setA, V, "set A");
            checkSet(setB, V, "set B");
            double s = 0;
            for (int b = 0; b < B; b++) {
                int row = (b * P + P - 1) * V;
                for (int t : setA) { s += logits[row + t] / (double) setA.length; grad[row + t] += 1f / setA.length; }
                for (int t : setB) { s -= logits[row + t] / (double) setB.length; grad[row + t] -= 1f / setB.length; }
            }
            return s;
        };
    }

    /** Sum of softmax probabilities over set A minus over set B at the last position (seed 004), summed over the batch. */
    public static Metric probSetDiff(int[] setA, int[] setB) {
        return (logits, B, P, V, grad) -> {
            checkSet(setA, V, "set A");
            checkSet(setB, V, "set B");
            double total = 0;
            double[] p = new double[V];
            for (int b = 0; b < B; b++) {
                int row = (b * P + P - 1) * V;
                softmax(logits, row, V, p);
                double m = 0;
                double[] c = new double[V]; // d m / d p
                for (int t : setA) { m += p[t]; c[t] += 1; }
                for (int t : setB) { m -= p[t]; c[t] -= 1; }
                double dot = 0;
                for (int v = 0; v < V; v++) dot += p[v] * c[v];
                for (int v = 0; v < V; v++) grad[row + v] += (float) (p[v] * (c[v] - dot));
                total += m;
            }
            return total;
        };
    }

    /**
     * Seed 000's forced-choice margin: logit(yes) - logit(no), aligned by truth (+1 when the true answer is yes,
     * -1 when it is no), summed over the batch. Positive means the model prefers the true answer.
     */
    public static Metric forcedChoiceMargin(int yes, int no, boolean[] truthIsYes) {
        return forcedChoiceMargin(new int[] {yes}, new int[] {no}, truthIsYes);
    }

    /** As above with per-prompt yes / no ids (1 or batch entries each), for answers tokenised in context. */
    public static Metric forcedChoiceMargin(int[] yes, int[] no, boolean[] truthIsYes) {
        return (logits, B, P, V, grad) -> {
            if (truthIsYes.length != B) throw new IllegalArgumentException("truth has " + truthIsYes.length + " entries for a batch of " + B);
            check(yes, B, V, "yes");
            check(no, B, V, "no");
            double s = 0;
            for (int b = 0; b < B; b++) {
                int row = (b * P + P - 1) * V;
                int y = yes[yes.length == 1 ? 0 : b], n = no[no.length == 1 ? 0 : b];
                float sign = truthIsYes[b] ? 1f : -1f;
                s += sign * (logits[row + y] - logits[row + n]);
                grad[row + y] += sign;
                grad[row + n] -= sign;
            }
            return s;
        };
    }

    /** Mean cross-entropy of targets[b] at the last position (the grokking seed's loss_fn), computed in double. */
    public static Metric crossEntropyLast(int[] targets) {
        return (logits, B, P, V, grad) -> {
            if (targets.length != B) throw new IllegalArgumentException(targets.length + " targets for a batch of " + B);
            check(targets, B, V, "target");
            double total = 0;
            double[] p = new double[V];
            for (int b = 0; b < B; b++) {
                int row = (b * P + P - 1) * V;
                double lse = softmax(logits, row, V, p);
                total += lse - logits[row + targets[b]];
                for (int v = 0; v < V; v++) grad[row + v] += (float) ((p[v] - (v == targets[b] ? 1 : 0)) / B);
            }
            return total / B;
        };
    }

    /** Mean next-token cross-entropy over all positions (TL's loss), for tokens [batch][pos]. */
    public static Metric nextTokenLoss(int[][] tokens) {
        return new Metric() {
            @Override public boolean lastPositionOnly() { return false; }
            @Override public double evaluate(float[] logits, int B, int P, int V, float[] grad) {
                return evaluate(logits, B, P, V, grad, null);
            }

            /** TL's lm_cross_entropy_loss with an attention mask: only predictions of a real token from a real token count. */
            @Override public double evaluate(float[] logits, int B, int P, int V, float[] grad, int[][] mask) {
                if (tokens.length != B || tokens[0].length != P) throw new IllegalArgumentException("tokens do not match the logits");
                double total = 0;
                int n = 0;
                for (int b = 0; b < B; b++)
                    for (int q = 0; q + 1 < P; q++) if (mask == null || (mask[b][q] == 1 && mask[b][q + 1] == 1)) n++;
                if (n == 0) throw new IllegalArgumentException("no next-token prediction: every row has fewer than 2 real tokens");
                double[] p = new double[V];
                for (int b = 0; b < B; b++)
                    for (int q = 0; q + 1 < P; q++) {
                        if (mask != null && (mask[b][q] != 1 || mask[b][q + 1] != 1)) continue;
                        int row = (b * P + q) * V, t = tokens[b][q + 1];
                        double lse = softmax(logits, row, V, p);
                        total += lse - logits[row + t];
                        for (int v = 0; v < V; v++) grad[row + v] += (float) ((p[v] - (v == t ? 1 : 0)) / n);
                    }
                return total / n;
            }
        };
    }

    /** softmax of logits[row .. row+V) into p; returns log-sum-exp. */
    static double softmax(float[] logits, int row, int V, double[] p) {
        double max = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < V; v++) max = Math.max(max, logits[row + v]);
        double sum = 0;
        for (int v = 0; v < V; v++) { p[v] = Math.exp(logits[row + v] - max); sum += p[v]; }
        for (int v = 0; v < V; v++) p[v] /= sum;
        return max + Math.log(sum);
    }

    private static void check(int[] ids, int batch, int V, String what) {
        if (ids.length != 1 && ids.length != batch)
            throw new IllegalArgumentException(ids.length + " " + what + " tokens for a batch of " + batch + " (give 1 or " + batch + ")");
        for (int t : ids)
            if (t < 0 || t >= V) throw new IllegalArgumentException(what + " token " + t + " is outside the vocabulary [0, " + V + ")");
        if (ids.length == 0) throw new IllegalArgumentException("no " + what + " tokens given");
    }

    /** A token set: non-empty, every id in the vocabulary (its size is unrelated to the batch). */
    private static void checkSet(int[] ids, int V, String what) {
        if (ids.length == 0) throw new IllegalArgumentException("no " + what + " tokens given");
        for (int t : ids)
            if (t < 0 || t >= V) throw new IllegalArgumentException(what + " token " + t + " is outside the vocabulary [0, " + V + ")");
    }

}
