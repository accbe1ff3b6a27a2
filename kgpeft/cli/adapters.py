"""`kgpeft adapters`: List, combine and inspect domain adapters."""

from __future__ import annotations

import argparse

from kgpeft.cli import not_built


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "adapters",
        help="List, combine and inspect domain adapters.",
        description="List, combine and inspect domain adapters.",
    )
    parser.set_defaults(func=run, command="adapters")


def run(args: argparse.Namespace) -> int:
    raise not_built("adapters", "issue 8")
