package dev.lens4j.spark;

import dev.lens4j.load.SafeTensors;
import dev.lens4j.scan.NeuronScan;
import dev.lens4j.scan.NeuronStats;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;

import java.io.Serializable;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One partition's scan statistics as a small serializable record (the exact state of {@link NeuronStats#toTensors}
 * per hook, in plain arrays), what executors send back and commit. Merging goes through the native merge kernel, so
 * the tree of merges gives the statistics of the whole corpus whatever the partitioning.
 */
final class ScanPartial implements Serializable {
    private record Blob(long[] shape, float[] floats, int[] ints) implements Serializable {
        static Blob of(Tensor t) {
            return t.dtype() == DType.F32 ? new Blob(t.shape(), t.toFloatArray(), null) : new Blob(t.shape(), null, t.toIntArray());
        }

        Tensor tensor() { return floats != null ? Tensor.of(floats, shape) : Tensor.ofInts(ints, shape); }
    }

    private final Map<String, Blob> tensors; // {hook}.count, ... as NeuronStats.toTensors names them
    final long tokens, docsSeen;

    private ScanPartial(Map<String, Blob> tensors, long tokens, long docsSeen) {
        this.tensors = tensors;
        this.tokens = tokens;
        this.docsSeen = docsSeen;
    }

    /** The part's state; does not close it. */
    static ScanPartial of(NeuronScan.Part part) {
        Map<String, Blob> b = new LinkedHashMap<>();
        for (var e : part.stats().entrySet()) {
            if (e.getValue() == null) continue;
            Map<String, Tensor> t = e.getValue().toTensors(e.getKey() + ".");
            try {
                t.forEach((name, x) -> b.put(name, Blob.of(x)));
            } finally {
                t.values().forEach(Tensor::close);
            }
        }
        return new ScanPartial(b, part.tokens(), part.docsSeen());
    }

    /** Native statistics for the given hooks (null where this partition saw no activation); the caller closes them. */
    NeuronScan.Part toPart(List<String> hooks) {
        Map<String, NeuronStats> stats = new LinkedHashMap<>();
        NeuronScan.Part part = new NeuronScan.Part(stats, tokens, docsSeen);
        try {
            for (String h : hooks) {
                Map<String, Tensor> t = new HashMap<>();
                try {
                    tensors.forEach((name, blob) -> { if (name.startsWith(h + ".")) t.put(name, blob.tensor()); });
                    stats.put(h, t.isEmpty() ? null : NeuronStats.fromTensors(t, h + "."));
                } finally {
                    t.values().forEach(Tensor::close);
                }
            }
            return part;
        } catch (RuntimeException e) {
            part.close();
            throw e;
        }
    }

    /** The statistics of both partitions' documents together. */
    static ScanPartial merge(ScanPartial a, ScanPartial b, List<String> hooks) {
        try (NeuronScan.Part pa = a.toPart(hooks); NeuronScan.Part pb = b.toPart(hooks)) {
            Map<String, NeuronStats> merged = new LinkedHashMap<>();
            for (String h : hooks) {
                NeuronStats x = pa.stats().get(h), y = pb.stats().get(h);
                if (x != null && y != null) x.merge(y);
                merged.put(h, x != null ? x : y);
            }
            return of(new NeuronScan.Part(merged, a.tokens + b.tokens, Math.max(a.docsSeen, b.docsSeen)));
        }
    }

    /** Commits this partial (temporary file renamed over the target). */
    void write(Path file) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        try {
            tensors.forEach((name, blob) -> t.put(name, blob.tensor()));
            SafeTensors.write(file, t, Map.of("tokens", Long.toString(tokens), "docs_seen", Long.toString(docsSeen)));
        } finally {
            t.values().forEach(Tensor::close);
        }
    }

    static ScanPartial read(Path file) {
        try (SafeTensors st = SafeTensors.open(file)) {
            Map<String, Blob> b = new LinkedHashMap<>();
            for (String n : st.names()) try (Tensor x = st.read(n)) { b.put(n, Blob.of(x)); }
            Map<String, String> meta = st.metadata();
            return new ScanPartial(b, Long.parseLong(meta.get("tokens")), Long.parseLong(meta.get("docs_seen")));
        } catch (NumberFormatException | NullPointerException e) {
            throw new IllegalArgumentException(file + ": not a committed scan partition");
        }
    }
}
