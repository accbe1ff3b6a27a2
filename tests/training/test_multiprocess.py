"""`accelerate launch` with two processes (CPU, gloo): the same adapter as one process with the same global batch.

The launch goes through ``--multi_gpu`` (torchrun) with no GPU visible: accelerate's ``--cpu``
flag starts several processes only through mpirun, and one process otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as dist
from safetensors.torch import load_file

from kgpeft.cli import main
from tests.training.test_distributed import free_port

pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(), reason="torch.distributed with gloo is unavailable"
)
WORLD = Path(__file__).parents[1] / "teachers" / "world.ttl"
STEPS = "3"


def _fit_args(kg: Path, checkpoint: Path, out: Path, batch: int) -> list[str]:
    return [
        "fit",
        "--kg",
        str(kg),
        "--base-model",
        str(checkpoint),
        "--output-dir",
        str(out),
        "--teacher",
        "oracle",
        "--max-hops",
        "2",
        "--lora-r",
        "4",
        "--logging-steps",
        "1",
        "--max-steps",
        STEPS,
        "--per-device-train-batch-size",
        str(batch),
    ]


def _launch(args: list[str], cache: Path) -> subprocess.CompletedProcess:
    """`accelerate launch` of `kgpeft` on two CPU processes, with a private cache and a free port."""
    env = {
        **os.environ,
        "KGPEFT_CACHE": str(cache),
        "CUDA_VISIBLE_DEVICES": "",  # CPU and gloo even on a machine with GPUs
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launcher += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    launcher += ["--main_process_port", str(free_port()), "-m", "kgpeft"]
    return subprocess.run(launcher + args, env=env, capture_output=True, text=True, timeout=300)


def test_two_processes_train_the_adapter_one_process_trains_with_the_same_global_batch(tiny_checkpoint, tmp_path):
    kg = Path(shutil.copy(WORLD, tmp_path / "world.ttl"))
    runs = tmp_path / "runs"
    runs.mkdir()
    cache = tmp_path / "cache"  # fresh: the main process computes the teacher and soft targets, the other reads them
    launched = _launch(_fit_args(kg, tiny_checkpoint, runs / "two", batch=2), cache)
    output = launched.stdout + launched.stderr
    assert launched.returncode == 0, output[-3000:]

    stages = [line for line in output.splitlines() if line.startswith("==> ")]
    assert len(stages) == 6 and len(set(stages)) == len(stages), "every stage is reported once, by one process"
    assert output.count("adapter saved to") == 1 and "error" not in output.lower()
    assert sorted(p.name for p in runs.iterdir()) == [".two.checkpoints", "two"], "one adapter, no temp folders"
    for kind in ("teachers", "soft_targets"):
        entries = list((cache / kind).iterdir())
        assert entries and all(not e.name.startswith(".") for e in entries), f"{kind}: no temp entries left"
    assert len(list((cache / "teachers").iterdir())) == 1
    record = json.loads((runs / "two" / "kgpeft.json").read_text())
    assert record["metrics"]["processes"] == 2, "the record says how many processes shared each step"

    assert main(_fit_args(kg, tiny_checkpoint, runs / "one", batch=4)) == 0  # the same global batch, one process
    one, two = (load_file(runs / name / "adapter_model.safetensors") for name in ("one", "two"))
    assert one.keys() == two.keys()
    moved = 0
    for name, weight in one.items():
        # Same rows per step and one token count for the loss: only float summation order differs
        # (each rank's partial sums, then the all-reduce), about 1e-6 of the weights here.
        scale = weight.abs().max().clamp(min=1e-8)
        assert (weight - two[name]).abs().max() <= 1e-4 * scale, name
        moved += "lora_B" in name and bool(weight.abs().max() > 0)
    assert moved, "training moved the LoRA B weights (they start at zero): the comparison means something"


def test_a_refusal_in_two_processes_is_one_line_and_writes_nothing(tiny_checkpoint, tmp_path):
    kg = Path(shutil.copy(WORLD, tmp_path / "world.ttl"))
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "todo.txt").write_text("mine\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    launched = _launch([*_fit_args(kg, tiny_checkpoint, foreign, batch=2), "--overwrite"], tmp_path / "cache")
    output = launched.stdout + launched.stderr
    assert launched.returncode != 0
    errors = [line for line in output.splitlines() if line.startswith("kgpeft fit: error:")]
    assert len(errors) == 1 and "notes" in errors[0], output[-3000:]
    assert "internal error" not in output, "the other rank stops quietly with the main process's exit code"
    assert {p.name for p in tmp_path.iterdir()} - {"cache"} == set(before), "nothing written beside the output"
    assert [p.name for p in foreign.iterdir()] == ["todo.txt"] and (foreign / "todo.txt").read_text() == "mine\n"
