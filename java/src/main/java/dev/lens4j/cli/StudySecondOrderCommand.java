package dev.lens4j.cli;

import dev.lens4j.model.HookedTransformer;
import dev.lens4j.studies.secondorder.Concepts;
import dev.lens4j.studies.secondorder.SecondOrderOptions;
import dev.lens4j.studies.secondorder.SecondOrderStudy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** `study second-order`: seed 002, second-order effects of neurons on math and logic problems. */
@Command(name = "second-order", description = "Seed 002: second-order effects of every MLP neuron (through later heads) on the correctness of math/logic answers.")
final class StudySecondOrderCommand implements Callable<Integer> {
    @Mixin ModelOptions m;
    @Option(names = "--problems", defaultValue = "1000", description = "generated problems (default: ${DEFAULT-VALUE})") int problems;
    @Option(names = "--seed", defaultValue = "2", description = "problem generator seed (default: ${DEFAULT-VALUE})") long seed;
    @Option(names = "--train-fraction", defaultValue = "0.8", description = "train share; the rest is validation (default: ${DEFAULT-VALUE})") double trainFraction;
    @Option(names = "--layers", defaultValue = "auto", paramLabel = "auto|L,..", description = "layers to analyse per neuron (auto: the critical layers by mean-ablation)") String layers;
    @Option(names = "--critical-layers", defaultValue = "0", description = "critical layers auto keeps (0: min(6, half))") int criticalLayers;
    @Option(names = "--sample-neurons", defaultValue = "0", paramLabel = "K", description = "0: every neuron where it fits; K: the seed's top K per layer") int sampleNeurons;
    @Option(names = "--significance", defaultValue = "0.01", description = "share of a problem's total |effect| that makes a neuron's effect significant") double significance;
    @Option(names = "--omp-atoms", defaultValue = "16", description = "OMP sparsity m (default: ${DEFAULT-VALUE})") int ompAtoms;
    @Option(names = "--batch", defaultValue = "32") int batch;
    @Option(names = "--concepts", paramLabel = "FILE", description = "concept dictionary, one concept per line (default: the seed's math concepts + number and operator words)") Path concepts;
    @Option(names = "--out", paramLabel = "DIR", description = "output folder (default: lens4j-out/second-order)") Path out;

    static final String[] FILES = {"results.json", "report.html", "problems.jsonl", "second_order.safetensors"};

    @Override public Integer call() throws Exception {
        SecondOrderOptions o = new SecondOrderOptions();
        o.problems = problems;
        o.seed = seed;
        o.trainFraction = trainFraction;
        o.layers = SecondOrderOptions.parseLayers(layers);
        o.criticalLayers = criticalLayers;
        o.sampleNeurons = sampleNeurons;
        o.significance = significance;
        o.ompAtoms = ompAtoms;
        o.batchSize = batch;
        if (concepts != null) { o.concepts = Concepts.read(concepts); o.conceptsSource = concepts.toString(); }
        o.out = out != null ? out : Path.of("lens4j-out", "second-order");
        OutDir.check(o.out, FILES);
        try (HookedTransformer model = m.load()) {
            o.validate(model.cfg().nLayers);
            StageProgress progress = StageProgress.forStderr();
            SecondOrderStudy.Summary s = SecondOrderStudy.run(model, m.model.toString(), o, progress::update, System.err);
            System.out.print(SecondOrderStudy.summaryText(s));
        }
        return 0;
    }
}
