package dev.lens4j.load;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Device;
import dev.lens4j.tensor.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
 * ({@code name -> {dtype, shape, data_offsets}} plus an optional {@code __metadata__} string map), then the data.
 * <p>The header is validated completely on {@link #open}, following the format's rules (strict UTF-8 JSON, space padding
 * only, tensors tiling the data section exactly); tensor data is read when asked for, in chunks, so files and tensors over
 * 2 GiB work. Floating dtypes (F32, F16, BF16, F64) are read as F32, integer ones (I32, I64) as
 * I32. Every problem is a {@link CheckpointException} naming the file and the tensor.
 */
public final class SafeTensors implements AutoCloseable {
    /** Larger headers are taken as a corrupt or foreign file (the safetensors library's own limit is 100 MB). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;
    /** Bytes read or written at a time: keeps every NIO buffer under its 2 GiB limit. */
    static final long CHUNK_BYTES = 1L << 28;
    /** Bytes read at a time into a heap buffer for dtypes converted to F32 / I32 (F16, BF16, F64, I64). */
    static final long CONVERT_CHUNK_BYTES = 1L << 24;

    /** Bytes per element of every fixed-width safetensors dtype; lens4j converts only some of them. */
    private static final Map<String, Integer> DTYPE_BYTES = Map.ofEntries(
        Map.entry("BOOL", 1), Map.entry("U8", 1), Map.entry("I8", 1), Map.entry("F8_E5M2", 1), Map.entry("F8_E4M3", 1),
        Map.entry("I16", 2), Map.entry("U16", 2), Map.entry("F16", 2), Map.entry("BF16", 2),
        Map.entry("I32", 4), Map.entry("U32", 4), Map.entry("F32", 4),
        Map.entry("I64", 8), Map.entry("U64", 8), Map.entry("F64", 8));

    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** One tensor's header entry; begin and end are offsets into the data section. */
    public record Info(String name, String dtype, long[] shape, long begin, long end) {
        public long numel() { return Tensor.numel(shape); }
        public boolean isFloat() { return Set.of("F32", "F16", "BF16", "F64").contains(dtype); }
        public boolean isInt() { return Set.of("I32", "I64").contains(dtype); }
        public String shapeString() { return Arrays.toString(shape); }
    }

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, Info> infos;
    private final Map<String, String> metadata;

    private SafeTensors(Path path, FileChannel channel, long dataStart, Map<String, Info> infos, Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.infos = infos;
        this.metadata = metadata;
    }

    // ---------------------------------------------------------------- reading

    /** Opens and validates the file; the data is read (mapped) only when a tensor is asked for. */
    public static SafeTensors open(Path file) {
        FileChannel ch;
        RegularFiles.requireInput(file, problem -> new CheckpointException(file + ": " + (problem.equals("no such file") ? "no such safetensors file" : problem)));
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file + ": no such safetensors file");
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot open: " + e, e);
        }
        try {
            return parse(file, ch);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private static SafeTensors parse(Path file, FileChannel ch) {
        long size;
        ByteBuffer header;
        long n;
        try {
            size = ch.size();
            if (size < 8) throw new CheckpointException(file + ": file is " + size + " bytes, shorter than the 8-byte safetensors header length");
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, 0);
            n = len.getLong(0);
            if (n < 0 || n > MAX_HEADER_BYTES)
                throw new CheckpointException(file + ": header length " + Long.toUnsignedString(n) + " is absurd (limit " + MAX_HEADER_BYTES
                    + " bytes); not a safetensors file?");
            if (8 + n > size)
                throw new CheckpointException(file + ": header length " + n + " runs past the end of the file (" + size + " bytes); truncated?");
            header = ByteBuffer.allocate((int) n);
            readFully(ch, header, 8);
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot read header: " + e, e);
        }
        JsonNode root = parseHeader(file, header.array());
        long dataStart = 8 + n;
        long dataSize = size - dataStart;
        Map<String, Info> infos = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) throw new CheckpointException(file + ": __metadata__ is not a JSON object");
                for (Iterator<Map.Entry<String, JsonNode>> m = v.fields(); m.hasNext(); ) {
                    Map.Entry<String, JsonNode> me = m.next();
                    if (!me.getValue().isTextual())
                        throw new CheckpointException(file + ": __metadata__ value '" + me.getKey() + "' is not a string");
                    metadata.put(me.getKey(), me.getValue().asText());
                }
                continue;
            }
            infos.put(name, parseEntry(file, name, v, dataSize));
        }
        checkCoverage(file, infos.values(), dataSize);
        return new SafeTensors(file, ch, dataStart, Collections.unmodifiableMap(infos), Collections.unmodifiableMap(metadata));
    }

    /**
     * The header as the format defines it: strict UTF-8, one JSON object starting at its first byte, then nothing but
     * spaces (0x20, the padding writers add to align the data); duplicate names are rejected by the parser.
     */
    static JsonNode parseHeader(Path file, byte[] header) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(header)).toString();
        } catch (CharacterCodingException e) {
            throw new CheckpointException(file + ": header is not valid UTF-8 (" + e.getMessage() + ")");
        }
        int end = text.length();
        while (end > 0 && text.charAt(end - 1) == ' ') end--;
        JsonNode root;
        try {
            root = JSON.readTree(text.substring(0, end));
        } catch (JsonProcessingException e) {
            throw new CheckpointException(file + ": header is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject())
            throw new CheckpointException(file + ": header is not a JSON object");
        // the parser also skips other whitespace around the object; the format allows only trailing 0x20
        if (text.charAt(0) != '{' || text.charAt(end - 1) != '}')
            throw new CheckpointException(file + ": header is not a JSON object followed only by space padding"
                + " (a wrong header length shifts every tensor: corrupt file?)");
        return root;
    }

    /**
     * The tensors must tile the data section exactly, in offset order: no hole, no overlap, no trailing byte (the format's
     * own rule). A zero-size tensor must sit at the running end too, so it cannot hide two tensors overlapping around it.
     */
    private static void checkCoverage(Path file, java.util.Collection<Info> infos, long dataSize) {
        List<Info> sorted = new ArrayList<>(infos);
        sorted.sort(Comparator.comparingLong(Info::begin).thenComparingLong(Info::end));
        long covered = 0;
        Info prev = null;
        for (Info i : sorted) {
            if (i.begin > covered)
                throw new CheckpointException(file + ": data section bytes [" + covered + ", " + i.begin + ") before tensor '" + i.name
                    + "' belong to no tensor (a hole: corrupt header?)");
            if (i.begin < covered)
                throw new CheckpointException(file + ": tensors '" + prev.name + "' and '" + i.name + "' overlap in the data section ("
                    + "'" + i.name + "' starts at " + i.begin + ", '" + prev.name + "' ends at " + covered + ")");
            covered = i.end;
            prev = i;
        }
        if (covered != dataSize)
            throw new CheckpointException(file + ": " + (dataSize - covered) + " trailing bytes after the last tensor: the data section is "
                + dataSize + " bytes, the tensors cover " + covered + " (wrong header length or a corrupt file?)");
    }

    private static Info parseEntry(Path file, String name, JsonNode v, long dataSize) {
        String where = file + ": tensor '" + name + "'";
        if (!v.isObject()) throw new CheckpointException(where + ": header entry is not a JSON object");
        JsonNode dt = v.get("dtype");
        if (dt == null || !dt.isTextual()) throw new CheckpointException(where + ": missing or non-string dtype");
        String dtype = dt.asText();
        Integer elemBytes = DTYPE_BYTES.get(dtype);
        if (elemBytes == null)
            throw new CheckpointException(where + ": unknown dtype '" + dtype + "' (known: " + new java.util.TreeSet<>(DTYPE_BYTES.keySet()) + ")");
        JsonNode sh = v.get("shape");
        if (sh == null || !sh.isArray()) throw new CheckpointException(where + ": missing or non-array shape");
        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0)
                throw new CheckpointException(where + ": shape " + sh + " has an invalid dimension " + d);
            shape[i] = d.asLong();
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(Tensor.numel(shape), elemBytes);
        } catch (ArithmeticException e) {
            throw new CheckpointException(where + ": shape " + sh + " overflows");
        }
        JsonNode off = v.get("data_offsets");
        if (off == null || !off.isArray() || off.size() != 2)
            throw new CheckpointException(where + ": data_offsets must be [begin, end], got " + off);
        for (JsonNode o : off)
            if (!o.isIntegralNumber() || !o.canConvertToLong() || o.asLong() < 0)
                throw new CheckpointException(where + ": data_offsets " + off + " are not non-negative integers");
        long begin = off.get(0).asLong(), end = off.get(1).asLong();
        if (begin > end || end > dataSize)
            throw new CheckpointException(where + ": data_offsets " + off + " are not within the data section [0, " + dataSize + "]");
        if (end - begin != bytes)
            throw new CheckpointException(where + ": data_offsets " + off + " span " + (end - begin) + " bytes, but shape " + sh + " of "
                + dtype + " needs " + bytes);
        return new Info(name, dtype, shape, begin, end);
    }

    public Path path() { return path; }

    /** The __metadata__ string map (empty when absent). */
    public Map<String, String> metadata() { return metadata; }

    /** Tensor names in header order. */
    public Set<String> names() { return infos.keySet(); }

    public boolean has(String name) { return infos.containsKey(name); }

    public Info info(String name) {
        Info i = infos.get(name);
        if (i == null) throw new CheckpointException(path + ": no tensor named '" + name + "'");
        return i;
    }

    /** A new host tensor: F32 for floating dtypes, I32 for integer ones. */
    public Tensor read(String name) {
        Info i = info(name);
        Tensor t = Tensor.zeros(Device.CPU, i.isInt() ? DType.I32 : DType.F32, i.shape);
        try {
            readInto(name, t);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
        return t.named(name);
    }

    public float[] readFloats(String name) {
        Info i = info(name);
        if (!i.isFloat()) throw unsupported(i, "float");
        try (Tensor t = read(name)) { return t.toFloatArray(); }
    }

    public int[] readInts(String name) {
        Info i = info(name);
        if (!i.isInt()) throw unsupported(i, "int");
        try (Tensor t = read(name)) { return t.toIntArray(); }
    }

    /** Reads into an existing host tensor of the same element count (F32 from floating dtypes, I32 from integer ones). */
    public synchronized void readInto(String name, Tensor dst) {
        Info i = info(name);
        if (dst.numel() != i.numel())
            throw new CheckpointException(path + ": tensor '" + name + "' has shape " + i.shapeString() + ", cannot read it into " + dst.describe());
        if (dst.dtype() == DType.F32 && !i.isFloat()) throw unsupported(i, "F32");
        if (dst.dtype() == DType.I32 && !i.isInt()) throw unsupported(i, "I32");
        int eb = DTYPE_BYTES.get(i.dtype);
        long total = i.numel();
        // positional reads, not mmap: reading a mapping of a file truncated meanwhile faults (SIGBUS; an Error, not an
        // exception, at best), and a mapping per tensor costs more than it saves on a checkpoint's many small tensors.
        // F32 and I32 are read straight into the tensor.
        boolean direct = i.dtype.equals("F32") || i.dtype.equals("I32");
        long chunk = (direct ? CHUNK_BYTES : CONVERT_CHUNK_BYTES) / eb;
        ByteBuffer src = direct ? null : staging((int) (Math.min(chunk, total) * eb));
        try {
            for (long e0 = 0; e0 < total; e0 += chunk) {
                int n = (int) Math.min(chunk, total - e0);
                long pos = dataStart + i.begin + e0 * eb;
                ByteBuffer out = HostMemory.bytes(dst, e0 * 4, (long) n * 4);
                if (direct) {
                    readFully(channel, out, pos);
                    continue;
                }
                src.clear().limit(n * eb);
                readFully(channel, src, pos);
                convert(i, src, out, n);
            }
        } catch (IOException e) {
            throw new CheckpointException(path + ": tensor '" + name + "': cannot read: " + e, e);
        }
    }

    /** Receives consecutive rows of a tensor as F32: rows [firstRow, firstRow + rows) in buf[0, rows * rowLen). */
    @FunctionalInterface
    public interface RowChunk { void accept(float[] buf, long firstRow, int rows); }

    /** Elements per chunk of {@link #readRows}: 16 MB of floats on the heap, reused for the whole tensor. */
    static final int ROW_CHUNK_FLOATS = 1 << 22;

    /**
     * Streams a floating tensor, viewed as rows of rowLen elements, to sink as F32 in chunks of whole rows through one
     * reused heap buffer (about {@link #ROW_CHUNK_FLOATS} elements, at least one row): a loader rearranges each chunk
     * straight into its final layout, with no whole-tensor staging copy.
     */
    public void readRows(String name, int rowLen, RowChunk sink) { readRows(name, rowLen, ROW_CHUNK_FLOATS, sink); }

    /** As {@link #readRows(String, int, RowChunk)} with chunks of about chunkFloats elements (tests use tiny ones). */
    synchronized void readRows(String name, int rowLen, int chunkFloats, RowChunk sink) {
        Info i = info(name);
        if (!i.isFloat()) throw unsupported(i, "F32");
        long total = i.numel();
        if (rowLen <= 0 || total % rowLen != 0 || rowLen > (Integer.MAX_VALUE - 8) / 8)
            throw new CheckpointException(path + ": tensor '" + name + "' of shape " + i.shapeString() + " cannot be read as rows of " + rowLen);
        int eb = DTYPE_BYTES.get(i.dtype);
        long rows = total / rowLen;
        int rowsPerChunk = (int) Math.min(rows, Math.max(1, chunkFloats / rowLen));
        if (floatStaging == null || floatStaging.length < rowsPerChunk * rowLen) floatStaging = new float[rowsPerChunk * rowLen];
        float[] buf = floatStaging;
        ByteBuffer raw = staging(rowsPerChunk * rowLen * eb);
        try {
            for (long r0 = 0; r0 < rows; r0 += rowsPerChunk) {
                int n = (int) Math.min(rowsPerChunk, rows - r0), count = n * rowLen;
                raw.clear().limit(count * eb);
                readFully(channel, raw, dataStart + i.begin + r0 * rowLen * eb);
                decode(i, raw, buf, count);
                sink.accept(buf, r0, n);
            }
        } catch (IOException e) {
            throw new CheckpointException(path + ": tensor '" + name + "': cannot read: " + e, e);
        }
    }

    private static void decode(Info i, ByteBuffer raw, float[] out, int n) {
        switch (i.dtype) {
            case "F32" -> raw.asFloatBuffer().get(out, 0, n);
            case "BF16" -> { ShortBuffer s = raw.asShortBuffer(); for (int k = 0; k < n; k++) out[k] = HalfFloats.bf16ToF32(s.get(k)); }
            case "F16" -> { ShortBuffer s = raw.asShortBuffer(); for (int k = 0; k < n; k++) out[k] = HalfFloats.f16ToF32(s.get(k)); }
            case "F64" -> { DoubleBuffer s = raw.asDoubleBuffer(); for (int k = 0; k < n; k++) out[k] = (float) s.get(k); }
            default -> throw new IllegalStateException(i.dtype);
        }
    }

    // Staging buffers reused by every read of this file: fresh ones per tensor or chunk are garbage that the JVM lets
    // grow its heap by (hundreds of MB of resident memory on a multi-GB checkpoint) before it collects them.
    private float[] floatStaging;
    private ByteBuffer byteStaging;

    private ByteBuffer staging(int bytes) {
        if (byteStaging == null || byteStaging.capacity() < bytes) byteStaging = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
        return byteStaging.clear();
    }

    private void convert(Info i, ByteBuffer src, ByteBuffer out, int n) {
        switch (i.dtype) {
            case "F32", "I32" -> out.put(src);
            case "BF16" -> {
                ShortBuffer s = src.asShortBuffer();
                FloatBuffer d = out.asFloatBuffer();
                for (int k = 0; k < n; k++) d.put(k, HalfFloats.bf16ToF32(s.get(k)));
            }
            case "F16" -> {
                ShortBuffer s = src.asShortBuffer();
                FloatBuffer d = out.asFloatBuffer();
                for (int k = 0; k < n; k++) d.put(k, HalfFloats.f16ToF32(s.get(k)));
            }
            case "F64" -> {
                DoubleBuffer s = src.asDoubleBuffer();
                FloatBuffer d = out.asFloatBuffer();
                for (int k = 0; k < n; k++) d.put(k, (float) s.get(k));
            }
            case "I64" -> {
                LongBuffer s = src.asLongBuffer();
                IntBuffer d = out.asIntBuffer();
                for (int k = 0; k < n; k++) {
                    long v = s.get(k);
                    if (v != (int) v)
                        throw new CheckpointException(path + ": tensor '" + i.name + "': I64 value " + v + " does not fit in I32");
                    d.put(k, (int) v);
                }
            }
            default -> throw unsupported(i, "F32 or I32");
        }
    }

    private CheckpointException unsupported(Info i, String as) {
        return new CheckpointException(path + ": tensor '" + i.name + "' has dtype " + i.dtype + ", which lens4j cannot read as " + as
            + " (floats: F32, F16, BF16, F64; ints: I32, I64)");
    }

    @Override public void close() { closeQuietly(channel); }

    // ---------------------------------------------------------------- writing

    /** Writes host or device tensors (F32 and I32) in map order, with optional metadata. */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
        write(file, tensors, metadata, DType.F32);
    }

    /**
     * As {@link #write(Path, Map, Map)}, storing F32 tensors as {@code floatStorage} (F32, F16 or BF16; rounding to nearest
     * even). Written as {@link RegularFiles#write} does: atomically, never over a non-regular file, no partial file on failure.
     */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata, DType floatStorage) {
        if (floatStorage != DType.F32 && floatStorage != DType.F16 && floatStorage != DType.BF16)
            throw new IllegalArgumentException("floats are stored as F32, F16 or BF16, not " + floatStorage);
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            t.checkOpen();
            if (e.getKey().equals("__metadata__")) throw new IllegalArgumentException("'__metadata__' is not a tensor name");
            DType stored = t.dtype() == DType.F32 ? floatStorage : t.dtype();
            if (t.dtype() != DType.F32 && t.dtype() != DType.I32) throw new IllegalArgumentException(t.describe() + ": only F32 and I32 are written");
            long bytes = t.numel() * stored.bytes;
            ObjectNode o = header.putObject(e.getKey());
            o.put("dtype", stored.safetensorsName());
            ArrayNode s = o.putArray("shape");
            for (long d : t.shape()) s.add(d);
            o.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json;
        try { json = JSON.writeValueAsBytes(header); } catch (JsonProcessingException e) { throw new IllegalStateException(e); }
        int padded = (json.length + 7) / 8 * 8; // the data section starts 8-byte aligned, as the safetensors library writes it
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        head.flip();
        try {
            RegularFiles.write(file, ch -> {
                writeFully(ch, head);
                for (Tensor t : tensors.values()) writeData(ch, t, t.dtype() == DType.F32 ? floatStorage : t.dtype());
            });
        } catch (java.io.UncheckedIOException e) {
            throw new CheckpointException(e.getMessage(), e.getCause());
        }
    }

    private static void writeData(FileChannel ch, Tensor t, DType stored) throws IOException {
        if (!t.device().isCpu()) {
            try (Tensor h = t.to(Device.CPU)) { writeData(ch, h, stored); }
            return;
        }
        long total = t.numel();
        long chunk = CHUNK_BYTES / 4;
        for (long e0 = 0; e0 < total; e0 += chunk) {
            int n = (int) Math.min(chunk, total - e0);
            ByteBuffer src = HostMemory.bytes(t, e0 * 4, (long) n * 4);
            if (stored == t.dtype()) {
                writeFully(ch, src);
                continue;
            }
            FloatBuffer f = src.asFloatBuffer();
            ByteBuffer out = ByteBuffer.allocate(n * 2).order(ByteOrder.LITTLE_ENDIAN);
            ShortBuffer s = out.asShortBuffer();
            for (int k = 0; k < n; k++) s.put(k, stored == DType.BF16 ? HalfFloats.f32ToBf16(f.get(k)) : HalfFloats.f32ToF16(f.get(k)));
            writeFully(ch, out);
        }
    }

    // ---------------------------------------------------------------- io helpers

    static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            int r = ch.read(b, pos);
            if (r < 0) throw new IOException("unexpected end of file at byte " + pos);
            pos += r;
        }
        b.flip();
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

    private static void closeQuietly(FileChannel ch) {
        try { ch.close(); } catch (IOException ignored) { }
    }
}
