package dev.lens4j.cli;

import dev.lens4j.studies.GrokkingStudy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "demo", description = "The first thing to run: train the grokking seed's transformer on a+b (nothing to download), "
        + "take it apart, and write results.json, report.html and the model. Same as `study grokking` with its defaults.")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--out", paramLabel = "DIR", defaultValue = "lens4j-out/grokking-demo", description = "output folder (default: ${DEFAULT-VALUE})")
    Path out;
    @Option(names = "--epochs", defaultValue = "10000", description = "full-batch epochs (default: ${DEFAULT-VALUE}, as the seed)")
    int epochs;

    @Override public Integer call() throws Exception {
        GrokkingStudy.Options o = new GrokkingStudy.Options();
        o.out = out;
        o.epochs = epochs;
        return StudyGrokkingCommand.runGrokking(o);
    }
}
