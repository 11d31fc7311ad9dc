package dev.lens4j.load;

import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.MemoryLimits;
import dev.lens4j.tensor.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Loads a llama2.c checkpoint in the legacy "v0" format (karpathy/llama2.c export): 7 little-endian int32
 * (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means the classifier is
 * not shared with the embedding), then float32 arrays token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3,
 * rms_final, freq_cis_real, freq_cis_imag and, when unshared, wcls. Matrices are (out, in).
 * <p>llama2.c applies RoPE to adjacent pairs (2i, 2i+1) of each head, so the config has rotaryAdjacentPairs = true and q/k
 * are not permuted: W_Q = wq '(n h) m -> n m h'. SwiGLU is w2(silu(w1 x) * w3 x): W_gate = w1^T, W_in = w3^T, W_out = w2^T.
 */
public final class Llama2cCheckpoint {
    private static final int HEADER_BYTES = 7 * 4;
    private static final int V1_MAGIC = 0x616b3432; // "ak42", llama2.c's versioned export formats
    private static final String[] PARTS = {"token_embedding", "rms_att", "wq", "wk + wv", "wo", "rms_ffn", "w1 + w2 + w3", "rms_final",
        "freq_cis", "wcls"};

    private Llama2cCheckpoint() {}

    public static Checkpoint load(Path bin) { return load(bin, LoadOptions.defaults()); }

    public static Checkpoint load(Path bin, LoadOptions options) {
        try (FileChannel ch = open(bin)) {
            Header h = header(bin, ch);
            Config c = h.config(bin);
            try {
                MemoryLimits.requireNative(h.weightBytes(), bin + ": its weights");
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(e.getMessage() + " (mostly " + h.largestPart() + ")");
            }
            Weights w = new Weights();
            try {
                read(bin, ch, h, c, w);
                NonFinite.checkWeights(bin, w, options);
                if (options.processWeights()) WeightProcessing.process(c, w, options);
                return new Checkpoint(c, w);
            } catch (RuntimeException e) {
                w.close();
                throw e;
            }
        } catch (IOException e) {
            throw new CheckpointException(bin + ": cannot read: " + e, e);
        }
    }

    /** The config from the header, after checking the file size matches it. */
    public static Config readConfig(Path bin) {
        try (FileChannel ch = open(bin)) {
            return header(bin, ch).config(bin);
        } catch (IOException e) {
            throw new CheckpointException(bin + ": cannot read: " + e, e);
        }
    }

    private static FileChannel open(Path bin) {
        if (java.nio.file.Files.exists(bin)) RegularFiles.requireInput(bin, problem -> new CheckpointException(bin + ": " + problem));
        try {
            return FileChannel.open(bin, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(bin + ": no such llama2.c checkpoint");
        } catch (IOException e) {
            throw new CheckpointException(bin + ": cannot open: " + e, e);
        }
    }

    private record Header(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, boolean shared, int seqLen) {
        int headSize() { return dim / heads; }
        long kvDim() { return (long) dim * kvHeads / heads; }

        /** Throws ArithmeticException when a header full of garbage overflows. */
        long expectedBytes() {
            long floats = 0;
            for (long p : partFloats()) floats = Math.addExact(floats, p);
            return Math.addExact(HEADER_BYTES, mul(4, floats));
        }

        /** Floats of each array in file order (see PARTS). */
        private long[] partFloats() {
            long d = dim, L = layers, f = hidden, kv = kvDim();
            return new long[] {mul(vocab, d), mul(L, d), mul(L, d, d), mul(2, L, kv, d), mul(L, d, d), mul(L, d), mul(3, L, f, d), d,
                mul(seqLen, headSize()) /* freq_cis_real and _imag, seq_len x head_size/2 each */, shared ? 0 : mul(vocab, d)};
        }

        /** Bytes of the weights lens4j keeps as F32 tensors (the file less its header and the RoPE tables it skips). */
        long weightBytes() { return expectedBytes() - HEADER_BYTES - 4L * mul(seqLen, headSize()); }

        /** The largest array and the header fields that size it, e.g. "token_embedding (vocab_size 1000000000 x dim 8)". */
        String largestPart() {
            long[] parts;
            try { parts = partFloats(); } catch (ArithmeticException e) { return "sizes that overflow 64 bits"; }
            int best = 0;
            for (int i = 1; i < parts.length; i++) if (parts[i] > parts[best]) best = i;
            return PARTS[best] + " (" + switch (best) {
                case 0, 9 -> "vocab_size " + vocab + " x dim " + dim;
                case 1, 5 -> "n_layers " + layers + " x dim " + dim;
                case 2, 4 -> "n_layers " + layers + " x dim " + dim + " x dim";
                case 3 -> "2 x n_layers " + layers + " x kv dim " + kvDim() + " x dim " + dim;
                case 6 -> "3 x n_layers " + layers + " x hidden_dim " + hidden + " x dim " + dim;
                case 7 -> "dim " + dim;
                default -> "seq_len " + seqLen + " x head size " + headSize();
            } + ")";
        }

        private static long mul(long... xs) {
            long r = 1;
            for (long x : xs) r = Math.multiplyExact(r, x);
            return r;
        }

        Config config(Path bin) {
            String file = bin.getFileName().toString();
            String name = file.endsWith(".bin") ? file.substring(0, file.length() - 4) : file;
            try {
                // llama2.c stores q/k for adjacent-pair rotary, not HF's rotate-half
                return Config.llamaFamily(name, layers, dim, heads, kvHeads, hidden, vocab, seqLen, true);
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(bin + ": " + e.getMessage(), e);
            }
        }
    }

    private static Header header(Path bin, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < HEADER_BYTES)
            throw new CheckpointException(bin + ": file is " + size + " bytes, shorter than the 28-byte llama2.c header");
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        SafeTensors.readFully(ch, b, 0);
        int[] v = new int[7];
        for (int i = 0; i < 7; i++) v[i] = b.getInt(i * 4);
        if (v[0] == V1_MAGIC)
            throw new CheckpointException(bin + ": llama2.c versioned format (magic 'ak42') is not supported; export with --version 0 (legacy)");
        String[] names = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
        for (int i = 0; i < 7; i++)
            if (i != 5 && v[i] <= 0 || i == 5 && (v[i] == 0 || v[i] == Integer.MIN_VALUE))
                throw new CheckpointException(bin + ": header field " + names[i] + " = " + v[i] + " is invalid; not a llama2.c v0 checkpoint?");
        Header h = new Header(v[0], v[1], v[2], v[3], v[4], Math.abs(v[5]), v[5] > 0, v[6]);
        if (h.dim % h.heads != 0 || h.heads % h.kvHeads != 0 || h.headSize() % 2 != 0)
            throw new CheckpointException(bin + ": header dim " + h.dim + ", n_heads " + h.heads + ", n_kv_heads " + h.kvHeads
                + " are inconsistent (need dim % n_heads == 0, n_heads % n_kv_heads == 0, even head size)");
        long expected;
        try {
            expected = h.expectedBytes();
        } catch (ArithmeticException e) {
            throw new CheckpointException(bin + ": header sizes overflow 64 bits, mostly " + h.largestPart() + "; not a llama2.c v0 checkpoint?");
        }
        if (expected < 0 || expected > (1L << 46))
            throw new CheckpointException(bin + ": header sizes are absurd (" + expected + " bytes, mostly " + h.largestPart() + ")");
        if (size != expected)
            throw new CheckpointException(bin + ": the header (dim " + h.dim + ", hidden " + h.hidden + ", layers " + h.layers + ", heads "
                + h.heads + ", kv heads " + h.kvHeads + ", vocab " + h.vocab + (h.shared ? " shared" : " unshared") + ", seq_len " + h.seqLen
                + ") implies " + expected + " bytes (" + MemoryLimits.size(expected) + ", mostly " + h.largestPart() + "), but the file has "
                + size + (size < expected ? " (truncated)" : " (trailing data)"));
        return h;
    }

    private static void read(Path bin, FileChannel ch, Header h, Config c, Weights w) throws IOException {
        int d = h.dim, L = h.layers, n = h.heads, kv = h.kvHeads, dh = h.headSize(), f = h.hidden, V = h.vocab;
        Reader r = new Reader(bin, ch, HEADER_BYTES);
        Tensor emb = r.next(V, d);
        w.put("embed.W_E", emb);
        // each array is stacked [L, ...]: read one layer's block at a time, so at most one layer's matrix is staged
        for (int l = 0; l < L; l++) w.put(Weights.ln(l, 1, "w"), r.next(d));
        for (int l = 0; l < L; l++) try (Tensor t = r.next(d, d)) { w.put(Weights.attn(l, "W_Q"), headsFromRows(t, 0, n, dh, d)); }
        for (int l = 0; l < L; l++) try (Tensor t = r.next((long) kv * dh, d)) { w.put(Weights.kvName(c, l, "W_K"), headsFromRows(t, 0, kv, dh, d)); }
        for (int l = 0; l < L; l++) try (Tensor t = r.next((long) kv * dh, d)) { w.put(Weights.kvName(c, l, "W_V"), headsFromRows(t, 0, kv, dh, d)); }
        // wo is (out = d_model, in = n h): W_O[n, h, m] = wo[m, n h]
        for (int l = 0; l < L; l++) try (Tensor t = r.next(d, d)) { w.put(Weights.attn(l, "W_O"), transposeLayer(t, 0, d, d, n, dh, d)); }
        for (int l = 0; l < L; l++) w.put(Weights.ln(l, 2, "w"), r.next(d));
        for (int l = 0; l < L; l++) try (Tensor t = r.next(f, d)) { w.put(Weights.mlp(l, "W_gate"), transposeLayer(t, 0, f, d, d, f)); }
        for (int l = 0; l < L; l++) try (Tensor t = r.next(d, f)) { w.put(Weights.mlp(l, "W_out"), transposeLayer(t, 0, d, f, f, d)); }
        for (int l = 0; l < L; l++) try (Tensor t = r.next(f, d)) { w.put(Weights.mlp(l, "W_in"), transposeLayer(t, 0, f, d, d, f)); }
        w.put("ln_final.w", r.next(d));
        r.skip((long) h.seqLen * dh * 4); // freq_cis_real, freq_cis_imag: RoPE is recomputed from theta
        if (h.shared) w.put("unembed.W_U", HostMemory.transpose(emb));
        else try (Tensor t = r.next(V, d)) { w.put("unembed.W_U", HostMemory.transpose(t)); }
        w.put("unembed.b_U", Tensor.zeros(V));
        for (int l = 0; l < L; l++) {
            w.put(Weights.attn(l, "b_Q"), Tensor.zeros(n, dh));
            w.put(Weights.kvName(c, l, "b_K"), Tensor.zeros(kv, dh));
            w.put(Weights.kvName(c, l, "b_V"), Tensor.zeros(kv, dh));
            w.put(Weights.attn(l, "b_O"), Tensor.zeros(d));
            w.put(Weights.mlp(l, "b_in"), Tensor.zeros(f));
            w.put(Weights.mlp(l, "b_out"), Tensor.zeros(d));
        }
    }

    /** Layer l of a stacked [L, n h, m] array as [n, m, h]. */
    private static Tensor headsFromRows(Tensor t, int l, int n, int dh, int d) {
        Tensor out = Tensor.zeros(n, d, dh);
        HostMemory.strided(HostMemory.floats(t), (long) l * n * dh * d, new long[] {(long) dh * d, 1, d},
            HostMemory.floats(out), 0, new long[] {(long) d * dh, dh, 1}, new int[] {n, d, dh});
        return out;
    }

    /** Layer l of a stacked [L, rows, cols] array, transposed into a new tensor of the given shape (cols * rows elements). */
    private static Tensor transposeLayer(Tensor t, int l, int rows, int cols, long... outShape) {
        Tensor out = Tensor.zeros(outShape);
        HostMemory.strided(HostMemory.floats(t), (long) l * rows * cols, new long[] {0, 1, cols},
            HostMemory.floats(out), 0, new long[] {0, rows, 1}, new int[] {1, cols, rows});
        return out;
    }

    /** Sequential float32 arrays, memory-mapped chunk by chunk. */
    private static final class Reader {
        private final Path bin;
        private final FileChannel ch;
        private long pos;

        Reader(Path bin, FileChannel ch, long pos) { this.bin = bin; this.ch = ch; this.pos = pos; }

        Tensor next(long... shape) throws IOException {
            Tensor t = Tensor.zeros(shape);
            long total = t.numel() * 4;
            try {
                if (ch.size() < pos + total) throw new CheckpointException(bin + ": file shrank while reading it");
                // positional reads, not mmap: reading a mapping of a file truncated meanwhile faults (SIGBUS)
                for (long o = 0; o < total; o += SafeTensors.CHUNK_BYTES) {
                    long n = Math.min(SafeTensors.CHUNK_BYTES, total - o);
                    SafeTensors.readFully(ch, HostMemory.bytes(t, o, n), pos + o);
                }
            } catch (IOException | RuntimeException e) {
                t.close();
                throw e;
            }
            pos += total;
            return t;
        }

        void skip(long bytes) { pos += bytes; }
    }
}
