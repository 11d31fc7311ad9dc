package dev.lens4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The lens4j command line (./lens4j at the repository root). */
@Command(name = "lens4j", mixinStandardHelpOptions = true, version = "lens4j 0.1.0",
        description = "Mechanistic interpretability for transformer language models on the JVM.",
        subcommands = {DemoCommand.class, StudyCommand.class, InfoCommand.class, RunCommand.class, GenerateCommand.class,
                CacheCommand.class, LensCommand.class, PatchCommand.class, CongruenceCommand.class, HeadsCommand.class, ScanCommand.class,
                GradsCommand.class, AttributeCommand.class, ScoreNeuronsCommand.class, SweepCommand.class, BenchCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public void run() { spec.commandLine().usage(System.out); }

    public static void main(String[] args) { System.exit(execute(args)); }

    /** Runs a command line; errors in the user's input print one clear line (stack trace with LENS4J_DEBUG=1). */
    public static int execute(String... args) { return execute(new CommandLine(new Main()), args); }

    static int execute(CommandLine cl, String... args) {
        // every command answers --help and --version (the errors below point there)
        addHelpOptions(cl);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> fail(cmd, ex));
        // a usage error names the problem in one line, not the whole usage text
        cl.setParameterExceptionHandler((ex, arguments) -> {
            CommandLine cmd = ex.getCommandLine();
            if (debug()) ex.printStackTrace(cmd.getErr());
            cmd.getErr().println("error: " + oneLine(ex.getMessage()) + " (see '" + cmd.getCommandSpec().qualifiedName() + " --help')");
            return 2;
        });
        try {
            return cl.execute(args);
        } catch (Throwable t) {
            // picocli rethrows Errors (OutOfMemoryError, StackOverflowError) without calling the handler above
            return fail(cl, t);
        }
    }

    private static void addHelpOptions(CommandLine cl) {
        for (CommandLine sub : cl.getSubcommands().values()) {
            sub.getCommandSpec().mixinStandardHelpOptions(true);
            addHelpOptions(sub);
        }
    }

    private static int fail(CommandLine cmd, Throwable ex) {
        if (debug()) ex.printStackTrace(cmd.getErr());
        String msg = ex.getMessage() == null || ex.getMessage().isBlank() ? ex.toString() : ex.getMessage();
        if (ex instanceof OutOfMemoryError) msg = "out of memory (" + msg + ")";
        else if (ex instanceof StackOverflowError) msg = "stack overflow (" + ex + ")";
        cmd.getErr().println("error: " + oneLine(msg));
        return 2;
    }

    private static boolean debug() { return System.getenv("LENS4J_DEBUG") != null; }

    /** Messages of JDK and library exceptions may span lines (Jackson's "[Source: ...]", regex carets). */
    static String oneLine(String msg) {
        return msg.strip().replaceAll("\\s*\\R\\s*", " ");
    }
}
