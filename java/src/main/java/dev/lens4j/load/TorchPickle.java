package dev.lens4j.load;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A restricted reader for the pickle inside a {@code torch.save} file. Pickle is a program for a stack machine
 * whose GLOBAL and REDUCE opcodes import and call arbitrary Python callables; this reader is not a Python
 * interpreter: it understands the data opcodes and a fixed allow-list of names that a state dict uses
 * (collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_tensor / _rebuild_parameter and the
 * torch.*Storage types), each implemented here as a plain data constructor. Any other global, any other opcode
 * (NEWOBJ, INST, OBJ, EXT*, ...), BUILD on anything but a dict, or a malformed stream is refused with a
 * CheckpointException; nothing named in the file is ever looked up or run.
 * <p>Results: Map (LinkedHashMap), List, {@link Tuple}, Long, Double, String, Boolean, null, {@link StorageRef}
 * (a persistent id), {@link TensorRef}.
 */
public final class TorchPickle {
    /** An immutable pickle tuple. */
    public record Tuple(List<Object> items) {
        public Object get(int i) { return items.get(i); }
        public int size() { return items.size(); }
    }

    /** A torch storage named by the archive: entry data/&lt;key&gt;, elements of one dtype. */
    public record StorageRef(String key, String dtype, long numel) {}

    /** A tensor view of a storage: torch's (storage, storage_offset, size, stride). */
    public record TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {
        public long numel() {
            long n = 1;
            for (long s : size) n = Math.multiplyExact(n, s);
            return n;
        }
    }

    /** torch storage class name to dtype (null: known but not a floating type lens4j loads). */
    static final Map<String, String> STORAGE_TYPES = Map.ofEntries(
            Map.entry("FloatStorage", "F32"), Map.entry("HalfStorage", "F16"), Map.entry("BFloat16Storage", "BF16"),
            Map.entry("DoubleStorage", "F64"), Map.entry("BoolStorage", "BOOL"), Map.entry("ByteStorage", "U8"),
            Map.entry("CharStorage", "I8"), Map.entry("ShortStorage", "I16"), Map.entry("IntStorage", "I32"),
            Map.entry("LongStorage", "I64"));

    private enum Callable { ORDERED_DICT, REBUILD_TENSOR_V2, REBUILD_TENSOR, REBUILD_PARAMETER }

    private record StorageType(String dtype) {}

    private static final Object MARK = new Object() { @Override public String toString() { return "MARK"; } };
    private static final int MAX_DEPTH = 1 << 20, MAX_MEMO = 1 << 24;

    private final String source;
    private final ByteBuffer in;
    private final List<Object> stack = new ArrayList<>();
    private final List<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();

    private TorchPickle(String source, byte[] data) {
        this.source = source;
        this.in = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Reads one pickle; {@code source} names it in errors. */
    public static Object load(String source, byte[] data) {
        try {
            return new TorchPickle(source, data).run();
        } catch (java.nio.BufferUnderflowException e) {
            throw new CheckpointException(source + ": truncated pickle");
        } catch (ArithmeticException e) {
            throw new CheckpointException(source + ": pickle value out of range");
        }
    }

    private CheckpointException bad(String what) {
        return new CheckpointException(source + ": " + what + " (at byte " + in.position() + "); only tensors, dicts and plain values are read, nothing is executed");
    }

    private Object run() {
        while (true) {
            if (!in.hasRemaining()) throw bad("pickle ends without STOP");
            int op = in.get() & 0xff;
            switch (op) {
                case 0x80 -> { int proto = in.get() & 0xff; if (proto > 5) throw bad("unsupported pickle protocol " + proto); }
                case 0x95 -> in.getLong(); // FRAME: a length hint
                case '.' -> {
                    if (stack.size() != 1 || !marks.isEmpty()) throw bad("malformed pickle (stack of " + stack.size() + " at STOP)");
                    Object result = stack.get(0);
                    if (result == MARK || result instanceof StorageType || result instanceof Callable) throw bad("pickle result is not data");
                    return result;
                }
                case '(' -> { marks.add(stack.size()); push(MARK); }
                case '}' -> push(new LinkedHashMap<Object, Object>());
                case ']' -> push(new ArrayList<Object>());
                case ')' -> push(new Tuple(List.of()));
                case 0x85 -> push(tuple(popN(1)));
                case 0x86 -> push(tuple(popN(2)));
                case 0x87 -> push(tuple(popN(3)));
                case 't' -> push(tuple(popMark()));
                case 'l' -> push(new ArrayList<>(popMark()));
                case 'd' -> { List<Object> kv = popMark(); Map<Object, Object> m = new LinkedHashMap<>(); setItems(m, kv); push(m); }
                case 'a' -> { Object v = pop(); list(peek()).add(v); }
                case 'e' -> { List<Object> vs = popMark(); list(peek()).addAll(vs); }
                case 's' -> { Object v = pop(), k = pop(); dict(peek()).put(key(k), v); }
                case 'u' -> { List<Object> kv = popMark(); setItems(dict(peek()), kv); }
                case 'K' -> push((long) (in.get() & 0xff));
                case 'M' -> push((long) (in.getShort() & 0xffff));
                case 'J' -> push((long) in.getInt());
                case 0x8a -> push(long1());
                case 'G' -> push(in.order(ByteOrder.BIG_ENDIAN).getDouble()); // BINFLOAT is big-endian
                case 'N' -> push(null);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'X' -> push(utf8(len(in.getInt() & 0xffffffffL)));
                case 0x8c -> push(utf8(in.get() & 0xff));
                case 0x8d -> push(utf8(len(in.getLong())));
                case 'c' -> push(global(line(), line()));
                case 0x93 -> { Object name = pop(), module = pop(); push(global(str(module), str(name))); }
                case 'R' -> { Object args = pop(), fn = pop(); push(reduce(fn, args)); }
                case 'Q' -> push(persistent(pop()));
                case 'b' -> { Object state = pop(); if (!(peek() instanceof Map<?, ?>)) throw bad("BUILD on " + describe(peek())); }
                case 'q' -> memo(in.get() & 0xff);
                case 'r' -> memo(in.getInt() & 0xffffffffL);
                case 0x94 -> memo(memo.size());
                case 'h' -> push(get(in.get() & 0xff));
                case 'j' -> push(get(in.getInt() & 0xffffffffL));
                case '0' -> pop();
                case '2' -> push(peek());
                default -> throw bad(String.format("pickle opcode 0x%02x is not allowed", op));
            }
            in.order(ByteOrder.LITTLE_ENDIAN);
            if (stack.size() > MAX_DEPTH) throw bad("pickle stack too deep");
        }
    }

    // ---------------------------------------------------------------- the allow-list

    private Object global(String module, String name) {
        String full = module + "." + name;
        switch (full) {
            case "collections.OrderedDict": return Callable.ORDERED_DICT;
            case "torch._utils._rebuild_tensor_v2": return Callable.REBUILD_TENSOR_V2;
            case "torch._utils._rebuild_tensor": return Callable.REBUILD_TENSOR;
            case "torch._utils._rebuild_parameter": return Callable.REBUILD_PARAMETER;
            default:
                if (module.equals("torch") && STORAGE_TYPES.containsKey(name)) return new StorageType(STORAGE_TYPES.get(name));
                throw bad("refused global '" + printable(full) + "'");
        }
    }

    private Object reduce(Object fn, Object argsObj) {
        if (!(fn instanceof Callable c)) throw bad("REDUCE calls " + describe(fn));
        if (!(argsObj instanceof Tuple args)) throw bad("REDUCE arguments are " + describe(argsObj));
        switch (c) {
            case ORDERED_DICT -> {
                if (args.size() != 0) throw bad("OrderedDict with arguments");
                return new LinkedHashMap<Object, Object>();
            }
            case REBUILD_TENSOR_V2, REBUILD_TENSOR -> {
                // (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]])
                if (args.size() < 4 || args.size() > 7) throw bad("_rebuild_tensor with " + args.size() + " arguments");
                if (!(args.get(0) instanceof StorageRef s)) throw bad("tensor storage is " + describe(args.get(0)));
                long offset = integer(args.get(1), "storage_offset");
                long[] size = longs(args.get(2), "size"), stride = longs(args.get(3), "stride");
                if (size.length != stride.length) throw bad("tensor size and stride differ in length");
                TensorRef t = new TensorRef(s, offset, size, stride);
                checkInStorage(t);
                return t;
            }
            case REBUILD_PARAMETER -> {
                if (args.size() < 1 || !(args.get(0) instanceof TensorRef t)) throw bad("_rebuild_parameter of a non-tensor");
                return t;
            }
        }
        throw bad("REDUCE calls " + describe(fn));
    }

    /** ('storage', storage type, key, location, numel): the archive entry data/key. */
    private Object persistent(Object pid) {
        if (!(pid instanceof Tuple t) || t.size() != 5 || !"storage".equals(t.get(0)))
            throw bad("unsupported persistent id " + describe(pid));
        if (!(t.get(1) instanceof StorageType type)) throw bad("storage type is " + describe(t.get(1)));
        String key = str(t.get(2));
        if (!key.matches("[A-Za-z0-9_]{1,64}")) throw bad("storage key '" + printable(key) + "' is not a plain name");
        long numel = integer(t.get(4), "storage size");
        if (numel < 0) throw bad("negative storage size " + numel);
        return new StorageRef(key, type.dtype(), numel);
    }

    private void checkInStorage(TensorRef t) {
        if (t.offset() < 0) throw bad("negative storage offset " + t.offset());
        long last = t.offset();
        for (int i = 0; i < t.size().length; i++) {
            if (t.size()[i] < 0 || t.stride()[i] < 0) throw bad("negative tensor size or stride");
            if (t.size()[i] == 0) return; // an empty tensor reads nothing
            last = Math.addExact(last, Math.multiplyExact(t.size()[i] - 1, t.stride()[i]));
        }
        if (last >= t.storage().numel())
            throw bad("tensor of size " + Arrays.toString(t.size()) + " reads element " + last + " of a storage of " + t.storage().numel());
    }

    // ---------------------------------------------------------------- stack and values

    private void push(Object o) { stack.add(o); }

    private Object pop() {
        if (stack.isEmpty() || stack.get(stack.size() - 1) == MARK) throw bad("pickle stack underflow");
        return stack.remove(stack.size() - 1);
    }

    private Object peek() {
        if (stack.isEmpty() || stack.get(stack.size() - 1) == MARK) throw bad("pickle stack underflow");
        return stack.get(stack.size() - 1);
    }

    private List<Object> popN(int n) {
        List<Object> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(0, pop());
        return out;
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) throw bad("no MARK on the pickle stack");
        int at = marks.remove(marks.size() - 1);
        List<Object> items = new ArrayList<>(stack.subList(at + 1, stack.size()));
        stack.subList(at, stack.size()).clear();
        return items;
    }

    private Tuple tuple(List<Object> items) { return new Tuple(List.copyOf(nullSafe(items))); }

    private static List<Object> nullSafe(List<Object> items) {
        // List.copyOf refuses nulls; None is a legal tuple item
        return items.contains(null) ? java.util.Collections.unmodifiableList(new ArrayList<>(items)) : items;
    }

    private void memo(long index) {
        if (index >= MAX_MEMO) throw bad("pickle memo index " + index + " too large");
        memo.put(index, peek());
    }

    private Object get(long index) {
        if (!memo.containsKey(index)) throw bad("pickle memo " + index + " is empty");
        return memo.get(index);
    }

    private void setItems(Map<Object, Object> m, List<Object> kv) {
        if (kv.size() % 2 != 0) throw bad("odd number of dict items");
        for (int i = 0; i < kv.size(); i += 2) m.put(key(kv.get(i)), kv.get(i + 1));
    }

    private Object key(Object k) {
        if (k == null || k instanceof String || k instanceof Long || k instanceof Boolean || k instanceof Double) return k;
        throw bad("dict key is " + describe(k));
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object o) {
        if (o instanceof List<?> l && !(o instanceof Tuple)) return (List<Object>) l;
        throw bad("APPEND to " + describe(o));
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object o) {
        if (o instanceof Map<?, ?> m) return (Map<Object, Object>) m;
        throw bad("SETITEM on " + describe(o));
    }

    private long long1() {
        int n = in.get() & 0xff;
        if (n > 8) throw bad("integer of " + n + " bytes");
        long v = 0;
        for (int i = 0; i < n; i++) v |= (long) (in.get() & 0xff) << (8 * i);
        if (n > 0 && n < 8 && (v >>> (8 * n - 1) & 1) == 1) v |= -1L << (8 * n); // sign-extend
        return v;
    }

    private int len(long n) {
        if (n < 0 || n > in.remaining()) throw bad("string of " + n + " bytes past the end of the pickle");
        return (int) n;
    }

    private String utf8(int n) {
        if (n > in.remaining()) throw bad("string past the end of the pickle");
        byte[] b = new byte[n];
        in.get(b);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw bad("string is not valid UTF-8");
        }
    }

    private String line() {
        StringBuilder sb = new StringBuilder();
        while (true) {
            byte b = in.get();
            if (b == '\n') return sb.toString();
            if (sb.length() > 256) throw bad("GLOBAL name too long");
            sb.append((char) (b & 0xff));
        }
    }

    private String str(Object o) {
        if (o instanceof String s) return s;
        throw bad("expected a string, got " + describe(o));
    }

    private long integer(Object o, String what) {
        if (o instanceof Long l) return l;
        throw bad(what + " is " + describe(o));
    }

    private long[] longs(Object o, String what) {
        if (!(o instanceof Tuple t)) throw bad("tensor " + what + " is " + describe(o));
        if (t.size() > 16) throw bad("tensor of " + t.size() + " dimensions");
        long[] out = new long[t.size()];
        for (int i = 0; i < out.length; i++) out[i] = integer(t.get(i), "tensor " + what);
        return out;
    }

    private static String describe(Object o) {
        if (o == null) return "None";
        if (o == MARK) return "a MARK";
        if (o instanceof Callable c) return c.name().toLowerCase();
        return o.getClass().getSimpleName();
    }

    private static String printable(String s) {
        String t = s.length() > 80 ? s.substring(0, 80) + "..." : s;
        return t.replaceAll("[^\\x20-\\x7e]", "?");
    }
}
