"""What torch_compare.py and bench.py share: the command line (library, kind, shape), opening the kernels, timing
both sides in the same process, the environment record and the JSON result."""
import argparse
import json
import os
import pathlib
import platform
import sys
import time

import torch

import gpt2
import l4jc

SHAPES = {'toy': gpt2.TOY, 'gpt2-small': gpt2.GPT2_SMALL}


class UsageError(Exception):
    pass


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument('--lib', required=True, help='liblens4j_cuda.so, liblens4j_cuda_emu.so or liblens4j_cpu.so')
    p.add_argument('--kind', required=True, choices=['cuda', 'emu', 'cpu'])
    p.add_argument('--shape', choices=sorted(SHAPES), help='model shape (default: gpt2-small on cuda, toy otherwise)')
    p.add_argument('--batch', type=int, help='prompts per batch (default 8 on gpt2-small, 2 on toy)')
    p.add_argument('--seq', type=int, help='tokens per prompt (default 128 on gpt2-small, 16 on toy)')
    p.add_argument('--seed', type=int, default=1234)
    p.add_argument('--reps', type=int,
                   help='timed repetitions (default 10 on cuda, 1 on cpu, 0 on emu: one untimed-warm-up call, since '
                        'emulated times mean nothing)')
    p.add_argument('--json', required=True, help='where to write the results')
    return p


def open_run(args):
    """(kernels, cfg, batch, seq, reps) after checking the arguments; UsageError with one line otherwise."""
    lib = pathlib.Path(args.lib)
    if not lib.is_file():
        raise UsageError(f'--lib {lib}: not a file')
    if args.kind == 'cuda' and not torch.cuda.is_available():
        raise UsageError('--kind cuda: torch sees no CUDA device')
    out = pathlib.Path(args.json)
    if out.exists() and not out.is_file():
        raise UsageError(f'--json {out}: exists and is not a regular file')
    shape = args.shape or ('gpt2-small' if args.kind == 'cuda' else 'toy')
    cfg = dict(SHAPES[shape], name=shape)
    big = shape == 'gpt2-small'
    batch = args.batch or (8 if big else 2)
    seq = args.seq or (128 if big else 16)
    reps = args.reps if args.reps is not None else {'cuda': 10, 'cpu': 1, 'emu': 0}[args.kind]
    for name, v, low in (('--batch', batch, 1), ('--seq', seq, 1), ('--reps', reps, 0)):
        if v < low:
            raise UsageError(f'{name} {v}: must be >= {low}')
    if seq > cfg['n_ctx']:
        raise UsageError(f'--seq {seq}: longer than n_ctx {cfg["n_ctx"]}')
    k = l4jc.Kernels(lib, args.kind)
    if args.kind == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = False  # lens4j's GEMMs run without TF32 by default
        torch.backends.cudnn.allow_tf32 = False
    return k, cfg, batch, seq, reps


def time_ms(k, fn, reps):
    """Milliseconds per call (after one warm-up call); CUDA events on the GPU, both sides on the default stream.
    reps 0: the one call alone, timed (the emulation: its times mean nothing, so the harness is only exercised)."""
    if reps == 0:
        k.synchronize()
        t0 = time.perf_counter()
        fn()
        k.synchronize()
        return (time.perf_counter() - t0) * 1e3
    fn()
    if k.kind == 'cuda':
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / reps
    k.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    k.synchronize()
    return (time.perf_counter() - t0) * 1e3 / reps


def env(k, cfg, batch, seq, reps, seed):
    e = {'library': k.path, 'kind': k.kind, 'device': k.device_name(), 'torch': torch.__version__,
         'python': platform.python_version(), 'shape': cfg, 'batch': batch, 'seq': seq, 'reps': reps, 'seed': seed,
         'missing_from_library': k.missing,
         'times_meaningful': k.kind == 'cuda',
         'note': 'GPU times, both sides in this process' if k.kind == 'cuda' else
                 ('EMULATED: the CUDA sources run on the CPU emulation; times mean nothing, only correctness counts'
                  if k.kind == 'emu' else 'CPU kernels vs CPU torch: times are CPU times, not GPU evidence')}
    if k.kind == 'cuda':
        e['torch_device'] = torch.cuda.get_device_name(0)
        e['cuda'] = torch.version.cuda
    return e


def rel_err(got, want):
    """max |got - want| / max(1, max|want|) over finite entries; inf / NaN must sit at the same places."""
    got, want = got.detach().float().reshape(-1).cpu(), want.detach().float().reshape(-1).cpu()
    if got.shape != want.shape:
        return float('inf')
    fin = torch.isfinite(want)
    if not torch.equal(torch.isnan(got[~fin]), torch.isnan(want[~fin])) or \
            not torch.equal(got[~fin].nan_to_num(0.0), want[~fin].nan_to_num(0.0)):
        return float('inf')
    if fin.sum() == 0:
        return 0.0
    scale = max(1.0, want[fin].abs().max().item())
    return (got[fin] - want[fin]).abs().max().item() / scale


def write_json(path, obj):
    tmp = pathlib.Path(str(path) + '.tmp')
    tmp.write_text(json.dumps(obj, indent=1, default=str) + '\n')
    os.replace(tmp, path)


def main(run, description):
    """Parses the command line, runs run(args, k, cfg, batch, seq, reps) -> (result dict, failed); exit 2 for usage
    errors (one line), 1 for a failed comparison, 0 otherwise."""
    args = parser(description).parse_args()
    try:
        k, cfg, batch, seq, reps = open_run(args)
    except (UsageError, l4jc.KernelError, OSError) as e:
        print(f'{pathlib.Path(sys.argv[0]).name}: {e}', file=sys.stderr)
        return 2
    torch.manual_seed(args.seed)
    result, failed = run(args, k, cfg, batch, seq, reps)
    result = dict(env(k, cfg, batch, seq, reps, args.seed), **result)
    write_json(args.json, result)
    print(f'wrote {args.json}')
    return 1 if failed else 0
