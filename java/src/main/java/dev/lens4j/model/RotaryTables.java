package dev.lens4j.model;

import dev.lens4j.tensor.Device;
import dev.lens4j.tensor.Tensor;
import dev.lens4j.tensor.TensorScope;

import java.util.ArrayList;
import java.util.List;

/**
 * cos / sin of the rotary angles, [positions, rotary_dim / 2], built only for the positions runs use and grown on
 * demand: configs may declare an n_ctx of 131072 or more (real Llama 3 configs do, and a hostile one 10^9), and tables
 * for all of it would cost n_ctx * rotary_dim floats before the first token. Computed on the host (in double), then kept
 * on the model's device.
 */
final class RotaryTables implements AutoCloseable {
    // built up front so that ordinary prompts never allocate during a run (1 MB at rotary_dim 128)
    private static final int INITIAL_POSITIONS = 2048;

    private final int half;
    private final double[] invFreq;
    private final int nCtx;
    private final Device device;
    private Tensor cos, sin;
    // tables replaced by larger ones; a forward on another thread may still read them, so they live until close()
    private final List<Tensor> retired = new ArrayList<>();
    private boolean closed;

    RotaryTables(Config cfg) { this(cfg, Device.CPU); }

    RotaryTables(Config cfg, Device device) {
        this.device = device;
        this.half = cfg.rotaryDim() / 2;
        this.invFreq = Rotary.inverseFrequencies(cfg); // with Llama 3's rope_scaling where configured
        this.nCtx = cfg.nCtx;
        covering(Math.min(nCtx, INITIAL_POSITIONS));
    }

    /** {cos, sin} covering at least positions [0, positions); positions must be <= n_ctx. */
    synchronized Tensor[] covering(int positions) {
        if (closed) throw new IllegalStateException("rotary tables are closed");
        if (positions > nCtx) throw new IllegalArgumentException("positions " + positions + " exceed n_ctx " + nCtx);
        if (cos == null || cos.size(0) < positions) {
            // doubling keeps a growing generate() from rebuilding the tables on every token
            int current = cos == null ? 0 : (int) cos.size(0);
            int n = (int) Math.min(nCtx, Math.max(positions, 2L * current));
            Tensor[] t = build(n);
            if (cos != null) { retired.add(cos); retired.add(sin); }
            cos = t[0];
            sin = t[1];
        }
        return new Tensor[] {cos, sin};
    }

    private Tensor[] build(int n) {
        float[] c = new float[Math.multiplyExact(n, half)], s = new float[c.length];
        for (int p = 0; p < n; p++)
            for (int i = 0; i < half; i++) {
                double angle = p * invFreq[i];
                c[p * half + i] = (float) Math.cos(angle);
                s[p * half + i] = (float) Math.sin(angle);
            }
        return new Tensor[] {onDevice(c, n, "rotary.cos"), onDevice(s, n, "rotary.sin")};
    }

    private Tensor onDevice(float[] values, int n, String name) {
        Tensor host = TensorScope.detach(Tensor.of(values, n, half).named(name));
        if (device.isCpu()) return host;
        try (host) { return TensorScope.detach(host.to(device)); }
    }

    /** Positions the current tables cover (0 before the first run). */
    synchronized int positions() { return cos == null ? 0 : (int) cos.size(0); }

    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        if (cos != null) { cos.close(); sin.close(); }
        for (Tensor t : retired) t.close();
        retired.clear();
    }
}
