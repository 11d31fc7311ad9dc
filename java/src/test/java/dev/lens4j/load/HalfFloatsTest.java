package dev.lens4j.load;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class HalfFloatsTest {
    /** Reference decode in double from the binary16 definition. */
    private static double refF16(int bits) {
        int s = bits >>> 15, e = (bits >>> 10) & 31, m = bits & 1023;
        double sign = s == 1 ? -1 : 1;
        if (e == 0) return sign * m * Math.pow(2, -24);
        if (e == 31) return m == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
        return sign * (1 + m / 1024.0) * Math.pow(2, e - 15);
    }

    @Test void f16DecodesEveryBitPatternAndRoundTrips() {
        for (int bits = 0; bits < 65536; bits++) {
            float f = HalfFloats.f16ToF32((short) bits);
            double ref = refF16(bits);
            if (Double.isNaN(ref)) {
                assertTrue(Float.isNaN(f), "NaN pattern " + Integer.toHexString(bits));
                assertTrue(Float.isNaN(HalfFloats.f16ToF32(HalfFloats.f32ToF16(f))));
                continue;
            }
            assertEquals(ref, f, 0.0, "pattern " + Integer.toHexString(bits));
            if (bits == 0x8000) assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(f));
            assertEquals(bits, HalfFloats.f32ToF16(f) & 0xffff, "round trip " + Integer.toHexString(bits));
        }
    }

    @Test void f16EncodeRoundsToNearestEven() {
        // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1.0)
        assertEquals(0x3c00, HalfFloats.f32ToF16(1f + 0x1p-11f) & 0xffff);
        // 1 + 3*2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even)
        assertEquals(0x3c02, HalfFloats.f32ToF16(1f + 3 * 0x1p-11f) & 0xffff);
        assertEquals(0x7bff, HalfFloats.f32ToF16(65519f) & 0xffff);
        assertEquals(0x7c00, HalfFloats.f32ToF16(65520f) & 0xffff, "ties at the top round to infinity");
        assertEquals(0x0000, HalfFloats.f32ToF16(0x1p-25f) & 0xffff, "half the smallest subnormal ties to zero");
        assertEquals(0x0001, HalfFloats.f32ToF16(0x1.8p-25f) & 0xffff);
        assertEquals(0x0400, HalfFloats.f32ToF16(0x1.ffcp-15f) & 0xffff, "rounds up into the smallest normal");
        // against a double-precision nearest search on random floats in range
        Random r = new Random(1);
        for (int i = 0; i < 20000; i++) {
            float f = (float) (r.nextGaussian() * Math.pow(2, r.nextInt(30) - 20));
            int h = HalfFloats.f32ToF16(f) & 0xffff;
            double err = Math.abs(refF16(h) - f);
            double errUp = Math.abs(refF16((h + 1) & 0xffff) - f), errDown = h % 0x8000 == 0 ? Double.MAX_VALUE : Math.abs(refF16(h - 1) - f);
            assertTrue(err <= errUp && err <= errDown, "nearest for " + f);
        }
    }

    @Test void bf16IsTheTopHalf() {
        assertEquals(1f, HalfFloats.bf16ToF32((short) 0x3f80));
        assertEquals(-2f, HalfFloats.bf16ToF32((short) 0xc000));
        assertEquals(Float.NEGATIVE_INFINITY, HalfFloats.bf16ToF32((short) 0xff80));
        assertTrue(Float.isNaN(HalfFloats.bf16ToF32((short) 0x7fc1)));
        for (int bits = 0; bits < 65536; bits++) {
            float f = HalfFloats.bf16ToF32((short) bits);
            assertEquals(bits << 16, Float.floatToRawIntBits(f));
            if (!Float.isNaN(f)) assertEquals(bits, HalfFloats.f32ToBf16(f) & 0xffff);
        }
        assertEquals(0x3f80, HalfFloats.f32ToBf16(Float.intBitsToFloat(0x3f808000)) & 0xffff, "tie to even (down)");
        assertEquals(0x3f82, HalfFloats.f32ToBf16(Float.intBitsToFloat(0x3f818000)) & 0xffff, "tie to even (up)");
        assertEquals(0x3f81, HalfFloats.f32ToBf16(Float.intBitsToFloat(0x3f808001)) & 0xffff);
        assertTrue(Float.isNaN(HalfFloats.bf16ToF32(HalfFloats.f32ToBf16(Float.intBitsToFloat(0x7f800001)))), "NaN stays NaN");
    }
}
