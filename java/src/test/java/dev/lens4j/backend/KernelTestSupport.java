package dev.lens4j.backend;

import dev.lens4j.tensor.Tensor;
import dev.lens4j.tensor.TensorScope;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** What the kernel tests share: seeded random data, and a scope per test that must leave no native bytes behind. */
abstract class KernelTestSupport {
    protected final Random rnd;
    private TensorScope scope;
    private long liveAtStart;

    KernelTestSupport(long seed) { rnd = new Random(seed); }

    @BeforeEach void openScope() {
        liveAtStart = Tensor.liveBytes();
        scope = TensorScope.open();
    }

    @AfterEach void closeScope() {
        scope.close();
        assertEquals(liveAtStart, Tensor.liveBytes(), "native bytes leaked by the test's scope");
    }

    protected float[] randn(int n, double sd, double mean) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (mean + sd * rnd.nextGaussian());
        return a;
    }

    protected float[] randn(int n) { return randn(n, 1, 0); }

    protected float[] uniform(int n, double lo, double hi) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (lo + (hi - lo) * rnd.nextDouble());
        return a;
    }

    protected int[] ints(int n, int bound) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = rnd.nextInt(bound);
        return a;
    }
}
