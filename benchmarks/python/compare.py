#!/usr/bin/env python3
"""lens4j next to TransformerLens and plain PyTorch on the same work and shapes: runs the three alternately
(lens4j, TL, torch; then again, --rounds times), each in its own process with the same thread count, and prints the
median milliseconds per workload and lens4j's speed-up over each. Run from the repository root through
benchmarks/run.sh, or directly:

  python3 benchmarks/python/compare.py --java-cp "$cp" [--python "PYTHONPATH=... /usr/bin/python3"] [--rounds 3]

--java-cp is the class path of the benchmarks jar (benchmarks/run.sh builds it). TransformerLens must be importable
by --python (default: this interpreter); the script stops with a message naming the problem when it is not.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys


def die(message):
    """One line on stderr and exit status 2, as lens4j's own commands report bad input."""
    print(message, file=sys.stderr)
    sys.exit(2)

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = ("forward", "cache", "attribution", "ablation")


def run_json(cmd, env, label):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        err = (p.stderr.strip().splitlines() or ["(no output)"])[-1]
        die(f"compare.py: {label} failed (exit {p.returncode}): {err}")
    return json.loads(lines[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--java-cp", required=True, help="class path of the lens4j benchmarks")
    ap.add_argument("--java", default="java")
    ap.add_argument("--python", default=sys.executable,
                    help="Python command with TransformerLens (may start with VAR=value settings)")
    ap.add_argument("--shape", default="gpt2-small")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=1, help="timed runs per process, after one warm-up")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--json", help="also write every time measured to this file")
    a = ap.parse_args()

    py_words = shlex.split(a.python)
    py_env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    while py_words and "=" in py_words[0] and not py_words[0].startswith("/"):
        k, v = py_words.pop(0).split("=", 1)
        py_env[k] = v
    check = subprocess.run(py_words + ["-c", "import transformer_lens"], env=py_env, capture_output=True, text=True)
    if check.returncode != 0:
        last = (check.stderr.strip().splitlines() or ["?"])[-1]
        die(f"compare.py: TransformerLens cannot be imported by '{a.python}' ({last}); install it "
                 f"(pip install transformer_lens) or pass --python with a PYTHONPATH that has it")

    common = ["--shape", a.shape, "--batch", str(a.batch), "--seq", str(a.seq), "--reps", str(a.reps),
              "--threads", str(a.threads), "--workloads", a.workloads]
    sides = {
        "lens4j": ([a.java, "-Xmx4g", "--enable-native-access=ALL-UNNAMED", "-cp", a.java_cp, "dev.lens4j.bench.Baselines",
                    a.shape, str(a.batch), str(a.seq), str(a.reps), a.workloads],
                   dict(os.environ, OMP_NUM_THREADS=str(a.threads))),
        "tl": (py_words + [os.path.join(HERE, "bench_py.py"), "--impl", "tl"] + common, py_env),
        "torch": (py_words + [os.path.join(HERE, "bench_py.py"), "--impl", "torch"] + common, py_env),
    }
    times = {s: {w: [] for w in a.workloads.split(",")} for s in sides}
    info = {}
    for r in range(a.rounds):
        for side, (cmd, env) in sides.items():
            out = run_json(cmd, env, side)
            info[side] = {k: out[k] for k in out if k != "ms"}
            for w, ms in out["ms"].items():
                times[side][w] += ms
            print(f"round {r + 1}/{a.rounds} {side:7s} " + "  ".join(f"{w} {statistics.median(ms):.0f} ms" for w, ms in out["ms"].items()),
                  flush=True)

    print(f"\n{a.shape} batch {a.batch} x seq {a.seq}, {a.rounds} alternating rounds x {a.reps} runs, {a.threads} threads each;"
          f" {info['tl'].get('version')}, {info['torch'].get('version')}")
    print(f"| workload | lens4j ms | TransformerLens ms | PyTorch ms | lens4j vs TL | lens4j vs PyTorch |")
    print("|---|---:|---:|---:|---:|---:|")
    for w in a.workloads.split(","):
        m = {s: statistics.median(times[s][w]) for s in sides}
        print(f"| {w} | {m['lens4j']:.0f} | {m['tl']:.0f} | {m['torch']:.0f} | {m['tl'] / m['lens4j']:.2f}x | {m['torch'] / m['lens4j']:.2f}x |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"args": vars(a), "info": info, "ms": times}, f, indent=1)


if __name__ == "__main__":
    main()
