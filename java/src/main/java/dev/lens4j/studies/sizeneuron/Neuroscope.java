package dev.lens4j.studies.sizeneuron;

import dev.lens4j.hooks.HookNames;
import dev.lens4j.load.SafeTensors;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.scan.Corpus;
import dev.lens4j.scan.NeuronScan;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The seed's Finding 2: the standout neurons in a neuroscope. Scans the corpus for every neuron of the flagged layers
 * (the scan command's NeuronScan and its neuron browser, under DIR/scan), then for each top neuron reads its top
 * (document, position) pairs back, decodes the context before each (the scan's --context tokens, the activating
 * token included) and counts its most frequent content words.
 */
final class Neuroscope {
    private Neuroscope() {}

    record NeuronPage(String label, String page, double max, double mean, List<String> contexts, List<ContentWords.Count> words) {}

    record Result(Path dir, long tokens, List<String> hooks, List<NeuronPage> neurons) {}

    static Result run(HookedTransformer model, SizeNeuronStudy.Options o, List<Integer> layers, List<Standouts.Neuron> top, Path dir,
                      Consumer<String> progress) {
        List<String> hooks = layers.stream().map(HookNames::mlpPost).toList();
        Corpus corpus = Corpus.of(o.corpus);
        int seqLen = Math.min(model.cfg().nCtx, 256);
        NeuronScan scan = new NeuronScan(model, corpus, new NeuronScan.Options(hooks, o.scanTopK, seqLen, o.scanBatch, o.scanMaxTokens,
                Integer.MAX_VALUE, o.scanContext, 0), dir);
        scan.run(false, progress);
        // which documents the top neurons' top contexts sit in
        Map<String, int[][]> tops = new LinkedHashMap<>();   // label -> {docs, positions}
        Map<String, float[]> stats = new HashMap<>();
        try (SafeTensors st = SafeTensors.open(dir.resolve("neurons.safetensors"))) {
            for (Standouts.Neuron n : top) {
                String h = HookNames.mlpPost(n.layer());
                int k = o.scanTopK, filled = st.readInts(h + ".filled")[n.neuron()];
                int[] docs = Arrays.copyOfRange(st.readInts(h + ".top_docs"), n.neuron() * k, n.neuron() * k + filled);
                int[] pos = Arrays.copyOfRange(st.readInts(h + ".top_positions"), n.neuron() * k, n.neuron() * k + filled);
                tops.put(n.label(), new int[][] {docs, pos});
                stats.put(n.label(), new float[] {st.readFloats(h + ".max")[n.neuron()], st.readFloats(h + ".mean")[n.neuron()]});
            }
        }
        Map<Long, String> texts = new HashMap<>();
        for (int[][] t : tops.values()) for (int d : t[0]) texts.put((long) d, null);
        for (Iterator<Corpus.Document> it = corpus.documents(); it.hasNext(); ) {
            Corpus.Document d = it.next();
            if (texts.containsKey(d.id())) texts.put(d.id(), d.text());
        }
        List<NeuronPage> pages = new ArrayList<>();
        for (Standouts.Neuron n : top) {
            int[][] t = tops.get(n.label());
            List<String> contexts = new ArrayList<>();
            for (int i = 0; i < t[0].length; i++) {
                int[] ids = model.toTokens(texts.get((long) t[0][i]), false);
                int end = Math.min(ids.length, t[1][i] + 1);
                contexts.add(model.toString(Arrays.copyOfRange(ids, Math.max(0, end - 1 - o.scanContext), end)));
            }
            String page = "scan/browser/h" + layers.indexOf(n.layer()) + "/n" + n.neuron() + ".html";
            float[] s = stats.get(n.label());
            pages.add(new NeuronPage(n.label(), page, s[0], s[1], contexts, ContentWords.top(contexts, 15)));
        }
        return new Result(dir, scan.tokensScanned(), hooks, pages);
    }
}
