"""The accelerate config files shipped in examples/accelerate/ load and validate as `accelerate launch` reads them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.commands.launch import _validate_launch_command, launch_command_parser
from accelerate.utils import DistributedType

from kgpeft.cli import build_parser
from kgpeft.training.config import FitConfig

FOLDER = Path(__file__).parents[2] / "examples" / "accelerate"
EXPECTED = {
    "ddp.yaml": (DistributedType.MULTI_GPU, 1),
    "fsdp-qlora.yaml": (DistributedType.FSDP, 1),
    "multi-node.yaml": (DistributedType.MULTI_GPU, 2),
}


def test_the_shipped_files_are_the_expected_ones():
    assert sorted(p.name for p in FOLDER.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_config_loads_with_accelerate_and_names_only_launch_options(name):
    path = FOLDER / name
    text = path.read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert text.startswith("# ") and len(header) >= 3 and "accelerate launch --config_file" in text, (
        "a header says when to use it and how to launch it"
    )
    config = load_config_from_file(str(path))  # refuses unknown top-level keys
    kind, machines = EXPECTED[name]
    assert config.distributed_type == kind and config.num_machines == machines

    parser = launch_command_parser()
    options = {action.dest for action in parser._actions}
    nested = yaml.safe_load(text).get("fsdp_config") or {}
    unknown = [key for key in nested if (key if key.startswith("fsdp_") else f"fsdp_{key}") not in options]
    assert not unknown, f"fsdp_config keys accelerate launch does not know: {unknown}"

    args, _, _ = _validate_launch_command(parser.parse_args(["--config_file", str(path), "-m", "kgpeft", "fit"]))
    assert args.num_processes == config.num_processes >= 2
    assert args.use_fsdp == (kind == DistributedType.FSDP) and args.multi_gpu == (kind == DistributedType.MULTI_GPU)


def test_fsdp_qlora_follows_the_peft_recipe_and_its_quant_storage_flag_exists():
    text = (FOLDER / "fsdp-qlora.yaml").read_text(encoding="utf-8")
    fsdp = yaml.safe_load(text)["fsdp_config"]
    assert fsdp["fsdp_use_orig_params"] is False and fsdp["fsdp_cpu_ram_efficient_loading"] is True
    assert "--bnb-4bit-quant-storage bfloat16" in text
    args = build_parser("fit").parse_args(["fit", "--kg", "kg.ttl", "--bnb-4bit-quant-storage", "bfloat16"])
    assert args.bnb_4bit_quant_storage == "bfloat16"
    run_file = yaml.safe_load("model: {bnb_4bit_quant_storage: bfloat16}")
    assert FitConfig.from_dict(run_file).model.bnb_4bit_quant_storage == "bfloat16"
