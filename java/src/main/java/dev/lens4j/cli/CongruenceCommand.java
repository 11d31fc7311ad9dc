package dev.lens4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lens4j.analysis.NeuronCongruence;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.report.HistogramChart;
import dev.lens4j.report.Report;
import dev.lens4j.report.Table;
import dev.lens4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "congruence", description = {
        "Neuron-token congruence for every MLP neuron of every layer, from the weights (seed 001): output congruence "
                + "W_out[l][n] . W_U[:, t] and input congruence W_E[t] . W_in[l][:, n] for the chosen tokens, the neurons with the "
                + "highest and lowest congruence per token over all layers, and each neuron's top output tokens over the whole "
                + "vocabulary (W_out @ W_U streamed in blocks of neurons). Weights are processed as TransformerLens's "
                + "from_pretrained does unless --no-process-weights: W_U then includes ln_final's weight and is centred over the "
                + "vocabulary.",
        "Writes DIR/congruence.safetensors, DIR/summary.json and DIR/report.html; --json also prints the summary."})
final class CongruenceCommand implements Callable<Integer> {
    @Mixin ModelOptions m;

    @Option(names = "--tokens", paramLabel = "TEXT", description = "comma-separated token texts, each one token, e.g. \" tall, short\"")
    String tokensText;
    @Option(names = "--token-ids", paramLabel = "IDS", split = ",", description = "comma-separated token ids (instead of --tokens)")
    int[] tokenIds;
    @Option(names = "--top", defaultValue = "20", paramLabel = "K", description = "neurons listed per token (default 20)") int top;
    @Option(names = "--top-tokens", defaultValue = "10", paramLabel = "K", description = "top output tokens kept per neuron (default 10)") int topTokens;
    @Option(names = "--json", description = "print the summary as JSON") boolean json;
    @Option(names = "--out", required = true, paramLabel = "DIR") Path out;

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final String[] FILES = {"congruence.safetensors", "summary.json", "report.html"};

    @Override public Integer call() throws IOException {
        if (top <= 0) throw new IllegalArgumentException("--top must be > 0, got " + top);
        if (topTokens <= 0) throw new IllegalArgumentException("--top-tokens must be > 0, got " + topTokens);
        if ((tokensText == null) == (tokenIds == null)) throw new IllegalArgumentException("give --tokens TEXT or --token-ids IDS");
        OutDir.check(out, FILES);
        try (HookedTransformer model = m.load()) {
            if (model.cfg().attnOnly) throw new IllegalArgumentException("this model is attention-only: it has no MLP neurons");
            int[] ids;
            List<String> texts = new ArrayList<>();
            if (tokenIds != null) {
                ids = tokenIds.clone();
                for (int id : ids) {
                    if (id < 0 || id >= model.cfg().dVocab) throw new IllegalArgumentException("--token-ids: " + id + " is outside 0.." + (model.cfg().dVocab - 1));
                    texts.add(tokenString(model, id));
                }
            } else {
                String[] parts = tokensText.split(",", -1);
                ids = new int[parts.length];
                for (int i = 0; i < parts.length; i++) {
                    if (parts[i].isEmpty()) throw new IllegalArgumentException("--tokens '" + tokensText + "': entry " + (i + 1) + " is empty");
                    ids[i] = model.toSingleToken(parts[i]);
                    texts.add(parts[i]);
                }
            }
            NeuronCongruence.Result r = NeuronCongruence.compute(model, ids, topTokens);
            write(model, r, texts);
        }
        return 0;
    }

    private static String tokenString(HookedTransformer model, int id) {
        // embeddings are often padded past the tokenizer's vocabulary (Pythia: 50,304 rows for 50,277 ids)
        if (!model.hasTokenizer() || id >= model.tokenizer().vocabSize()) return Integer.toString(id);
        return model.tokenizer().tokenString(id);
    }

    private Map<String, Object> neuron(HookedTransformer model, NeuronCongruence.Result r, int i, int t) {
        int T = r.tokens().length, k = r.k();
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("label", r.label(i));
        e.put("layer", i / r.dMlp());
        e.put("neuron", i % r.dMlp());
        if (t >= 0) {
            e.put("output_congruence", r.output()[i * T + t]);
            e.put("input_congruence", r.input()[i * T + t]);
        }
        e.put("vocab_kurtosis", r.kurtosis()[i]);
        List<String> tops = new ArrayList<>(), bottoms = new ArrayList<>();
        for (int j = 0; j < k; j++) {
            if (r.topTokens()[i * k + j] >= 0) tops.add(tokenString(model, r.topTokens()[i * k + j]));
            if (r.bottomTokens()[i * k + j] >= 0) bottoms.add(tokenString(model, r.bottomTokens()[i * k + j]));
        }
        e.put("top_tokens", tops);
        e.put("bottom_tokens", bottoms);
        return e;
    }

    private static double[] column(float[] x, int t, int T) {
        double[] c = new double[x.length / T];
        for (int i = 0; i < c.length; i++) c[i] = x[i * T + t];
        return c;
    }

    private static Map<String, Double> tails(double[] c) {
        double[] s = c.clone();
        Arrays.sort(s);
        double mean = Arrays.stream(c).average().orElse(Double.NaN), var = 0;
        for (double v : c) var += (v - mean) * (v - mean) / c.length;
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("mean", mean);
        out.put("std", Math.sqrt(var));
        out.put("min", s[0]);
        String[] names = {"p0.1", "p1", "p50", "p99", "p99.9"};
        double[] qs = {0.001, 0.01, 0.5, 0.99, 0.999};
        for (int i = 0; i < qs.length; i++) out.put(names[i], s[(int) Math.min(s.length - 1, Math.floor(qs[i] * s.length))]);
        out.put("max", s[s.length - 1]);
        return out;
    }

    private void write(HookedTransformer model, NeuronCongruence.Result r, List<String> texts) throws IOException {
        int L = r.nLayers(), F = r.dMlp(), T = r.tokens().length, k = r.k();
        // what was done to the weights on loading (a TransformerLens .pth is used as saved, whatever the option says)
        var cfg = model.cfg();
        boolean processed = cfg.lnFolded || cfg.unembedCentered || cfg.writingWeightsCentered;
        OutDir.create(out);
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("model", m.model.toString());
        s.put("process_weights", processed);
        s.put("dtype", m.dtype);
        s.put("weight_processing", Map.of("fold_ln", cfg.lnFolded, "center_writing_weights", cfg.writingWeightsCentered,
                "center_unembed", cfg.unembedCentered));
        s.put("weights_note", processed
                ? "weights processed on loading as TransformerLens's from_pretrained (fold_ln, center_writing_weights, center_unembed): W_U "
                  + "includes ln_final's weight and is centred over the vocabulary, so each neuron's output distribution has mean 0"
                : "weights used as loaded, not processed (--no-process-weights, or a state dict used as saved): ln_final is not folded into W_U");
        s.put("definition", Map.of("output_congruence", "W_out[l][n] . W_U[:, t]", "input_congruence", "W_E[t] . W_in[l][:, n] (W_in: the linear input in gated MLPs)",
                "vocab_kurtosis", "excess kurtosis of W_out[l][n] @ W_U over the vocabulary"));
        List<Map<String, Object>> toks = new ArrayList<>();
        for (int t = 0; t < T; t++) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("text", texts.get(t));
            e.put("id", r.tokens()[t]);
            e.put("output_congruence_distribution", tails(column(r.output(), t, T)));
            List<Map<String, Object>> hi = new ArrayList<>(), lo = new ArrayList<>();
            for (int i : r.topNeurons(t, top, true)) hi.add(neuron(model, r, i, t));
            for (int i : r.topNeurons(t, top, false)) lo.add(neuron(model, r, i, t));
            e.put("top_neurons", hi);
            e.put("bottom_neurons", lo);
            toks.add(e);
        }
        s.put("tokens", toks);
        List<Map<String, Object>> heavy = new ArrayList<>();
        for (int i : r.heaviestTails(top)) heavy.add(neuron(model, r, i, -1));
        s.put("heaviest_tailed_neurons", heavy);
        s.put("shapes", Map.of("n_layers", L, "d_mlp", F, "tokens", T, "top_tokens_per_neuron", k));
        s.put("versions", Map.of("lens4j", "0.1.0", "java", System.getProperty("java.version")));

        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try {
            tensors.put("output_congruence", Tensor.of(r.output(), L, F, T));
            tensors.put("input_congruence", Tensor.of(r.input(), L, F, T));
            tensors.put("neuron_top_tokens", Tensor.ofInts(r.topTokens(), L, F, k));
            tensors.put("neuron_top_values", Tensor.of(r.topValues(), L, F, k));
            tensors.put("neuron_bottom_tokens", Tensor.ofInts(r.bottomTokens(), L, F, k));
            tensors.put("neuron_bottom_values", Tensor.of(r.bottomValues(), L, F, k));
            tensors.put("vocab_mean", Tensor.of(r.mean(), L, F));
            tensors.put("vocab_std", Tensor.of(r.std(), L, F));
            tensors.put("vocab_skew", Tensor.of(r.skew(), L, F));
            tensors.put("vocab_kurtosis", Tensor.of(r.kurtosis(), L, F));
            Map<String, String> meta = Inputs.meta(m);
            meta.put("process_weights", Boolean.toString(processed));
            meta.put("tokens", JSON.writeValueAsString(texts));
            meta.put("token_ids", Arrays.toString(r.tokens()));
            SafeTensors.write(out.resolve(FILES[0]), tensors, meta);
        } finally {
            tensors.values().forEach(Tensor::close);
        }
        String summaryJson = JSON.writeValueAsString(s);
        java.nio.file.Files.writeString(out.resolve(FILES[1]), summaryJson);
        report(model, r, texts, processed).write(out.resolve(FILES[2]));
        if (json) System.out.println(summaryJson);
        else System.out.printf("%d neurons x %d tokens; wrote %s to %s%n", L * F, T, String.join(", ", FILES), out);
    }

    private Report report(HookedTransformer model, NeuronCongruence.Result r, List<String> texts, boolean processed) {
        int T = r.tokens().length;
        Report rep = new Report("Neuron-token congruence").description("Every MLP neuron of " + r.nLayers() + " layers (" + r.nNeurons()
                        + " neurons) against the tokens " + String.join(", ", quoted(texts)) + ". Weights "
                        + (processed ? "processed as TransformerLens's from_pretrained (W_U includes ln_final's weight, centred over the vocabulary)."
                                     : "used as loaded, not processed."))
                .meta("model", m.model.toString()).meta("config", model.cfg().toJson()).meta("command", "congruence");
        for (int t = 0; t < T; t++) {
            String q = quoted(List.of(texts.get(t))).get(0);
            double[] col = column(r.output(), t, T);
            rep.section("Token " + q).text("Output congruence W_out[l][n] . W_U[:, " + q + "] of every neuron: the tails are the neurons "
                            + "that directly raise (right) or lower (left) this token's logit.")
                    .histogram(HistogramChart.of("Output congruence with " + q + ", all neurons").axes("congruence", "neurons")
                            .values("neurons", col, 60))
                    .table(neuronTable(model, r, r.topNeurons(t, top, true), t, "Highest output congruence with " + q))
                    .table(neuronTable(model, r, r.topNeurons(t, top, false), t, "Lowest output congruence with " + q));
        }
        // neurons with a constant row (all zero W_out) have no kurtosis (NaN): left out of the histogram
        double[] kurt = java.util.stream.IntStream.range(0, r.nNeurons()).mapToDouble(i -> r.kurtosis()[i]).filter(Double::isFinite).toArray();
        var sec = rep.section("Token-predicting neurons").text("Excess kurtosis of each neuron's output distribution over the whole vocabulary "
                + "(W_out[l][n] @ W_U): heavy tails mark neurons that boost or suppress a few tokens.");
        if (kurt.length > 0)
            sec.histogram(HistogramChart.of("Vocabulary kurtosis, all neurons").axes("excess kurtosis", "neurons").values("neurons", kurt, 60));
        sec.table(neuronTable(model, r, r.heaviestTails(top), -1, "Heaviest-tailed neurons"));
        return rep;
    }

    private Table neuronTable(HookedTransformer model, NeuronCongruence.Result r, int[] neurons, int t, String caption) {
        Table tab = t >= 0 ? Table.of("neuron", "output congruence", "input congruence", "top output tokens", "bottom output tokens")
                           : Table.of("neuron", "kurtosis", "top output tokens", "bottom output tokens");
        tab.caption(caption);
        int T = r.tokens().length;
        for (int i : neurons) {
            Map<String, Object> e = neuron(model, r, i, t);
            String tops = String.join(" | ", quoted(cast(e.get("top_tokens")))), bottoms = String.join(" | ", quoted(cast(e.get("bottom_tokens"))));
            if (t >= 0) tab.row(r.label(i), String.format("%.4f", r.output()[i * T + t]), String.format("%.4f", r.input()[i * T + t]), tops, bottoms);
            else tab.row(r.label(i), String.format("%.2f", r.kurtosis()[i]), tops, bottoms);
        }
        return tab;
    }

    @SuppressWarnings("unchecked")
    private static List<String> cast(Object o) { return (List<String>) o; }

    private static List<String> quoted(List<String> xs) {
        List<String> out = new ArrayList<>();
        for (String x : xs) out.add("'" + x + "'");
        return out;
    }
}
