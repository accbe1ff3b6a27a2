"""`kgpeft kg`: inspect a knowledge graph (statistics, paths)."""

from __future__ import annotations

import argparse

from kgpeft.cli import not_built


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("kg", help="Inspect a knowledge graph.", description="Inspect a knowledge graph.")
    parser.set_defaults(func=run, command="kg")


def run(args: argparse.Namespace) -> int:
    raise not_built("kg", "issue 3")
