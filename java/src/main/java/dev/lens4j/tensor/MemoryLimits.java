package dev.lens4j.tensor;

import java.lang.management.ManagementFactory;
import java.util.Locale;

/**
 * Size checks made before allocating, so that a request that cannot fit fails at once with a sentence saying what
 * needs how much ("needs 29.5 GB, this machine has 24.0 GB of memory") rather than with an OutOfMemoryError, a
 * failed malloc or minutes of swapping. Tensors live off-heap, so they are compared with physical memory; Java arrays
 * with the JVM's heap limit.
 */
public final class MemoryLimits {
    private MemoryLimits() {}

    /** Total physical memory of this machine, or Long.MAX_VALUE when the JVM cannot tell. */
    public static long physicalBytes() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            long total = os.getTotalMemorySize();
            if (total > 0) return total;
        }
        return Long.MAX_VALUE;
    }

    /**
     * Memory a new allocation can have now without swapping or the OOM killer: Linux's MemAvailable (free memory plus
     * reclaimable caches), or the physical memory where /proc/meminfo cannot be read.
     */
    public static long availableBytes() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/meminfo")))
                if (line.startsWith("MemAvailable:")) return Math.min(physicalBytes(), Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024);
        } catch (java.io.IOException | RuntimeException e) {
            // not Linux, or an unreadable /proc: fall back to the machine's size
        }
        return physicalBytes();
    }

    /** Throws IllegalArgumentException when bytes of tensors (off-heap) exceed physical memory; what names the need. */
    public static void requireNative(long bytes, String what) {
        long total = physicalBytes();
        if (bytes < 0 || bytes > total)
            throw new IllegalArgumentException(what + " needs " + size(bytes) + ", this machine has " + size(total) + " of memory");
    }

    /** Throws IllegalArgumentException when bytes of Java arrays exceed what the heap may grow to. */
    public static void requireHeap(long bytes, String what) {
        long max = Runtime.getRuntime().maxMemory();
        if (bytes < 0 || bytes > max)
            throw new IllegalArgumentException(what + " needs " + size(bytes) + ", the JVM may use " + size(max) + " (raise it with -Xmx)");
    }

    /** Saturating products for size estimates (a negative or overflowing size reads as "too large"). */
    public static long times(long... xs) {
        long r = 1;
        for (long x : xs) {
            if (x < 0) return Long.MAX_VALUE;
            r = x != 0 && r > Long.MAX_VALUE / x ? Long.MAX_VALUE : r * x;
        }
        return r;
    }

    public static long plus(long... xs) {
        long r = 0;
        for (long x : xs) r = x < 0 || r > Long.MAX_VALUE - x ? Long.MAX_VALUE : r + x;
        return r;
    }

    /** Bytes in human units: "512 B", "3.2 MB", "29.5 GB", "2.6 TB" (powers of 1024, as memory is sold). */
    public static String size(long bytes) {
        if (bytes == Long.MAX_VALUE) return "more than 8 EB";
        String[] units = {"B", "KB", "MB", "GB", "TB", "PB", "EB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
        return u == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
