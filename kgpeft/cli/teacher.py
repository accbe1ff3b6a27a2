"""`kgpeft teacher`: Fit or evaluate a path-generating teacher."""

from __future__ import annotations

import argparse

from kgpeft.cli import not_built


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "teacher",
        help="Fit or evaluate a path-generating teacher.",
        description="Fit or evaluate a path-generating teacher.",
    )
    parser.set_defaults(func=run, command="teacher")


def run(args: argparse.Namespace) -> int:
    raise not_built("teacher", "issue 5")
