package dev.lens4j.model;

import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.load.RandomWeights;
import dev.lens4j.load.TestCheckpoints;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/** A hook or cache asked for by name that matches no hook point fails (as in TL), suggesting the closest real names. */
class UnknownHookNamesTest {
    private static final int[][] TOKENS = {{1, 2, 3}};
    private HookedTransformer model;

    @BeforeEach void load() {
        Config cfg = TestCheckpoints.tinyGpt2Config();
        model = new HookedTransformer(cfg, RandomWeights.gpt2(cfg, 1));
    }

    @AfterEach void close() { model.close(); }

    private static void assertSuggests(IllegalArgumentException e, String wrong, String right) {
        assertTrue(e.getMessage().contains("'" + wrong + "' is not a hook point"), e.getMessage());
        assertTrue(e.getMessage().contains("did you mean " + right), "closest first: " + e.getMessage());
    }

    @Test void forwardHookByName() {
        AtomicInteger calls = new AtomicInteger();
        Hooks typo = Hooks.none().add("blocks.0.hook_resid_pree", (t, hp) -> { calls.incrementAndGet(); return null; });
        assertSuggests(assertThrows(IllegalArgumentException.class, () -> model.runWithHooks(TOKENS, typo).close()),
            "blocks.0.hook_resid_pree", "blocks.0.hook_resid_pre");
        assertEquals(0, calls.get());
        // a layer the model does not have (it has 2)
        Hooks layer = Hooks.none().add("blocks.7.attn.hook_z", (t, hp) -> null);
        assertSuggests(assertThrows(IllegalArgumentException.class, () -> model.runWithHooks(TOKENS, layer).close()),
            "blocks.7.attn.hook_z", "blocks.0.attn.hook_z");
        // real names, filters and regexes that match nothing are fine
        Hooks ok = Hooks.none().add("blocks.1.attn.hook_z", (t, hp) -> { calls.incrementAndGet(); return null; })
            .add(n -> n.equals("nothing"), (t, hp) -> null).addRegex("nothing", (t, hp) -> null);
        try (Tensor l = model.runWithHooks(TOKENS, ok)) { assertEquals(1, calls.get()); }
    }

    @Test void cacheNames() {
        var o = new HookedTransformer.RunOptions().cacheNames("blocks.1.mlp.hook_post", "blocks.1.mlp.hook_psot");
        assertSuggests(assertThrows(IllegalArgumentException.class, () -> model.run(TOKENS, o).close()),
            "blocks.1.mlp.hook_psot", "blocks.1.mlp.hook_post");
        // a later filter replaces the names
        try (var out = model.run(TOKENS, o.cacheRegex("hook_embed"))) { assertEquals(1, out.cache().size()); }
        try (var out = model.run(TOKENS, new HookedTransformer.RunOptions().cacheNames("blocks.1.mlp.hook_post"))) {
            assertTrue(out.cache().has("blocks.1.mlp.hook_post"));
        }
    }

    @Test void gradientCachesAndBackwardHooksByName() {
        Metric m = Metrics.logitDiff(1, 2);
        var grads = new HookedTransformer.RunOptions().cacheGradNames("blocks.0.hook_resid_mid", "blocks.0.hook_resid_mdi");
        assertSuggests(assertThrows(IllegalArgumentException.class, () -> model.backward(TOKENS, m, grads).close()),
            "blocks.0.hook_resid_mdi", "blocks.0.hook_resid_mid");
        var bwd = new HookedTransformer.RunOptions().bwdHooks(Hooks.none().add("blocks.0.ln1.hook_scal", (g, hp) -> null));
        assertSuggests(assertThrows(IllegalArgumentException.class, () -> model.backward(TOKENS, m, bwd).close()),
            "blocks.0.ln1.hook_scal", "blocks.0.ln1.hook_scale");
        try (var g = model.backward(TOKENS, m, new HookedTransformer.RunOptions().cacheGradNames("blocks.0.hook_resid_mid"))) {
            assertEquals(1, g.grads().size());
        }
    }

    @Test void rotaryNamesOnAModelWithoutRotary() {
        // hook_rot_q exists only on rotary models: GPT-2 has none
        Hooks h = Hooks.none().add("blocks.0.attn.hook_rot_q", (t, hp) -> null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.runWithHooks(TOKENS, h).close());
        assertTrue(e.getMessage().contains("blocks.0.attn.hook_q"), e.getMessage());
    }

    @Test void editDistanceRanksSuggestions() {
        assertEquals(0, HookNames.editDistance("abc", "abc"));
        assertEquals(1, HookNames.editDistance("abc", "abd"));
        assertEquals(3, HookNames.editDistance("", "abc"));
        assertEquals(List.of("hook_embed", "hook_pos_embed"), HookNames.closest("hook_embd", List.of("blocks.0.hook_resid_pre", "hook_pos_embed", "hook_embed"), 2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> HookNames.requireAnyMatch("resid_pree", model.hookNames(), "--hooks"));
        assertTrue(e.getMessage().startsWith("--hooks 'resid_pree' matches no hook point"), e.getMessage());
    }
}
