package dev.lens4j.nativ;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;
import org.bytedeco.openblas.presets.openblas;

/**
 * JavaCPP binding of native/include/lens4j_analysis.h (neuron scores, attribution reductions, logit metrics, in the
 * lens4j_cpu library). Callers validate first (see dev.lens4j.analysis.DeviceKernels); raw calls returning L4J_* codes.
 */
@Properties(inherit = openblas.class, value = @Platform(include = "lens4j_analysis.h", link = "lens4j_cpu"))
public final class AnalysisKernels {
    static { Loader.load(); }

    private AnalysisKernels() {}

    public static native int l4j_neuron_scores(long rows, long dMlp, long dModel, FloatPointer h, long ldh, FloatPointer W_out,
                                               FloatPointer g, long ldg, FloatPointer out);
    public static native int l4j_attribution_reduce(long outer, long n, long inner, FloatPointer clean, FloatPointer corrupt,
                                                    FloatPointer grad, FloatPointer out);
    public static native int l4j_logit_metric(long rows, long vocab, FloatPointer logits, IntPointer rowIndex, long k, IntPointer ids,
                                              FloatPointer weights, long ldIds, FloatPointer value, FloatPointer dlogits);
    public static native int l4j_prob_metric(long rows, long vocab, FloatPointer logits, IntPointer rowIndex, long k, IntPointer ids,
                                             FloatPointer weights, long ldIds, FloatPointer value, FloatPointer dlogits);
}
