package dev.lens4j.tensor;

import dev.lens4j.nativ.CpuKernels;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.*;

/** native/cpu/host_memory.cpp: the large-block cache, checked by addresses and contents only (no lens4j arithmetic). */
class HostMemoryTest {
    private static final long MIB = 1L << 20;
    private long savedLimit;

    @BeforeEach void start() {
        CpuKernels.load();
        savedLimit = CpuKernels.l4j_host_cache_limit(-1);
        CpuKernels.l4j_host_cache_release();
    }

    @AfterEach void restore() {
        CpuKernels.l4j_host_cache_limit(savedLimit);
        CpuKernels.l4j_host_cache_release();
    }

    private static Pointer alloc(long bytes, boolean zero) {
        Pointer p = CpuKernels.l4j_host_alloc(bytes, zero ? 1 : 0);
        assertNotNull(p);
        assertFalse(p.isNull(), "allocation of " + bytes + " bytes failed");
        return p;
    }

    private static ByteBuffer view(Pointer p, long bytes) {
        return new BytePointer(p).capacity(bytes).asByteBuffer().order(ByteOrder.nativeOrder());
    }

    private static void assertZero(Pointer p, long bytes) {
        ByteBuffer b = view(p, bytes);
        for (int i = 0; i < bytes; i++) if (b.get(i) != 0) fail("byte " + i + " of " + bytes + " is " + b.get(i) + ", not 0");
    }

    @Test void sameRoundedSizeReusesTheBlockAndZeroesItWhenAsked() {
        CpuKernels.l4j_host_cache_limit(64 * MIB);
        long bytes = 3 * MIB;
        Pointer p = alloc(bytes, false);
        Pointer.memset(p, 0xAB, bytes);
        long address = p.address();
        CpuKernels.l4j_host_free(p, bytes);
        assertEquals(4 * MIB, CpuKernels.l4j_host_cache_bytes(), "3 MiB rounds to two huge pages");

        long again = 3 * MIB + 12345; // another size that rounds to 4 MiB
        Pointer q = alloc(again, true);
        assertEquals(address, q.address(), "same rounded size: the cached block");
        assertEquals(0, CpuKernels.l4j_host_cache_bytes());
        assertZero(q, again);
        Pointer.memset(q, 0xCD, again);
        CpuKernels.l4j_host_free(q, again);

        Pointer r = alloc(bytes, false); // zero not asked: the old contents, proving it is the same resident block
        assertEquals(address, r.address());
        assertEquals((byte) 0xCD, view(r, bytes).get((int) (bytes - 1)));
        CpuKernels.l4j_host_free(r, bytes);
    }

    @Test void aDifferentRoundedSizeGetsAFreshZeroMapping() {
        CpuKernels.l4j_host_cache_limit(64 * MIB);
        Pointer p = alloc(4 * MIB, false);
        Pointer.memset(p, 0x5A, 4 * MIB);
        CpuKernels.l4j_host_free(p, 4 * MIB);
        Pointer q = alloc(4 * MIB + 1, true); // rounds to 6 MiB
        assertNotEquals(p.address(), q.address());
        assertZero(q, 4 * MIB + 1);
        assertEquals(4 * MIB, CpuKernels.l4j_host_cache_bytes(), "the 4 MiB block stays cached");
        CpuKernels.l4j_host_free(q, 4 * MIB + 1);
    }

    @Test void theCacheStaysWithinItsLimitByEvictingTheOldestFirst() {
        CpuKernels.l4j_host_cache_limit(10 * MIB);
        Pointer a = alloc(2 * MIB, false), b = alloc(4 * MIB, false), c = alloc(6 * MIB, false);
        CpuKernels.l4j_host_free(a, 2 * MIB);
        assertEquals(2 * MIB, CpuKernels.l4j_host_cache_bytes());
        CpuKernels.l4j_host_free(b, 4 * MIB);
        assertEquals(6 * MIB, CpuKernels.l4j_host_cache_bytes());
        CpuKernels.l4j_host_free(c, 6 * MIB); // 12 MiB > 10: the oldest (a, 2 MiB) goes
        assertEquals(10 * MIB, CpuKernels.l4j_host_cache_bytes());

        Pointer b2 = alloc(4 * MIB, false), c2 = alloc(6 * MIB, false);
        assertEquals(b.address(), b2.address());
        assertEquals(c.address(), c2.address());
        assertEquals(0, CpuKernels.l4j_host_cache_bytes(), "nothing else was cached: a was the block evicted");

        CpuKernels.l4j_host_free(b2, 4 * MIB);
        CpuKernels.l4j_host_free(c2, 6 * MIB);
        assertEquals(4 * MIB, CpuKernels.l4j_host_cache_limit(4 * MIB), "lowering the limit returns it");
        assertEquals(0, CpuKernels.l4j_host_cache_bytes(), "and evicts to fit: b2 then c2 (6 MiB alone is too big)");

        Pointer big = alloc(6 * MIB, false); // larger than the whole limit: unmapped, not cached
        CpuKernels.l4j_host_free(big, 6 * MIB);
        assertEquals(0, CpuKernels.l4j_host_cache_bytes());
    }

    @Test void limitZeroDisablesCachingAndReleaseEmptiesTheCache() {
        CpuKernels.l4j_host_cache_limit(0);
        Pointer p = alloc(3 * MIB, true);
        CpuKernels.l4j_host_free(p, 3 * MIB);
        assertEquals(0, CpuKernels.l4j_host_cache_bytes());

        CpuKernels.l4j_host_cache_limit(64 * MIB);
        Pointer a = alloc(2 * MIB, false), b = alloc(8 * MIB, false);
        CpuKernels.l4j_host_free(a, 2 * MIB);
        CpuKernels.l4j_host_free(b, 8 * MIB);
        assertEquals(10 * MIB, CpuKernels.l4j_host_cache_bytes());
        CpuKernels.l4j_host_cache_release();
        assertEquals(0, CpuKernels.l4j_host_cache_bytes());
    }

    @Test void blocksAre64ByteAlignedAndLargeOnes2MiBAligned() {
        for (long bytes : new long[] {1, 3, 63, 64, 65, 1000, 4096, MIB - 1, MIB, MIB + 1, 5 * MIB + 3}) {
            for (boolean zero : new boolean[] {false, true}) {
                Pointer p = alloc(bytes, zero);
                assertEquals(0, p.address() % 64, bytes + " bytes at " + Long.toHexString(p.address()));
                if (bytes >= MIB) assertEquals(0, p.address() % (2 * MIB), bytes + " bytes: a large block");
                if (zero) assertZero(p, bytes);
                view(p, bytes).put((int) bytes - 1, (byte) 1); // the last byte asked is writable
                CpuKernels.l4j_host_free(p, bytes);
            }
        }
    }

    @Test void oddSizesAreRefusedOrTreatedAsOneByte() {
        for (long bytes : new long[] {0, -1, Long.MIN_VALUE}) {
            Pointer p = alloc(bytes, true);
            assertEquals(0, view(p, 1).get(0));
            CpuKernels.l4j_host_free(p, bytes);
        }
        for (long bytes : new long[] {Long.MAX_VALUE, Long.MAX_VALUE - MIB, 1L << 60}) {
            Pointer p = CpuKernels.l4j_host_alloc(bytes, 1);
            assertTrue(p == null || p.isNull(), bytes + " bytes: refused, not wrapped around");
        }
        CpuKernels.l4j_host_free(null, 5 * MIB); // a no-op
        CpuKernels.l4j_host_free(new Pointer(), 5 * MIB);
        assertEquals(0, CpuKernels.l4j_host_cache_bytes());
    }

    /** Each thread stamps every page of its blocks and checks the stamps before freeing: a block given to two owners shows. */
    @Test void concurrentAllocAndFreeNeverShareABlock() throws Exception {
        CpuKernels.l4j_host_cache_limit(16 * MIB);
        long[] sizes = {1000, MIB, MIB + MIB / 2, 3 * MIB, 4 * MIB};
        int threads = 4, iterations = 3000;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                done.add(pool.submit(() -> {
                    Random rnd = new Random(1234 + id);
                    for (int i = 0; i < iterations; i++) {
                        long bytes = sizes[rnd.nextInt(sizes.length)];
                        boolean zero = rnd.nextBoolean();
                        Pointer p = alloc(bytes, zero);
                        ByteBuffer b = view(p, bytes);
                        long stamp = ((long) id << 32) | i;
                        for (int off = 0; off + 8 <= bytes; off += 4096) {
                            if (zero) assertEquals(0, b.getLong(off), "zeroed block, offset " + off);
                            b.putLong(off, stamp);
                        }
                        Thread.yield();
                        for (int off = 0; off + 8 <= bytes; off += 4096)
                            assertEquals(stamp, b.getLong(off), "thread " + id + " iteration " + i + ": another owner wrote offset " + off);
                        CpuKernels.l4j_host_free(p, bytes);
                        assertTrue(CpuKernels.l4j_host_cache_bytes() <= 16 * MIB);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) f.get();
        } finally {
            pool.shutdownNow();
        }
        assertTrue(CpuKernels.l4j_host_cache_bytes() <= 16 * MIB);
    }

    @Test void tensorsUseTheCacheButLiveBytesCountOnlyLiveTensors() {
        CpuKernels.l4j_host_cache_limit(64 * MIB);
        long live = Tensor.liveBytes();
        Tensor t = Tensor.empty(Device.CPU, DType.F32, 1024, 1024); // 4 MiB
        Pointer.memset(t.pointer(), 0x7F, 4 * MIB);
        long address = t.pointer().address();
        t.close();
        assertEquals(live, Tensor.liveBytes(), "a cached block is not live");
        assertEquals(4 * MIB, Tensor.hostCacheBytes());

        try (Tensor z = Tensor.zeros(Device.CPU, DType.F32, 1024, 1024)) {
            assertEquals(address, z.pointer().address());
            for (float v : z.toFloatArray()) assertEquals(0f, v);
        }
        Tensor.releaseHostCache();
        assertEquals(0, Tensor.hostCacheBytes());
    }
}
