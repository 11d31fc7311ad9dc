package dev.lens4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.util.List;
import java.util.concurrent.Callable;

/** `study NAME ...`: one subcommand per seed study (each its own class; add new ones to the list below). */
@Command(name = "study", description = "Run a seed study end to end and write results.json, report.html and its data.",
        subcommands = {StudyGrokkingCommand.class, StudyFactualKnowledgeCommand.class,
                StudySizeNeuronCommand.class, StudySecondOrderCommand.class,
                StudyNumericCompareCommand.class})
final class StudyCommand implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;
    @Parameters(arity = "0..1", paramLabel = "NAME", description = "the study (see the commands below)") String name;
    @CommandLine.Unmatched List<String> rest;

    @Override public Integer call() {
        if (name == null) {
            spec.commandLine().usage(System.out);
            return 0;
        }
        throw new IllegalArgumentException("unknown study '" + name + "' (available: " + String.join(", ", spec.subcommands().keySet()) + ")");
    }
}
