"""`kgpeft eval`: Evaluate an adapter and write a report."""

from __future__ import annotations

import argparse

from kgpeft.cli import not_built


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval", help="Evaluate an adapter and write a report.", description="Evaluate an adapter and write a report."
    )
    parser.set_defaults(func=run, command="eval")


def run(args: argparse.Namespace) -> int:
    raise not_built("eval", "issue 7")
