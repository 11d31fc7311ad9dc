package dev.lens4j.studies.sizeneuron;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lens4j.analysis.NeuronCongruence;
import dev.lens4j.load.RegularFiles;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** dataset.tsv, size_neuron.safetensors and results.json of the size-neuron study. */
final class SizeNeuronOutputs {
    private SizeNeuronOutputs() {}

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** Top-level keys of results.json, in order (tests check every one is present). */
    static final List<String> SECTIONS = List.of("study", "versions", "model", "model_config", "config", "seeds", "dataset", "timings",
            "families", "spikes", "standouts", "cross_family", "ablation", "congruence", "neuroscope");

    /** The prompt pairs as run, in the family FILE format with the family's name first. */
    static void writeDataset(Path file, HookedTransformer model, SizeNeuronStudy.Results r) {
        StringBuilder b = new StringBuilder("# family\tclean\tcorrupt\tanswer\twrong (the study's family FILE format, family name first)\n");
        for (FamilyRun fr : r.runs)
            for (SizeFamily.Pair p : fr.family.pairs())
                b.append(fr.family.name()).append('\t').append(p.clean()).append('\t').append(p.corrupt()).append('\t').append(p.answer()).append('\t')
                        .append(p.wrong()).append('\n');
        RegularFiles.writeString(file, b.toString());
    }

    /** The main tensors under "{family}.{name}" and "congruence.{name}". */
    static void writeTensors(Path file, HookedTransformer model, SizeNeuronStudy.Options o, SizeNeuronStudy.Results r) throws IOException {
        Map<String, Tensor> t = new LinkedHashMap<>();
        try {
            for (FamilyRun fr : r.runs) {
                String f = fr.family.name() + ".";
                t.put(f + "logit_lens", Tensor.of(floats(fr.lens), fr.lens.length));
                for (var e : fr.blocks.entrySet()) {
                    double[][] g = e.getValue();
                    t.put(f + "patch." + e.getKey(), Tensor.of(floats(flatten(g)), g.length, g[0].length));
                }
                for (var e : fr.neurons.entrySet()) t.put(f + "neurons.L" + e.getKey(), Tensor.of(floats(e.getValue()), e.getValue().length));
            }
            NeuronCongruence.Result c = r.congruence;
            int T = c.tokens().length;
            t.put("congruence.output", Tensor.of(c.output(), c.nLayers(), c.dMlp(), T));
            t.put("congruence.input", Tensor.of(c.input(), c.nLayers(), c.dMlp(), T));
            t.put("congruence.tokens", Tensor.ofInts(c.tokens(), T));
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("model", o.modelName);
            meta.put("study", "size-neuron");
            meta.put("producer", "lens4j 0.1.0");
            meta.put("families", JSON.writeValueAsString(r.runs.stream().map(fr -> fr.family.name()).toList()));
            meta.put("layout", "{family}.logit_lens [n_layers + 1] (0_pre ... final_post); {family}.patch.{resid_pre,attn_out,mlp_out} "
                    + "[layer, pos] normalised; {family}.neurons.L{l} [d_mlp] normalised; congruence.output/input [layer, neuron, token]");
            SafeTensors.write(file, t, meta);
        } finally {
            t.values().forEach(Tensor::close);
        }
    }

    static Path writeResults(Path file, HookedTransformer model, SizeNeuronStudy.Options o, SizeNeuronStudy.Results r) throws IOException {
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("study", "size-neuron (seed 001)");
        j.put("versions", dev.lens4j.studies.StudyJson.versions(dev.lens4j.backend.CpuBackend.get().numThreads()));
        j.put("model", o.modelName);
        j.put("model_config", JSON.readTree(model.cfg().toJson()));
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("families", r.runs.stream().map(fr -> fr.family.name()).toList());
        c.put("primary_family", r.primary().family.name());
        c.put("metric", "logit(answer) - logit(wrong) at the last position, mean over a family's pairs; answers scored by their first token");
        c.put("normalisation", "(patched - corrupted) / (clean - corrupted): 0 = no effect, 1 = the clean value restored");
        c.put("spike_threshold", o.spikeThreshold == null ? "half the largest jump" : o.spikeThreshold);
        c.put("max_layers", o.maxLayers);
        c.put("top_neurons", o.topNeurons);
        c.put("z_threshold", o.zThreshold);
        c.put("batch", o.batch);
        c.put("ablation", "zero-ablation of mlp.hook_post at every position of the clean prompts");
        c.put("congruence_top_tokens", o.congruenceK);
        c.put("corpus", o.corpus.stream().map(Path::toString).toList());
        c.put("scan", ordered("top_k", o.scanTopK, "context", o.scanContext, "batch", o.scanBatch,
                "max_tokens", o.scanMaxTokens == Long.MAX_VALUE ? "all" : o.scanMaxTokens));
        j.put("config", c);
        j.put("seeds", ordered("note", "none: the study draws no random numbers (every step is a deterministic forward pass)"));
        j.put("dataset", dataset(model, r));
        j.put("timings", r.seconds);
        Map<String, Object> fams = new LinkedHashMap<>();
        for (FamilyRun fr : r.runs) fams.put(fr.family.name(), family(model, fr));
        j.put("families", fams);
        Map<String, Object> spikes = new LinkedHashMap<>();
        spikes.put("family", r.primary().family.name());
        spikes.put("threshold", r.threshold);
        spikes.put("jumps", SpikeDetection.jumps(r.primary().lens));
        spikes.put("flagged_layers", r.flagged.stream().map(x -> ordered("layer", x.layer(), "jump", x.jump())).toList());
        j.put("spikes", spikes);
        j.put("standouts", r.top.stream().map(n -> neuron(n, o.zThreshold)).toList());
        j.put("cross_family", crossFamily(r, o.zThreshold));
        j.put("ablation", ablation(r));
        j.put("congruence", congruence(model, r));
        j.put("neuroscope", r.neuroscope == null ? null : neuroscope(r.neuroscope));
        dev.lens4j.studies.StudyJson.write(file, j); // NaN and infinities as null: results.json stays valid JSON
        return file;
    }

    private static List<Object> dataset(HookedTransformer model, SizeNeuronStudy.Results r) {
        List<Object> out = new ArrayList<>();
        for (FamilyRun fr : r.runs)
            for (int b = 0; b < fr.pairs; b++) {
                SizeFamily.Pair p = fr.family.pairs().get(b);
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("family", fr.family.name());
                if (p.line() > 0) e.put("line", p.line());
                e.put("clean", p.clean());
                e.put("corrupt", p.corrupt());
                e.put("answer", p.answer());
                e.put("wrong", p.wrong());
                e.put("clean_str_tokens", model.toStrTokens(fr.clean[b]));
                e.put("corrupt_str_tokens", model.toStrTokens(fr.corrupt[b]));
                e.put("answer_token", ordered("id", fr.answers[b], "str", SizeNeuronOutputs.tokenStr(model, fr.answers[b])));
                e.put("wrong_token", ordered("id", fr.wrongs[b], "str", SizeNeuronOutputs.tokenStr(model, fr.wrongs[b])));
                out.add(e);
            }
        return out;
    }

    private static Map<String, Object> family(HookedTransformer model, FamilyRun fr) {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("description", fr.family.description());
        f.put("pairs", fr.pairs);
        f.put("clean_logit_diff", fr.cleanMetric);
        f.put("corrupted_logit_diff", fr.corruptMetric);
        f.put("logit_lens", ordered("labels", fr.lensLabels, "values", fr.lens));
        f.put("position_labels", fr.positionLabels(model));
        f.put("patching", fr.blocks);
        Map<String, Object> n = new LinkedHashMap<>();
        fr.neurons.forEach((l, v) -> n.put("L" + l, v));
        f.put("neuron_patching", n);
        return f;
    }

    private static Map<String, Object> neuron(Standouts.Neuron n, double zThreshold) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("label", n.label());
        m.put("layer", n.layer());
        m.put("neuron", n.neuron());
        m.put("value", n.value());
        m.put("z", n.z());
        m.put("gap_to_next", n.gap());
        m.put("rank_in_layer", n.rank());
        m.put("stands_out", n.z() >= zThreshold);
        return m;
    }

    /** For each family: its own top neuron, and where the first family's top neurons rank in it. */
    private static Map<String, Object> crossFamily(SizeNeuronStudy.Results r, double zThreshold) {
        Map<String, Object> out = new LinkedHashMap<>();
        String topLabel = r.top.get(0).label();
        for (var e : r.rankedByFamily.entrySet()) {
            Map<String, Object> f = new LinkedHashMap<>();
            Standouts.Neuron own = Standouts.top(new ArrayList<>(e.getValue().values()), 1).get(0);
            f.put("top_neuron", neuron(own, zThreshold));
            f.put("same_top_neuron", own.label().equals(topLabel));
            List<Object> same = new ArrayList<>();
            double sum = 0;
            for (Standouts.Neuron n : r.top) {
                Standouts.Neuron here = find(e.getValue(), n);
                same.add(neuron(here, zThreshold));
                sum += here.value();
            }
            f.put("standouts_here", same);
            f.put("standouts_sum", sum); // the seed's "4413, 2896, 582 sum to about 0.14"
            out.put(e.getKey(), f);
        }
        return out;
    }

    /** The entry of the same neuron in another family's ranking. */
    static Standouts.Neuron find(Map<Integer, List<Standouts.Neuron>> ranked, Standouts.Neuron n) {
        for (Standouts.Neuron x : ranked.get(n.layer())) if (x.neuron() == n.neuron()) return x;
        throw new IllegalStateException(n.label() + " missing from a family's ranking");
    }

    private static Map<String, Object> ablation(SizeNeuronStudy.Results r) {
        Map<String, Object> out = new LinkedHashMap<>();
        List<String> labels = new ArrayList<>();
        for (Standouts.Neuron n : r.top) labels.add(n.label());
        labels.add("all " + r.top.size() + " together");
        for (var e : r.ablation.entrySet()) {
            double[] v = e.getValue();
            Map<String, Object> f = new LinkedHashMap<>();
            f.put("clean_logit_diff", v[0]);
            Map<String, Object> ab = new LinkedHashMap<>();
            for (int i = 1; i < v.length; i++) ab.put(labels.get(i - 1), ordered("logit_diff", v[i], "change", v[i] - v[0]));
            f.put("ablated", ab);
            out.put(e.getKey(), f);
        }
        return out;
    }

    private static Map<String, Object> congruence(HookedTransformer model, SizeNeuronStudy.Results r) {
        NeuronCongruence.Result c = r.congruence;
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("what", "output W_out[l][n] . W_U[:, t] and input W_E[t] . W_in[l][:, n] for every neuron of every layer (processed weights)");
        List<Object> tokens = new ArrayList<>();
        for (int t = 0; t < c.tokens().length; t++) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("id", c.tokens()[t]);
            e.put("str", SizeNeuronOutputs.tokenStr(model, c.tokens()[t]));
            e.put("role", r.congruenceTokenRoles.get(t));
            e.put("top_output_neurons", tail(model, c, c.topNeurons(t, 10, true), t, true));
            e.put("bottom_output_neurons", tail(model, c, c.topNeurons(t, 10, false), t, true));
            e.put("top_input_neurons", tail(model, c, topInput(c, t, 10), t, false));
            tokens.add(e);
        }
        out.put("tokens", tokens);
        List<Object> standouts = new ArrayList<>();
        for (Standouts.Neuron n : r.top) {
            int flat = n.layer() * c.dMlp() + n.neuron();
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("label", n.label());
            e.put("top_output_tokens", topTokens(model, c, flat, true));
            e.put("bottom_output_tokens", topTokens(model, c, flat, false));
            e.put("vocab_kurtosis", c.kurtosis()[flat]);
            standouts.add(e);
        }
        out.put("standout_neurons", standouts);
        return out;
    }

    /** Tail neurons with their value and, the seed's next step, their own top output tokens (which tokens they share). */
    private static List<Object> tail(HookedTransformer model, NeuronCongruence.Result c, int[] neurons, int t, boolean output) {
        List<Object> out = new ArrayList<>();
        int T = c.tokens().length;
        for (int i : neurons) {
            List<String> toks = new ArrayList<>();
            for (Object e : topTokens(model, c, i, true)) toks.add((String) ((Map<?, ?>) e).get("str"));
            out.add(ordered("label", c.label(i), "value", (output ? c.output() : c.input())[i * T + t], "top_output_tokens", toks));
        }
        return out;
    }

    /** Flat neurons with the highest input congruence for tokens[t]. */
    static int[] topInput(NeuronCongruence.Result c, int t, int k) {
        int T = c.tokens().length;
        double[] col = new double[c.nNeurons()];
        for (int i = 0; i < col.length; i++) col[i] = c.input()[i * T + t];
        return java.util.Arrays.copyOf(dev.lens4j.analysis.Stats.argsortDescending(col), Math.min(k, col.length));
    }

    static List<Object> topTokens(HookedTransformer model, NeuronCongruence.Result c, int flat, boolean highest) {
        List<Object> out = new ArrayList<>();
        for (int i = 0; i < c.k(); i++) {
            int tok = (highest ? c.topTokens() : c.bottomTokens())[flat * c.k() + i];
            if (tok < 0) continue;
            out.add(ordered("id", tok, "str", SizeNeuronOutputs.tokenStr(model, tok),
                    "value", (highest ? c.topValues() : c.bottomValues())[flat * c.k() + i]));
        }
        return out;
    }

    private static Map<String, Object> neuroscope(Neuroscope.Result s) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("dir", "scan/ (neurons.safetensors, index.json, docs.jsonl, browser/index.html)");
        out.put("tokens_scanned", s.tokens());
        out.put("hooks", s.hooks());
        List<Object> ns = new ArrayList<>();
        for (Neuroscope.NeuronPage p : s.neurons()) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("label", p.label());
            e.put("page", p.page());
            e.put("max", p.max());
            e.put("mean", p.mean());
            e.put("top_contexts", p.contexts());
            e.put("content_words", p.words().stream().map(w -> ordered("word", w.word(), "count", w.count())).toList());
            ns.add(e);
        }
        out.put("neurons", ns);
        return out;
    }

    /**
     * A token's text; ids past the tokenizer's vocabulary (the padding rows of an embedding such as Pythia's 50304) have
     * none and are named by id.
     */
    static String tokenStr(HookedTransformer model, int id) {
        return id < model.tokenizer().vocabSize() ? model.toStrTokens(new int[] {id}).get(0) : "<id " + id + ", not in the tokenizer>";
    }

    /** A small map in the order written (Map.of iterates in a per-JVM order, and the same run must write the same file). */
    static Map<String, Object> ordered(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    static float[] floats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    private static double[] flatten(double[][] g) {
        double[] out = new double[g.length * g[0].length];
        for (int i = 0; i < g.length; i++) System.arraycopy(g[i], 0, out, i * g[0].length, g[0].length);
        return out;
    }
}
