#!/usr/bin/env python3
"""Benchmarks of issue 13 item 6, lens4j's kernels side by side with PyTorch eager in the same process: forward,
forward with the full cache (scores and pattern written), attribution patching over all MLP neurons (two forwards
and a backward), the all-neuron max-activation scan (l4jc_scan_update over every layer's MLP activations) and
seed 000's neuron scoring. Reports tokens/s and the fraction of the device's ceilings, measured in the same run:
a large bf16 and fp32 (TF32 off) torch matmul and a large device-to-device copy.

  bench.py --lib build/liblens4j_cuda.so --kind cuda --json bench.json       (H200: GPT-2-small shape, 8 x 128)
  bench.py --lib build/liblens4j_cuda_emu.so --kind emu --json bench.json    (emulation: toy shape; the harness
                                                                              only, its times mean nothing)"""
import sys

import torch

import gpt2
import harness
from torch_compare import scan_state

SCAN_K = 20  # top-k per neuron, the CLI's default


def ceilings(k, reps):
    """Measured peaks: bf16 and fp32 matmul FLOP/s, copy bandwidth (bytes read + written per second)."""
    dev, big = k.device, k.kind == 'cuda'
    n = 8192 if big else 256
    out = {}
    for name, dtype in (('bf16_matmul_flops', torch.bfloat16), ('fp32_matmul_flops', torch.float32)):
        a, b = torch.randn(n, n, device=dev).to(dtype), torch.randn(n, n, device=dev).to(dtype)
        ms = harness.time_ms(k, lambda: a @ b, reps)
        out[name] = 2 * n ** 3 / (ms * 1e-3)
    elems = (1 << 29) if big else (1 << 20)  # 2 GiB of fp32 on the GPU
    src, dst = torch.empty(elems, device=dev), torch.empty(elems, device=dev)
    ms = harness.time_ms(k, lambda: dst.copy_(src), reps)
    out['copy_bytes_per_s'] = 2 * 4 * elems / (ms * 1e-3)
    out['sizes'] = {'matmul_n': n, 'copy_bytes': 4 * elems}
    return out


def forward_flops(cfg, B, S):
    D, F, V, L = cfg['d_model'], cfg['d_mlp'], cfg['d_vocab'], cfg['n_layers']
    rows = B * S
    return 2 * rows * (L * (4 * D * D + 2 * D * F) + D * V) + L * 4 * B * S * S * D


def run(args, k, cfg, batch, seq, reps):
    dev = k.device
    print(f'bench: lens4j ({k.kind}: {k.device_name()}) vs torch {torch.__version__} eager; {cfg["name"]} batch {batch} x {seq}'
          + ('' if k.kind == 'cuda' else '\n  NOTE: not a GPU; these times mean nothing about lens4j on a GPU (harness check only)'))
    peak = ceilings(k, reps)
    print(f'ceilings: bf16 {peak["bf16_matmul_flops"] / 1e12:.1f} TFLOP/s, fp32 {peak["fp32_matmul_flops"] / 1e12:.1f} TFLOP/s, '
          f'copy {peak["copy_bytes_per_s"] / 1e12:.2f} TB/s')
    w = gpt2.random_weights(cfg, dev, args.seed)
    wg = gpt2.with_grad_inputs(w)
    clean, corrupt = gpt2.random_tokens(cfg, batch, seq, dev, args.seed + 1), gpt2.random_tokens(cfg, batch, seq, dev, args.seed + 2)
    ans = torch.randint(0, cfg['d_vocab'], (batch,), dtype=torch.int32, generator=torch.Generator().manual_seed(args.seed + 3)).to(dev)
    wrong = (ans + 1) % cfg['d_vocab']
    m = gpt2.Lens4jGPT2(k, cfg, w)
    tokens = batch * seq
    fwd = forward_flops(cfg, batch, seq)
    L, Fm = cfg['n_layers'], cfg['d_mlp']
    results = []

    def bench(name, needs, l4j_fn, torch_fn, flops=None, bytes_moved=None, tokens_per_call=tokens):
        lacking = k.lacking(*needs)
        if lacking:
            results.append({'name': name, 'status': 'missing', 'missing': lacking})
            print(f'{name:<28} missing: {" ".join(lacking)}')
            return
        try:
            lm = harness.time_ms(k, l4j_fn, reps)
        except Exception as e:
            results.append({'name': name, 'status': 'FAIL', 'error': str(e)})
            print(f'{name:<28} FAIL {e}')
            return
        tm = harness.time_ms(k, torch_fn, reps)
        r = {'name': name, 'status': 'ran', 'lens4j_ms': lm, 'torch_ms': tm,
             'lens4j_tokens_per_s': tokens_per_call / (lm * 1e-3), 'torch_tokens_per_s': tokens_per_call / (tm * 1e-3),
             'speedup_vs_torch': tm / lm}
        if flops:
            r['flops'] = flops
            r['lens4j_fraction_fp32_peak'] = flops / (lm * 1e-3) / peak['fp32_matmul_flops']
            r['lens4j_fraction_bf16_peak'] = flops / (lm * 1e-3) / peak['bf16_matmul_flops']
        if bytes_moved:
            r['bytes'] = bytes_moved
            r['lens4j_fraction_copy_bandwidth'] = bytes_moved / (lm * 1e-3) / peak['copy_bytes_per_s']
        results.append(r)
        print(f'{name:<28} lens4j {lm:9.3f} ms {r["lens4j_tokens_per_s"]:12.0f} tok/s | torch {tm:9.3f} ms '
              f'{r["torch_tokens_per_s"]:12.0f} tok/s | x{r["speedup_vs_torch"]:.2f}'
              + (f' | {100 * r["lens4j_fraction_fp32_peak"]:.1f}% fp32 peak' if flops else '')
              + (f' | {100 * r["lens4j_fraction_copy_bandwidth"]:.1f}% copy bw' if bytes_moved else ''))

    with torch.no_grad():
        bench('forward', gpt2.FORWARD_KERNELS, lambda: m.forward(clean), lambda: gpt2.torch_forward(cfg, w, clean), fwd)
        bench('forward_full_cache', gpt2.FORWARD_KERNELS, lambda: m.forward(clean, cache={}),
              lambda: gpt2.torch_forward(cfg, w, clean, {}), fwd)
    bench('attribution_patching', gpt2.ATTRIBUTION_KERNELS, lambda: m.attribution(clean, corrupt, ans, wrong),
          lambda: gpt2.torch_attribution(cfg, wg, clean, corrupt, ans, wrong), 3 * fwd)
    bench('neuron_scoring', gpt2.SCORING_KERNELS, lambda: m.scores(clean, ans, wrong),
          lambda: gpt2.torch_scores(cfg, wg, clean, ans, wrong), 2 * fwd)

    # the all-neuron scan: every layer's mlp.hook_post of one batch folded into running moments and top-k
    if k.has(*gpt2.FORWARD_KERNELS):
        posts = []
        m.forward(clean, posts=posts)
    else:
        posts = [torch.randn(tokens, Fm, device=dev) for _ in range(L)]  # scan_update alone needs no forward
    doc = torch.arange(tokens, dtype=torch.int64, device=dev) // seq
    pos = (torch.arange(tokens, dtype=torch.int32, device=dev) % seq)
    states = [scan_state(Fm, SCAN_K, dev) for _ in range(L)]
    torch_states = [(torch.full((Fm, SCAN_K), float('-inf'), device=dev), torch.zeros(Fm, dtype=torch.float64, device=dev),
                     torch.zeros(Fm, dtype=torch.float64, device=dev)) for _ in range(L)]

    def l4j_scan():
        for x, st in zip(posts, states):
            k.scan_update(tokens, Fm, x, Fm, doc, pos, SCAN_K, *st)

    def fold_torch(layer_posts):  # the eager way: top-k of (kept top-k, new batch) per neuron, moments by reductions
        for x, (top, s1, s2) in zip(layer_posts, torch_states):
            top.copy_(torch.cat([top, x.T], 1).topk(SCAN_K, 1).values)
            xd = x.double()
            s1 += xd.sum(0)
            s2 += (xd * xd).sum(0)
    bench('scan_all_neurons', ['scan_update'], l4j_scan, lambda: fold_torch(posts), bytes_moved=4 * tokens * L * Fm)

    def l4j_forward_scan():
        layer_posts = []
        m.forward(clean, posts=layer_posts)
        for x, st in zip(layer_posts, states):
            k.scan_update(tokens, Fm, x, Fm, doc, pos, SCAN_K, *st)

    def torch_forward_scan():
        c = {}
        with torch.no_grad():
            gpt2.torch_forward(cfg, w, clean, c)
        fold_torch([c[f'blocks.{l}.mlp.hook_post'].reshape(tokens, Fm) for l in range(L)])
    bench('forward_plus_scan', gpt2.FORWARD_KERNELS + ['scan_update'], l4j_forward_scan, torch_forward_scan, fwd)

    missing = sorted({n for r in results for n in r.get('missing', [])})
    if missing:
        print('missing: ' + ' '.join(missing))
    failed = any(r['status'] == 'FAIL' for r in results)
    status = 'FAIL' if failed else ('incomplete' if missing else 'ran')
    scan = next((r for r in results if r['name'] == 'scan_all_neurons' and r['status'] == 'ran'), None)
    goal = None if scan is None or k.kind != 'cuda' else scan['lens4j_tokens_per_s'] > 1e6
    print(f'bench: {status}' + ('' if goal is None else f'; all-neuron scan above 1M tokens/s: {goal}'))
    return {'status': status, 'missing': missing, 'ceilings': peak, 'forward_flops_per_batch': fwd,
            'scan_k': SCAN_K, 'scan_goal_1M_tokens_per_s_met': goal, 'benchmarks': results}, failed


if __name__ == '__main__':
    sys.exit(harness.main(run, __doc__.splitlines()[0]))
