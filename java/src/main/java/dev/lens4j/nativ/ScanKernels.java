package dev.lens4j.nativ;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;
import org.bytedeco.openblas.presets.openblas;

/** JavaCPP binding of native/include/lens4j_scan.h (neuron-scan capture, in the lens4j_cpu library). */
@Properties(inherit = openblas.class, value = @Platform(include = "lens4j_scan.h", link = "lens4j_cpu"))
public final class ScanKernels {
    static { Loader.load(); }

    private ScanKernels() {}

    public static native int l4j_scan_update(long rows, long n, FloatPointer x, long ldx, @Cast("const int64_t*") LongPointer doc,
                                             @Cast("const int32_t*") IntPointer pos, long k, DoublePointer count, DoublePointer mean,
                                             DoublePointer m2, FloatPointer maxv, DoublePointer npos, FloatPointer topVal,
                                             @Cast("int64_t*") LongPointer topDoc, @Cast("int32_t*") IntPointer topPos,
                                             @Cast("int32_t*") IntPointer filled);

    public static native int l4j_scan_merge(long n, long k, DoublePointer count, DoublePointer mean, DoublePointer m2, FloatPointer maxv,
                                            DoublePointer npos, FloatPointer topVal, @Cast("int64_t*") LongPointer topDoc,
                                            @Cast("int32_t*") IntPointer topPos, @Cast("int32_t*") IntPointer filled,
                                            DoublePointer countB, DoublePointer meanB, DoublePointer m2B, FloatPointer maxvB,
                                            DoublePointer nposB, FloatPointer topValB, @Cast("const int64_t*") LongPointer topDocB,
                                            @Cast("const int32_t*") IntPointer topPosB, @Cast("const int32_t*") IntPointer filledB);
}
