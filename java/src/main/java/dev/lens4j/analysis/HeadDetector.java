package dev.lens4j.analysis;

import dev.lens4j.hooks.ActivationCache;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Random;

/**
 * TransformerLens's head_detector.detect_head: how well each head's attention pattern on a token sequence matches
 * a detection pattern [seq, seq] (lower triangular), per head [n_layers, n_heads]. The three named patterns are
 * TL's: previous token (query i attends to i-1), duplicate token (to earlier positions holding the same token) and
 * induction (to the position after an earlier copy of the current token). Error measures as TL defines them:
 * MUL = Σ pattern ⊙ detection / Σ pattern (the share of attention on the detected pairs, after zeroing the BOS column
 * and/or the diagonal of the pattern when excluded); ABS = 1 - round(Σ|pattern - detection| / seq, 3) (after zeroing
 * those entries of the difference). Patterns are read by a hook as each layer runs, so memory is one layer's pattern.
 */
public final class HeadDetector {
    private HeadDetector() {}

    public enum HeadName { PREVIOUS_TOKEN_HEAD, DUPLICATE_TOKEN_HEAD, INDUCTION_HEAD }

    public enum ErrorMeasure { MUL, ABS }

    /** detect_head's keyword options; heads null means every head (others score -1, as TL). */
    public record Options(boolean excludeBos, boolean excludeCurrentToken, ErrorMeasure errorMeasure, boolean[][] heads) {
        public static Options defaults() { return new Options(false, false, ErrorMeasure.MUL, null); }
        public Options excludeBos(boolean b) { return new Options(b, excludeCurrentToken, errorMeasure, heads); }
        public Options excludeCurrentToken(boolean b) { return new Options(excludeBos, b, errorMeasure, heads); }
        public Options errorMeasure(ErrorMeasure m) { return new Options(excludeBos, excludeCurrentToken, m, heads); }
        public Options heads(boolean[][] h) { return new Options(excludeBos, excludeCurrentToken, errorMeasure, h); }
    }

    /** TL's get_previous_token_head_detection_pattern. */
    public static double[][] previousTokenPattern(int[] tokens) {
        int n = tokens.length;
        double[][] p = new double[n][n];
        for (int i = 1; i < n; i++) p[i][i - 1] = 1;
        return p;
    }

    /** TL's get_duplicate_token_head_detection_pattern: earlier (j < i) positions with the same token. */
    public static double[][] duplicateTokenPattern(int[] tokens) {
        int n = tokens.length;
        double[][] p = new double[n][n];
        for (int i = 0; i < n; i++) for (int j = 0; j < i; j++) if (tokens[i] == tokens[j]) p[i][j] = 1;
        return p;
    }

    /** TL's get_induction_head_detection_pattern: the duplicate pattern shifted one key position right. */
    public static double[][] inductionPattern(int[] tokens) {
        double[][] dup = duplicateTokenPattern(tokens);
        int n = tokens.length;
        double[][] p = new double[n][n];
        for (int i = 0; i < n; i++) for (int j = 1; j <= i; j++) p[i][j] = dup[i][j - 1];
        return p;
    }

    public static double[][] pattern(HeadName name, int[] tokens) {
        return switch (name) {
            case PREVIOUS_TOKEN_HEAD -> previousTokenPattern(tokens);
            case DUPLICATE_TOKEN_HEAD -> duplicateTokenPattern(tokens);
            case INDUCTION_HEAD -> inductionPattern(tokens);
        };
    }

    /**
     * Repeated random tokens as TL's induction demos make them: BOS (when the model prepends one and has a tokenizer
     * that defines it) then `half` random tokens in [0, d_vocab) twice; seeded, so reproducible.
     */
    public static int[] repeatedRandomTokens(HookedTransformer model, int half, long seed) {
        if (half < 1) throw new IllegalArgumentException("repeated random tokens: half length must be >= 1, got " + half);
        if (half > model.cfg().nCtx) throw new IllegalArgumentException("repeated random tokens: half length " + half + " is more than n_ctx = " + model.cfg().nCtx);
        java.util.OptionalInt bos = model.cfg().defaultPrependBos && model.hasTokenizer() ? model.tokenizer().bosTokenId() : java.util.OptionalInt.empty();
        int off = bos.isPresent() ? 1 : 0;
        int[] t = new int[off + 2 * half];
        if (bos.isPresent()) t[0] = bos.getAsInt();
        Random r = new Random(seed);
        for (int i = 0; i < half; i++) t[off + i] = t[off + half + i] = r.nextInt(model.cfg().dVocab);
        return t;
    }

    /** detect_head with a named pattern, built from the tokens. */
    public static double[][] detectHead(HookedTransformer model, int[] tokens, HeadName name, Options o) {
        return detectHead(model, tokens, pattern(name, tokens), o);
    }

    /** detect_head on a text (tokenised as TL's to_tokens, BOS prepended by default). */
    public static double[][] detectHead(HookedTransformer model, String text, HeadName name, Options o) {
        return detectHead(model, model.toTokens(text), name, o);
    }

    /** Scores [n_layers][n_heads] of every head (or o.heads(); the others -1) against a detection pattern [seq][seq]. */
    public static double[][] detectHead(HookedTransformer model, int[] tokens, double[][] detection, Options o) {
        return detectHeads(model, tokens, new double[][][] {detection}, o)[0];
    }

    /** Several detection patterns scored in one forward pass: [pattern][n_layers][n_heads]. */
    public static double[][][] detectHeads(HookedTransformer model, int[] tokens, double[][][] detections, Options o) {
        Options opt = check(model, tokens, detections, o);
        double[][][] scores = unscored(model, detections.length);
        Hooks hooks = Hooks.none().addRegex("^blocks\\.\\d+\\.attn\\.hook_pattern$", (pattern, hook) -> {
            scoreLayer(pattern.toFloatArray(), hook.layer(), tokens.length, detections, opt, scores);
            return null;
        });
        try (Tensor ignored = model.runWithHooks(new int[][] {tokens}, hooks)) {
            return scores;
        }
    }

    /**
     * detect_head with a cache passed (TL's cache argument): the patterns are read from blocks.{l}.attn.hook_pattern of
     * a one-sequence cache of these tokens, and nothing is run.
     */
    public static double[][] detectHead(HookedTransformer model, ActivationCache cache, int[] tokens, double[][] detection, Options o) {
        double[][][] detections = {detection};
        Options opt = check(model, tokens, detections, o);
        double[][][] scores = unscored(model, 1);
        int n = tokens.length, H = model.cfg().nHeads;
        for (int l = 0; l < model.cfg().nLayers; l++) {
            String name = "blocks." + l + ".attn.hook_pattern";
            if (!cache.has(name)) throw new IllegalArgumentException("the cache has no " + name + " (cache the attention patterns of every layer)");
            Tensor p = cache.get(name);
            if (!Tensor.sameShape(p, 1, H, n, n))
                throw new IllegalArgumentException(name + " is " + p.describe() + ", expected [1, " + H + ", " + n + ", " + n
                        + "]: one sequence of these " + n + " tokens, every position cached");
            scoreLayer(p.toFloatArray(), l, n, detections, opt, scores);
        }
        return scores[0];
    }

    /**
     * detect_head on several sequences (TL's list input): the mean over the sequences of each one's scores, every
     * sequence with its own named pattern. Unlike TL, whose list path drops heads / exclude_* / error_measure, the
     * options apply to every sequence.
     */
    public static double[][] detectHead(HookedTransformer model, int[][] sequences, HeadName name, Options o) {
        if (sequences == null || sequences.length == 0) throw new IllegalArgumentException("no sequences to score");
        int L = model.cfg().nLayers, H = model.cfg().nHeads;
        double[][] mean = new double[L][H];
        for (int[] seq : sequences) {
            double[][] s = detectHead(model, seq, name, o);
            for (int l = 0; l < L; l++) for (int h = 0; h < H; h++) mean[l][h] += s[l][h] / sequences.length;
        }
        return mean;
    }

    private static Options check(HookedTransformer model, int[] tokens, double[][][] detections, Options o) {
        Config cfg = model.cfg();
        int n = tokens.length, L = cfg.nLayers, H = cfg.nHeads;
        if (o == null) o = Options.defaults();
        if (o.errorMeasure() == null) throw new IllegalArgumentException("error measure must be MUL or ABS");
        if (!(1 < n && n < cfg.nCtx))
            throw new IllegalArgumentException("The sequence must be non-empty and must fit within the model's context window: it has "
                    + n + " tokens, detect_head needs 1 < length < n_ctx = " + cfg.nCtx);
        for (int t : tokens) if (t < 0 || t >= cfg.dVocab) throw new IllegalArgumentException("token id " + t + " is outside 0.." + (cfg.dVocab - 1));
        for (double[][] d : detections) checkDetection(d, n);
        boolean[][] heads = o.heads();
        if (heads != null && (heads.length != L || java.util.Arrays.stream(heads).anyMatch(r -> r == null || r.length != H)))
            throw new IllegalArgumentException("heads mask must be [" + L + "][" + H + "]");
        return o;
    }

    /** Every head -1 (TL's value for heads not asked for) until scored. */
    private static double[][][] unscored(HookedTransformer model, int patterns) {
        double[][][] scores = new double[patterns][model.cfg().nLayers][model.cfg().nHeads];
        for (double[][] x : scores) for (double[] r : x) java.util.Arrays.fill(r, -1);
        return scores;
    }

    /** One layer's pattern [1, H, n, n] scored against every detection pattern, for the heads asked for. */
    private static void scoreLayer(float[] p, int l, int n, double[][][] detections, Options o, double[][][] scores) {
        int H = scores[0][l].length;
        for (int h = 0; h < H; h++) {
            if (o.heads() != null && !o.heads()[l][h]) continue;
            for (int d = 0; d < detections.length; d++) scores[d][l][h] = score(p, h * n * n, n, detections[d], o);
        }
    }

    private static void checkDetection(double[][] d, int n) {
        if (d == null || d.length != n)
            throw new IllegalArgumentException("The detection pattern must be a lower triangular matrix of shape (sequence_length, sequence_length); "
                    + "sequence_length=" + n + "; got " + (d == null ? "null" : d.length + " rows"));
        for (int i = 0; i < n; i++) {
            if (d[i] == null || d[i].length != n)
                throw new IllegalArgumentException("detection pattern row " + i + " has " + (d[i] == null ? 0 : d[i].length) + " values, expected " + n);
            for (int j = 0; j < n; j++) {
                if (!Double.isFinite(d[i][j])) throw new IllegalArgumentException("detection pattern [" + i + "][" + j + "] = " + d[i][j] + " is not finite");
                if (j > i && d[i][j] != 0)
                    throw new IllegalArgumentException("The detection pattern must be lower triangular: [" + i + "][" + j + "] = " + d[i][j]);
            }
        }
    }

    /** compute_head_attention_similarity_score for one head's pattern p[off + i * n + j]. */
    static double score(float[] p, int off, int n, double[][] det, Options o) {
        if (o.errorMeasure() == ErrorMeasure.MUL) {
            double num = 0, den = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j <= i; j++) {
                    if ((o.excludeBos() && j == 0) || (o.excludeCurrentToken() && j == i)) continue;
                    double a = p[off + i * n + j];
                    num += a * det[i][j];
                    den += a;
                }
            return num / den;       // 0/0 = NaN when nothing is left, as in TL
        }
        double sum = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++) {
                if ((o.excludeBos() && j == 0) || (o.excludeCurrentToken() && j == i)) continue;
                sum += Math.abs(p[off + i * n + j] - det[i][j]);
            }
        // TL: 1 - round((abs_diff.mean() * size).item(), 3), Python's round (half to even on the exact value)
        return 1 - new BigDecimal(sum / n).setScale(3, RoundingMode.HALF_EVEN).doubleValue();
    }
}
