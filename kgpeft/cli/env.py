"""`kgpeft env`: versions and devices, to paste into bug reports (as `accelerate env` does)."""

from __future__ import annotations

import argparse
import platform
from importlib import metadata

PACKAGES = (
    "kgpeft",
    "torch",
    "transformers",
    "peft",
    "trl",
    "bitsandbytes",
    "accelerate",
    "datasets",
    "rdflib",
    "pyoxigraph",
    "torch-geometric",
    "gguf",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    help_ = "Print library versions and available devices for bug reports."
    parser = subparsers.add_parser("env", help=help_, description=help_)
    parser.set_defaults(func=run, command="env")


def collect() -> dict[str, str]:
    """Versions of the packages kgpeft builds on, the platform and the devices torch sees."""
    info = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "not installed"
    import torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    info["devices"] = ", ".join(devices)
    info["cpu threads"] = str(torch.get_num_threads())
    return info


def run(args: argparse.Namespace) -> int:
    for key, value in collect().items():
        print(f"- {key}: {value}")
    return 0
