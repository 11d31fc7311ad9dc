"""A GPT-2 forward and backward built from lens4j's kernels (l4jc.Kernels), and the same model written in plain
PyTorch from the GPT-2 equations (the independent reference). Weights use TransformerLens's names and layouts
(W_Q [d_model, n_heads * d_head] as one GEMM operand); random, from an explicit seed.

What both sides compute:
  forward      logits, optionally every hook point of TL's cache (attention scores and pattern included)
  backward     d metric / d blocks.L.mlp.hook_post for every layer, metric = sum_b logit[b, last, ans_b] -
               logit[b, last, wrong_b] (the logit difference of attribution patching and seed 000's scoring)
  attribution  sum over batch and positions of (clean - corrupt) * grad_corrupt at every MLP neuron [L, d_mlp]
  scoring      c = h * (W_out . g) at the last position for every layer, prompt and neuron [L, B, d_mlp]"""
import math

import torch

GPT2_SMALL = dict(n_layers=12, d_model=768, n_heads=12, d_mlp=3072, d_vocab=50257, n_ctx=1024)
TOY = dict(n_layers=2, d_model=64, n_heads=4, d_mlp=256, d_vocab=101, n_ctx=64)
EPS = 1e-5
GELU_NEW = 2  # L4J_ACT_GELU_NEW

FORWARD_KERNELS = ['embed', 'pos_embed', 'add', 'layernorm', 'gemm', 'attention', 'activation']
BACKWARD_KERNELS = FORWARD_KERNELS + ['layernorm_backward', 'activation_backward', 'attn_apply_backward',
                                      'softmax_backward', 'attn_scores_backward']
ATTRIBUTION_KERNELS = BACKWARD_KERNELS + ['attribution_reduce']  # the design card's fused kernels
SCORING_KERNELS = BACKWARD_KERNELS + ['neuron_scores']


def random_weights(cfg, device, seed):
    """TL-named weights: std 1/sqrt(fan_in) so activations stay O(1) and every nonlinearity is exercised."""
    g = torch.Generator().manual_seed(seed)
    D, H, F, V = cfg['d_model'], cfg['n_heads'], cfg['d_mlp'], cfg['d_vocab']

    def rn(*shape, std=1.0):
        return (torch.randn(*shape, generator=g) * std).to(device)
    w = {'embed.W_E': rn(V, D), 'pos_embed.W_pos': rn(cfg['n_ctx'], D, std=0.5)}
    for l in range(cfg['n_layers']):
        p = f'blocks.{l}.'
        for ln in ('ln1', 'ln2'):
            w[p + ln + '.w'], w[p + ln + '.b'] = 1 + rn(D, std=0.1), rn(D, std=0.1)
        for m in 'QKV':
            w[p + 'attn.W_' + m], w[p + 'attn.b_' + m] = rn(D, D, std=D ** -0.5), rn(D, std=0.1)
        w[p + 'attn.W_O'], w[p + 'attn.b_O'] = rn(D, D, std=D ** -0.5), rn(D, std=0.1)
        w[p + 'mlp.W_in'], w[p + 'mlp.b_in'] = rn(D, F, std=D ** -0.5), rn(F, std=0.1)
        w[p + 'mlp.W_out'], w[p + 'mlp.b_out'] = rn(F, D, std=F ** -0.5), rn(D, std=0.1)
    w['ln_final.w'], w['ln_final.b'] = 1 + rn(D, std=0.1), rn(D, std=0.1)
    w['unembed.W_U'], w['unembed.b_U'] = rn(D, V, std=D ** -0.5), rn(V, std=0.1)
    return w


def random_tokens(cfg, batch, seq, device, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, cfg['d_vocab'], (batch, seq), generator=g, dtype=torch.int32).to(device)


# ---------------------------------------------------------------- PyTorch, from the equations

def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def torch_forward(cfg, w, tokens, cache=None):
    """logits [B, S, V]; cache (a dict) receives TL's hook points."""
    B, S = tokens.shape
    D, H = cfg['d_model'], cfg['n_heads']
    dh = D // H
    ln = torch.nn.functional.layer_norm
    x = w['embed.W_E'][tokens.long()] + w['pos_embed.W_pos'][:S]
    mask = torch.ones(S, S, dtype=torch.bool, device=x.device).tril()
    for l in range(cfg['n_layers']):
        p = f'blocks.{l}.'
        if cache is not None:
            cache[p + 'hook_resid_pre'] = x
        h = ln(x, (D,), w[p + 'ln1.w'], w[p + 'ln1.b'], EPS)
        q, k, v = (torch.addmm(w[p + 'attn.b_' + m], h.view(-1, D), w[p + 'attn.W_' + m]).view(B, S, H, dh) for m in 'QKV')
        scores = torch.einsum('bqhd,bkhd->bhqk', q, k) / math.sqrt(dh)
        scores = scores.masked_fill(~mask, float('-inf'))
        pattern = torch.softmax(scores, dim=-1)
        z = torch.einsum('bhqk,bkhd->bqhd', pattern, v)
        attn_out = torch.addmm(w[p + 'attn.b_O'], z.reshape(-1, D), w[p + 'attn.W_O']).view(B, S, D)
        mid = x + attn_out
        h2 = ln(mid, (D,), w[p + 'ln2.w'], w[p + 'ln2.b'], EPS)
        pre = torch.addmm(w[p + 'mlp.b_in'], h2.view(-1, D), w[p + 'mlp.W_in']).view(B, S, -1)
        post = gelu_new(pre)
        mlp_out = torch.addmm(w[p + 'mlp.b_out'], post.view(-1, post.shape[-1]), w[p + 'mlp.W_out']).view(B, S, D)
        if cache is not None:
            cache.update({p + 'ln1.hook_normalized': h, p + 'attn.hook_q': q, p + 'attn.hook_k': k, p + 'attn.hook_v': v,
                          p + 'attn.hook_attn_scores': scores, p + 'attn.hook_pattern': pattern, p + 'attn.hook_z': z,
                          p + 'hook_attn_out': attn_out, p + 'hook_resid_mid': mid, p + 'ln2.hook_normalized': h2,
                          p + 'mlp.hook_pre': pre, p + 'mlp.hook_post': post, p + 'hook_mlp_out': mlp_out})
        x = mid + mlp_out
    if cache is not None:
        cache[f'blocks.{cfg["n_layers"] - 1}.hook_resid_post'] = x
    xf = ln(x, (D,), w['ln_final.w'], w['ln_final.b'], EPS)
    return (xf.view(-1, D) @ w['unembed.W_U'] + w['unembed.b_U']).view(B, S, -1)


def logit_diff(logits, answers, wrongs):
    last = logits[:, -1]
    rows = torch.arange(last.shape[0], device=last.device)
    return (last[rows, answers.long()] - last[rows, wrongs.long()]).sum()


def torch_post_grads(cfg, w, tokens, answers, wrongs):
    """(posts, grads): every layer's mlp.hook_post and d logit_diff / d post, by autograd."""
    cache = {}
    with torch.enable_grad():
        logits = torch_forward(cfg, w, tokens, cache)
        posts = [cache[f'blocks.{l}.mlp.hook_post'] for l in range(cfg['n_layers'])]
        grads = torch.autograd.grad(logit_diff(logits, answers, wrongs), posts)
    return [p.detach() for p in posts], list(grads)


def torch_attribution(cfg, w, clean, corrupt, answers, wrongs):
    with torch.no_grad():
        cache = {}
        torch_forward(cfg, w, clean, cache)
        clean_posts = [cache[f'blocks.{l}.mlp.hook_post'] for l in range(cfg['n_layers'])]
    posts, grads = torch_post_grads(cfg, w, corrupt, answers, wrongs)
    return torch.stack([((c - p) * g).sum((0, 1)) for c, p, g in zip(clean_posts, posts, grads)])


def torch_scores(cfg, w, tokens, answers, wrongs):
    posts, grads = torch_post_grads(cfg, w, tokens, answers, wrongs)
    return torch.stack([p[:, -1] * g[:, -1] for p, g in zip(posts, grads)])


def with_grad_inputs(w):
    """torch_post_grads needs a graph: weights stay constants, so mark the embedding table as a leaf."""
    w = dict(w)
    w['embed.W_E'] = w['embed.W_E'].detach().requires_grad_()
    return w


# ---------------------------------------------------------------- lens4j kernels

class Lens4jGPT2:
    """The same model from lens4j's kernels; buffers are torch tensors on the kernels' device."""

    def __init__(self, k, cfg, w):
        self.k, self.cfg, self.w = k, cfg, w
        self.D, self.H, self.F, self.V = cfg['d_model'], cfg['n_heads'], cfg['d_mlp'], cfg['d_vocab']
        self.dh = self.D // self.H

    def _empty(self, *shape):
        return torch.empty(*shape, device=self.w['embed.W_E'].device)

    def _linear(self, x, W, b, rows, n_in, n_out, out=None):
        out = self._empty(rows, n_out) if out is None else out
        self.k.gemm(0, 0, rows, n_out, n_in, 1.0, x, n_in, W, n_out, 0.0, out, n_out, b)
        return out

    def forward(self, tokens, cache=None, keep=False, posts=None):
        """logits [rows, V]. cache (a dict) receives TL's hook points; keep=True also keeps what backward needs;
        posts (a list) receives each layer's mlp.hook_post [rows, d_mlp] alone (what a neuron scan reads)."""
        k, w, D, H, F, dh = self.k, self.w, self.D, self.H, self.F, self.dh
        B, S = tokens.shape
        rows = B * S
        want = cache is not None or keep
        x = self._empty(rows, D)
        pos = self._empty(rows, D)
        k.embed(rows, tokens, w['embed.W_E'], self.V, D, x)
        k.pos_embed(B, S, 0, w['pos_embed.W_pos'], self.cfg['n_ctx'], D, pos)
        k.add(rows * D, x, pos, x)
        saved = []
        for l in range(self.cfg['n_layers']):
            p = f'blocks.{l}.'
            h, s1 = self._empty(rows, D), self._empty(rows)
            k.layernorm(rows, D, x, w[p + 'ln1.w'], w[p + 'ln1.b'], EPS, h, s1)
            q, kk, v = (self._linear(h, w[p + 'attn.W_' + m], w[p + 'attn.b_' + m], rows, D, D) for m in 'QKV')
            z = self._empty(rows, D)
            scores = self._empty(B, H, S, S) if cache is not None else None
            pattern = self._empty(B, H, S, S) if want else None
            k.attention(B, S, H, H, dh, q, kk, v, 1.0 / math.sqrt(dh), 0, 0.0, z, scores, pattern)
            attn_out = self._linear(z, w[p + 'attn.W_O'], w[p + 'attn.b_O'], rows, D, D)
            mid = self._empty(rows, D)
            k.add(rows * D, x, attn_out, mid)
            h2, s2 = self._empty(rows, D), self._empty(rows)
            k.layernorm(rows, D, mid, w[p + 'ln2.w'], w[p + 'ln2.b'], EPS, h2, s2)
            pre = self._linear(h2, w[p + 'mlp.W_in'], w[p + 'mlp.b_in'], rows, D, F)
            post = self._empty(rows, F)
            k.activation(GELU_NEW, rows * F, pre, post)
            mlp_out = self._linear(post, w[p + 'mlp.W_out'], w[p + 'mlp.b_out'], rows, F, D)
            if posts is not None:
                posts.append(post)
            if cache is not None:
                v4 = lambda t: t.view(B, S, H, dh)
                cache.update({p + 'hook_resid_pre': x.view(B, S, D), p + 'ln1.hook_normalized': h.view(B, S, D),
                              p + 'attn.hook_q': v4(q), p + 'attn.hook_k': v4(kk), p + 'attn.hook_v': v4(v),
                              p + 'attn.hook_attn_scores': scores, p + 'attn.hook_pattern': pattern,
                              p + 'attn.hook_z': v4(z), p + 'hook_attn_out': attn_out.view(B, S, D),
                              p + 'hook_resid_mid': mid.view(B, S, D), p + 'ln2.hook_normalized': h2.view(B, S, D),
                              p + 'mlp.hook_pre': pre.view(B, S, F), p + 'mlp.hook_post': post.view(B, S, F),
                              p + 'hook_mlp_out': mlp_out.view(B, S, D)})
            if keep:
                saved.append(dict(x=x, s1=s1, q=q, k=kk, v=v, pattern=pattern, mid=mid, s2=s2, pre=pre, post=post))
            nxt = self._empty(rows, D)
            k.add(rows * D, mid, mlp_out, nxt)
            x = nxt
        if cache is not None:
            cache[f'blocks.{self.cfg["n_layers"] - 1}.hook_resid_post'] = x.view(B, S, D)
        xf, sf = self._empty(rows, D), self._empty(rows)
        k.layernorm(rows, D, x, w['ln_final.w'], w['ln_final.b'], EPS, xf, sf)
        logits = self._linear(xf, w['unembed.W_U'], w['unembed.b_U'], rows, D, self.V)
        if keep:
            self.saved = dict(layers=saved, x=x, sf=sf, B=B, S=S)
        return logits

    def backward(self, answers, wrongs, resid_grads=None):
        """d logit_diff / d mlp.hook_post for every layer ([rows, F] each), from the last forward(keep=True);
        resid_grads (a list) receives d logit_diff / d hook_resid_post of every layer [rows, D], first layer first.
        The metric's gradient at ln_final's output is W_U[:, ans] - W_U[:, wrong] at each row's last position
        (on the device, no logits read back)."""
        k, w, D, H, F, dh = self.k, self.w, self.D, self.H, self.F, self.dh
        st = self.saved
        B, S = st['B'], st['S']
        rows = B * S
        dxf = torch.zeros(rows, D, device=w['embed.W_E'].device)
        W_U = w['unembed.W_U']
        dxf.view(B, S, D)[:, -1] = (W_U[:, answers.long()] - W_U[:, wrongs.long()]).T
        dres = self._empty(rows, D)
        k.layernorm_backward(rows, D, st['x'], w['ln_final.w'], st['sf'], dxf, dres, None, None, None)
        grads = [None] * self.cfg['n_layers']
        for l in reversed(range(self.cfg['n_layers'])):
            p, sv = f'blocks.{l}.', st['layers'][l]
            if resid_grads is not None:
                resid_grads.insert(0, dres)
            dpost = self._empty(rows, F)
            k.gemm(0, 1, rows, F, D, 1.0, dres, D, w[p + 'mlp.W_out'], D, 0.0, dpost, F, None)
            grads[l] = dpost
            dpre = self._empty(rows, F)
            k.activation_backward(GELU_NEW, rows * F, sv['pre'], dpost, dpre)
            dh2 = self._empty(rows, D)
            k.gemm(0, 1, rows, D, F, 1.0, dpre, F, w[p + 'mlp.W_in'], F, 0.0, dh2, D, None)
            dmid = self._empty(rows, D)
            k.layernorm_backward(rows, D, sv['mid'], w[p + 'ln2.w'], sv['s2'], dh2, dmid, None, None, None)
            k.add(rows * D, dmid, dres, dmid)
            dz = self._empty(rows, D)
            k.gemm(0, 1, rows, D, D, 1.0, dmid, D, w[p + 'attn.W_O'], D, 0.0, dz, D, None)
            dpattern, dv = self._empty(B, H, S, S), self._empty(rows, D)
            k.attn_apply_backward(B, S, H, H, dh, sv['pattern'], sv['v'], dz, dpattern, dv)
            k.softmax_backward(B * H * S, S, sv['pattern'], dpattern, dpattern)
            dq, dk = self._empty(rows, D), self._empty(rows, D)
            k.attn_scores_backward(B, S, H, H, dh, sv['q'], sv['k'], dpattern, 1.0 / math.sqrt(dh), 0, dq, dk)
            dh1 = self._empty(rows, D)
            for i, (m, d) in enumerate((('Q', dq), ('K', dk), ('V', dv))):
                k.gemm(0, 1, rows, D, D, 1.0, d, D, w[p + 'attn.W_' + m], D, 0.0 if i == 0 else 1.0, dh1, D, None)
            dx = self._empty(rows, D)
            k.layernorm_backward(rows, D, sv['x'], w[p + 'ln1.w'], sv['s1'], dh1, dx, None, None, None)
            k.add(rows * D, dx, dmid, dx)
            dres = dx
        return grads

    def attribution(self, clean, corrupt, answers, wrongs):
        """[L, F]: sum over rows of (clean - corrupt) * grad_corrupt, by l4jc_attribution_reduce (which sums its
        `corrupt - clean` argument order: so clean goes in as `corrupt`)."""
        k, F = self.k, self.F
        self.forward(clean, keep=True)
        clean_posts = [sv['post'] for sv in self.saved['layers']]
        self.forward(corrupt, keep=True)
        grads = self.backward(answers, wrongs)
        rows = clean.numel()
        out = self._empty(self.cfg['n_layers'], F)
        for l, (c, sv, g) in enumerate(zip(clean_posts, self.saved['layers'], grads)):
            k.attribution_reduce(rows, F, 1, sv['post'], c, g, out[l])
        return out

    def scores(self, tokens, answers, wrongs):
        """[L, B, F]: seed 000's c = h * (W_out . g) at each prompt's last position, by l4jc_neuron_scores from
        mlp.hook_post and d metric / d hook_resid_post read in place (row strides S * F and S * D, no copies)."""
        B, S = tokens.shape
        F, D = self.F, self.D
        self.forward(tokens, keep=True)
        resid_grads = []
        self.backward(answers, wrongs, resid_grads)
        out = self._empty(self.cfg['n_layers'], B, F)
        for l, (sv, g) in enumerate(zip(self.saved['layers'], resid_grads)):
            h_last, g_last = sv['post'].view(B, S, F)[:, -1], g.view(B, S, D)[:, -1]
            self.k.neuron_scores(B, F, D, h_last, S * F, self.w[f'blocks.{l}.mlp.W_out'], g_last, S * D, out[l])
        return out
