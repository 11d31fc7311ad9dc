package dev.lens4j.bench;

import dev.lens4j.backend.Backend;
import dev.lens4j.tensor.Tensor;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Wall time per backend op: a proxy in front of a {@link Backend} that times each call (GEMMs by shape). What a pass
 * spends outside these calls is Java: hooks, caches, copies to the heap, allocation.
 */
final class OpProfile {
    private final Map<String, long[]> byOp = new LinkedHashMap<>(); // op -> {nanoseconds, calls}

    Backend wrap(Backend real) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, (proxy, m, args) -> {
            long t0 = System.nanoTime();
            try {
                return m.invoke(real, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            } finally {
                long dt = System.nanoTime() - t0;
                long[] acc = byOp.computeIfAbsent(key(m.getName(), args), k -> new long[2]);
                acc[0] += dt;
                acc[1]++;
            }
        });
    }

    private static String key(String op, Object[] a) {
        if (op.equals("gemm"))
            return String.format("gemm %s%s %dx%dx%d", (boolean) a[0] ? "T" : "N", (boolean) a[1] ? "T" : "N", (long) a[2], (long) a[3], (long) a[4]);
        if (op.equals("linear")) {
            Tensor x = (Tensor) a[0], w = (Tensor) a[1];
            long k = w.size(0);
            return String.format("gemm NN %dx%dx%d", x.numel() / k, w.numel() / k, k);
        }
        if (op.equals("projectHeads")) { // W [heads, d_model, d_head] read in place: one GEMM over every head
            Tensor x = (Tensor) a[0], w = (Tensor) a[1];
            long d = w.size(1);
            return String.format("gemm NN %dx%dx%d (heads in place)", x.numel() / d, w.size(0) * w.size(2), d);
        }
        return op;
    }

    void reset() { byOp.clear(); }

    /** Rows "op | calls | ms | % of the pass", largest first, and the time outside the ops. */
    String table(double passMs) {
        List<Map.Entry<String, long[]>> rows = new ArrayList<>(byOp.entrySet());
        rows.sort((x, y) -> Long.compare(y.getValue()[0], x.getValue()[0]));
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "| op | calls | ms | %% of %.0f ms |%n|---|---:|---:|---:|%n", passMs));
        double inOps = 0;
        for (var e : rows) {
            double ms = e.getValue()[0] / 1e6;
            inOps += ms;
            if (ms >= passMs * 0.005)
                s.append(String.format(Locale.ROOT, "| %s | %d | %.1f | %.1f%% |%n", e.getKey(), e.getValue()[1], ms, 100 * ms / passMs));
        }
        s.append(String.format(Locale.ROOT, "| (ops under 0.5%% each) | | %.1f | |%n", inOps - rows.stream()
                .mapToDouble(e -> e.getValue()[0] / 1e6).filter(ms -> ms >= passMs * 0.005).sum()));
        s.append(String.format(Locale.ROOT, "| outside the ops (Java: hooks, caches, copies, allocation) | | %.1f | %.1f%% |%n",
                passMs - inOps, 100 * (passMs - inOps) / passMs));
        return s.toString();
    }
}
