"""Training tokens/s of `kgpeft fit` in two processes (`accelerate launch`) against one, on the same global batch.

Both runs train the same adapter on the same rows: one process with a batch of G rows, two
processes with G/2 rows each (kgpeft's length buckets give the two ranks the two halves of
the single process's step). Tokens are the non-padding tokens every rank trained on, counted
by the Trainer (``include_num_input_tokens_seen``) and summed over the ranks (the same tokens, except where
an epoch ends inside a step: accelerate then tops the ranks' last batches up with rows from the
epoch's start, so runs past an epoch differ by a few rows; more than 2% is refused); the time is the
Trainer's ``train_runtime`` (the training loop alone, no checkpoint saved, after the teacher
and soft targets are cached by a first run). On a machine with one or two CPU cores no speed-up
is expected: the ratio shows what the second process costs (gradient all-reduce over gloo,
two processes sharing the cores). Without a GPU the launch is `accelerate launch --multi_gpu`
(torchrun), which kgpeft runs on CPU over gloo.

    .venv/bin/python benchmarks/train_processes.py [--kg kg/countries.ttl] [--base-model smollm2-135m-instruct]
        [--steps 20] [--global-batch 8]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN_FILE = "train:\n  include_num_input_tokens_seen: non_padding\n  save_strategy: 'no'\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fit(processes: int, args: argparse.Namespace, folder: Path) -> dict[str, float]:
    """One `kgpeft fit` in ``processes`` processes; its training tokens, seconds and tokens/s."""
    out = folder / f"adapter-{processes}"
    command = ["fit", "--kg", args.kg, "--base-model", args.base_model, "--output-dir", str(out), "--overwrite"]
    command += ["--teacher", "oracle", "--max-steps", str(args.steps), "--config", str(folder / "run.yaml")]
    command += ["--per-device-train-batch-size", str(args.global_batch // processes), "--logging-steps", "1"]
    if processes == 1:
        launcher = [sys.executable, "-m", "kgpeft"]
    else:
        launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes"]
        launcher += [str(processes), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
        launcher += ["--main_process_port", str(free_port()), "-m", "kgpeft"]
    threads = args.threads_per_process or max(1, (os.cpu_count() or 1) // processes)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(launcher + command, capture_output=True, text=True, cwd=ROOT, env=env)
    if done.returncode:
        raise SystemExit(f"{processes} process(es): kgpeft fit failed:\n{done.stderr[-3000:]}")
    log = json.loads((out / "training_log.json").read_text())
    tokens = max(entry.get("num_input_tokens_seen", 0) for entry in log)
    seconds = max(entry.get("train_runtime", 0.0) for entry in log)  # the Trainer logs it as it goes
    return {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kg", default=str(ROOT / "kg" / "countries.ttl"))
    parser.add_argument("--base-model", default="smollm2-135m-instruct")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--global-batch", type=int, default=8, help="rows per optimiser step, over all processes")
    parser.add_argument(
        "--threads-per-process",
        type=int,
        default=0,
        help="torch threads of each process (default: the cores divided among the run's processes, so both runs "
        "use every core; on a machine busy with other work, 1 avoids threads spinning for a core that is taken)",
    )
    args = parser.parse_args()
    if args.global_batch % 2:
        parser.error("--global-batch must be even (two processes take half each)")

    with tempfile.TemporaryDirectory(prefix="kgpeft-multiprocess-") as tmp:
        folder = Path(tmp)
        (folder / "run.yaml").write_text(RUN_FILE, encoding="utf-8")
        fit(1, argparse.Namespace(**{**vars(args), "steps": 1}), folder)  # caches the teacher and soft targets
        one = fit(1, args, folder)
        two = fit(2, args, folder)
    if abs(one["tokens"] - two["tokens"]) > 0.02 * one["tokens"]:
        raise SystemExit(f"the runs trained on different tokens ({one['tokens']} vs {two['tokens']}): not comparable")
    shared = "cores / processes" if not args.threads_per_process else args.threads_per_process
    print(f"{os.cpu_count()} cores; threads per process: {shared}")
    print(f"{args.steps} steps of {args.global_batch} rows, base {args.base_model}")
    for name, run in (("1 process", one), ("2 processes", two)):
        print(f"  {name:12s} {run['tokens']:8d} tokens {run['seconds']:8.2f} s  {run['tokens_per_s']:10.1f} tokens/s")
    print(f"2 processes / 1 process, tokens/s: {two['tokens_per_s'] / one['tokens_per_s']:.2f}x")


if __name__ == "__main__":
    main()
