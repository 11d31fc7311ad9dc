package dev.lens4j.model;

import dev.lens4j.backend.CpuBackend;
import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.model.HookedTransformer.Gradients;
import dev.lens4j.model.HookedTransformer.Output;
import dev.lens4j.model.HookedTransformer.RunOptions;
import dev.lens4j.tensor.Tensor;
import dev.lens4j.tokenize.HfTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.*;

/**
 * One model shared by many threads: runs of every kind give what a single thread gives, bit for bit; close(),
 * weightsChanged() and editWeights() in the middle wait for runs in flight, and later runs throw "closed";
 * close() from a hook throws instead of deadlocking; no native memory is left behind.
 */
class ConcurrencyTest {
    static final int THREADS = 8;
    static final int[][] TOKENS = {{1, 2, 3, 4, 5, 6, 7, 8}, {9, 10, 11, 12, 13, 14, 15, 16}};
    static final Duration LIMIT = Duration.ofSeconds(60);

    /** The calls a user makes on a shared model; each result flattened to floats for a bit-for-bit comparison. */
    enum Op { FORWARD, CACHE, HOOKED, BACKWARD, GENERATE, LOSS }

    // one options object shared by every thread's forwards and backwards: runs must not write to it
    private final RunOptions shared = new RunOptions().cacheGradsRegex("hook_resid_pre$");

    private static HookedTransformer model(String family) {
        // wide enough that the GEMMs split over OpenMP threads (M * N * K >= 2^18), small enough for ms per run
        if (family.equals("llama")) {
            Config cfg = RandomWeights.llamaConfig(2, 64, 4, 2, 256, 64, 16); // rotary, grouped-query, SwiGLU
            return new HookedTransformer(cfg, RandomWeights.llama(cfg, 11));
        }
        Config cfg = RandomWeights.gpt2Config(2, 128, 4, 256, 16);
        return new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 11));
    }

    private float[] call(HookedTransformer m, Op op) {
        switch (op) {
            case FORWARD:
                try (Output o = m.run(TOKENS, shared)) { return o.logits().toFloatArray(); }
            case CACHE:
                try (Output o = m.runWithCache(TOKENS)) {
                    List<float[]> parts = new ArrayList<>();
                    parts.add(o.logits().toFloatArray());
                    for (String name : m.hookNames()) parts.add(o.cache().get(name).toFloatArray());
                    return concat(parts);
                }
            case HOOKED: {
                Hooks zeroHead0 = Hooks.none().add(HookNames.z(0), (z, hp) -> {
                    for (long b = 0; b < z.size(0); b++)
                        for (long p = 0; p < z.size(1); p++)
                            for (long d = 0; d < z.size(3); d++) z.put(0f, b, p, 0, d);
                    return null;
                });
                try (Tensor logits = m.runWithHooks(TOKENS, zeroHead0)) { return logits.toFloatArray(); }
            }
            case BACKWARD:
                try (Gradients g = m.backward(TOKENS, Metrics.logitDiff(3, 4), shared)) {
                    List<float[]> parts = new ArrayList<>();
                    parts.add(new float[] {(float) g.value()});
                    for (int l = 0; l < m.cfg().nLayers; l++) parts.add(g.grads().get(HookNames.residPre(l)).toFloatArray());
                    return concat(parts);
                }
            case GENERATE: {
                int[] seq = m.generate(new int[] {1, 2, 3}, 5);
                float[] out = new float[seq.length];
                for (int i = 0; i < seq.length; i++) out[i] = seq[i];
                return out;
            }
            case LOSS:
                return new float[] {(float) m.loss(TOKENS)};
            default:
                throw new AssertionError(op);
        }
    }

    private static float[] concat(List<float[]> parts) {
        int n = 0;
        for (float[] p : parts) n += p.length;
        float[] out = new float[n];
        int at = 0;
        for (float[] p : parts) { System.arraycopy(p, 0, out, at, p.length); at += p.length; }
        return out;
    }

    /** Every op once, on a pool thread (same OpenMP thread count as the workers, so the kernels split alike). */
    private Map<Op, float[]> references(ExecutorService pool, HookedTransformer m) throws Exception {
        return pool.submit(() -> {
            Map<Op, float[]> ref = new EnumMap<>(Op.class);
            for (Op op : Op.values()) ref.put(op, call(m, op));
            return ref;
        }).get();
    }

    /** What the workers saw: calls that matched a reference, calls that threw "closed", anything else. */
    static final class Tally {
        final AtomicInteger matched = new AtomicInteger(), closed = new AtomicInteger();
        final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();

        void assertClean() {
            assertTrue(problems.isEmpty(), problems.size() + " problems, first: " + problems.peek());
        }
    }

    /**
     * THREADS workers, each running ops round-robin for up to `iterations` calls; a result must equal one of the
     * allowed references; an IllegalStateException "is closed" ends the worker. Returns once `during` has run
     * (on this thread, while the workers run) and every worker has finished.
     */
    private Tally hammer(ExecutorService pool, HookedTransformer m, int iterations, List<Map<Op, float[]>> allowed,
                         Consumer<AtomicInteger> during) throws Exception {
        Tally tally = new Tally();
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> workers = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            int first = t;
            workers.add(pool.submit(() -> {
                start.await();
                for (int i = 0; i < iterations; i++) {
                    Op op = Op.values()[(first + i) % Op.values().length];
                    float[] got;
                    try {
                        got = call(m, op);
                    } catch (IllegalStateException e) {
                        if (e.getMessage() != null && e.getMessage().contains("is closed")) { tally.closed.incrementAndGet(); return null; }
                        tally.problems.add(op + ": " + e);
                        return null;
                    } catch (Throwable e) {
                        tally.problems.add(op + ": " + e);
                        return null;
                    }
                    boolean ok = false;
                    for (Map<Op, float[]> ref : allowed) ok |= Arrays.equals(ref.get(op), got);
                    if (ok) tally.matched.incrementAndGet();
                    else tally.problems.add(op + " differs from the single-threaded result(s)");
                }
                return null;
            }));
        }
        start.countDown();
        during.accept(tally.matched);
        for (Future<?> w : workers) w.get(LIMIT.toSeconds(), TimeUnit.SECONDS);
        return tally;
    }

    private static void awaitProgress(AtomicInteger matched, int calls) {
        long deadline = System.nanoTime() + LIMIT.toNanos();
        while (matched.get() < calls) {
            if (System.nanoTime() > deadline) throw new AssertionError("workers made no progress: " + matched.get() + " calls");
            Thread.onSpinWait();
        }
    }

    /** Logits computed on a pool thread, for comparing with runs on other fresh threads (same OpenMP thread count). */
    private static float[] forwardOn(ExecutorService pool, HookedTransformer m) throws Exception {
        return pool.submit(() -> { try (Tensor l = m.forward(TOKENS)) { return l.toFloatArray(); } }).get();
    }

    private static ExecutorService pool() { return Executors.newFixedThreadPool(THREADS); }

    private static void shutdown(ExecutorService pool) throws InterruptedException {
        pool.shutdownNow();
        assertTrue(pool.awaitTermination(LIMIT.toSeconds(), TimeUnit.SECONDS), "workers did not stop");
    }

    // ------------------------------------------------------------------------------------------ contention

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama"})
    void concurrentRunsEqualSingleThreadedRuns(String family) throws Exception {
        long before = Tensor.liveBytes();
        ExecutorService pool = pool();
        try (HookedTransformer m = model(family)) {
            Map<Op, float[]> ref = references(pool, m);
            assertEquals(TOKENS.length * TOKENS[0].length * m.cfg().dVocab, ref.get(Op.FORWARD).length, "full logits");
            long t0 = System.nanoTime();
            Tally tally = hammer(pool, m, 100, List.of(ref), matched -> {});
            report(family + " runs", tally, t0);
            tally.assertClean();
            assertEquals(THREADS * 100, tally.matched.get());
        } finally {
            shutdown(pool);
        }
        assertEquals(before, Tensor.liveBytes(), "native bytes after the model is closed");
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama"})
    void closeInTheMiddleWaitsThenEveryCallThrows(String family) throws Exception {
        long before = Tensor.liveBytes();
        ExecutorService pool = pool();
        HookedTransformer m = model(family);
        try {
            Map<Op, float[]> ref = references(pool, m);
            long t0 = System.nanoTime();
            Tally tally = hammer(pool, m, Integer.MAX_VALUE, List.of(ref), matched -> {
                awaitProgress(matched, 5 * THREADS);
                m.close();
            });
            report(family + " close", tally, t0);
            tally.assertClean();
            assertEquals(THREADS, tally.closed.get(), "every worker ends on 'closed'");
            assertEquals(before, Tensor.liveBytes(), "everything freed once close() returns and the runs are done");
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> m.forward(TOKENS));
            assertTrue(e.getMessage().contains("is closed"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> m.weightsChanged());
            assertThrows(IllegalStateException.class, () -> m.weights());
            m.close(); // idempotent
        } finally {
            m.close();
            shutdown(pool);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama"})
    void weightsChangedInTheMiddleNeverBreaksARun(String family) throws Exception {
        long before = Tensor.liveBytes();
        ExecutorService pool = pool();
        try (HookedTransformer m = model(family)) {
            Map<Op, float[]> ref = references(pool, m);
            long t0 = System.nanoTime();
            Tally tally = hammer(pool, m, 40, List.of(ref), matched -> {
                for (int i = 0; i < 30; i++) {
                    awaitProgress(matched, i * THREADS / 2);
                    m.weightsChanged();
                }
            });
            report(family + " weightsChanged", tally, t0);
            tally.assertClean();
            assertEquals(THREADS * 40, tally.matched.get());
        } finally {
            shutdown(pool);
        }
        assertEquals(before, Tensor.liveBytes());
    }

    /** Negates W_Q (packed) and W_in (read directly) of every layer: exact, so doing it twice restores the weights. */
    private static void negateSome(Weights w, Config cfg) {
        for (int l = 0; l < cfg.nLayers; l++)
            for (Tensor t : new Tensor[] {w.W_Q(l), w.W_in(l)}) {
                float[] v = t.toFloatArray();
                for (int i = 0; i < v.length; i++) v[i] = -v[i];
                t.set(v);
            }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama"})
    void editWeightsInTheMiddleGivesWhollyOldOrWhollyNewResults(String family) throws Exception {
        long before = Tensor.liveBytes();
        ExecutorService pool = pool();
        try (HookedTransformer m = model(family)) {
            Map<Op, float[]> original = references(pool, m);
            m.editWeights(w -> negateSome(w, m.cfg()));
            Map<Op, float[]> edited = references(pool, m);
            m.editWeights(w -> negateSome(w, m.cfg()));
            assertEquals(original.keySet(), references(pool, m).keySet());
            assertArrayEquals(original.get(Op.FORWARD), references(pool, m).get(Op.FORWARD), "two edits restore the weights");
            assertFalse(Arrays.equals(original.get(Op.FORWARD), edited.get(Op.FORWARD)), "the edit changes the logits");
            long t0 = System.nanoTime();
            Tally tally = hammer(pool, m, 40, List.of(original, edited), matched -> {
                for (int i = 0; i < 20; i++) {
                    awaitProgress(matched, i * THREADS / 2);
                    m.editWeights(w -> negateSome(w, m.cfg()));
                }
            });
            report(family + " editWeights", tally, t0);
            tally.assertClean();
            assertEquals(THREADS * 40, tally.matched.get());
        } finally {
            shutdown(pool);
        }
        assertEquals(before, Tensor.liveBytes());
    }

    // ------------------------------------------------------------------------------------------ ordering

    /** A hook that stops the run at hook_z of layer 0 until `release` opens. */
    private static Hooks blockAt(CountDownLatch entered, CountDownLatch release) {
        return Hooks.none().add(HookNames.z(0), (z, hp) -> {
            entered.countDown();
            try {
                if (!release.await(LIMIT.toSeconds(), TimeUnit.SECONDS)) throw new AssertionError("never released");
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            return null;
        });
    }

    /** A task on its own fresh thread, whose state we can watch. */
    private static final class Worker<T> {
        final CompletableFuture<T> result = new CompletableFuture<>();
        final Thread thread;

        Worker(Callable<T> task) {
            thread = new Thread(() -> {
                try { result.complete(task.call()); } catch (Throwable e) { result.completeExceptionally(e); }
            });
            thread.start();
        }

        T get() throws Exception { return result.get(LIMIT.toSeconds(), TimeUnit.SECONDS); }

        /** Asserts the task waits (parked on a lock, say) rather than finishing, and still waits a while later. */
        void assertWaiting(String what) throws InterruptedException {
            long deadline = System.nanoTime() + LIMIT.toNanos();
            while (!result.isDone() && thread.getState() == Thread.State.RUNNABLE && System.nanoTime() < deadline)
                Thread.onSpinWait();
            Thread.sleep(200);
            assertFalse(result.isDone(), what);
            assertNotEquals(Thread.State.RUNNABLE, thread.getState(), what);
        }
    }

    @Test
    void closeFromManyThreadsAtOnceFreesOnce() throws Exception {
        long before = Tensor.liveBytes();
        ExecutorService pool = pool();
        HookedTransformer m = model("llama");
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> closers = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) closers.add(pool.submit(() -> { start.await(); m.close(); return null; }));
            start.countDown();
            for (Future<?> c : closers) c.get(LIMIT.toSeconds(), TimeUnit.SECONDS);
            assertEquals(before, Tensor.liveBytes(), "every tensor freed exactly once");
        } finally {
            shutdown(pool);
        }
    }

    @Test
    void readWeightsHoldsOffCloseAndCannotCloseItself() throws Exception {
        long before = Tensor.liveBytes();
        HookedTransformer m = model("gpt2");
        try {
            assertThrows(IllegalStateException.class, () -> m.readWeights(w -> { m.close(); return null; }));
            float[] expected = m.weights().W_U().toFloatArray();
            CountDownLatch reading = new CountDownLatch(1), release = new CountDownLatch(1);
            Worker<float[]> reader = new Worker<>(() -> m.readWeights(w -> {
                reading.countDown();
                try { release.await(); } catch (InterruptedException e) { throw new AssertionError(e); }
                return w.W_U().toFloatArray();
            }));
            assertTrue(reading.await(LIMIT.toSeconds(), TimeUnit.SECONDS));
            Worker<?> closing = new Worker<>(() -> { m.close(); return null; });
            closing.assertWaiting("close() returned while a reader held the weights");
            release.countDown();
            assertArrayEquals(expected, reader.get());
            closing.get();
            assertThrows(IllegalStateException.class, () -> m.readWeights(w -> w.W_U()));
        } finally {
            m.close();
        }
        assertEquals(before, Tensor.liveBytes());
    }

    @Test
    void closeWaitsForTheRunInFlightAndFreesAfterIt() throws Exception {
        ExecutorService pool = pool();
        HookedTransformer m = model("gpt2");
        try {
            Tensor wU = m.weights().W_U();
            float[] expected = forwardOn(pool, m);
            CountDownLatch entered = new CountDownLatch(1), release = new CountDownLatch(1);
            Future<float[]> run = pool.submit(() -> {
                try (Tensor l = m.runWithHooks(TOKENS, blockAt(entered, release))) { return l.toFloatArray(); }
            });
            assertTrue(entered.await(LIMIT.toSeconds(), TimeUnit.SECONDS));
            Worker<?> closing = new Worker<>(() -> { m.close(); return null; });
            closing.assertWaiting("close() returned while a run was in flight");
            assertFalse(wU.isClosed(), "W_U freed under a running forward");
            release.countDown();
            assertArrayEquals(expected, run.get(LIMIT.toSeconds(), TimeUnit.SECONDS), "the run in flight completes normally");
            closing.get();
            assertTrue(wU.isClosed());
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> m.forward(TOKENS));
            assertTrue(e.getMessage().contains("is closed"), e.getMessage());
        } finally {
            m.close();
            shutdown(pool);
        }
    }

    @Test
    void runsStartedDuringAnEditWaitForIt() throws Exception {
        ExecutorService pool = pool();
        try (HookedTransformer m = model("gpt2")) {
            m.editWeights(w -> negateSome(w, m.cfg()));
            float[] edited = forwardOn(pool, m);
            m.editWeights(w -> negateSome(w, m.cfg()));
            CountDownLatch editing = new CountDownLatch(1), release = new CountDownLatch(1);
            Future<?> edit = pool.submit(() -> {
                m.editWeights(w -> {
                    negateSome(w, m.cfg());
                    editing.countDown();
                    try { release.await(); } catch (InterruptedException e) { throw new AssertionError(e); }
                });
                return null;
            });
            assertTrue(editing.await(LIMIT.toSeconds(), TimeUnit.SECONDS));
            Worker<float[]> run = new Worker<>(() -> { try (Tensor l = m.forward(TOKENS)) { return l.toFloatArray(); } });
            run.assertWaiting("a forward ran while an edit was half done");
            release.countDown();
            edit.get(LIMIT.toSeconds(), TimeUnit.SECONDS);
            assertArrayEquals(edited, run.get(), "the waiting run sees the whole edit");
        } finally {
            shutdown(pool);
        }
    }

    @Test
    void aHookMayRunTheModelAgainWhileCloseWaits() throws Exception {
        ExecutorService pool = pool();
        HookedTransformer m = model("gpt2");
        try {
            float[] expected = forwardOn(pool, m);
            AtomicReference<Worker<?>> closing = new AtomicReference<>();
            AtomicReference<float[]> inner = new AtomicReference<>();
            Hooks nested = Hooks.none().add(HookNames.z(0), (z, hp) -> {
                closing.set(new Worker<>(() -> { m.close(); return null; }));
                try {
                    closing.get().assertWaiting("close() returned during a run"); // queued behind this run
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
                try (Tensor l = m.forward(TOKENS)) { inner.set(l.toFloatArray()); } // reentrant: must not wait for close()
                return null;
            });
            assertTimeoutPreemptively(LIMIT, () -> { try (Tensor l = m.runWithHooks(TOKENS, nested)) { assertEquals(expected.length, l.numel()); } });
            assertArrayEquals(expected, inner.get());
            closing.get().get();
            assertThrows(IllegalStateException.class, () -> m.forward(TOKENS));
        } finally {
            m.close();
            shutdown(pool);
        }
    }

    // ------------------------------------------------------------------------------------------ self-deadlock

    @Test
    void closeWeightsChangedOrEditFromAHookThrowInsteadOfDeadlocking() {
        long before = Tensor.liveBytes();
        try (HookedTransformer m = model("gpt2")) {
            float[] expected;
            try (Tensor l = m.forward(TOKENS)) { expected = l.toFloatArray(); }
            Map<String, Runnable> calls = Map.of(
                    "close()", m::close,
                    "weightsChanged()", m::weightsChanged,
                    "editWeights()", () -> m.editWeights(w -> {}));
            for (var call : calls.entrySet()) {
                Hooks h = Hooks.none().add(HookNames.mlpPost(1), (a, hp) -> { call.getValue().run(); return null; });
                IllegalStateException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
                        () -> assertThrows(IllegalStateException.class, () -> m.runWithHooks(TOKENS, h)), call.getKey() + " from a hook hung");
                assertTrue(e.getMessage().startsWith(call.getKey() + " called inside a run") && e.getMessage().contains("hook"), e.getMessage());
                try (Tensor l = m.forward(TOKENS)) { assertArrayEquals(expected, l.toFloatArray(), "the model is intact after " + call.getKey()); }
            }
        }
        assertEquals(before, Tensor.liveBytes());
    }

    // ------------------------------------------------------------------------------------------ shared state

    @Test
    void backwardLeavesSharedOptionsAlone() throws Exception {
        // backward used to set the caller's logitsLastOnly for its duration: a forward sharing the options meanwhile
        // unembedded only the last position
        ExecutorService pool = pool();
        try (HookedTransformer m = model("gpt2")) {
            RunOptions opts = new RunOptions();
            CountDownLatch entered = new CountDownLatch(1), release = new CountDownLatch(1);
            Metric diff = Metrics.logitDiff(3, 4);
            Metric blocking = (logits, b, p, v, grad) -> { // stops the backward between its forward and reverse pass
                entered.countDown();
                try { release.await(); } catch (InterruptedException e) { throw new AssertionError(e); }
                return diff.evaluate(logits, b, p, v, grad);
            };
            Future<?> bwd = pool.submit(() -> { try (Gradients g = m.backward(TOKENS, blocking, opts)) { return null; } });
            assertTrue(entered.await(LIMIT.toSeconds(), TimeUnit.SECONDS));
            try (Output o = m.run(TOKENS, opts)) {
                assertEquals(TOKENS[0].length, o.logits().size(1), "logits positions of a forward during another thread's backward");
            } finally {
                release.countDown();
            }
            bwd.get(LIMIT.toSeconds(), TimeUnit.SECONDS);
        } finally {
            shutdown(pool);
        }
    }

    // a word-level tokenizer.json with the model's 6 ids, so generated ids decode
    private static final String TOKENIZER = "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":["
            + "{\"id\":0,\"content\":\"<s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}],"
            + "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"post_processor\":null,\"decoder\":null,"
            + "\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"<s>\":0,\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"<unk>\":5},\"unk_token\":\"<unk>\"}}";

    @Test
    void tokenizerCallsRunInParallelAndThrowOnceClosed(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("tokenizer.json");
        Files.writeString(json, TOKENIZER);
        Files.writeString(dir.resolve("config.json"), "{\"bos_token_id\": 0}");
        long before = Tensor.liveBytes();
        Config cfg = RandomWeights.gpt2Config(1, 16, 2, 6, 32);
        HookedTransformer m = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 5), HfTokenizer.load(json), null);
        ExecutorService pool = pool();
        try {
            String prompt = "a b c d a b";
            int[] tokens = m.toTokens(prompt, false);
            String generated = m.generate(prompt, 6);
            String top = m.testPrompt(prompt, " c", 3).format();
            assertArrayEquals(new int[] {1, 2, 3, 4, 1, 2}, tokens);
            m.tokenizer().close(); // the model owns its tokenizer: this must not free it
            assertArrayEquals(tokens, m.toTokens(prompt, false));
            AtomicInteger calls = new AtomicInteger(), closed = new AtomicInteger();
            ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
            List<Future<?>> workers = new ArrayList<>();
            for (int t = 0; t < THREADS; t++)
                workers.add(pool.submit(() -> {
                    for (int i = 0; ; i++) {
                        try {
                            boolean same = switch (i % 3) {
                                case 0 -> Arrays.equals(tokens, m.tokenizer().encode(prompt));
                                case 1 -> generated.equals(m.generate(prompt, 6));
                                default -> top.equals(m.testPrompt(prompt, " c", 3).format());
                            };
                            if (!same) problems.add("call " + i % 3 + " differs");
                            calls.incrementAndGet();
                        } catch (IllegalStateException e) {
                            if (e.getMessage().contains("is closed")) closed.incrementAndGet();
                            else problems.add(e.toString());
                            return null;
                        } catch (Throwable e) {
                            problems.add(e.toString());
                            return null;
                        }
                    }
                }));
            awaitProgress(calls, 20 * THREADS);
            m.close();
            for (Future<?> w : workers) w.get(LIMIT.toSeconds(), TimeUnit.SECONDS);
            assertTrue(problems.isEmpty(), problems.size() + " problems, first: " + problems.peek());
            assertEquals(THREADS, closed.get());
            assertThrows(IllegalStateException.class, () -> m.tokenizer().encode(prompt));
            assertThrows(IllegalStateException.class, () -> m.toTokens(prompt));
        } finally {
            m.close();
            shutdown(pool);
        }
        assertEquals(before, Tensor.liveBytes());
    }

    @Test
    void setNumThreadsAppliesToTheCallingThreadOnly() throws Exception {
        // results agree bit for bit only between threads with the same count, so the contract must say whose it is
        CpuBackend be = CpuBackend.get();
        int mine = be.numThreads(), theirs = mine == 1 ? 2 : 1;
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            int seen = pool.submit(() -> { be.setNumThreads(theirs); return be.numThreads(); }).get();
            assertEquals(theirs, seen);
            assertEquals(mine, be.numThreads(), "another thread's setNumThreads changed this thread's count");
        } finally {
            shutdown(pool);
        }
    }

    private static void report(String what, Tally tally, long t0) {
        System.out.printf("ConcurrencyTest %s: %d threads, %d calls matched, %d ended on 'closed', %.2f s%n",
                what, THREADS, tally.matched.get(), tally.closed.get(), (System.nanoTime() - t0) / 1e9);
    }
}
