package dev.lens4j.bench;

import dev.lens4j.analysis.AttributionPatching;
import org.bytedeco.javacpp.PointerScope;

/**
 * lens4j and libtorch all-neuron attribution interleaved (A B A B ...) in one JVM: checks that the two agree, prints
 * median milliseconds, the ratio, forward-equivalents and lens4j's peak native memory. Complements JMH (which runs
 * each side in its own JVM): here the two thread pools share one process, as they would embedded in one tool.
 * Usage: AttributionSideBySide [shape=gpt2-small] [batch=8] [seq=128] [rounds=5]
 */
public final class AttributionSideBySide {
    public static void main(String[] args) {
        AttributionBench b = new AttributionBench();
        b.shape = args.length > 0 ? args[0] : "gpt2-small";
        b.batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        b.seq = args.length > 2 ? Integer.parseInt(args[2]) : 128;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 5;
        b.setup();
        try {
            double[] l = new double[rounds], t = new double[rounds], f = new double[rounds];
            AttributionPatching.Result lr = null;
            float[][] tr = null;
            for (int i = -1; i < rounds; i++) { // one warm-up round
                long s0 = System.nanoTime();
                lr = AttributionPatching.run(b.model, b.clean, b.corrupt, b.metric);
                long s1 = System.nanoTime();
                try (PointerScope scope = new PointerScope()) {
                    var out = b.torchModel.attribution(b.cleanFlat, b.corruptFlat, b.batch, b.seq, b.answers, b.wrongs);
                    tr = new float[3][];
                    for (int k = 0; k < 3; k++) {
                        tr[k] = new float[(int) out[k].numel()];
                        out[k].contiguous().data_ptr_float().get(tr[k]);
                    }
                }
                long s2 = System.nanoTime();
                try (var logits = b.model.forward(b.clean)) { /* one plain forward, the unit of "forward-equivalents" */ }
                long s3 = System.nanoTime();
                if (i >= 0) { l[i] = (s1 - s0) / 1e6; t[i] = (s2 - s1) / 1e6; f[i] = (s3 - s2) / 1e6; }
            }
            double[][][] ours = {lr.mlpNeurons(), lr.heads(), lr.residPre()};
            String[] names = {"mlp_neurons", "heads", "resid_pre"};
            StringBuilder diff = new StringBuilder("max |lens4j - libtorch| / max |libtorch|:");
            for (int k = 0; k < 3; k++) {
                double max = 0, err = 0;
                int c = ours[k][0].length;
                for (int i = 0; i < tr[k].length; i++) {
                    max = Math.max(max, Math.abs(tr[k][i]));
                    err = Math.max(err, Math.abs(tr[k][i] - ours[k][i / c][i % c]));
                }
                diff.append(String.format(" %s %.1e", names[k], err / max));
            }
            System.out.println(diff);
            double ml = SideBySide.median(l), mt = SideBySide.median(t), mf = SideBySide.median(f), tok = b.batch * b.seq;
            System.out.printf("%s batch %d x seq %d attribution (corrupt fwd + clean fwd + bwd), %d rounds interleaved%n", b.shape, b.batch, b.seq, rounds);
            System.out.printf("  lens4j    %8.1f ms  %8.1f tokens/s  %.2fx libtorch%n", ml, tok * 1000 / ml, mt / ml);
            System.out.printf("  libtorch  %8.1f ms  %8.1f tokens/s%n", mt, tok * 1000 / mt);
            System.out.printf("  lens4j forward (all logits) %.1f ms: attribution = %.2f forward-equivalents%n", mf, ml / mf);
        } finally {
            b.tearDown();
        }
    }
}
