package dev.lens4j.cli;

import dev.lens4j.model.HookedTransformer;
import dev.lens4j.studies.factual.FactualData;
import dev.lens4j.studies.factual.FactualStudy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** `study factual-knowledge`: seed 004. */
@Command(name = "factual-knowledge", description = {
        "Seed 004: True/False questions answered through token sets that mean True and False. test_prompt per question, the "
                + "label-aligned summed-logit and summed-probability differences, the seed's filter, the logit lens of the accumulated "
                + "residual, the attention/MLP increases, direct logit attribution by component and head, and (with a corrupt column) "
                + "activation patching over resid_pre [layer, pos] and head outputs.",
        "Writes DIR/results.json, report.html, factual.safetensors, questions.csv and answer_map.json."})
final class StudyFactualKnowledgeCommand implements Callable<Integer> {
    @Mixin ModelOptions m;
    @Option(names = "--questions", paramLabel = "FILE.csv", description = "CSV with a header: question,answer (True/False)[,corrupt] (default: the seed's ten Paris questions)") Path questions;
    @Option(names = "--answer-map", paramLabel = "FILE.json", description = "{\"True\": [texts], \"False\": [texts]}, each text one token (default: the seed's map, keeping the texts that are one token here)") Path answerMap;
    @Option(names = "--min-prob-diff", defaultValue = "0.15", description = "keep prompts whose aligned probability difference is at least this (default: ${DEFAULT-VALUE}, the seed's)") double minProbDiff;
    @Option(names = "--top-k", defaultValue = "10", description = "test_prompt's top tokens (default: ${DEFAULT-VALUE})") int topK;
    @Option(names = "--top-heads", defaultValue = "10", description = "heads listed (default: ${DEFAULT-VALUE})") int topHeads;
    @Option(names = "--batch", defaultValue = "16", description = "patched copies per forward (default: ${DEFAULT-VALUE})") int batch;
    @Option(names = "--out", paramLabel = "DIR", description = "output folder (default: lens4j-out/factual-knowledge)") Path out;

    @Override public Integer call() throws Exception {
        FactualStudy.Options o = new FactualStudy.Options();
        o.minProbDiff = minProbDiff;
        o.topK = topK;
        o.topHeads = topHeads;
        o.patchBatch = batch;
        o.out = out != null ? out : Path.of("lens4j-out", "factual-knowledge");
        o.model = m.model.toString();
        o.processWeights = !m.noProcessWeights;
        o.validate();
        OutDir.check(o.out, FactualStudy.FILES); // before the model loads
        List<FactualData.Question> qs = questions != null ? FactualData.readCsv(questions) : FactualData.seedQuestions();
        FactualData.AnswerMap map = answerMap != null ? FactualData.readAnswerMap(answerMap) : FactualData.seedAnswerMap();
        if (questions != null) o.questionsSource = questions.toString();
        if (answerMap != null) o.answerMapSource = answerMap.toString();
        try (HookedTransformer model = m.load()) {
            FactualStudy.Summary s = FactualStudy.run(model, qs, map, answerMap == null, o, StepProgress.forStderr());
            var an = s.analysis();
            System.out.printf(Locale.ROOT, "factual knowledge: %d questions, %d kept (prob diff >= %s); %d True / %d False answer tokens%n",
                    an.prompts.size(), an.kept().size(), minProbDiff, an.trueIds.length, an.falseIds.length);
            System.out.printf(Locale.ROOT, "  logit lens final_post %.3f; increase after layer 0: attention %.3f, MLP %.3f%n",
                    an.meanLens[an.meanLens.length - 1], an.attnIncreaseAfterLayer0, an.mlpIncreaseAfterLayer0);
            if (!an.droppedTexts.isEmpty()) System.out.println("  answer texts dropped (not one token here): " + an.droppedTexts);
            System.out.printf("wrote %s: results.json, report.html (%d plots), factual.safetensors, questions.csv, answer_map.json%n", s.outDir(), s.plots());
        }
        return 0;
    }
}
