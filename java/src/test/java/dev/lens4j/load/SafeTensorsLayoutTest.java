package dev.lens4j.load;

import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static dev.lens4j.load.SafeTensorsTest.concat;
import static dev.lens4j.load.SafeTensorsTest.raw;
import static org.junit.jupiter.api.Assertions.*;

/** The format's own layout rules: header bytes, padding, and a data section the tensors tile exactly. */
class SafeTensorsLayoutTest {
    @TempDir Path tmp;

    private static void assertBad(Path f, String... fragments) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> { try (SafeTensors st = SafeTensors.open(f)) { st.names(); } });
        assertTrue(e.getMessage().contains(f.toString()), "names the file: " + e.getMessage());
        for (String s : fragments) assertTrue(e.getMessage().contains(s), "'" + s + "' in: " + e.getMessage());
    }

    private static String entry(String name, String dtype, String shape, String offsets) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
    }

    private static Path withHeaderBytes(Path file, byte[] header, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header).put(data);
        return Files.write(file, b.array());
    }

    /** The reported file: one padding space dropped from the header length, so every tensor read a byte early. */
    @Test void headerLengthOneByteShortIsRejected() throws IOException {
        Path f = tmp.resolve("w.safetensors");
        byte[] b;
        long n;
        String meta = "";
        do { // a metadata length for which the writer pads the header with at least one space
            meta += "v";
            try (Tensor t = Tensor.of(new float[] {1f, 2f, 3f}, 3)) { SafeTensors.write(f, Map.of("w", t), Map.of("k", meta)); }
            b = Files.readAllBytes(f);
            n = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        } while (b[(int) (8 + n - 1)] != ' ');
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        try (SafeTensors st = SafeTensors.open(f)) { assertArrayEquals(new float[] {1f, 2f, 3f}, st.readFloats("w")); }
        bb.putLong(0, n - 1);
        Files.write(f, b);
        assertBad(f, "1 trailing bytes");
    }

    @Test void dataSectionMustBeTiledExactly() throws IOException {
        assertBad(raw(tmp.resolve("hole.safetensors"), "{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[8,12]") + "}",
            new byte[12]), "[4, 8)", "'b'", "hole");
        assertBad(raw(tmp.resolve("trail.safetensors"), "{" + entry("a", "F32", "[1]", "[0,4]") + "}", new byte[8]), "4 trailing bytes");
        assertBad(raw(tmp.resolve("lead.safetensors"), "{" + entry("a", "F32", "[1]", "[4,8]") + "}", new byte[8]), "[0, 4)", "hole");
        assertBad(raw(tmp.resolve("dup.safetensors"), "{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[0,4]") + "}",
            new byte[4]), "overlap");
        // an empty file with an empty header is fine; so is a zero-size tensor at the end of the data
        try (SafeTensors st = SafeTensors.open(raw(tmp.resolve("empty.safetensors"), "{}", new byte[0]))) { assertTrue(st.names().isEmpty()); }
        try (SafeTensors st = SafeTensors.open(raw(tmp.resolve("z.safetensors"),
                "{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("z", "F32", "[0]", "[4,4]") + "}", new byte[4]))) {
            assertEquals(0, st.readFloats("z").length);
        }
    }

    /** wte [0, 8), an empty tensor at [8, 8), wpe [4, 12): sorting by offset put the empty one between and hid the overlap. */
    @Test void zeroSizeTensorDoesNotHideAnOverlap() throws IOException {
        assertBad(raw(tmp.resolve("z.safetensors"), "{" + entry("wte", "F32", "[2]", "[0,8]") + "," + entry("empty", "F32", "[0]", "[8,8]") + ","
            + entry("wpe", "F32", "[2]", "[4,12]") + "}", new byte[12]), "'wte' and 'wpe' overlap");
        assertBad(raw(tmp.resolve("z2.safetensors"), "{" + entry("wte", "F32", "[2]", "[0,8]") + "," + entry("empty", "F32", "[0]", "[4,4]") + ","
            + entry("wpe", "F32", "[1]", "[8,12]") + "}", new byte[12]), "overlap");
    }

    @Test void headerMustBeStrictUtf8() throws IOException {
        byte[] h = concat("{\"w".getBytes(StandardCharsets.UTF_8), new byte[] {(byte) 0xff}, "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"
            .getBytes(StandardCharsets.UTF_8));
        assertBad(withHeaderBytes(tmp.resolve("u.safetensors"), h, new byte[4]), "not valid UTF-8");
        // an unpaired surrogate encoded as UTF-8 (CESU) is malformed too
        byte[] s = concat("{\"w".getBytes(StandardCharsets.UTF_8), new byte[] {(byte) 0xed, (byte) 0xa0, (byte) 0x80},
            "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}".getBytes(StandardCharsets.UTF_8));
        assertBad(withHeaderBytes(tmp.resolve("s.safetensors"), s, new byte[4]), "not valid UTF-8");
    }

    @Test void nothingButSpacesAfterTheHeaderObject() throws IOException {
        String w = "{" + entry("w", "F32", "[1]", "[0,4]") + "}";
        try (SafeTensors st = SafeTensors.open(raw(tmp.resolve("ok.safetensors"), w + "     ", new byte[4]))) { assertTrue(st.has("w")); }
        assertBad(raw(tmp.resolve("nl.safetensors"), w + "\n", new byte[4]), "followed only by space padding");
        assertBad(raw(tmp.resolve("nul.safetensors"), w + "\0\0", new byte[4]), "not valid JSON");
        assertBad(raw(tmp.resolve("two.safetensors"), w + " {}", new byte[4]), "not valid JSON");
        assertBad(raw(tmp.resolve("lead.safetensors"), " " + w, new byte[4]), "followed only by space padding");
        assertBad(raw(tmp.resolve("meta.safetensors"), "{\"__metadata__\":{\"a\":\"b\",\"a\":\"c\"}}", new byte[0]), "Duplicate");
    }

    @Test void byteCountsOverflowSafely() throws IOException {
        // 2^62 elements of 8 bytes: numel fits in a long, the byte count does not
        assertBad(raw(tmp.resolve("o.safetensors"), "{" + entry("w", "F64", "[4611686018427387904]", "[0,8]") + "}", new byte[8]), "overflows");
        assertBad(raw(tmp.resolve("e.safetensors"), "{" + entry("w", "F32", "[1]", "[0,9223372036854775807]") + "}", new byte[4]), "data section");
    }

    @Test @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) void aFifoIsNotOpened() throws Exception {
        Path fifo = Fifos.make(tmp.resolve("pipe.safetensors"));
        assertBad(fifo, "not a regular file");
        assertBad(tmp, "directory");
    }
}
