#!/usr/bin/env python3
"""The Python side of benchmarks/python/compare.py: the lens4j Workloads (forward with every position's logits,
forward caching every hook point, all-neuron attribution patching, zero-ablation of head 0 in every layer) in
TransformerLens (--impl tl) or in plain PyTorch (--impl torch), on a config-built GPT-2-shaped model with random
weights. Each workload runs once as warm-up, then --reps times; prints one JSON line
{"impl": ..., "threads": ..., "ms": {workload: [times]}}.

  python3 bench_py.py --impl tl --shape gpt2-small --batch 8 --seq 128 --reps 1
"""
import argparse
import json
import math
import sys
import time


def die(message):
    """One line on stderr and exit status 2, as lens4j's own commands report bad input."""
    print(message, file=sys.stderr)
    sys.exit(2)

SHAPES = {  # n_layers, d_model, n_heads (d_head 64, d_mlp 4 d_model, GPT-2's vocabulary and context)
    "gpt2-small": (12, 768, 12),
    "gpt2-medium": (24, 1024, 16),
}
WORKLOADS = ("forward", "cache", "attribution", "ablation")
ATTR_HOOKS = ("hook_resid_pre", "attn.hook_z", "mlp.hook_post")


def inputs(torch, batch, seq, vocab, seed=7):
    """Clean tokens, corrupt tokens (a quarter replaced, as lens4j's Workloads), answer and wrong tokens."""
    g = torch.Generator().manual_seed(seed)
    clean = torch.randint(0, vocab, (batch, seq), generator=g)
    corrupt = clean.clone()
    corrupt[:, 1::4] = torch.randint(0, vocab, corrupt[:, 1::4].shape, generator=g)
    answers = torch.randint(0, vocab, (batch,), generator=g)
    wrongs = torch.randint(0, vocab, (batch,), generator=g)
    return clean, corrupt, answers, wrongs


def logit_diff(logits_last, answers, wrongs):
    rows = range(logits_last.shape[0])
    return (logits_last[rows, answers] - logits_last[rows, wrongs]).sum()


def reduce_scores(delta_times_grad, name):
    """(corrupt - clean) * grad summed to [d_mlp], [heads] or [pos], as lens4j's AttributionPatching reports them."""
    if name.endswith("mlp.hook_post"):
        return delta_times_grad.sum((0, 1))
    if name.endswith("attn.hook_z"):
        return delta_times_grad.sum((0, 1, 3))
    return delta_times_grad.sum((0, 2))


# ------------------------------------------------------------------------------------------- TransformerLens

def tl_workloads(torch, shape, batch, seq):
    try:
        import transformer_lens as tl
    except ImportError as e:
        die(f"bench_py.py: TransformerLens is not installed ({e}); install it (pip install transformer_lens) or put it "
                 f"on PYTHONPATH (a TransformerLens without pip: ../shared/tools/transformerlens/setup.sh)")
    n_layers, d_model, n_heads = SHAPES[shape]
    cfg = tl.HookedTransformerConfig(n_layers=n_layers, d_model=d_model, n_heads=n_heads, d_head=d_model // n_heads,
                                     d_mlp=4 * d_model, d_vocab=50257, n_ctx=1024, act_fn="gelu_new",
                                     normalization_type="LN", seed=1234, device="cpu")
    model = tl.HookedTransformer(cfg)
    model.eval()
    model.requires_grad_(False)  # as lens4j and the libtorch baseline: gradients of activations only, no weight gradients
    clean, corrupt, answers, wrongs = inputs(torch, batch, seq, cfg.d_vocab)
    wanted = lambda n: n.endswith(ATTR_HOOKS)

    def forward():
        with torch.no_grad():
            return model(clean).shape[-1]

    def cache():
        with torch.no_grad():
            _, c = model.run_with_cache(clean)
            return len(c)

    def ablation():
        def zero_head0(z, hook):
            z[:, :, 0, :] = 0
            return z
        with torch.no_grad():
            return model.run_with_hooks(clean, fwd_hooks=[(lambda n: n.endswith("attn.hook_z"), zero_head0)]).shape[-1]

    def attribution():
        # TransformerLens's attribution-patching recipe: corrupt cache, then clean activations and gradients from hooks
        with torch.no_grad():
            _, corrupt_cache = model.run_with_cache(corrupt, names_filter=wanted)
        acts, grads = {}, {}

        def keep_act(t, hook):
            acts[hook.name] = t.detach()

        def keep_grad(g, hook):
            grads[hook.name] = g.detach()

        def track_embed(t, hook):  # weights need no gradient: autograd starts at the embedding
            return t.requires_grad_(True)

        model.reset_hooks()
        model.add_hook("hook_embed", track_embed)
        model.add_hook(wanted, keep_act, "fwd")
        model.add_hook(wanted, keep_grad, "bwd")
        try:
            logits = model(clean)
            logit_diff(logits[:, -1, :], answers, wrongs).backward()
        finally:
            model.reset_hooks()
        with torch.no_grad():
            scores = [reduce_scores((corrupt_cache[n] - acts[n]) * grads[n], n) for n in acts]
        return float(scores[0][0])

    return dict(forward=forward, cache=cache, attribution=attribution, ablation=ablation), f"transformer_lens {tl_version()}"


def tl_version():
    try:
        from importlib.metadata import version
        return version("transformer_lens")
    except Exception:  # noqa: BLE001 (a source checkout without metadata)
        return "unknown"


# ------------------------------------------------------------------------------------------- plain PyTorch

def torch_workloads(torch, shape, batch, seq):
    """GPT-2 in eager ops as Hugging Face's GPT2Model runs it (fused QKV addmm, masked matmul attention, tanh GELU)."""
    F = torch.nn.functional
    n_layers, D, H = SHAPES[shape]
    dh, V, N = D // H, 50257, batch * seq
    g = torch.Generator().manual_seed(1234)
    rnd = lambda *s: torch.randn(*s, generator=g) * 0.02
    W = dict(wte=rnd(V, D), wpe=rnd(1024, D), lnf_w=torch.ones(D), lnf_b=torch.zeros(D), w_u=rnd(D, V), b_u=torch.zeros(V))
    layers = [dict(ln1_w=torch.ones(D), ln1_b=torch.zeros(D), w_qkv=rnd(D, 3 * D), b_qkv=torch.zeros(3 * D), w_o=rnd(D, D),
                   b_o=torch.zeros(D), ln2_w=torch.ones(D), ln2_b=torch.zeros(D), w_in=rnd(D, 4 * D), b_in=torch.zeros(4 * D),
                   w_out=rnd(4 * D, D), b_out=torch.zeros(D)) for _ in range(n_layers)]
    causal = torch.full((seq, seq), -math.inf).triu(1)
    clean, corrupt, answers, wrongs = inputs(torch, batch, seq, V)

    def run(tokens, store=None, track=False, ablate=False, last_only=False):
        x = W["wte"][tokens.reshape(-1)] + W["wpe"][:seq].repeat(batch, 1)
        if track:
            x.requires_grad_(True)
        for l, p in enumerate(layers):
            if store is not None:
                store[f"blocks.{l}.hook_resid_pre"] = x
            h = F.layer_norm(x, (D,), p["ln1_w"], p["ln1_b"], 1e-5)
            if store is not None and not track:
                store[f"blocks.{l}.ln1.hook_normalized"] = h
            q, k, v = torch.addmm(p["b_qkv"], h, p["w_qkv"]).split(D, 1)
            q, k, v = (t.reshape(batch, seq, H, dh).transpose(1, 2) for t in (q, k, v))
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(dh) + causal
            pattern = scores.softmax(-1)
            z = (pattern @ v).transpose(1, 2)
            if ablate:
                z[:, :, 0] = 0
            z = z.reshape(N, D)
            if store is not None:
                store[f"blocks.{l}.attn.hook_z"] = z
                if not track:
                    store.update({f"blocks.{l}.attn.hook_q": q, f"blocks.{l}.attn.hook_k": k, f"blocks.{l}.attn.hook_v": v,
                                  f"blocks.{l}.attn.hook_attn_scores": scores, f"blocks.{l}.attn.hook_pattern": pattern})
            attn_out = torch.addmm(p["b_o"], z, p["w_o"])
            x = x + attn_out
            h = F.layer_norm(x, (D,), p["ln2_w"], p["ln2_b"], 1e-5)
            pre = torch.addmm(p["b_in"], h, p["w_in"])
            post = F.gelu(pre, approximate="tanh")
            if store is not None:
                store[f"blocks.{l}.mlp.hook_post"] = post
                if not track:
                    store.update({f"blocks.{l}.hook_attn_out": attn_out, f"blocks.{l}.hook_resid_mid": x,
                                  f"blocks.{l}.ln2.hook_normalized": h, f"blocks.{l}.mlp.hook_pre": pre})
            mlp_out = torch.addmm(p["b_out"], post, p["w_out"])
            x = x + mlp_out
            if store is not None and not track:
                store[f"blocks.{l}.hook_mlp_out"] = mlp_out
                store[f"blocks.{l}.hook_resid_post"] = x
        if last_only:
            x = x.reshape(batch, seq, D)[:, -1]
        logits = torch.addmm(W["b_u"], F.layer_norm(x, (D,), W["lnf_w"], W["lnf_b"], 1e-5), W["w_u"])
        return logits if last_only else logits.reshape(batch, seq, V)

    def forward():
        with torch.no_grad():
            return run(clean).shape[-1]

    def cache():
        with torch.no_grad():
            c = {}
            run(clean, store=c)
            return len(c)

    def ablation():
        with torch.no_grad():
            return run(clean, ablate=True).shape[-1]

    def attribution():
        with torch.no_grad():
            corrupt_acts = {}
            run(corrupt, store=corrupt_acts, track=True)
        acts = {}
        logits = run(clean, store=acts, track=True, last_only=True)
        for t in acts.values():
            if not t.is_leaf:
                t.retain_grad()
        logit_diff(logits, answers, wrongs).backward()
        with torch.no_grad():
            scores = [reduce_scores(((corrupt_acts[n] - a) * a.grad).reshape(batch, seq, *([H, dh] if n.endswith("hook_z") else [-1])), n)
                      for n, a in acts.items()]
        return float(scores[0][0])

    return dict(forward=forward, cache=cache, attribution=attribution, ablation=ablation), f"torch {torch.__version__}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--impl", choices=("tl", "torch"), required=True)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="gpt2-small")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    a = ap.parse_args()
    names = a.workloads.split(",")
    for n in names:
        if n not in WORKLOADS:
            die(f"bench_py.py: unknown workload '{n}' (known: {', '.join(WORKLOADS)})")
    try:
        import torch
    except ImportError as e:
        die(f"bench_py.py: PyTorch is not installed ({e})")
    torch.set_num_threads(a.threads)
    make = tl_workloads if a.impl == "tl" else torch_workloads
    work, version = make(torch, a.shape, a.batch, a.seq)
    ms = {}
    for n in names:
        work[n]()  # warm-up
        times = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            work[n]()
            times.append(round((time.perf_counter() - t0) * 1000, 1))
        ms[n] = times
    print(json.dumps({"impl": a.impl, "version": version, "threads": torch.get_num_threads(), "ms": ms}))


if __name__ == "__main__":
    main()
