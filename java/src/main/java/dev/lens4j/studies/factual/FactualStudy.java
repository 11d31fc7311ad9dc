package dev.lens4j.studies.factual;

import dev.lens4j.model.HookedTransformer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Seed 004 (factual knowledge in a transformer LM): True/False questions about Paris, answered through sets of tokens
 * that mean True and False. Scores every question, drops the ones the model gets wrong, then runs the logit lens, the
 * attention/MLP increases, direct logit attribution and (with corrupted questions) activation patching; writes
 * results.json, report.html, the dataset and the main tensors.
 */
public final class FactualStudy {
    private FactualStudy() {}

    /** Output names, checked before the model loads. */
    public static final String[] FILES = {"results.json", "report.html", "factual.safetensors", "questions.csv", "answer_map.json"};

    public static final class Options {
        public int topK = 10;
        /** The seed keeps prompts whose label-aligned probability difference is at least this (it dropped p_diff < 0.15). */
        public double minProbDiff = 0.15;
        public int topHeads = 10;
        public int patchBatch = dev.lens4j.analysis.Patching.DEFAULT_BATCH;
        public Path out = Path.of("lens4j-out", "factual-knowledge");
        /** Provenance for results.json: the model path, whether weights were processed, where the data came from. */
        public String model = "", questionsSource = "built-in (seed 004)", answerMapSource = "built-in (seed 004)";
        public boolean processWeights = true;

        public Options validate() {
            if (topK < 1) throw new IllegalArgumentException("--top-k must be >= 1, got " + topK);
            if (topHeads < 1) throw new IllegalArgumentException("--top-heads must be >= 1, got " + topHeads);
            if (patchBatch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + patchBatch);
            if (!Double.isFinite(minProbDiff)) throw new IllegalArgumentException("--min-prob-diff must be finite, got " + minProbDiff);
            if (out == null) throw new IllegalArgumentException("no output folder given");
            return this;
        }
    }

    public record Summary(FactualAnalysis analysis, Path outDir, Path resultsJson, Path report, Path tensors, int plots, double seconds) {}

    /** Runs every analysis on a loaded model; builtInMap relaxes the answer map to this tokenizer's single tokens. */
    public static Summary run(HookedTransformer model, List<FactualData.Question> questions, FactualData.AnswerMap map, boolean builtInMap,
                              Options o, FactualAnalysis.Progress progress) throws IOException {
        o.validate();
        if (!model.hasTokenizer()) throw new IllegalArgumentException("the factual-knowledge study needs a tokenizer (give --tokenizer FILE)");
        long t0 = System.nanoTime();
        Path out = o.out.toAbsolutePath().normalize();
        java.nio.file.Files.createDirectories(out);
        FactualAnalysis an = FactualAnalysis.run(model, questions, map, builtInMap, o, progress);
        double analysisS = (System.nanoTime() - t0) / 1e9;
        FactualReport rep = new FactualReport(model, an, o);
        Path html = rep.build().write(out.resolve("report.html"));
        Path tensors = FactualResults.writeTensors(out.resolve("factual.safetensors"), an, o);
        FactualResults.writeDataset(out, questions, map);
        Path json = FactualResults.write(out.resolve("results.json"), model, an, o, analysisS, (System.nanoTime() - t0) / 1e9);
        return new Summary(an, out, json, html, tensors, rep.plotCount(), (System.nanoTime() - t0) / 1e9);
    }
}
