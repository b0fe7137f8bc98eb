#!/usr/bin/env python3
"""tessera and PyTorch timed side by side, alternately, in one run.

Each round runs `tessera bench --json` and then `torch_mae_step.py` once per case, each as
its own process at the same thread count (tessera: RAYON_NUM_THREADS; PyTorch:
OMP_NUM_THREADS and torch.set_num_threads). Alternating keeps a busy machine's load on both
sides alike. Per case it prints the median over rounds of each side's per-process median
step time, the min-max spread over rounds, the ratio PyTorch/tessera of each round (above 1:
tessera is faster) with its median and spread, tessera's planned peak, launches and
process max RSS, and PyTorch's max RSS, whole and above what its process held before it
built the model (model, optimizer state and step, without the interpreter and libraries). `--json FILE`
also writes every round's numbers.

  python side_by_side.py --tessera target/release/tessera --rounds 5 \
      --case mae_tiny_32:64 --case mae_fmnist_small:256
A case is MODEL:BATCH[:MASK], MASK an exact ratio (`1/64`) passed to `tessera bench
--mask-ratio` and as a float to PyTorch.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_json(cmd, env):
    """Runs `cmd`; returns its last stdout line as JSON, with the process's peak resident
    memory (`max_rss_bytes`, from wait4) added."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.read()}")
        result = json.loads(out.read().strip().splitlines()[-1])
    result["max_rss_bytes"] = usage.ru_maxrss * 1024
    return result


def parse_case(text):
    parts = text.split(":")
    model, batch = parts[0], int(parts[1])
    mask = parts[2] if len(parts) > 2 else None
    return model, batch, mask


def spread(xs):
    return f"{statistics.median(xs):.1f} ({min(xs):.1f}-{max(xs):.1f})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tessera", default="target/release/tessera")
    ap.add_argument("--python", default=sys.executable, help="a Python with torch and timm")
    ap.add_argument("--case", action="append", required=True, help="MODEL:BATCH[:MASK]")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--json", default=None)
    ap.add_argument("--omp-wait-policy", default="PASSIVE",
                    help="OMP_WAIT_POLICY for PyTorch: on a machine shared with other work, "
                         "OpenMP's default spinning slows PyTorch down many times (17 s "
                         "instead of 1 s a step here); PASSIVE gives it its best; empty: "
                         "OpenMP's default")
    args = ap.parse_args()

    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads),
               OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    env.pop("OMP_WAIT_POLICY", None)
    if args.omp_wait_policy:
        env["OMP_WAIT_POLICY"] = args.omp_wait_policy
    cases = [parse_case(c) for c in args.case]
    rounds = {c: [] for c in args.case}
    for r in range(args.rounds):
        for text, (model, batch, mask) in zip(args.case, cases):
            t_cmd = [args.tessera, "bench", "--model", model, "--batch", str(batch), "--json",
                     "--warmup", str(args.warmup), "--iters", str(args.iters)]
            p_cmd = [args.python, str(HERE / "torch_mae_step.py"), "--model", model,
                     "--batch", str(batch), "--threads", str(args.threads),
                     "--warmup", str(args.warmup), "--iters", str(args.iters)]
            if mask is not None:
                t_cmd += ["--mask-ratio", mask]
                p_cmd += ["--mask-ratio", str(float(Fraction(mask)))]
            t = run_json(t_cmd, env)
            p = run_json(p_cmd, env)
            rounds[text].append({"tessera": t, "pytorch": p})
            load = os.getloadavg()[0]
            rounds[text][-1]["load_average_1min"] = load
            print(f"round {r + 1}/{args.rounds} {text} (load {load:.1f}): "
                  f"tessera {t['ms_per_step']:.1f} ms, "
                  f"PyTorch {p['ms_per_step']:.1f} ms, ratio "
                  f"{p['ms_per_step'] / t['ms_per_step']:.2f}", file=sys.stderr, flush=True)

    loads = [x["load_average_1min"] for rs in rounds.values() for x in rs]
    print(f"{args.rounds} rounds, {args.threads} threads each, alternating, "
          f"OMP_WAIT_POLICY={args.omp_wait_policy or '(default)'}; median (min-max) over rounds; "
          f"1-minute load average {min(loads):.1f}-{max(loads):.1f}")
    print("| case | tessera ms/step | PyTorch ms/step | PyTorch/tessera | tessera planned peak "
          "MiB | tessera max RSS MiB | PyTorch max RSS delta MiB | PyTorch max RSS MiB | "
          "tessera launches |")
    print("|---|---|---|---|---|---|---|---|---|")
    for text in args.case:
        rs = rounds[text]
        tm = [x["tessera"]["ms_per_step"] for x in rs]
        pm = [x["pytorch"]["ms_per_step"] for x in rs]
        ratio = [p / t for p, t in zip(pm, tm)]
        peak = rs[0]["tessera"]["planned_peak_bytes"] / 2**20
        t_rss = [x["tessera"]["max_rss_bytes"] / 2**20 for x in rs]
        p_delta = [x["pytorch"]["peak_rss_delta_bytes"] / 2**20 for x in rs]
        p_rss = [x["pytorch"]["max_rss_bytes"] / 2**20 for x in rs]
        print(f"| {text} | {spread(tm)} | {spread(pm)} | "
              f"{statistics.median(ratio):.2f} ({min(ratio):.2f}-{max(ratio):.2f}) | "
              f"{peak:.1f} | {spread(t_rss)} | {spread(p_delta)} | {spread(p_rss)} | "
              f"{rs[0]['tessera']['launches_per_step']} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "rounds": rounds}, f, indent=1)


if __name__ == "__main__":
    main()
