package dev.lens4j.load;

/** IEEE binary16 and bfloat16 conversions (JDK 17 has no Float.float16ToFloat). Rounding is to nearest, ties to even. */
public final class HalfFloats {
    private HalfFloats() {}

    /** bfloat16 is the top half of a float32, so widening is a shift. */
    public static float bf16ToF32(short bits) { return Float.intBitsToFloat((bits & 0xffff) << 16); }

    public static short f32ToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 0x40); // keep NaN a (quiet) NaN
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }

    public static float f16ToF32(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0) {
            // zero or subnormal: mant * 2^-24, exact in float32
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13)); // inf, or NaN with payload
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    public static short f32ToF16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7fffffff;
        if (abs >= 0x7f800000) {
            if (abs == 0x7f800000) return (short) (sign | 0x7c00);
            int m = (abs >>> 13) & 0x3ff;
            return (short) (sign | 0x7c00 | (m == 0 ? 0x200 : m));
        }
        if (abs >= 0x477ff000) return (short) (sign | 0x7c00); // >= 65520 rounds (ties to even) to infinity
        if (abs < 0x38800000) {
            // below the smallest normal 2^-14: count units of 2^-24; 1024 units is the smallest normal, encoded the same way
            int units = (int) Math.rint(Float.intBitsToFloat(abs) * 16777216.0);
            return (short) (sign | units);
        }
        int h = ((((abs >>> 23) - 127 + 15)) << 10) | ((abs & 0x7fffff) >>> 13);
        int rest = abs & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1)) h++;
        return (short) (sign | h);
    }
}
