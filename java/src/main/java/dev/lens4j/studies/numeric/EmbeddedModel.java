package dev.lens4j.studies.numeric;

import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.train.Init;
import dev.lens4j.train.Trainer;

import java.util.List;
import java.util.function.Consumer;

/**
 * The study's default model when no --model is given: a small character-level transformer trained (with the
 * grokking study's {@link Trainer}) to answer " Yes" / " No" at the last position of the study's own prompts, on
 * pairs drawn with a different seed from the ones analysed. Small enough to train in a minute or two on 2 cores.
 */
public final class EmbeddedModel {
    private EmbeddedModel() {}

    /** Training settings (the defaults are the study's; tests shrink them). */
    public static final class Options {
        public int layers = 2, dModel = 64, heads = 4, dMlp = 256;
        public int trainPerCategory = 2000, testPerCategory = 100;
        public int epochs = 6, batchSize = 128;
        public double lr = 3e-3, weightDecay = 0.01;
        public long modelSeed = 1, dataSeed = 1_000_003;

        public Options validate() {
            if (layers < 2) throw new IllegalArgumentException("the embedded model needs >= 2 layers (the study patches the second-to-last into the last), got " + layers);
            if (dModel < 1 || heads < 1 || dModel % heads != 0) throw new IllegalArgumentException("embedded d_model " + dModel + " must be a positive multiple of its heads " + heads);
            if (dMlp < 1 || trainPerCategory < 2 || testPerCategory < 2 || epochs < 1 || batchSize < 1)
                throw new IllegalArgumentException("embedded model: d_mlp, data sizes, epochs and batch size must be positive");
            return this;
        }
    }

    /** What training produced. */
    public record Trained(HookedTransformer model, Options options, Trainer.History history, double[] testAccuracyByCategory) {}

    public static Config config(Options o, int vocab) {
        Config c = new Config();
        c.modelName = "lens4j-numeric-compare-char";
        c.nLayers = o.layers;
        c.dModel = o.dModel;
        c.nHeads = o.heads;
        c.dHead = o.dModel / o.heads;
        c.dMlp = o.dMlp;
        c.actFn = "gelu";
        c.normalizationType = "LN";
        c.positionalEmbeddingType = "rotary"; // relative positions: the numbers sit at varying offsets
        c.dVocab = vocab;
        c.nCtx = 128;
        c.seed = o.modelSeed;
        c.defaultPrependBos = true;
        return c.validate();
    }

    /** Trains on the template's prompts (the caller owns the returned model). */
    public static Trained train(Options o, String template, Consumer<Trainer.Progress> progress) {
        o.validate();
        CharTokenizer tok = new CharTokenizer();
        Config cfg = config(o, tok.vocabSize());
        HookedTransformer model = new HookedTransformer(cfg, Init.initWeights(cfg), tok, null);
        boolean ok = false;
        try {
            List<NumericDataset.Item> train = NumericDataset.generate(o.trainPerCategory, o.dataSeed);
            List<NumericDataset.Item> test = NumericDataset.generate(o.testPerCategory, o.dataSeed + 1);
            Trainer.Options to = new Trainer.Options().epochs(o.epochs).batchSize(o.batchSize).lr(o.lr).weightDecay(o.weightDecay)
                    .betas(0.9, 0.98).shuffleSeed(o.dataSeed).progress(progress);
            Trainer.History h = Trainer.train(model, dataset(model, train, template), dataset(model, test, template), to);
            double[] byCat = new double[NumericDataset.CATEGORIES.size()];
            for (int c = 0; c < byCat.length; c++) {
                String cat = NumericDataset.CATEGORIES.get(c);
                byCat[c] = Trainer.evaluate(model, dataset(model, test.stream().filter(i -> i.group().equals(cat)).toList(), template))[1];
            }
            ok = true;
            return new Trained(model, o, h, byCat);
        } finally {
            if (!ok) model.close();
        }
    }

    private static Trainer.Dataset dataset(HookedTransformer model, List<NumericDataset.Item> items, String template) {
        int[][] t = new int[items.size()][];
        int[] y = new int[items.size()];
        for (int i = 0; i < t.length; i++) {
            t[i] = model.toTokens(items.get(i).prompt(template));
            y[i] = items.get(i).truthYes() ? CharTokenizer.YES : CharTokenizer.NO;
        }
        return new Trainer.Dataset(t, y);
    }
}
