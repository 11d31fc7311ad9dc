package dev.lens4j.bench;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Runs the JMH benchmarks given on the command line (JMH's own options) and prints tokens/s with each
 * lens4j benchmark's ratio to the libtorch baseline of the same run.
 */
public final class BenchMain {
    public static void main(String[] args) throws Exception {
        CommandLineOptions cli = new CommandLineOptions(args);
        Options opts = new OptionsBuilder().parent(cli).build();
        Collection<RunResult> results = new Runner(opts).run();
        Map<String, double[]> tokensPerSec = new LinkedHashMap<>();
        for (RunResult r : results) {
            var p = r.getParams();
            String name = p.getBenchmark().substring(p.getBenchmark().lastIndexOf('.') + 1);
            long tokens = Long.parseLong(p.getParam("batch")) * Long.parseLong(p.getParam("seq"));
            double score = r.getPrimaryResult().getScore(), err = r.getPrimaryResult().getScoreError();
            String prefix = name.startsWith("libtorch") ? "libtorch" : "lens4j";
            tokensPerSec.put(p.getParam("shape") + " b" + p.getParam("batch") + "xs" + p.getParam("seq") + " " + name,
                    new double[] {score * tokens, Double.isNaN(err) ? 0 : err * tokens, prefix.equals("libtorch") ? 1 : 0});
        }
        System.out.println();
        System.out.printf("%-70s %12s %10s %8s%n", "benchmark", "tokens/s", "+-", "vs torch");
        for (var e : tokensPerSec.entrySet()) {
            String key = e.getKey();
            String cfg = key.substring(0, key.lastIndexOf(' '));
            double[] torch = null;
            for (var f : tokensPerSec.entrySet())
                if (f.getValue()[2] == 1 && f.getKey().startsWith(cfg + " ")) torch = f.getValue();
            String ratio = torch == null || e.getValue()[2] == 1 ? "" : String.format("%.2fx", e.getValue()[0] / torch[0]);
            System.out.printf("%-70s %12.1f %10.1f %8s%n", key, e.getValue()[0], e.getValue()[1], ratio);
        }
    }
}
