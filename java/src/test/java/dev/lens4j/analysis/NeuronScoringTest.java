package dev.lens4j.analysis;

import dev.lens4j.analysis.NeuronScoring.Ablation;
import dev.lens4j.analysis.NeuronScoring.Prompt;
import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.hooks.Positions;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Metrics;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Seed 000's scoring on a model where the answer is known: a tiny random GPT-2 whose truth is "the last token is one
 * the model already answers yes to" (so it starts out mostly right), with two neurons of the last block planted to
 * fire on one class and write towards the other class's answer. The scorer must find them; ablating them must
 * restore accuracy on held-out prompts.
 */
class NeuronScoringTest {
    static final int YES = 1, NO = 2, LAST = 1, PUSH_NO = 17, PUSH_YES = 93;
    static Config cfg;
    static HookedTransformer model;
    static List<Prompt> train, validation;
    static double baselineValidation;

    @BeforeAll
    static void plant() {
        cfg = RandomWeights.gpt2Config(2, 32, 4, 40, 16);
        model = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 11));
        // classes of last tokens by the unplanted model's own preference, so the baseline is mostly right
        Random r = new Random(5);
        double[] pref = new double[cfg.dVocab];
        for (int t = 3; t < cfg.dVocab; t++) {
            int[][] toks = new int[8][];
            for (int i = 0; i < 8; i++) toks[i] = prompt(r, t);
            pref[t] = Runs.metric(model, toks, Metrics.logitDiff(YES, NO), Hooks.none());
        }
        int[] order = IntStream.range(3, cfg.dVocab).boxed().sorted((a, b) -> Double.compare(pref[b], pref[a])).mapToInt(i -> i).toArray();
        int[] yesTokens = Arrays.copyOfRange(order, 0, 6), noTokens = Arrays.copyOfRange(order, order.length - 6, order.length);
        train = prompts(r, yesTokens, noTokens, 48);
        validation = prompts(r, yesTokens, noTokens, 48);
        baselineValidation = NeuronScoring.evaluate(model, validation, Hooks.none()).accuracy();

        // probe direction of the last block's MLP input (ln2 output at the last position), yes-class minus no-class
        int D = cfg.dModel, F = cfg.dMlp;
        float[][] x = new float[train.size()][];
        String ln2 = HookNames.lnNormalized(LAST, 2);
        for (int i = 0; i < train.size(); i++)
            try (var o = model.run(new int[][] {train.get(i).tokens()}, new HookedTransformer.RunOptions().cacheNames(ln2).cachePositions(Positions.last()))) {
                x[i] = o.cache().get(ln2).toFloatArray();
            }
        double[] u = new double[D];
        for (int i = 0; i < x.length; i++) for (int d = 0; d < D; d++) u[d] += (train.get(i).truthYes() ? 1 : -1) * x[i][d];
        double norm = Math.sqrt(Arrays.stream(u).map(v -> v * v).sum());
        for (int d = 0; d < D; d++) u[d] /= norm;
        double sy = 0, sn = 0;
        int ny = 0;
        for (int i = 0; i < x.length; i++) {
            double s = 0;
            for (int d = 0; d < D; d++) s += u[d] * x[i][d];
            if (train.get(i).truthYes()) { sy += s; ny++; } else sn += s;
        }
        sy /= ny; sn /= x.length - ny;
        double mid = (sy + sn) / 2, alpha = 4 / ((sy - sn) / 2); // pre-activation about +-4 on the two classes
        float[] wIn = model.weights().W_in(LAST).toFloatArray(), bIn = model.weights().b_in(LAST).toFloatArray();
        float[] wOut = model.weights().W_out(LAST).toFloatArray(), wU = model.weights().W_U().toFloatArray();
        int V = cfg.dVocab;
        for (int d = 0; d < D; d++) {
            wIn[d * F + PUSH_NO] = (float) (alpha * u[d]);
            wIn[d * F + PUSH_YES] = (float) (-alpha * u[d]);
            float toNo = wU[d * V + NO] - wU[d * V + YES];
            wOut[PUSH_NO * D + d] = 2 * toNo;    // fires on yes prompts, writes towards "no"
            wOut[PUSH_YES * D + d] = -2 * toNo;  // fires on no prompts, writes towards "yes"
        }
        bIn[PUSH_NO] = (float) (-alpha * mid);
        bIn[PUSH_YES] = (float) (alpha * mid);
        model.weights().W_in(LAST).set(wIn);
        model.weights().b_in(LAST).set(bIn);
        model.weights().W_out(LAST).set(wOut);
    }

    @AfterAll
    static void close() { model.close(); }

    static int[] prompt(Random r, int last) {
        int[] t = new int[8];
        for (int i = 0; i < 7; i++) t[i] = 3 + r.nextInt(cfg.dVocab - 3);
        t[7] = last;
        return t;
    }

    static List<Prompt> prompts(Random r, int[] yesTokens, int[] noTokens, int n) {
        List<Prompt> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            boolean yes = i % 2 == 0;
            int[] pool = yes ? yesTokens : noTokens;
            out.add(new Prompt(prompt(r, pool[r.nextInt(pool.length)]), YES, NO, yes, yes ? "yes-class" : "no-class"));
        }
        return out;
    }

    @Test
    void findsThePlantedNeuronsAndAblationRestoresHeldOutAccuracy() {
        var planted = NeuronScoring.evaluate(model, validation, Hooks.none());
        System.out.printf("validation accuracy: unplanted %.3f, planted %.3f %s%n", baselineValidation, planted.accuracy(), planted.accuracyByGroup());
        assertTrue(planted.accuracy() < baselineValidation - 0.2, "the planted neurons should hurt: " + planted.accuracy() + " vs " + baselineValidation);

        var s = NeuronScoring.score(model, LAST, train);
        int[] top = s.mostHarmful(2);
        Arrays.sort(top);
        assertArrayEquals(new int[] {PUSH_NO, PUSH_YES}, top, "most harmful on the training prompts");
        assertEquals(PUSH_NO, s.mostHarmfulByGroup(1).get("yes-class")[0]);
        assertEquals(PUSH_YES, s.mostHarmfulByGroup(1).get("no-class")[0]);
        assertEquals(planted.accuracy(), NeuronScoring.evaluate(model, validation, Hooks.none()).accuracy());

        for (Ablation a : Ablation.values()) {
            var rep = NeuronScoring.trainValidation(model, LAST, train, validation, 2, a);
            System.out.printf("%s ablation of %s: train %.3f -> %.3f, validation %.3f -> %.3f%n", a, Arrays.toString(rep.neurons()),
                    rep.trainBefore().accuracy(), rep.trainAfter().accuracy(), rep.validationBefore().accuracy(), rep.validationAfter().accuracy());
            assertTrue(rep.validationAfter().accuracy() > rep.validationBefore().accuracy() + 0.2, a + " ablation should raise validation accuracy");
            assertTrue(rep.validationAfter().meanMargin() > rep.validationBefore().meanMargin(), a + ": margin");
        }
    }

    /** c_j = h_j (W_out[j] . g) equals h_j * dm/dh_j from the reverse pass, at an early block too; margins and accuracy agree. */
    @Test
    void scoresEqualActivationTimesGradientAtAnyBlock() {
        List<Prompt> few = train.subList(0, 5);
        for (int layer = 0; layer < cfg.nLayers; layer++) {
            var s = NeuronScoring.score(model, layer, few);
            for (int i = 0; i < few.size(); i++) {
                Prompt p = few.get(i);
                var metric = Metrics.forcedChoiceMargin(p.yes(), p.no(), new boolean[] {p.truthYes()});
                String post = HookNames.mlpPost(layer);
                var o = new HookedTransformer.RunOptions().cacheNames(post).cacheGrads(post::equals);
                try (var g = model.backward(new int[][] {p.tokens()}, metric, o)) {
                    float[] h = g.cache().get(post).toFloatArray(), dh = g.grads().get(post).toFloatArray();
                    int F = cfg.dMlp, off = (p.tokens().length - 1) * F;
                    float[] c = s.c(i);
                    for (int j = 0; j < F; j++) assertEquals(h[off + j] * dh[off + j], c[j], 1e-4 * (1 + Math.abs(c[j])), "layer " + layer + " neuron " + j);
                    assertEquals(g.value(), s.margin(i), 1e-4);
                }
            }
            double acc = NeuronScoring.evaluate(model, few, Hooks.none()).accuracy();
            assertEquals(acc, s.accuracy(), 1e-12);
            var t = NeuronScoring.toTensors(s);
            try {
                assertArrayEquals(new long[] {cfg.dMlp}, t.get("c").shape());
                assertArrayEquals(new long[] {cfg.dModel}, t.get("g").shape());
                assertArrayEquals(new long[] {5, cfg.dMlp}, t.get("c_per_prompt").shape());
            } finally { t.values().forEach(Tensor::close); }
        }
    }

    @Test
    void badInput() {
        var e = assertThrows(IllegalArgumentException.class, () -> NeuronScoring.score(model, 2, train));
        assertTrue(e.getMessage().contains("layer 2 is out of range"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> NeuronScoring.score(model, -1, train));
        assertThrows(IllegalArgumentException.class, () -> NeuronScoring.score(model, 0, List.of()));
    }
}
