"""`kgpeft merge`: Merge adapters into a full model for deployment."""

from __future__ import annotations

import argparse

from kgpeft.cli import not_built


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "merge",
        help="Merge adapters into a full model for deployment.",
        description="Merge adapters into a full model for deployment.",
    )
    parser.set_defaults(func=run, command="merge")


def run(args: argparse.Namespace) -> int:
    raise not_built("merge", "issue 8")
