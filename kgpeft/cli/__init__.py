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
import sys
import typing

from kgpeft.errors import KGPeftError

# Order is the order shown by `kgpeft --help`.
COMMANDS = ("fit", "ask", "eval", "kg", "teacher", "adapters", "merge", "env")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The CLI parser; ``command`` (the subcommand about to run) also gets its config-derived flags."""
    from kgpeft import __version__

    parser = _Parser(
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
    _add_verbose_flag(parser)
    return parser


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (no usage block above them); subcommand parsers inherit it."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


def _add_verbose_flag(parser: argparse.ArgumentParser) -> None:
    """``-v/--verbose`` on every (sub)command, so it goes anywhere on the line."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="also show the libraries' log lines, warnings and progress bars",
    )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _add_verbose_flag(sub)


def _wants_verbose(argv: list[str]) -> bool:
    """Whether the command line asks for --verbose, read before parsing: parsing imports some libraries."""
    options = argv[: argv.index("--")] if "--" in argv else argv
    return any(arg in ("-v", "--verbose") for arg in options)


def main(argv: list[str] | None = None) -> int:
    from kgpeft.cli.console import command_output

    argv = sys.argv[1:] if argv is None else argv
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    verbose = _wants_verbose(argv)
    with command_output(command, verbose=verbose):
        return _run(argv, command, verbose)


def _run(argv: list[str], command: str | None, verbose: bool) -> int:
    parser = build_parser(command)
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or a bad argument (already reported on one line)
        return done.code if isinstance(done.code, int) else int(done.code is not None)
    if not hasattr(args, "func"):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except KGPeftError as err:
        message = " ".join(str(err).splitlines())  # one line, whatever a wrapped library message held
        print(f"kgpeft {args.command}: error: {message}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"kgpeft {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as err:  # the machine, not the input: a full disk, a file locked or vanished mid-run
        where = f"{err.filename}: " if err.filename else ""
        print(f"kgpeft {args.command}: error: {where}{err.strerror or err}; nothing was replaced", file=sys.stderr)
        return 2
    except Exception as err:  # a bug: one line by default, the traceback with --verbose
        if verbose:
            raise
        message = " ".join(str(err).splitlines())[:300]
        print(
            f"kgpeft {args.command}: internal error: {type(err).__name__}: {message} "
            "(a bug in kgpeft: rerun with --verbose for the traceback and report it)",
            file=sys.stderr,
        )
        return 1


def not_built(command: str, issue: str) -> KGPeftError:
    """The error a subcommand raises while its part of kgpeft has not landed yet."""
    from kgpeft.errors import NotBuiltError

    return NotBuiltError(f"'kgpeft {command}' is not built yet in this version ({issue}).")
