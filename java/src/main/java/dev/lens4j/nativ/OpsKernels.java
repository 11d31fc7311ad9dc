package dev.lens4j.nativ;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;
import org.bytedeco.openblas.presets.openblas;

/**
 * JavaCPP binding of native/include/lens4j_ops.h (general tensor operations, in the lens4j_cpu library). Callers
 * validate first (see dev.lens4j.tensor.TensorOps); these are the raw calls returning L4J_* status codes.
 */
@Properties(inherit = openblas.class, value = @Platform(include = "lens4j_ops.h", link = "lens4j_cpu"))
public final class OpsKernels {
    static { Loader.load(); }

    private OpsKernels() {}

    public static final int BIN_ADD = 0, BIN_SUB = 1, BIN_MUL = 2, BIN_DIV = 3, BIN_MAX = 4, BIN_MIN = 5;
    public static final int UN_NEG = 0, UN_EXP = 1, UN_LOG = 2, UN_ABS = 3, UN_SQRT = 4, UN_SQUARE = 5;
    public static final int RED_SUM = 0, RED_MEAN = 1, RED_MAX = 2, RED_MIN = 3, RED_NORM2 = 4;

    public static native int l4j_strided_copy(int ndim, @Cast("const int64_t*") long[] shape, @Cast("const int64_t*") long[] strides,
                                              long offset, FloatPointer src, FloatPointer out);
    public static native int l4j_index_select(long outer, long n, long inner, FloatPointer src, long k,
                                              @Cast("const int32_t*") int[] idx, FloatPointer out);
    public static native int l4j_binary(int op, int ndim, @Cast("const int64_t*") long[] shape, FloatPointer a,
                                        @Cast("const int64_t*") long[] aStrides, FloatPointer b, @Cast("const int64_t*") long[] bStrides,
                                        FloatPointer out);
    public static native int l4j_unary(int op, long n, FloatPointer x, FloatPointer out);
    public static native int l4j_reduce(int op, long outer, long n, long inner, FloatPointer x, FloatPointer out);
    public static native int l4j_arg_reduce(int wantMax, long outer, long n, long inner, FloatPointer x, IntPointer out);
    public static native int l4j_topk(long outer, long n, long inner, long k, FloatPointer x, FloatPointer values, IntPointer indices);
    public static native int l4j_softmax_dim(int log, long outer, long n, long inner, FloatPointer x, FloatPointer out);
    public static native int l4j_cosine_dim(long outer, long n, long inner, FloatPointer a, FloatPointer b, float eps, FloatPointer out);
}
