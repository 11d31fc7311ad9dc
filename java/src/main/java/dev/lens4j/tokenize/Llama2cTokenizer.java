package dev.lens4j.tokenize;

import dev.lens4j.load.RegularFiles;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.OptionalInt;
import java.util.PriorityQueue;

/**
 * llama2.c's tokenizer.bin (int32 max_token_length, then per token: float32 score, int32 length, bytes;
 * little-endian), encoding and decoding exactly as llama2.c's run.c encode() / decode() do.
 * BOS = 1, EOS = 2, byte fallback token for byte b = b + 3. Pure Java; close() is a no-op.
 */
public final class Llama2cTokenizer implements Tokenizer {
    public static final int BOS = 1;
    public static final int EOS = 2;
    private static final int BYTE_FALLBACK_OFFSET = 3;
    // run.c starts best_score at -1e10, so pairs scoring at or below it never merge
    private static final float NO_MERGE_SCORE = -1e10f;

    private final Path source;
    private final int maxTokenLength;
    private final byte[][] pieces;
    private final float[] scores;
    private final short[] byteValue; // the raw byte of a "<0xNN>" piece, else -1
    private final Map<String, Integer> ids; // key: piece bytes as ISO-8859-1, a lossless byte->char map

    private Llama2cTokenizer(Path source, int maxTokenLength, byte[][] pieces, float[] scores) {
        this.source = source;
        this.maxTokenLength = maxTokenLength;
        this.pieces = pieces;
        this.scores = scores;
        this.byteValue = new short[pieces.length];
        this.ids = new HashMap<>(pieces.length * 2);
        for (int i = 0; i < pieces.length; i++) {
            byteValue[i] = parseBytePiece(pieces[i]);
            // first id wins on duplicate pieces (run.c's bsearch picks an arbitrary one)
            ids.putIfAbsent(key(pieces[i], 0, pieces[i].length), i);
        }
    }

    /** Reads every token in the file; the vocabulary size is however many entries it holds. */
    public static Llama2cTokenizer load(Path file) {
        return load(file, -1);
    }

    /**
     * Reads the file and, when expectedVocabSize is non-negative, requires exactly that many tokens
     * (the model's vocab_size): the format has no count, so only this catches a file cut at an entry boundary.
     */
    public static Llama2cTokenizer load(Path file, int expectedVocabSize) {
        byte[] data;
        if (Files.exists(file)) RegularFiles.requireInput(file, problem -> new TokenizerException(file + ": " + problem));
        try {
            data = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new TokenizerException("llama2.c tokenizer file not found: " + file, e);
        } catch (IOException e) {
            throw new TokenizerException("cannot read llama2.c tokenizer file " + file + ": " + e.getMessage(), e);
        }
        ByteBuffer buf = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        if (buf.remaining() < 4) {
            throw new TokenizerException("llama2.c tokenizer file " + file + " is too short (" + data.length
                    + " bytes) to hold its max_token_length header");
        }
        int maxLen = buf.getInt();
        if (maxLen <= 0) {
            throw new TokenizerException("llama2.c tokenizer file " + file + " has max_token_length " + maxLen
                    + "; not a llama2.c tokenizer");
        }
        byte[][] pieces = new byte[Math.max(expectedVocabSize, 16)][];
        float[] scores = new float[pieces.length];
        int n = 0;
        while (buf.hasRemaining() && (expectedVocabSize < 0 || n < expectedVocabSize)) {
            if (buf.remaining() < 8) {
                throw truncated(file, n, "its score and length", data.length);
            }
            float score = buf.getFloat();
            int len = buf.getInt();
            if (len < 0 || len > buf.remaining()) {
                throw truncated(file, n, len + " bytes of text", data.length);
            }
            if (n == pieces.length) {
                pieces = Arrays.copyOf(pieces, n * 2);
                scores = Arrays.copyOf(scores, n * 2);
            }
            byte[] piece = new byte[len];
            buf.get(piece);
            pieces[n] = piece;
            scores[n] = score;
            n++;
        }
        if (expectedVocabSize >= 0 && n != expectedVocabSize) {
            throw new TokenizerException("llama2.c tokenizer file " + file + " holds " + n + " tokens, expected "
                    + expectedVocabSize);
        }
        if (expectedVocabSize >= 0 && buf.hasRemaining()) {
            throw new TokenizerException("llama2.c tokenizer file " + file + " has " + buf.remaining()
                    + " bytes after its " + expectedVocabSize + " tokens");
        }
        if (n <= EOS) {
            throw new TokenizerException("llama2.c tokenizer file " + file + " holds only " + n
                    + " tokens; BOS=1 and EOS=2 must exist");
        }
        return new Llama2cTokenizer(file, maxLen, Arrays.copyOf(pieces, n), Arrays.copyOf(scores, n));
    }

    private static TokenizerException truncated(Path file, int token, String what, int size) {
        return new TokenizerException("llama2.c tokenizer file " + file + " is truncated or malformed: token "
                + token + " needs " + what + " beyond the end of the file (" + size + " bytes)");
    }

    /** Encodes like run.c encode(text, bos=0, eos=0): dummy-prefix space, codepoints or byte fallback, merges. */
    @Override
    public int[] encode(String text) {
        if (text == null) throw new TokenizerException("text is null");
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        if (utf8.length == 0) return new int[0];
        int[] tokens = new int[utf8.length + 1];
        int n = 0;
        // sentencepiece's add_dummy_prefix: the text is encoded as if it began with a space
        Integer space = ids.get(" ");
        if (space != null) {
            tokens[n++] = space;
        } else {
            tokens[n++] = byteFallback(' ');
        }
        int start = 0;
        for (int i = 0; i < utf8.length; i++) {
            if ((utf8[i] & 0xC0) != 0x80) start = i; // not a continuation byte: a new codepoint begins
            int len = i - start + 1;
            // run.c keeps reading continuation bytes up to 4 bytes per codepoint
            if (i + 1 < utf8.length && (utf8[i + 1] & 0xC0) == 0x80 && len < 4) continue;
            Integer id = ids.get(key(utf8, start, len));
            if (id != null) {
                tokens[n++] = id;
            } else {
                for (int k = start; k <= i; k++) tokens[n++] = byteFallback(utf8[k] & 0xFF);
            }
            start = i + 1;
        }
        return merge(tokens, n);
    }

    private int byteFallback(int b) {
        int id = b + BYTE_FALLBACK_OFFSET;
        if (id >= pieces.length) {
            throw new TokenizerException(String.format("cannot encode byte 0x%02X with %s: its byte fallback token %d"
                    + " is outside the vocabulary of %d", b, source, id, pieces.length));
        }
        return id;
    }

    /**
     * run.c merges, until none applies, the adjacent pair with the highest score whose concatenation is a token
     * (the leftmost on ties). Same result via a linked list and a heap, so long texts are not quadratic.
     */
    private int[] merge(int[] tok, int n) {
        int[] next = new int[n];
        int[] prev = new int[n];
        int[] version = new int[n];
        boolean[] alive = new boolean[n];
        for (int i = 0; i < n; i++) {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
            alive[i] = true;
        }
        PriorityQueue<long[]> heap = new PriorityQueue<>((a, b) -> {
            int c = Float.compare(Float.intBitsToFloat((int) b[0]), Float.intBitsToFloat((int) a[0]));
            return c != 0 ? c : Long.compare(a[1], b[1]);
        });
        for (int i = 0; i + 1 < n; i++) offer(heap, tok, version, i, i + 1);
        int count = n;
        while (!heap.isEmpty()) {
            long[] e = heap.poll();
            int left = (int) e[1];
            int right = (int) e[2];
            // stale unless both nodes are alive, still adjacent and unchanged since the pair was offered
            if (!alive[left] || !alive[right] || next[left] != right
                    || version[left] != (int) e[3] || version[right] != (int) e[4]) {
                continue;
            }
            tok[left] = (int) e[5];
            version[left]++;
            alive[right] = false;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            count--;
            if (prev[left] >= 0) offer(heap, tok, version, prev[left], left);
            if (next[left] >= 0) offer(heap, tok, version, left, next[left]);
        }
        int[] out = new int[count];
        int k = 0;
        for (int i = 0; i >= 0 && k < count; i = next[i]) out[k++] = tok[i];
        return out;
    }

    private void offer(PriorityQueue<long[]> heap, int[] tok, int[] version, int left, int right) {
        byte[] a = pieces[tok[left]];
        byte[] b = pieces[tok[right]];
        byte[] cat = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, cat, a.length, b.length);
        Integer id = ids.get(key(cat, 0, cat.length));
        if (id == null || !(scores[id] > NO_MERGE_SCORE)) return;
        heap.add(new long[] {Float.floatToRawIntBits(scores[id]), left, right, version[left], version[right], id});
    }

    /**
     * Decodes like run.c decode(prev, token) applied along the sequence, bytes concatenated then read as UTF-8:
     * a piece right after BOS loses its leading space, "&lt;0xNN&gt;" pieces are the raw byte, every other piece
     * is its text from the file. A first token not preceded by BOS keeps its space. BOS and EOS read "&lt;s&gt;"
     * and "&lt;/s&gt;" as SentencePiece names them (llama2.c's file stores them wrapped in newlines).
     */
    @Override
    public String decode(int[] tokenIds) {
        TokenIds.check(tokenIds, pieces.length);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int prev = -1;
        for (int id : tokenIds) {
            byte[] piece = pieces[id];
            if (byteValue[id] >= 0) {
                out.write(byteValue[id]);
            } else if (id == BOS || id == EOS) {
                out.writeBytes((id == BOS ? "<s>" : "</s>").getBytes(StandardCharsets.UTF_8));
            } else {
                int from = prev == BOS && piece.length > 0 && piece[0] == ' ' ? 1 : 0;
                out.write(piece, from, piece.length - from);
            }
            prev = id;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** llama2.c drops the leading space of the piece after BOS, so the ids are decoded after one and its marker removed. */
    @Override
    public String decodeAfterBos(int[] ids) {
        int[] withBos = new int[ids.length + 1];
        withBos[0] = BOS;
        System.arraycopy(ids, 0, withBos, 1, ids.length);
        return decode(withBos).substring("<s>".length());
    }

    @Override
    public String tokenString(int id) {
        return decode(new int[] {id});
    }

    @Override
    public int vocabSize() { return pieces.length; }

    @Override
    public OptionalInt bosTokenId() { return OptionalInt.of(BOS); }

    @Override
    public OptionalInt eosTokenId() { return OptionalInt.of(EOS); }

    /** llama2.c has no padding token. */
    @Override
    public OptionalInt padTokenId() { return OptionalInt.empty(); }

    /** The file's max_token_length header. */
    public int maxTokenLength() { return maxTokenLength; }

    /** The merge score stored for the token. */
    public float score(int id) {
        TokenIds.check(id, pieces.length);
        return scores[id];
    }

    /** The token's raw piece bytes as stored in the file (e.g. "&lt;0x0A&gt;", " Once", "\n&lt;s&gt;\n"). */
    public byte[] pieceBytes(int id) {
        TokenIds.check(id, pieces.length);
        return pieces[id].clone();
    }

    /** The id of the token whose piece is exactly this text, if any. */
    public OptionalInt tokenId(String piece) {
        byte[] b = piece.getBytes(StandardCharsets.UTF_8);
        Integer id = ids.get(key(b, 0, b.length));
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    public Path source() { return source; }

    @Override
    public void close() {}

    @Override
    public String toString() {
        return "Llama2cTokenizer[" + source + ", vocab " + pieces.length + "]";
    }

    private static String key(byte[] b, int off, int len) {
        return new String(b, off, len, StandardCharsets.ISO_8859_1);
    }

    // run.c: sscanf(piece, "<0x%02hhX>", &byte); accepted here only in its exact 6-byte form
    private static short parseBytePiece(byte[] p) {
        if (p.length != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>') return -1;
        int hi = Character.digit(p[3], 16);
        int lo = Character.digit(p[4], 16);
        if (hi < 0 || lo < 0) return -1;
        return (short) (hi * 16 + lo);
    }
}
