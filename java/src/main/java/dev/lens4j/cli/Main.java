package dev.lens4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The lens4j command line (./lens4j at the repository root). */
@Command(name = "lens4j", mixinStandardHelpOptions = true, version = "lens4j 0.1.0",
        description = "Mechanistic interpretability for transformer language models on the JVM.",
        subcommands = {DemoCommand.class, StudyCommand.class, InfoCommand.class, RunCommand.class, GenerateCommand.class,
                CacheCommand.class, GradsCommand.class, AttributeCommand.class, ScoreNeuronsCommand.class, BenchCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public void run() { spec.commandLine().usage(System.out); }

    public static void main(String[] args) { System.exit(execute(args)); }

    /** Runs a command line; errors in the user's input print one clear line (stack trace with LENS4J_DEBUG=1). */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (System.getenv("LENS4J_DEBUG") != null) ex.printStackTrace(cmd.getErr());
            String msg = ex.getMessage() == null ? ex.toString() : ex.getMessage();
            cmd.getErr().println("error: " + msg);
            return 2;
        });
        return cl.execute(args);
    }
}
