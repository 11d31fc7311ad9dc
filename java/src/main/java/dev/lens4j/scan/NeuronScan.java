package dev.lens4j.scan;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.load.RegularFiles;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.report.Html;
import dev.lens4j.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A neuroscope over a corpus: every neuron of the chosen hook points (last dimension = neurons), its top-k
 * activating (document, position) pairs and its count, mean, std, max and fraction > 0. Activations never reach
 * Java: a hook hands each activation buffer to the native capture kernel ({@link NeuronStats}). Memory is constant
 * in the corpus size (one document, one batch, the statistics). Documents longer than the context are split into
 * chunks (each with BOS when the model prepends it; positions count tokens within the document). Every N batches the
 * state and the corpus cursor are written atomically to DIR/checkpoint.safetensors; a resumed scan skips what the
 * checkpoint holds and ends with the result of an uninterrupted run, bit for bit.
 */
public final class NeuronScan {
    /** stopAfterBatches (0: never) stops as if the process were killed there: no outputs, the checkpoint stays. */
    public record Options(List<String> hooks, int topK, int seqLen, int batch, long maxTokens, int checkpointEvery, int context,
                          long stopAfterBatches) implements java.io.Serializable {
        /** What a resumed scan must share with the one that wrote the checkpoint. */
        public String resumeKey() { return "hooks=" + hooks + " top_k=" + topK + " seq_len=" + seqLen + " batch=" + batch + " max_tokens=" + maxTokens; }
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final Pattern BLOCK = Pattern.compile("^blocks\\.(\\d+)\\.");

    private record Chunk(long doc, int index, int[] tokens, int[] positions) {}

    /** What one partition of a distributed scan hands back: its statistics per hook (null: no activation seen) and counts. */
    public record Part(Map<String, NeuronStats> stats, long tokens, long docsSeen) implements AutoCloseable {
        @Override public void close() { for (NeuronStats s : stats.values()) if (s != null) s.close(); }
    }

    private final HookedTransformer model;
    private final Supplier<Iterator<Corpus.Document>> documents;
    private final List<String> corpusNames;
    private final Options o;
    private final Path out;
    private final Map<String, NeuronStats> stats = new LinkedHashMap<>();
    private long tokens, batches, cursorDoc, docsSeen;
    private int cursorChunk;

    public NeuronScan(HookedTransformer model, Corpus corpus, Options options, Path out) {
        this(model, corpus::documents, corpus.files().stream().map(Path::toString).toList(), options, out);
    }

    private NeuronScan(HookedTransformer model, Supplier<Iterator<Corpus.Document>> documents, List<String> corpusNames, Options options, Path out) {
        this.model = model;
        this.documents = documents;
        this.corpusNames = corpusNames;
        this.o = options;
        this.out = out;
        if (o.hooks().isEmpty()) throw new IllegalArgumentException("scan: no hook points chosen");
        if (o.topK() < 1 || o.topK() > 1000) throw new IllegalArgumentException("--top-k must be in 1..1000, got " + o.topK());
        if (o.seqLen() < 2 || o.seqLen() > model.cfg().nCtx)
            throw new IllegalArgumentException("--seq-len must be in 2.." + model.cfg().nCtx + " (n_ctx), got " + o.seqLen());
        if (o.batch() < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + o.batch());
        if (o.checkpointEvery() < 1) throw new IllegalArgumentException("--checkpoint-every must be >= 1, got " + o.checkpointEvery());
        if (o.context() < 0) throw new IllegalArgumentException("--context must be >= 0, got " + o.context());
    }

    /** Scans the corpus (continuing a checkpoint when resume is set), then writes the outputs. */
    public void run(boolean resume, Consumer<String> progress) {
        try {
            Files.createDirectories(out);
            Path ckpt = out.resolve("checkpoint.safetensors");
            if (resume && Files.exists(ckpt)) restore(ckpt);
            else if (resume) progress.accept("no checkpoint in " + out + ": starting from the beginning");
            if (stats.isEmpty()) for (String h : o.hooks()) stats.put(h, null); // created lazily at the first activation
            if (scan(documents.get(), ckpt, progress)) writeOutputs();
        } catch (IOException e) {
            throw new UncheckedIOException("scan output " + out + ": " + e.getMessage(), e);
        } finally {
            for (NeuronStats s : stats.values()) if (s != null) s.close();
        }
    }

    public long tokensScanned() { return tokens; }

    /**
     * Scans only the given documents (ids as in the whole corpus) and hands back their statistics, writing nothing:
     * one partition of a distributed scan. Parts merged with {@link NeuronStats#merge} give the scan of all of them.
     */
    public static Part scanPart(HookedTransformer model, Iterator<Corpus.Document> docs, Options options) {
        NeuronScan s = new NeuronScan(model, java.util.Collections::emptyIterator, List.of(), options, null);
        for (String h : options.hooks()) s.stats.put(h, null);
        try {
            s.scan(docs, null, line -> {});
        } catch (RuntimeException | Error e) {
            new Part(s.stats, 0, 0).close();
            throw e;
        }
        return new Part(s.stats, s.tokens, s.docsSeen);
    }

    /**
     * Writes the outputs of `./lens4j scan` (neurons.safetensors, index.json, docs.jsonl, the browser) for statistics
     * computed elsewhere, e.g. merged partitions; documents must be the corpus in id order. Closes the statistics.
     */
    public static void writeOutputs(HookedTransformer model, Supplier<Iterator<Corpus.Document>> documents, List<String> corpusNames,
                                    Options options, Path out, Part merged) {
        NeuronScan s = new NeuronScan(model, documents, corpusNames, options, out);
        try (merged) {
            for (String h : options.hooks()) s.stats.put(h, merged.stats().get(h));
            s.tokens = merged.tokens();
            s.docsSeen = merged.docsSeen();
            Files.createDirectories(out);
            s.writeOutputs();
        } catch (IOException e) {
            throw new UncheckedIOException("scan output " + out + ": " + e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- scanning

    /** True when the corpus (or --max-tokens) is done; false when stopped early by stopAfterBatches. */
    private boolean scan(Iterator<Corpus.Document> docs, Path ckpt, Consumer<String> progress) {
        boolean bos = model.cfg().defaultPrependBos && model.tokenizer().bosTokenId().isPresent();
        int per = o.seqLen() - (bos ? 1 : 0);
        List<Chunk> pending = new ArrayList<>();
        long started = System.nanoTime();
        outer:
        while (docs.hasNext()) {
            Corpus.Document d = docs.next();
            docsSeen = Math.max(docsSeen, d.id() + 1);
            if (d.id() < cursorDoc) continue;
            int[] ids = model.toTokens(d.text(), false);
            for (int c = 0, start = 0; start < ids.length; c++, start += per) {
                if (d.id() == cursorDoc && c < cursorChunk) continue;
                int len = Math.min(per, ids.length - start);
                long left = o.maxTokens() - tokens - pendingTokens(pending);
                if (left <= 0) break outer;
                len = (int) Math.min(len, left);
                int[] t = new int[len + (bos ? 1 : 0)], p = new int[t.length];
                if (bos) { t[0] = model.tokenizer().bosTokenId().getAsInt(); p[0] = -1; }
                for (int i = 0; i < len; i++) { t[i + (bos ? 1 : 0)] = ids[start + i]; p[i + (bos ? 1 : 0)] = start + i; }
                if (!pending.isEmpty() && (pending.size() == o.batch() || pending.get(0).tokens().length != t.length)) {
                    flush(pending, ckpt, progress, started);
                    if (o.stopAfterBatches() > 0 && batches >= o.stopAfterBatches()) return false; // as if killed here
                }
                pending.add(new Chunk(d.id(), c, t, p));
            }
        }
        if (!pending.isEmpty()) flush(pending, ckpt, progress, started);
        return true;
    }

    private static long pendingTokens(List<Chunk> pending) {
        long n = 0;
        for (Chunk c : pending) for (int p : c.positions()) if (p >= 0) n++;
        return n;
    }

    private void flush(List<Chunk> pending, Path ckpt, Consumer<String> progress, long started) {
        int B = pending.size(), S = pending.get(0).tokens().length;
        int[][] batch = new int[B][];
        long[] doc = new long[B * S];
        int[] pos = new int[B * S];
        for (int b = 0; b < B; b++) {
            Chunk c = pending.get(b);
            batch[b] = c.tokens();
            for (int s = 0; s < S; s++) { doc[b * S + s] = c.doc(); pos[b * S + s] = c.positions()[s]; }
        }
        Hooks hooks = Hooks.none();
        int lastLayer = -1;
        boolean all = false;
        for (String h : stats.keySet()) {
            hooks.add(h, (t, hp) -> { statsFor(h, t).update(t, doc, pos); return null; });
            Matcher m = BLOCK.matcher(h);
            if (m.find()) lastLayer = Math.max(lastLayer, Integer.parseInt(m.group(1))); else all = true;
        }
        var opts = new HookedTransformer.RunOptions().hooks(hooks).noLogits(true);
        if (!all && lastLayer + 1 < model.cfg().nLayers) opts.stopAtLayer(lastLayer + 1); // later blocks feed nothing scanned
        try (var run = model.run(batch, opts)) { /* the hooks did the work */ }
        tokens += pendingTokens(pending);
        Chunk last = pending.get(B - 1);
        cursorDoc = last.doc();
        cursorChunk = last.index() + 1;
        batches++;
        pending.clear();
        if (ckpt != null && batches % o.checkpointEvery() == 0) checkpoint(ckpt);
        double secs = (System.nanoTime() - started) / 1e9;
        progress.accept(String.format("scan: %d tokens in %d batches, %d documents seen, %.0f tokens/s", tokens, batches, docsSeen, tokens / Math.max(secs, 1e-9)));
    }

    private NeuronStats statsFor(String hook, Tensor act) {
        NeuronStats s = stats.get(hook);
        if (s == null) {
            s = new NeuronStats((int) act.size(-1), o.topK());
            stats.put(hook, s);
        }
        return s;
    }

    // ---------------------------------------------------------------- checkpoints

    private void checkpoint(Path file) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        try {
            for (var e : stats.entrySet()) if (e.getValue() != null) t.putAll(e.getValue().toTensors(e.getKey() + "."));
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("cursor_doc", Long.toString(cursorDoc));
            meta.put("cursor_chunk", Integer.toString(cursorChunk));
            meta.put("tokens", Long.toString(tokens));
            meta.put("batches", Long.toString(batches));
            meta.put("options", o.resumeKey());
            SafeTensors.write(file, t, meta); // a temp file renamed over the old checkpoint: never half written
        } finally {
            t.values().forEach(Tensor::close);
        }
    }

    private void restore(Path file) {
        try (SafeTensors st = SafeTensors.open(file)) {
            Map<String, String> meta = st.metadata();
            if (!o.resumeKey().equals(meta.get("options")))
                throw new IllegalArgumentException(file + " was written with other options (" + meta.get("options") + "); resume with the same ones");
            cursorDoc = Long.parseLong(meta.get("cursor_doc"));
            cursorChunk = Integer.parseInt(meta.get("cursor_chunk"));
            tokens = Long.parseLong(meta.get("tokens"));
            batches = Long.parseLong(meta.get("batches"));
            for (String h : o.hooks()) {
                Map<String, Tensor> t = new HashMap<>();
                try {
                    for (String n : st.names()) if (n.startsWith(h + ".")) t.put(n, st.read(n));
                    stats.put(h, t.isEmpty() ? null : NeuronStats.fromTensors(t, h + "."));
                } finally {
                    t.values().forEach(Tensor::close);
                }
            }
        } catch (NumberFormatException | NullPointerException e) {
            throw new IllegalArgumentException(file + ": not a scan checkpoint");
        }
    }

    // ---------------------------------------------------------------- outputs

    private void writeOutputs() throws IOException {
        Map<String, Tensor> t = new LinkedHashMap<>();
        List<Map<String, Object>> hookInfo = new ArrayList<>();
        try {
            for (var e : stats.entrySet()) {
                if (e.getValue() == null) continue;
                t.putAll(e.getValue().summaryTensors(e.getKey() + "."));
                hookInfo.add(ordered("name", e.getKey(), "neurons", e.getValue().neurons()));
            }
            if (t.isEmpty()) throw new IllegalArgumentException("the corpus holds no tokens to scan");
            SafeTensors.write(out.resolve("neurons.safetensors"), t, Map.of("format", "lens4j neuron scan"));
        } finally {
            t.values().forEach(Tensor::close);
        }
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("model", model.cfg().modelName);
        index.put("config", JSON.readTree(model.cfg().toJson()));
        index.put("hooks", hookInfo);
        index.put("top_k", o.topK());
        index.put("seq_len", o.seqLen());
        index.put("batch", o.batch());
        index.put("max_tokens", o.maxTokens() == Long.MAX_VALUE ? null : o.maxTokens());
        index.put("tokens", tokens);
        index.put("corpus", corpusNames);
        index.put("tensors", "neurons.safetensors: {hook}.count/mean/std/max/frac_pos [n], {hook}.top_values/top_docs/top_positions [n, k], "
                + "{hook}.filled [n]; documents in docs.jsonl (id, file, line), positions count tokens within a document");
        index.put("versions", ordered("lens4j", "0.1.0", "java", System.getProperty("java.version")));
        RegularFiles.writeString(out.resolve("index.json"), JSON.writeValueAsString(index));
        writeDocsAndBrowser();
    }

    /** docs.jsonl, and the static neuron browser: an index, a page per hook, a page per neuron with its top contexts. */
    private void writeDocsAndBrowser() throws IOException {
        // which (doc, pos) each neuron's top list points at
        Map<Long, List<int[]>> wanted = new HashMap<>(); // doc -> {hook index, neuron, rank, pos}
        List<String> hooks = new ArrayList<>();
        for (var e : stats.entrySet()) {
            NeuronStats s = e.getValue();
            if (s == null) continue;
            int hi = hooks.size();
            hooks.add(e.getKey());
            for (int j = 0; j < s.neurons(); j++)
                for (int i = 0; i < s.filled(j); i++)
                    wanted.computeIfAbsent(s.topDoc(j, i), d -> new ArrayList<>()).add(new int[] {hi, j, i, s.topPosition(j, i)});
        }
        String[][][] contexts = new String[hooks.size()][][];
        for (int h = 0; h < hooks.size(); h++) contexts[h] = new String[stats.get(hooks.get(h)).neurons()][o.topK()];
        StringBuilder docsJsonl = new StringBuilder();
        boolean bos = model.cfg().defaultPrependBos && model.tokenizer().bosTokenId().isPresent();
        int per = o.seqLen() - (bos ? 1 : 0);
        Iterator<Corpus.Document> docs = documents.get();
        while (docs.hasNext()) {
            Corpus.Document d = docs.next();
            if (d.id() >= docsSeen) break;
            docsJsonl.append(JSON.writer().without(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(ordered("id", d.id(), "file", d.file().toString(), "line", d.line()))).append('\n');
            List<int[]> need = wanted.get(d.id());
            if (need == null) continue;
            int[] ids = model.toTokens(d.text(), false);
            List<String> str = model.toStrTokens(ids);
            // rerun each chunk holding a top activation, as the scan ran it, to colour every context token by its activation
            Map<Integer, List<int[]>> byChunk = new java.util.TreeMap<>();
            for (int[] w : need) byChunk.computeIfAbsent(w[3] / per, c -> new ArrayList<>()).add(w);
            for (var e : byChunk.entrySet()) {
                int start = e.getKey() * per, len = Math.min(per, ids.length - start);
                int[] t = new int[len + (bos ? 1 : 0)];
                if (bos) t[0] = model.tokenizer().bosTokenId().getAsInt();
                System.arraycopy(ids, start, t, bos ? 1 : 0, len);
                try (var run = model.run(new int[][] {t}, new HookedTransformer.RunOptions().cacheNames(hooks.toArray(String[]::new)).noLogits(true))) {
                    for (int[] w : e.getValue()) {
                        Tensor a = run.cache().get(hooks.get(w[0]));
                        int n = (int) a.size(2);
                        float[] acts = new float[len];
                        float[] all = a.toFloatArray();
                        for (int i = 0; i < len; i++) acts[i] = all[(i + (bos ? 1 : 0)) * n + w[1]];
                        contexts[w[0]][w[1]][w[2]] = context(str, start, acts, w[3], stats.get(hooks.get(w[0])).max(w[1]));
                    }
                }
            }
        }
        RegularFiles.writeString(out.resolve("docs.jsonl"), docsJsonl.toString());
        Path web = out.resolve("browser");
        Files.createDirectories(web);
        StringBuilder idx = page("Neuron scan").append("<p>").append(tokens).append(" tokens, ").append(docsSeen)
                .append(" documents; top ").append(o.topK()).append(" contexts per neuron.</p><ul>");
        for (int h = 0; h < hooks.size(); h++) idx.append("<li><a href=\"h").append(h).append(".html\">").append(Html.escape(hooks.get(h))).append("</a></li>");
        RegularFiles.writeString(web.resolve("index.html"), idx.append("</ul></body></html>").toString());
        for (int h = 0; h < hooks.size(); h++) {
            NeuronStats s = stats.get(hooks.get(h));
            Path dir = web.resolve("h" + h);
            Files.createDirectories(dir);
            StringBuilder list = page(hooks.get(h)).append("<p><a href=\"index.html\">all hook points</a></p><table><tr><th>neuron</th>"
                    + "<th>max</th><th>mean</th><th>std</th><th>fraction &gt; 0</th></tr>");
            for (int j = 0; j < s.neurons(); j++) {
                list.append("<tr><td><a href=\"h").append(h).append("/n").append(j).append(".html\">").append(j).append("</a></td><td>")
                        .append(fmt(s.max(j))).append("</td><td>").append(fmt(s.mean(j))).append("</td><td>").append(fmt(s.std(j)))
                        .append("</td><td>").append(fmt(s.fractionPositive(j))).append("</td></tr>");
                StringBuilder np = page(hooks.get(h) + " neuron " + j).append("<p><a href=\"../h").append(h).append(".html\">")
                        .append(Html.escape(hooks.get(h))).append("</a> · max ").append(fmt(s.max(j))).append(" · mean ").append(fmt(s.mean(j)))
                        .append(" · std ").append(fmt(s.std(j))).append(" · fraction &gt; 0 ").append(fmt(s.fractionPositive(j)))
                        .append("</p><table><tr><th>#</th><th>activation</th><th>document</th><th>position</th><th>context</th></tr>");
                for (int i = 0; i < s.filled(j); i++)
                    np.append("<tr><td>").append(i + 1).append("</td><td>").append(fmt(s.topValue(j, i))).append("</td><td>").append(s.topDoc(j, i))
                            .append("</td><td>").append(s.topPosition(j, i)).append("</td><td>").append(contexts[h][j][i] == null ? "" : contexts[h][j][i])
                            .append("</td></tr>");
                RegularFiles.writeString(dir.resolve("n" + j + ".html"), np.append("</table></body></html>").toString());
            }
            RegularFiles.writeString(web.resolve("h" + h + ".html"), list.append("</table></body></html>").toString());
        }
    }

    /**
     * Up to `context` tokens before the activating token and a few after (within its forward window), each shaded by
     * the neuron's activation there relative to its maximum, the activating token outlined, values in tooltips.
     */
    private String context(List<String> str, int start, float[] acts, int pos, float max) {
        StringBuilder b = new StringBuilder();
        for (int i = Math.max(start, pos - o.context()); i < Math.min(start + acts.length, pos + 4); i++) {
            float a = acts[i - start];
            double alpha = max > 0 && a > 0 ? Math.min(1, a / max) : 0;
            b.append("<span title=\"").append(fmt(a)).append("\" style=\"background:rgba(255,140,0,").append(String.format("%.2f", alpha)).append(")")
                    .append(i == pos ? ";outline:2px solid #c00" : "").append("\">").append(Html.escape(str.get(i))).append("</span>");
        }
        return b.toString();
    }

    private static StringBuilder page(String title) {
        return new StringBuilder("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"/><title>").append(Html.escape(title))
                .append("</title><style>body{font:14px sans-serif;margin:2em}td,th{padding:2px 8px;text-align:left}"
                        + "td:last-child{white-space:pre-wrap;font-family:monospace}</style></head><body><h1>")
                .append(Html.escape(title)).append("</h1>");
    }

    private static String fmt(double v) { return String.format("%.4g", v); }

    /** A JSON object with its keys in the order given (Map.of's order changes from one JVM to the next). */
    private static Map<String, Object> ordered(Object... keysAndValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        return m;
    }
}
