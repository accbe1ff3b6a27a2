"""The ``kgpeft`` command line: one module per subcommand, each exposing ``register(subparsers)``.

``register`` adds the subcommand's parser and sets ``func`` to a ``run(args) -> int``.
Command modules import heavy libraries (torch, transformers) inside ``run`` so that
``kgpeft --help`` stays instant; a module whose flags come from config dataclasses that
need such imports adds them in ``add_config_arguments(parser)``, called only when that
command is the one run. Only this package prints, parses arguments or exits.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from kgpeft.errors import KGPeftError

# Order is the order shown by `kgpeft --help`.
COMMANDS = ("fit", "ask", "eval", "kg", "teacher", "adapters", "merge", "env")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The CLI parser; ``command`` (the subcommand about to run) also gets its config-derived flags."""
    from kgpeft import __version__

    parser = argparse.ArgumentParser(
        prog="kgpeft",
        description="Inject a knowledge graph into a decoder LLM with LoRA adapters trained by path distillation.",
    )
    parser.add_argument("--version", action="version", version=f"kgpeft {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"kgpeft.cli.{name}")
        module.register(subparsers)
        if name == command and hasattr(module, "add_config_arguments"):
            module.add_config_arguments(subparsers.choices[name])
    return parser


def _quiet_libraries() -> None:
    """No telemetry calls and no deprecation chatter from the libraries kgpeft drives."""
    import warnings

    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*pin_memory.*")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 1
    _quiet_libraries()
    logging.basicConfig(
        level=os.environ.get("KGPEFT_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except KGPeftError as err:
        print(f"kgpeft {args.command}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"kgpeft {args.command}: interrupted", file=sys.stderr)
        return 130


def not_built(command: str, issue: str) -> KGPeftError:
    """The error a subcommand raises while its part of kgpeft has not landed yet."""
    from kgpeft.errors import NotBuiltError

    return NotBuiltError(f"'kgpeft {command}' is not built yet in this version ({issue}).")
