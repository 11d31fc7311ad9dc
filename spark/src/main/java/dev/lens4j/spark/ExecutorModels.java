package dev.lens4j.spark;

import dev.lens4j.backend.CpuBackend;
import dev.lens4j.cli.SparkJobs.ModelSpec;
import dev.lens4j.model.HookedTransformer;
import org.apache.spark.TaskContext;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The models of this JVM, loaded once per executor (and shared by its concurrent tasks: HookedTransformer runs are
 * thread-safe). Each task uses one native thread unless --threads says otherwise: Spark's task slots are the parallelism.
 * Also the test's fault injection, read from the job's local properties.
 */
final class ExecutorModels {
    /** Local properties naming partitions whose first attempt fails, or whose every attempt fails (an interrupted job). */
    static final String FAIL_FIRST_ATTEMPT = "lens4j.test.failFirstAttempt", FAIL_ALWAYS = "lens4j.test.failAlways";

    private static final Map<ModelSpec, HookedTransformer> MODELS = new ConcurrentHashMap<>();

    private ExecutorModels() {}

    /** The model for a task on this thread: the native thread count is per calling thread, so it is set for every task. */
    static HookedTransformer get(ModelSpec spec) {
        CpuBackend.get().setNumThreads(spec.threads() == null ? 1 : spec.threads());
        return MODELS.computeIfAbsent(spec, ModelSpec::load);
    }

    /** Tasks of this JVM that started and have not completed (a failed job's other tasks are killed asynchronously). */
    private static final java.util.concurrent.atomic.AtomicInteger RUNNING = new java.util.concurrent.atomic.AtomicInteger();

    /** Called first in every task: counts it as running until Spark completes it (success, failure or kill), then injects faults. */
    static void startTask(int partition) {
        TaskContext t = TaskContext.get();
        if (t != null) {
            RUNNING.incrementAndGet();
            t.addTaskCompletionListener(ctx -> { RUNNING.decrementAndGet(); });
        }
        injectFaults(partition);
    }

    /**
     * Frees the models (a local-mode job's executors live in the driver's JVM), after waiting (up to a minute) for tasks
     * that are still running: when a job fails, Spark kills its other tasks without waiting for them, and their native
     * buffers are freed only when they end.
     */
    static void closeAll() {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (RUNNING.get() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        MODELS.values().forEach(HookedTransformer::close);
        MODELS.clear();
    }

    /** Throws where the job's fault injection says this task must fail. */
    private static void injectFaults(int partition) {
        TaskContext t = TaskContext.get();
        if (t == null) return;
        if (listed(t.getLocalProperty(FAIL_ALWAYS), partition) || (t.attemptNumber() == 0 && listed(t.getLocalProperty(FAIL_FIRST_ATTEMPT), partition)))
            throw new IllegalStateException("injected failure in partition " + partition + ", attempt " + t.attemptNumber());
    }

    private static boolean listed(String list, int partition) {
        if (list == null || list.isBlank()) return false;
        for (String s : list.split(",")) if (Integer.parseInt(s.trim()) == partition) return true;
        return false;
    }
}
