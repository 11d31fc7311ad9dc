package dev.lens4j.cli;

import dev.lens4j.analysis.Patching;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.studies.sizeneuron.SizeFamily;
import dev.lens4j.studies.sizeneuron.SizeNeuronStudy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** `study size-neuron`: seed 001. */
@Command(name = "size-neuron", description = {
        "Seed 001: is there a neuron for the opposite size word (\"John is tall. Mary is\" -> \" short\")? Per family: the logit lens "
                + "of logit(answer) - logit(wrong) at the last position and its spikes (blocks whose jump exceeds --spike-threshold), "
                + "activation patching of resid_pre, attn_out and mlp_out over layers x positions. For the blocks the first family "
                + "flags: every neuron patched in every family, the top neurons by z-score, whether the same ones stand out across "
                + "families; congruence of every neuron with the answer and input tokens; zero-ablation of the top neurons; with "
                + "--corpus, a neuroscope scan of the flagged layers and the content words of the top neurons' contexts.",
        "--family (repeatable; the first one flags the layers): tall-short, big-small, huge-tiny, pear-apple (the 'an' control), or "
                + "a FILE: UTF-8, one pair per line as four TAB-separated fields clean, corrupt, answer, wrong (kept exactly, so write "
                + "' short' with its space; '#' lines and blank lines are skipped). Default: all four built-in families, tall-short first.",
        "Clean and corrupt prompts must have the same token length (refused otherwise, naming the tokens), and so must the pairs "
                + "of one family (they run as one batch); answers are scored by their first token after the clean prompt "
                + "(TransformerLens's logit-difference convention), so answer and wrong must start with different tokens.",
        "Writes DIR/results.json, DIR/report.html, DIR/dataset.tsv, DIR/size_neuron.safetensors and, with --corpus, DIR/scan/."})
final class StudySizeNeuronCommand implements Callable<Integer> {
    @Mixin ModelOptions m;

    @Option(names = "--family", paramLabel = "NAME|FILE", description = "prompt family (repeatable; default: all built-in)") List<String> families;
    @Option(names = "--corpus", arity = "1..*", paramLabel = "PATH", description = "text files / JSON lines for the neuroscope scan") List<Path> corpus;
    @Option(names = "--max-tokens", paramLabel = "N", description = "stop the scan after N tokens") Long maxTokens;
    @Option(names = "--spike-threshold", paramLabel = "X", description = "jump in logits that flags a block (default: half the largest jump)") Double spikeThreshold;
    @Option(names = "--max-layers", defaultValue = "3", paramLabel = "N", description = "most flagged blocks (largest jumps first; default ${DEFAULT-VALUE})") int maxLayers;
    @Option(names = "--top-neurons", defaultValue = "5", paramLabel = "K", description = "neurons ranked by z-score, ablated and scanned (default ${DEFAULT-VALUE})") int topNeurons;
    @Option(names = "--z-threshold", defaultValue = "3", paramLabel = "Z", description = "z-score from which a neuron stands out (default ${DEFAULT-VALUE})") double zThreshold;
    @Option(names = "--batch", defaultValue = "" + Patching.DEFAULT_BATCH, paramLabel = "B", description = "patched variants per forward (default ${DEFAULT-VALUE})") int batch;
    @Option(names = "--out", paramLabel = "DIR", description = "output folder (default: lens4j-out/size-neuron)") Path out;

    @Override public Integer call() throws Exception {
        SizeNeuronStudy.Options o = new SizeNeuronStudy.Options();
        o.out = out != null ? out : Path.of("lens4j-out", "size-neuron");
        OutDir.check(o.out, "results.json", "report.html", "dataset.tsv", "size_neuron.safetensors"); // before the model loads
        if (corpus != null) OutDir.check(o.out.resolve("scan"), "neurons.safetensors", "index.json", "docs.jsonl", "checkpoint.safetensors");
        if (maxTokens != null && corpus == null) throw new IllegalArgumentException("--max-tokens limits the --corpus scan: give --corpus too");
        if (families != null) {
            o.families = new ArrayList<>();
            for (String f : families) o.families.add(SizeFamily.resolve(f));
        }
        o.modelName = m.model.toString();
        o.batch = batch;
        o.spikeThreshold = spikeThreshold;
        o.maxLayers = maxLayers;
        o.topNeurons = topNeurons;
        o.zThreshold = zThreshold;
        if (corpus != null) o.corpus = List.copyOf(corpus);
        if (maxTokens != null) o.scanMaxTokens = maxTokens;
        boolean tty = System.console() != null && !"dumb".equals(System.getenv("TERM"));
        o.detailProgress = tty;
        o.validate();
        try (HookedTransformer model = m.load()) {
            SizeNeuronStudy.Summary s = SizeNeuronStudy.run(model, o, line -> {
                if (tty) System.err.print("\r" + line + "\u001b[K");
                else System.err.println(line);
            });
            if (tty) System.err.println();
            System.out.printf(Locale.ROOT, "size-neuron: flagged blocks %s; top neurons %s; %.1f s%n", s.flaggedLayers(), s.topNeurons(), s.seconds());
            System.out.printf("wrote %s: results.json (every number, config, versions), report.html (%d plots, one self-contained file), "
                    + "dataset.tsv, size_neuron.safetensors%s%n", s.outDir(), s.plots(), o.corpus.isEmpty() ? "" : ", scan/ (neuron browser)");
        }
        return 0;
    }
}
