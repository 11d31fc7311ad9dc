package dev.lens4j.hooks;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/** Forward hooks for one run (TL's fwd_hooks list): each a hook-name filter and a function, in order. */
public final class Hooks {
    /** name: the hook point a by-name hook is for (null for a filter or regex), checked against the model when it runs. */
    public record Entry(Predicate<String> filter, HookFn fn, String name) {
        public Entry(Predicate<String> filter, HookFn fn) { this(filter, fn, null); }
    }

    private final List<Entry> entries = new ArrayList<>();

    public static Hooks none() { return new Hooks(); }

    /** A hook on one named point. */
    public Hooks add(String name, HookFn fn) {
        if (name == null) throw new IllegalArgumentException("hook name is null");
        entries.add(new Entry(name::equals, fn, name));
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

    /** Throws IllegalArgumentException, suggesting the closest names, for a by-name hook on a point the model does not have. */
    public void requireKnownNames(java.util.Collection<String> hookPoints, String what) {
        for (Entry e : entries) if (e.name != null) HookNames.requireKnown(e.name, hookPoints, what);
    }

    public boolean anyMatch(String name) {
        for (Entry e : entries) if (e.filter.test(name)) return true;
        return false;
    }
}
