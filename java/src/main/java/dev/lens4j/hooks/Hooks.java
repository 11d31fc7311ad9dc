package dev.lens4j.hooks;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/** Forward hooks for one run (TL's fwd_hooks list): each a hook-name filter and a function, in order. */
public final class Hooks {
    public record Entry(Predicate<String> filter, HookFn fn) {}

    private final List<Entry> entries = new ArrayList<>();

    public static Hooks none() { return new Hooks(); }

    /** A hook on one named point. */
    public Hooks add(String name, HookFn fn) {
        entries.add(new Entry(name::equals, fn));
        return this;
    }

    /** A hook on every point whose name the filter accepts (TL: a name filter function in fwd_hooks). */
    public Hooks add(Predicate<String> filter, HookFn fn) {
        entries.add(new Entry(filter, fn));
        return this;
    }

    public Hooks addRegex(String regex, HookFn fn) {
        Pattern p = Pattern.compile(regex);
        return add(n -> p.matcher(n).matches(), fn);
    }

    public List<Entry> entries() { return Collections.unmodifiableList(entries); }

    public boolean isEmpty() { return entries.isEmpty(); }

    public boolean anyMatch(String name) {
        for (Entry e : entries) if (e.filter.test(name)) return true;
        return false;
    }
}
