package dev.lens4j.load;

import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class SafeTensorsTest {
    @TempDir Path tmp;

    /** A safetensors file built byte by byte, independent of the writer under test. */
    static Path raw(Path file, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Files.write(file, b.array());
        return file;
    }

    static Path rawWithLength(Path file, long headerLength, byte[] rest) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + rest.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(headerLength).put(rest);
        Files.write(file, b.array());
        return file;
    }

    static byte[] le(int bytesPer, long... values) {
        ByteBuffer b = ByteBuffer.allocate(bytesPer * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            switch (bytesPer) {
                case 2 -> b.putShort((short) v);
                case 4 -> b.putInt((int) v);
                default -> b.putLong(v);
            }
        }
        return b.array();
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) n += p.length;
        ByteBuffer b = ByteBuffer.allocate(n);
        for (byte[] p : parts) b.put(p);
        return b.array();
    }

    @Test void writesTheSafetensorsLayoutAndReadsItBack() throws IOException {
        Path f = tmp.resolve("a.safetensors");
        Map<String, Tensor> m = new LinkedHashMap<>();
        try (Tensor a = Tensor.of(new float[] {1.5f, -2f, 3f, 0f, 1e-30f, Float.NaN}, 2, 3);
             Tensor b = Tensor.ofInts(new int[] {7, -8, 1 << 30}, 3);
             Tensor c = Tensor.zeros(0, 4)) {
            m.put("zeta", a);
            m.put("alpha", b);
            m.put("empty", c);
            SafeTensors.write(f, m, Map.of("format", "pt"));
        }
        byte[] bytes = Files.readAllBytes(f);
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, (8 + n) % 8, "data section is 8-byte aligned");
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{\"__metadata__\":{\"format\":\"pt\"},\"zeta\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}"), header);
        assertTrue(header.contains("\"alpha\":{\"dtype\":\"I32\",\"shape\":[3],\"data_offsets\":[24,36]}"), header);
        assertEquals(8 + n + 36, bytes.length);
        assertEquals(1.5f, ByteBuffer.wrap(bytes, (int) (8 + n), 4).order(ByteOrder.LITTLE_ENDIAN).getFloat());

        try (SafeTensors st = SafeTensors.open(f)) {
            assertEquals(List.of("zeta", "alpha", "empty"), List.copyOf(st.names()), "insertion order");
            assertEquals(Map.of("format", "pt"), st.metadata());
            float[] z = st.readFloats("zeta");
            assertEquals(1.5f, z[0]);
            assertEquals(1e-30f, z[4]);
            assertTrue(Float.isNaN(z[5]));
            assertArrayEquals(new int[] {7, -8, 1 << 30}, st.readInts("alpha"));
            try (Tensor t = st.read("zeta")) {
                assertArrayEquals(new long[] {2, 3}, t.shape());
                assertEquals(DType.F32, t.dtype());
                assertEquals(-2f, t.get(0, 1));
            }
            try (Tensor e = st.read("empty")) { assertEquals(0, e.numel()); }
            CheckpointException ex = assertThrows(CheckpointException.class, () -> st.read("nope"));
            assertTrue(ex.getMessage().contains("nope") && ex.getMessage().contains(f.toString()), ex.getMessage());
            ex = assertThrows(CheckpointException.class, () -> st.readInts("zeta"));
            assertTrue(ex.getMessage().contains("zeta") && ex.getMessage().contains("F32"), ex.getMessage());
        }
    }

    @Test void readsHalfBfloatDoubleAndLongDtypes() throws IOException {
        // F16: 1.0, -2.0, smallest subnormal, inf; BF16: 1.0, -0.5; F64: 0.1, 1e300 (-> inf); I64: -3, 5
        byte[] f16 = le(2, 0x3c00, 0xc000, 0x0001, 0x7c00);
        byte[] bf16 = le(2, 0x3f80, 0xbf00);
        byte[] f64 = le(8, Double.doubleToLongBits(0.1), Double.doubleToLongBits(1e300));
        byte[] i64 = le(8, -3, 5);
        String header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
            + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]},"
            + "\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[12,28]},"
            + "\"l\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[28,44]},"
            + "\"__metadata__\":{\"k\":\"v\"}}";
        Path f = raw(tmp.resolve("d.safetensors"), header, concat(f16, bf16, f64, i64));
        try (SafeTensors st = SafeTensors.open(f)) {
            assertArrayEquals(new float[] {1f, -2f, 0x1p-24f, Float.POSITIVE_INFINITY}, st.readFloats("h"));
            assertArrayEquals(new float[] {1f, -0.5f}, st.readFloats("b"));
            assertArrayEquals(new float[] {0.1f, Float.POSITIVE_INFINITY}, st.readFloats("d"));
            assertArrayEquals(new int[] {-3, 5}, st.readInts("l"));
            assertEquals("v", st.metadata().get("k"));
            assertArrayEquals(new long[] {2, 2}, st.info("h").shape());
        }
    }

    @Test void i64OutOfI32RangeIsAnError() throws IOException {
        Path f = raw(tmp.resolve("l.safetensors"), "{\"big\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", le(8, 1L << 40));
        try (SafeTensors st = SafeTensors.open(f)) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> st.readInts("big"));
            assertTrue(e.getMessage().contains("big") && e.getMessage().contains("I32"), e.getMessage());
        }
    }

    @Test void unsupportedButValidDtypeFailsOnlyWhenRead() throws IOException {
        Path f = raw(tmp.resolve("u.safetensors"), "{\"mask\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]},"
            + "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[3,7]}}", concat(new byte[] {1, 0, 1}, le(4, Float.floatToIntBits(2f))));
        try (SafeTensors st = SafeTensors.open(f)) {
            assertArrayEquals(new float[] {2f}, st.readFloats("x"));
            CheckpointException e = assertThrows(CheckpointException.class, () -> st.read("mask"));
            assertTrue(e.getMessage().contains("mask") && e.getMessage().contains("BOOL"), e.getMessage());
        }
    }

    @Test void writesHalfPrecisionStorage() throws IOException {
        float[] v = {1f, 0.1f, -65504f, 1e-6f, 3.14159f};
        for (DType storage : new DType[] {DType.F16, DType.BF16}) {
            Path f = tmp.resolve("h" + storage + ".safetensors");
            try (Tensor t = Tensor.of(v, 5)) { SafeTensors.write(f, Map.of("t", t), null, storage); }
            try (SafeTensors st = SafeTensors.open(f)) {
                assertEquals(storage.name(), st.info("t").dtype());
                assertEquals(10, st.info("t").end());
                float[] back = st.readFloats("t");
                for (int i = 0; i < v.length; i++) {
                    float expect = storage == DType.F16 ? HalfFloats.f16ToF32(HalfFloats.f32ToF16(v[i])) : HalfFloats.bf16ToF32(HalfFloats.f32ToBf16(v[i]));
                    assertEquals(expect, back[i], storage + " element " + i);
                    assertEquals(v[i], back[i], Math.abs(v[i]) * (storage == DType.F16 ? 1e-3 : 8e-3) + 1e-7, storage + " element " + i);
                }
            }
        }
    }

    // ---------------------------------------------------------------- bad files

    private void assertBad(Path f, String... fragments) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> { try (SafeTensors st = SafeTensors.open(f)) { st.names(); } });
        assertTrue(e.getMessage().contains(f.toString()), "names the file: " + e.getMessage());
        for (String s : fragments) assertTrue(e.getMessage().contains(s), "'" + s + "' in: " + e.getMessage());
    }

    private static String entry(String name, String dtype, String shape, String offsets) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
    }

    @Test void missingFile() { assertBad(tmp.resolve("none.safetensors"), "no such"); }

    @Test void shorterThanTheLengthField() throws IOException {
        Path f = Files.write(tmp.resolve("s.safetensors"), new byte[] {1, 2, 3});
        assertBad(f, "3 bytes", "shorter");
    }

    @Test void headerLengthPastEndOfFile() throws IOException {
        assertBad(rawWithLength(tmp.resolve("t.safetensors"), 500, "{}".getBytes()), "500", "truncated");
    }

    @Test void absurdHeaderLength() throws IOException {
        assertBad(rawWithLength(tmp.resolve("a.safetensors"), 200_000_000L, new byte[16]), "absurd");
        assertBad(rawWithLength(tmp.resolve("n.safetensors"), -1L, new byte[16]), "absurd");
    }

    @Test void headerNotJson() throws IOException {
        assertBad(raw(tmp.resolve("j.safetensors"), "{\"a\": [1, 2", new byte[0]), "not valid JSON");
        assertBad(raw(tmp.resolve("k.safetensors"), "[1, 2]", new byte[0]), "not a JSON object");
        assertBad(raw(tmp.resolve("d.safetensors"), "{" + entry("x", "F32", "[1]", "[0,4]") + "," + entry("x", "F32", "[1]", "[0,4]") + "}", new byte[4]),
            "not valid JSON");
    }

    @Test void unknownDtype() throws IOException {
        assertBad(raw(tmp.resolve("u.safetensors"), "{" + entry("w", "Q7", "[1]", "[0,4]") + "}", new byte[4]), "'w'", "unknown dtype 'Q7'");
    }

    @Test void offsetsOutOfBoundsOrWrong() throws IOException {
        assertBad(raw(tmp.resolve("o1.safetensors"), "{" + entry("w", "F32", "[2]", "[0,8]") + "}", new byte[4]), "'w'", "data section");
        assertBad(raw(tmp.resolve("o2.safetensors"), "{" + entry("w", "F32", "[2]", "[8,0]") + "}", new byte[8]), "'w'", "data section");
        assertBad(raw(tmp.resolve("o3.safetensors"), "{" + entry("w", "F32", "[2]", "[0]") + "}", new byte[8]), "'w'", "[begin, end]");
        assertBad(raw(tmp.resolve("o4.safetensors"), "{" + entry("w", "F32", "[3]", "[0,8]") + "}", new byte[12]), "'w'", "needs 12");
        assertBad(raw(tmp.resolve("o5.safetensors"), "{" + entry("w", "F32", "[2]", "[0,-8]") + "}", new byte[8]), "'w'", "non-negative");
        assertBad(raw(tmp.resolve("o6.safetensors"), "{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[2]", "[4,12]") + "}",
            new byte[12]), "overlap");
    }

    @Test void badShapes() throws IOException {
        assertBad(raw(tmp.resolve("s1.safetensors"), "{" + entry("w", "F32", "[-1]", "[0,4]") + "}", new byte[4]), "'w'", "invalid dimension");
        assertBad(raw(tmp.resolve("s2.safetensors"), "{" + entry("w", "F32", "[4294967296,4294967296]", "[0,4]") + "}", new byte[4]), "'w'", "overflows");
        assertBad(raw(tmp.resolve("s3.safetensors"), "{" + entry("w", "F32", "[1.5]", "[0,4]") + "}", new byte[4]), "'w'", "invalid dimension");
    }

    @Test void badMetadata() throws IOException {
        assertBad(raw(tmp.resolve("m.safetensors"), "{\"__metadata__\":{\"a\":1}}", new byte[0]), "__metadata__");
    }
}
