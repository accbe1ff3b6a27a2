"""`kgpeft fit`: Train a LoRA adapter on a knowledge graph."""

from __future__ import annotations

import argparse

from kgpeft.cli import not_built


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fit",
        help="Train a LoRA adapter on a knowledge graph.",
        description="Train a LoRA adapter on a knowledge graph.",
    )
    parser.set_defaults(func=run, command="fit")


def run(args: argparse.Namespace) -> int:
    raise not_built("fit", "issue 6")
