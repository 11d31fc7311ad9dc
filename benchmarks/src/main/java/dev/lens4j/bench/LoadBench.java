package dev.lens4j.bench;

import dev.lens4j.backend.CpuBackend;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.load.RandomCheckpointFiles;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Memory and time of loading big checkpoints. {@code write SHAPE DIR} writes a random-weight bf16 safetensors checkpoint
 * of a real model's shape (RandomCheckpointFiles: gpt2-medium, gpt2-large, gpt2-xl, gemma2-2b) tensor by tensor; {@code load DIR
 * [TOKENS] [f32|bf16]} loads it (weights processed as from_pretrained; bf16: the matrices resident in bf16), then runs a
 * forward of TOKENS seeded random tokens (warm-up, then the median of 3), and prints load time, peak RSS (VmHWM) against
 * the resident weight bytes (in the dtype loaded) and the checkpoint's own F32 bytes, and tokens/s. Run each load in a
 * fresh JVM (benchmarks/load.sh does) so VmHWM is the load's.
 */
public final class LoadBench {
    public static void main(String[] args) throws IOException {
        if (args.length >= 3 && args[0].equals("write")) RandomCheckpointFiles.write(args[1], Path.of(args[2]));
        else if (args.length >= 2 && args[0].equals("load"))
            load(Path.of(args[1]), args.length > 2 ? Integer.parseInt(args[2]) : 32, args.length > 3 ? dtype(args[3]) : DType.F32);
        else throw new IllegalArgumentException("usage: LoadBench write gpt2-medium|gpt2-large|gpt2-xl|gemma2-2b DIR | LoadBench load DIR [TOKENS] [f32|bf16]");
    }

    private static DType dtype(String s) {
        return switch (s) {
            case "f32" -> DType.F32;
            case "bf16" -> DType.BF16;
            default -> throw new IllegalArgumentException("dtype must be f32 or bf16, got " + s);
        };
    }

    // ---------------------------------------------------------------- load

    static void load(Path dir, int nTokens, DType dtype) {
        long base = status("VmRSS");
        Tensor.resetPeakBytes();
        long t0 = System.nanoTime(), cpu0 = cpuNanos();
        try (HookedTransformer m = HookedTransformer.fromPretrained(dir, null, LoadOptions.defaults().dtype(dtype), CpuBackend.get())) {
            double loadS = (System.nanoTime() - t0) / 1e9, loadCpuS = (cpuNanos() - cpu0) / 1e9;
            long loadHwm = status("VmHWM"), tensorPeak = Tensor.peakBytes();
            long resident = 0;
            for (Tensor t : m.weights().asMap().values()) resident += t.numel() * t.dtype().bytes;
            long ckptF32 = 4 * RandomCheckpointFiles.tensors(shapeOf(m)).stream().mapToLong(RandomCheckpointFiles.Spec::numel).sum();
            int[] tokens = new SplittableRandom(1).ints(nTokens, 0, m.cfg().dVocab).toArray();
            try (Tensor warm = m.forward(tokens)) { /* first call pays one-time setup */ }
            double[] rounds = new double[3]; // the median of 3: the shared machine's load swings between rounds
            for (int r = 0; r < rounds.length; r++) {
                long f0 = System.nanoTime();
                try (Tensor logits = m.forward(tokens)) { if (!Float.isFinite(logits.toFloatArray()[0])) throw new IllegalStateException("non-finite logits"); }
                rounds[r] = (System.nanoTime() - f0) / 1e9;
            }
            java.util.Arrays.sort(rounds);
            double fwdS = rounds[1];
            long hwm = status("VmHWM");
            System.out.printf(Locale.ROOT, "%s: load %.1f s (%.1f CPU s); weights resident %.2f GB " + dtype + " (checkpoint as F32 %.2f GB); JVM before load %.2f GB;"
                    + " peak RSS after load %.2f GB = %.3fx resident (%.3fx checkpoint F32); after a %d-token forward %.2f GB = %.3fx resident;"
                    + " forward %.2f s = %.1f tokens/s; native tensors peaked at %.2f GB during the load%n",
                dir.getFileName(), loadS, loadCpuS, resident / 1e9, ckptF32 / 1e9, base / 1e9, loadHwm / 1e9, (double) loadHwm / resident,
                (double) loadHwm / ckptF32, nTokens, hwm / 1e9, (double) hwm / resident, fwdS, nTokens / fwdS, tensorPeak / 1e9);
        }
    }

    /** CPU time of the whole process (every thread): on a shared machine the wall time mostly measures the others. */
    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private static String shapeOf(HookedTransformer m) {
        if (m.cfg().dModel == 2304) return "gemma2-2b";
        return m.cfg().dModel == 1600 ? "gpt2-xl" : m.cfg().dModel == 1024 ? "gpt2-medium" : "gpt2-large";
    }

    /** A /proc/self/status field in bytes (VmHWM: the peak resident set; VmRSS: now). */
    static long status(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith(field + ":")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        throw new IllegalStateException("no " + field + " in /proc/self/status");
    }
}
