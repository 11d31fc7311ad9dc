#!/usr/bin/env python3
"""lens4j's kernels against PyTorch on the same device, through ctypes over the C ABI: each kernel on random inputs
(ragged sizes on the toy shape, GPT-2-small sizes on the GPU), then a whole GPT-2 forward, its full cache, the
gradients at every MLP neuron, attribution patching and neuron scores, all built from lens4j's kernels, against
the same model written in plain PyTorch from the equations (scripts/gpu/gpt2.py). Reports max error (relative to
max|reference|) and the time of both sides. Kernels the library lacks are reported as "missing: <names>".

  torch_compare.py --lib build/liblens4j_cuda.so --kind cuda --json out.json     (GPU, GPT-2-small shape)
  torch_compare.py --lib build/liblens4j_cuda_emu.so --kind emu --json out.json  (emulation, toy shape)"""
import math
import sys

import torch
import torch.nn.functional as F

import gpt2
import harness

KERNEL_TOL = 1e-5  # CUDA's expf / erff / tanhf vs torch's
MODEL_TOL = 1e-4   # issue 13: the whole model within 1e-4 x max|ref| in float32 without TF32


class Case:
    """One comparison: needs (kernel names), then run(k, dev, big) -> [(label, got, want, tol, l4j_fn, torch_fn)]."""
    registry = []

    def __init__(self, needs):
        self.needs = needs

    def __call__(self, fn):
        self.fn = fn
        self.name = fn.__name__
        Case.registry.append(self)
        return fn


def rn(*shape, dev, scale=1.0):
    return torch.randn(*shape, device=dev) * scale


@Case(['embed', 'pos_embed'])
def embed(k, dev, big):
    V, D, n_ctx = (50257, 768, 1024) if big else (101, 67, 40)
    B, S = (8, 128) if big else (3, 13)
    W_E, W_pos = rn(V, D, dev=dev), rn(n_ctx, D, dev=dev)
    tok = torch.randint(0, V, (B * S,), dtype=torch.int32, device=dev)
    out, pos = torch.empty(B * S, D, device=dev), torch.empty(B, S, D, device=dev)
    f1 = lambda: k.embed(B * S, tok, W_E, V, D, out)
    f2 = lambda: k.pos_embed(B, S, 5, W_pos, n_ctx, D, pos)
    f1(), f2()
    return [('embed', out, W_E[tok.long()], 0.0, f1, lambda: W_E[tok.long()]),
            ('pos_embed offset 5', pos, W_pos[5:5 + S].expand(B, S, D), 0.0, f2, lambda: W_pos[5:5 + S].expand(B, S, D).contiguous())]


@Case(['add', 'add_bias'])
def add(k, dev, big):
    rows, d = (1024, 768) if big else (37, 83)
    a, b, bias = rn(rows, d, dev=dev), rn(rows, d, dev=dev), rn(d, dev=dev)
    out, out2 = torch.empty_like(a), torch.empty_like(a)
    f1 = lambda: k.add(rows * d, a, b, out)
    f2 = lambda: k.add_bias(rows, d, a, bias, out2)
    f1(), f2()
    return [('add', out, a + b, 0.0, f1, lambda: a + b), ('add_bias', out2, a + bias, 0.0, f2, lambda: a + bias)]


@Case(['layernorm', 'rmsnorm'])
def norms(k, dev, big):
    rows, d = (1024, 768) if big else (37, 83)
    x, w, b = rn(rows, d, dev=dev, scale=3) + 1, rn(d, dev=dev), rn(d, dev=dev)
    out, scale = torch.empty_like(x), torch.empty(rows, device=dev)
    f1 = lambda: k.layernorm(rows, d, x, w, b, 1e-5, out, scale)
    ro, rs, rnrm = torch.empty_like(x), torch.empty(rows, device=dev), torch.empty_like(x)
    f2 = lambda: k.rmsnorm(rows, d, x, w, 1e-6, ro, rs, rnrm)
    f1(), f2()
    want_scale = (x.var(-1, unbiased=False) + 1e-5).sqrt()
    want_rs = (x.pow(2).mean(-1) + 1e-6).sqrt()
    return [('layernorm out', out, F.layer_norm(x, (d,), w, b, 1e-5), KERNEL_TOL, f1, lambda: F.layer_norm(x, (d,), w, b, 1e-5)),
            ('layernorm scale', scale, want_scale, KERNEL_TOL, None, None),
            ('rmsnorm out', ro, x / want_rs[:, None] * w, KERNEL_TOL, f2, lambda: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w),
            ('rmsnorm normalized', rnrm, x / want_rs[:, None], KERNEL_TOL, None, None)]


@Case(['gemm'])
def gemm(k, dev, big):
    M, N, K = (1024, 3072, 768) if big else (37, 29, 83)
    res = []
    for ta in (0, 1):
        for tb in (0, 1):
            A = rn(K, M, dev=dev) if ta else rn(M, K, dev=dev)
            B = rn(N, K, dev=dev) if tb else rn(K, N, dev=dev)
            bias, C0 = rn(N, dev=dev), rn(M, N, dev=dev)
            C = C0.clone()
            lda, ldb = (M if ta else K), (K if tb else N)
            opA, opB = (A.T if ta else A), (B.T if tb else B)
            want = 0.5 * opA @ opB + 0.25 * C0 + bias
            k.gemm(ta, tb, M, N, K, 0.5, A, lda, B, ldb, 0.25, C, N, bias)
            Ct = torch.empty(M, N, device=dev)
            f = lambda ta=ta, tb=tb, A=A, B=B, lda=lda, ldb=ldb: k.gemm(ta, tb, M, N, K, 1.0, A, lda, B, ldb, 0.0, Ct, N, None)
            g = lambda opA=opA, opB=opB: torch.mm(opA, opB, out=Ct)
            res.append((f'gemm transA={ta} transB={tb} {M}x{N}x{K} alpha beta bias', C, want, KERNEL_TOL, f, g))
    return res


@Case(['activation', 'gated_activation'])
def activations(k, dev, big):
    n = 1024 * 3072 if big else 1001
    x, lin = rn(n, dev=dev, scale=3), rn(n, dev=dev)
    refs = {0: torch.relu, 1: lambda t: F.gelu(t), 2: gpt2.gelu_new, 4: F.silu}
    names = {0: 'relu', 1: 'gelu', 2: 'gelu_new', 4: 'silu'}
    res = []
    for kind, ref in refs.items():
        out = torch.empty_like(x)
        f = lambda kind=kind, out=out: k.activation(kind, n, x, out)
        f()
        res.append((f'activation {names[kind]}', out, ref(x), KERNEL_TOL, f, lambda ref=ref: ref(x)))
    out = torch.empty_like(x)
    f = lambda: k.gated_activation(4, n, x, lin, out)
    f()
    res.append(('gated_activation silu', out, F.silu(x) * lin, KERNEL_TOL, f, lambda: F.silu(x) * lin))
    return res


@Case(['softmax', 'log_softmax', 'cross_entropy'])
def softmaxes(k, dev, big):
    rows, n = (1024, 50257) if big else (9, 1001)
    x = rn(rows, n, dev=dev, scale=4)
    x[1] = float('-inf')  # a query that sees no key: all zeros, as TL
    x[2, ::3] = float('-inf')
    tgt = torch.randint(0, n, (rows,), dtype=torch.int32, device=dev)
    sm, lsm, loss = torch.empty_like(x), torch.empty_like(x), torch.empty(rows, device=dev)
    f1 = lambda: k.softmax(rows, n, x, sm)
    f2 = lambda: k.log_softmax(rows, n, x, lsm)
    finite = torch.cat([torch.arange(0, 1), torch.arange(3, rows)]).to(dev)
    xf = x[finite].contiguous()
    f3 = lambda: k.cross_entropy(len(finite), n, xf, tgt[finite].contiguous(), loss)
    f1(), f2(), f3()
    want_lsm = torch.log_softmax(x, -1)
    return [('softmax (an all -inf row gives 0)', sm, torch.softmax(x, -1).nan_to_num(0.0), KERNEL_TOL, f1, lambda: torch.softmax(x, -1)),
            ('log_softmax', lsm[finite], want_lsm[finite], KERNEL_TOL, f2, lambda: torch.log_softmax(x, -1)),
            ('cross_entropy', loss[:len(finite)], F.cross_entropy(xf, tgt[finite].long(), reduction='none'), KERNEL_TOL, f3,
             lambda: F.cross_entropy(xf, tgt[finite].long(), reduction='none'))]


def torch_attention(q, kk, v, scale, window, softcap, n_heads):
    B, S, Hkv, dh = kk.shape
    rep = n_heads // Hkv
    kk, v = kk.repeat_interleave(rep, 2), v.repeat_interleave(rep, 2)
    s = torch.einsum('bqhd,bkhd->bhqk', q, kk) * scale
    if softcap > 0:
        s = softcap * torch.tanh(s / softcap)
    i = torch.arange(S, device=q.device)
    mask = (i[None, :] <= i[:, None]) & ((window <= 0) | (i[None, :] > i[:, None] - window))
    s = s.masked_fill(~mask, float('-inf'))
    p = torch.softmax(s, -1)
    return torch.einsum('bhqk,bkhd->bqhd', p, v), s, p


@Case(['attention'])
def attention(k, dev, big):
    res = []
    variants = [(8, 128, 12, 12, 64, 0, 0.0)] if big else \
        [(2, 13, 4, 4, 16, 0, 0.0), (2, 13, 4, 2, 16, 0, 0.0), (1, 17, 4, 1, 8, 5, 0.0), (2, 9, 2, 2, 80, 0, 30.0)]
    for B, S, H, Hkv, dh, window, softcap in variants:
        q, kk, v = rn(B, S, H, dh, dev=dev), rn(B, S, Hkv, dh, dev=dev), rn(B, S, Hkv, dh, dev=dev)
        scale = 1 / math.sqrt(dh)
        z, s, p = torch.empty_like(q), torch.empty(B, H, S, S, device=dev), torch.empty(B, H, S, S, device=dev)
        zf = torch.empty_like(q)
        k.attention(B, S, H, Hkv, dh, q, kk, v, scale, window, softcap, z, s, p)
        k.attention(B, S, H, Hkv, dh, q, kk, v, scale, window, softcap, zf, None, None)
        wz, ws, wp = torch_attention(q, kk, v, scale, window, softcap, H)
        tag = f'B{B} S{S} H{H}/{Hkv} dh{dh} window{window} softcap{softcap}'
        f_full = lambda a=(B, S, H, Hkv, dh, q, kk, v, scale, window, softcap, z, s, p): k.attention(*a)
        f_flash = lambda a=(B, S, H, Hkv, dh, q, kk, v, scale, window, softcap, zf, None, None): k.attention(*a)
        g = lambda a=(q, kk, v, scale, window, softcap, H): torch_attention(*a)
        res += [(f'attention z with scores+pattern {tag}', z, wz, KERNEL_TOL, f_full, g),
                (f'attention scores {tag}', s, ws, KERNEL_TOL, None, None),
                (f'attention pattern {tag}', p, wp, KERNEL_TOL, None, None),
                (f'attention z without (flash path) {tag}', zf, wz, KERNEL_TOL, f_flash,
                 lambda a=(q, kk, v, window, scale): F.scaled_dot_product_attention(
                     a[0].transpose(1, 2), a[1].transpose(1, 2), a[2].transpose(1, 2), is_causal=True)
                 if hasattr(F, 'scaled_dot_product_attention') else None)]
    return res


@Case(['attn_apply_backward', 'softmax_backward', 'attn_scores_backward'])
def attention_backward(k, dev, big):
    B, S, H, dh = (8, 128, 12, 64) if big else (2, 11, 3, 16)
    q, kk, v = (rn(B, S, H, dh, dev=dev).requires_grad_() for _ in range(3))
    dz = rn(B, S, H, dh, dev=dev)
    scale = 1 / math.sqrt(dh)
    with torch.enable_grad():
        z, _, p = torch_attention(q, kk, v, scale, 0, 0.0, H)
        gq, gk, gv = torch.autograd.grad(z, (q, kk, v), dz)
    pattern = p.detach()
    dpat, dv, dq, dk = (torch.empty(B, H, S, S, device=dev), torch.empty(B, S, H, dh, device=dev),
                        torch.empty(B, S, H, dh, device=dev), torch.empty(B, S, H, dh, device=dev))
    qd, kd, vd = q.detach(), kk.detach(), v.detach()

    def lens4j():
        k.attn_apply_backward(B, S, H, H, dh, pattern, vd, dz, dpat, dv)
        k.softmax_backward(B * H * S, S, pattern, dpat, dpat)
        k.attn_scores_backward(B, S, H, H, dh, qd, kd, dpat, scale, 0, dq, dk)

    def torch_side():
        with torch.enable_grad():
            z2, _, _ = torch_attention(q, kk, v, scale, 0, 0.0, H)
            return torch.autograd.grad(z2, (q, kk, v), dz)
    lens4j()
    return [('attention backward dq (apply, softmax, scores backward)', dq, gq, KERNEL_TOL, lens4j, torch_side),
            ('attention backward dk', dk, gk, KERNEL_TOL, None, None),
            ('attention backward dv', dv, gv, KERNEL_TOL, None, None)]


@Case(['layernorm_backward', 'activation_backward'])
def norm_act_backward(k, dev, big):
    rows, d = (1024, 768) if big else (37, 83)
    x, w, b = rn(rows, d, dev=dev, scale=2).requires_grad_(), rn(d, dev=dev).requires_grad_(), rn(d, dev=dev).requires_grad_()
    dout = rn(rows, d, dev=dev)
    with torch.enable_grad():
        gx, gw, gb = torch.autograd.grad(F.layer_norm(x, (d,), w, b, 1e-5), (x, w, b), dout)
    xd, wd = x.detach(), w.detach()
    scale = (xd.var(-1, unbiased=False) + 1e-5).sqrt()
    dx, dw, db = torch.empty_like(xd), torch.ones(d, device=dev), torch.ones(d, device=dev)  # dw, db accumulate
    k.layernorm_backward(rows, d, xd, wd, scale, dout, dx, dw, db, None)
    f = lambda: k.layernorm_backward(rows, d, xd, wd, scale, dout, dx, None, None, None)

    def g():
        with torch.enable_grad():
            return torch.autograd.grad(F.layer_norm(x, (d,), w, b, 1e-5), x, dout)
    n = rows * 4
    xa = rn(n, d, dev=dev, scale=3).requires_grad_()
    da = rn(n, d, dev=dev)
    with torch.enable_grad():
        ga, = torch.autograd.grad(gpt2.gelu_new(xa), xa, da)
    dxa = torch.empty_like(da)
    fa = lambda: k.activation_backward(2, n * d, xa.detach(), da, dxa)
    fa()

    def ga_fn():
        with torch.enable_grad():
            return torch.autograd.grad(gpt2.gelu_new(xa), xa, da)
    return [('layernorm_backward dx', dx, gx, KERNEL_TOL, f, g),
            ('layernorm_backward dw (accumulates)', dw, gw + 1, KERNEL_TOL, None, None),
            ('layernorm_backward db (accumulates)', db, gb + 1, KERNEL_TOL, None, None),
            ('activation_backward gelu_new', dxa, ga, KERNEL_TOL, fa, ga_fn)]


@Case(['neuron_scores', 'attribution_reduce'])
def analysis(k, dev, big):
    B, S, F, D = (16, 128, 3072, 768) if big else (3, 5, 37, 19)
    post, g, W_out = rn(B, S, F, dev=dev), rn(B, S, D, dev=dev), rn(F, D, dev=dev)
    h_last, g_last = post[:, -1], g[:, -1]  # strided rows, read in place
    c = torch.empty(B, F, device=dev)
    f1 = lambda: k.neuron_scores(B, F, D, h_last, S * F, W_out, g_last, S * D, c)
    clean, corrupt, grad = rn(B * S, F, dev=dev), rn(B * S, F, dev=dev), rn(B * S, F, dev=dev)
    attr = torch.empty(F, device=dev)
    f2 = lambda: k.attribution_reduce(B * S, F, 1, clean, corrupt, grad, attr)
    heads = torch.empty(12 if big else 3, device=dev)
    H = heads.numel()
    diff, grad_h = corrupt[:, :H * (F // H)].contiguous(), grad[:, :H * (F // H)].contiguous()
    f3 = lambda: k.attribution_reduce(B * S, H, F // H, None, diff, grad_h, heads)
    f1(), f2(), f3()
    want_heads = (corrupt[:, :H * (F // H)] * grad[:, :H * (F // H)]).view(B * S, H, -1).sum((0, 2))
    return [('neuron_scores c = h * (W_out . g), strided rows', c, h_last * (g_last @ W_out.T), KERNEL_TOL, f1,
             lambda: h_last * (g_last @ W_out.T)),
            ('attribution_reduce neurons (corrupt - clean) * grad', attr, ((corrupt - clean) * grad).sum(0), KERNEL_TOL, f2,
             lambda: ((corrupt - clean) * grad).sum(0)),
            ('attribution_reduce heads, clean NULL', heads, want_heads, KERNEL_TOL, f3, None)]


def scan_state(n, kk, dev):
    return [torch.zeros(n, dtype=torch.float64, device=dev), torch.zeros(n, dtype=torch.float64, device=dev),
            torch.zeros(n, dtype=torch.float64, device=dev), torch.zeros(n, device=dev),
            torch.zeros(n, dtype=torch.float64, device=dev), torch.zeros(n, kk, device=dev),
            torch.zeros(n, kk, dtype=torch.int64, device=dev), torch.zeros(n, kk, dtype=torch.int32, device=dev),
            torch.zeros(n, dtype=torch.int32, device=dev)]


@Case(['scan_update'])
def scan(k, dev, big):
    rows, n, kk = (1024, 3072, 20) if big else (37, 83, 5)
    x = rn(rows, n, dev=dev)
    doc = torch.arange(rows, dtype=torch.int64, device=dev) // 7
    pos = (torch.arange(rows, dtype=torch.int32, device=dev) % 7) - 1  # pos -1: skipped (BOS)
    st = scan_state(n, kk, dev)
    k.scan_update(rows, n, x, n, doc, pos, kk, *st)
    keep = pos >= 0
    xs = x[keep]
    vals, idx = xs.topk(kk, dim=0)
    rows_kept = torch.nonzero(keep).flatten()
    mean = xs.double().mean(0)
    st2 = scan_state(n, kk, dev)
    f = lambda: k.scan_update(rows, n, x, n, doc, pos, kk, *st2)

    def torch_scan():  # the eager way: moments by reductions, top-k of the batch per neuron
        v, i = x[keep].topk(kk, dim=0)
        return v, x[keep].double().mean(0), x[keep].double().var(0), x[keep].amax(0), (x[keep] > 0).sum(0)
    return [('scan_update top_val (top-k per neuron)', st[5], vals.T, 0.0, f, torch_scan),
            ('scan_update top_doc', st[6].float(), doc[rows_kept[idx.T]].float(), 0.0, None, None),
            ('scan_update top_pos', st[7].float(), pos[rows_kept[idx.T]].float(), 0.0, None, None),
            ('scan_update count', st[0].float(), torch.full((n,), float(len(xs)), device=dev), 0.0, None, None),
            ('scan_update mean', st[1].float(), mean.float(), KERNEL_TOL, None, None),
            ('scan_update m2', st[2].float(), ((xs.double() - mean) ** 2).sum(0).float(), KERNEL_TOL, None, None),
            ('scan_update max', st[3], xs.amax(0), 0.0, None, None),
            ('scan_update npos', st[4].float(), (xs > 0).sum(0).float(), 0.0, None, None)]


def run_kernel_cases(k, big, reps):
    out, failed = [], False
    for case in Case.registry:
        lacking = k.lacking(*case.needs)
        if lacking:
            out.append({'case': case.name, 'status': 'missing', 'missing': lacking})
            print(f'{case.name:<60} missing: {" ".join(lacking)}')
            continue
        try:
            results = case.fn(k, k.device, big)
        except Exception as e:  # a kernel error: report and go on
            out.append({'case': case.name, 'status': 'FAIL', 'error': str(e)})
            print(f'{case.name:<60} FAIL {e}')
            failed = True
            continue
        for label, got, want, tol, f_l4j, f_torch in results:
            k.synchronize()
            err = harness.rel_err(got, want)
            ok = err <= tol
            failed |= not ok
            row = {'case': case.name, 'check': label, 'status': 'pass' if ok else 'FAIL', 'max_rel_err': err, 'tol': tol}
            if f_l4j is not None and reps > 0:  # reps 0 (the emulation): correctness only
                row['lens4j_ms'] = harness.time_ms(k, f_l4j, reps)
                row['torch_ms'] = harness.time_ms(k, f_torch, reps) if f_torch else None
            out.append(row)
            times = f"  lens4j {row['lens4j_ms']:.4f} ms  torch {row['torch_ms'] or float('nan'):.4f} ms" if 'lens4j_ms' in row else ''
            print(f'{label:<60} {row["status"]:<4} err {err:.2e} (tol {tol:.0e}){times}')
    return out, failed


def run_model(k, cfg, batch, seq, reps, seed):
    """The whole GPT-2 from lens4j's kernels vs the PyTorch equations: forward, full cache, gradients, attribution,
    scores. Returns (dict, failed)."""
    dev = k.device
    w = gpt2.random_weights(cfg, dev, seed)
    clean, corrupt = gpt2.random_tokens(cfg, batch, seq, dev, seed + 1), gpt2.random_tokens(cfg, batch, seq, dev, seed + 2)
    ans = torch.randint(0, cfg['d_vocab'], (batch,), dtype=torch.int32, generator=torch.Generator().manual_seed(seed + 3)).to(dev)
    wrong = (ans + 1) % cfg['d_vocab']
    m = gpt2.Lens4jGPT2(k, cfg, w)
    res, failed = {}, False

    def record(name, needs, fn):
        nonlocal failed
        lacking = k.lacking(*needs)
        if lacking:
            res[name] = {'status': 'missing', 'missing': lacking}
            print(f'model {name:<24} missing: {" ".join(lacking)}')
            return
        try:
            r = fn()
        except Exception as e:
            res[name], failed = {'status': 'FAIL', 'error': str(e)}, True
            print(f'model {name:<24} FAIL {e}')
            return
        r['status'] = 'pass' if r['max_rel_err'] <= MODEL_TOL else 'FAIL'
        failed |= r['status'] == 'FAIL'
        res[name] = r
        print(f'model {name:<24} {r["status"]} err {r["max_rel_err"]:.2e} (tol {MODEL_TOL:.0e})'
              + (f'  lens4j {r["lens4j_ms"]:.3f} ms  torch {r["torch_ms"]:.3f} ms' if 'lens4j_ms' in r else ''))

    def times(f_l4j, f_torch):  # none under the emulation (reps 0): correctness only
        return {} if reps == 0 else {'lens4j_ms': harness.time_ms(k, f_l4j, reps), 'torch_ms': harness.time_ms(k, f_torch, reps)}

    def forward():
        with torch.no_grad():
            want = gpt2.torch_forward(cfg, w, clean)
        got = m.forward(clean).view_as(want)
        return {'max_rel_err': harness.rel_err(got, want),
                **times(lambda: m.forward(clean),
                        lambda: gpt2.torch_forward(cfg, w, clean))}

    def cache():
        got, want = {}, {}
        m.forward(clean, cache=got)
        with torch.no_grad():
            gpt2.torch_forward(cfg, w, clean, want)
        errs = {n: harness.rel_err(got[n], want[n]) for n in want}
        worst = max(errs, key=errs.get)
        return {'max_rel_err': errs[worst], 'worst_hook': worst, 'hooks': len(errs),
                **times(lambda: m.forward(clean, cache={}),
                        lambda: gpt2.torch_forward(cfg, w, clean, {}))}

    wg = gpt2.with_grad_inputs(w)

    def grads():
        _, want = gpt2.torch_post_grads(cfg, wg, corrupt, ans, wrong)
        m.forward(corrupt, keep=True)
        got = m.backward(ans, wrong)
        errs = [harness.rel_err(g.view_as(t), t) for g, t in zip(got, want)]
        return {'max_rel_err': max(errs), 'per_layer': errs}

    def attribution():
        want = gpt2.torch_attribution(cfg, wg, clean, corrupt, ans, wrong)
        got = m.attribution(clean, corrupt, ans, wrong)
        return {'max_rel_err': harness.rel_err(got, want),
                **times(lambda: m.attribution(clean, corrupt, ans, wrong),
                        lambda: gpt2.torch_attribution(cfg, wg, clean, corrupt, ans, wrong))}

    def scores():
        want = gpt2.torch_scores(cfg, wg, clean, ans, wrong)
        got = m.scores(clean, ans, wrong)
        return {'max_rel_err': harness.rel_err(got, want),
                **times(lambda: m.scores(clean, ans, wrong),
                        lambda: gpt2.torch_scores(cfg, wg, clean, ans, wrong))}

    record('forward', gpt2.FORWARD_KERNELS, forward)
    record('forward_full_cache', gpt2.FORWARD_KERNELS, cache)
    record('mlp_post_gradients', gpt2.BACKWARD_KERNELS, grads)
    record('attribution_patching', gpt2.ATTRIBUTION_KERNELS, attribution)
    record('neuron_scores', gpt2.SCORING_KERNELS, scores)
    return res, failed


def run(args, k, cfg, batch, seq, reps):
    print(f'lens4j kernels ({k.kind}: {k.device_name()}) vs torch {torch.__version__} on {k.device}; '
          f'{cfg["name"]} batch {batch} x {seq}' + ('' if k.kind == 'cuda' else '  [times are not GPU times]'))
    kernels, f1 = run_kernel_cases(k, cfg['name'] == 'gpt2-small', reps)
    model, f2 = run_model(k, cfg, batch, seq, reps, args.seed)
    missing = sorted({n for r in kernels + list(model.values()) for n in r.get('missing', [])})
    if missing:
        print('missing: ' + ' '.join(missing))
    status = 'FAIL' if f1 or f2 else ('incomplete' if missing else 'pass')
    print(f'torch_compare: {status}')
    return {'status': status, 'missing': missing, 'kernels': kernels, 'model': model,
            'tolerances': {'kernel': KERNEL_TOL, 'model': MODEL_TOL}}, f1 or f2


if __name__ == '__main__':
    sys.exit(harness.main(run, __doc__.splitlines()[0]))
