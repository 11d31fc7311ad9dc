#!/usr/bin/env python3
"""Writes gpu-check's summary.json from its steps table, the kernel-check logs and the Python steps' JSON results,
and prints a few lines of it. The JSON says plainly whether anything ran on a GPU (gpu_result)."""
import argparse
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def steps(tsv):
    out = []
    for line in pathlib.Path(tsv).read_text().splitlines():
        name, status, rc, secs, note = (line.split('\t') + [''] * 5)[:5]
        out.append({'step': name, 'status': status, 'exit': rc, 'seconds': int(secs or 0), 'note': note})
    return out


def kernel_checks(log):
    """lens4j_cuda_check's verdict: passed / failed counts, the failures, the device."""
    if not log.is_file():
        return None
    text = log.read_text(errors='replace')
    r = {'failures': re.findall(r'^FAIL (.*)$', text, re.M)}
    m = re.search(r'^ok: (\d+) checks passed on (.*)$', text, re.M)
    if m:
        r.update(passed=int(m.group(1)), failed=0, device=m.group(2))
    m = re.search(r'^(\d+) of (\d+) checks failed on (.*)$', text, re.M)
    if m:
        r.update(passed=int(m.group(2)) - int(m.group(1)), failed=int(m.group(1)), device=m.group(3))
    if text.startswith('no CUDA device'):
        r['device'] = None
    return r


def kernel_times(log):
    """The `time` lines of lens4j_cuda_check --time: kernel, shape, ms, GB/s, GFLOP/s."""
    if not log.is_file():
        return None
    pat = re.compile(r'^time (\S+)\s+(.*?)\s+([\d.]+) ms\s+([\d.]+) GB/s\s+([\d.]+) GFLOP/s$')
    return [{'kernel': m.group(1), 'shape': m.group(2), 'ms': float(m.group(3)), 'GB_per_s': float(m.group(4)),
             'GFLOP_per_s': float(m.group(5))}
            for m in map(pat.match, log.read_text(errors='replace').splitlines()) if m]


def load(path):
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--steps', required=True)
    p.add_argument('--work', required=True)
    p.add_argument('--logs', required=True)
    p.add_argument('--mode', required=True, choices=['cuda', 'emu'])
    p.add_argument('--seconds', type=int, required=True)
    p.add_argument('--out', required=True)
    a = p.parse_args()
    work, logs = pathlib.Path(a.work), pathlib.Path(a.logs)
    st = steps(a.steps)
    try:
        commit = subprocess.run(['git', '-C', str(ROOT), 'rev-parse', 'HEAD'], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ''
    tc, bench, java = load(work / 'torch-compare.json'), load(work / 'bench.json'), load(work / 'java.json')
    missing = sorted(set((tc or {}).get('missing', [])) | set((bench or {}).get('missing', [])))
    bad = [s['step'] for s in st if s['status'] in ('FAIL', 'timeout')]
    summary = {
        'mode': a.mode,
        # something ran on a GPU (passing or not): the kernel checks found a device, or a Python step ran on one
        'gpu_result': a.mode == 'cuda' and bool((kernel_checks(logs / 'kernels.log') or {}).get('device') or tc or bench),
        'note': 'GPU run' if a.mode == 'cuda' else 'EMULATED: no GPU was used; times mean nothing, correctness only',
        'commit': commit or None,
        'status': 'FAIL' if bad else ('incomplete' if missing else 'pass'),
        'failed_steps': bad,
        'missing_kernels': missing,
        'seconds': a.seconds,
        'steps': st,
        'kernel_checks': kernel_checks(logs / 'kernels.log'),
        'kernel_times': kernel_times(logs / 'kernels-time.log'),
        'torch_compare': tc,
        'bench': bench,
        'java': java,
    }
    peak = (bench or {}).get('ceilings')
    if peak and summary['kernel_times']:  # each kernel against the ceilings bench measured in the same run
        for t in summary['kernel_times']:
            t['fraction_copy_bandwidth'] = t['GB_per_s'] * 1e9 / peak['copy_bytes_per_s']
            t['fraction_fp32_peak'] = t['GFLOP_per_s'] * 1e9 / peak['fp32_matmul_flops']
    out = pathlib.Path(a.out)
    out.write_text(json.dumps(summary, indent=1) + '\n')
    kc = summary['kernel_checks'] or {}
    print(f'summary: {summary["status"]} ({a.mode}); kernel checks passed {kc.get("passed", "-")}, failed '
          f'{kc.get("failed", "-")}; torch_compare {(tc or {}).get("status", "-")}; bench {(bench or {}).get("status", "-")}'
          + (f'; missing: {" ".join(missing)}' if missing else ''))
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
