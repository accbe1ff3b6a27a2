"""`kgpeft ask`: Answer a question with verified KG paths."""

from __future__ import annotations

import argparse

from kgpeft.cli import not_built


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ask", help="Answer a question with verified KG paths.", description="Answer a question with verified KG paths."
    )
    parser.set_defaults(func=run, command="ask")


def run(args: argparse.Namespace) -> int:
    raise not_built("ask", "issue 7")
