"""What the scripts that build kgpeft's shipped graphs share: Turtle terms, subject blocks, the CLI."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path


def slug(name: str) -> str:
    """An IRI local name for ``name``: words joined by underscores, accents kept (IRIs allow them)."""
    return re.sub(r"[^\w]+", "_", name).strip("_")


def literal(text: str, language: str | None = None) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"' + (f"@{language}" if language else "")


def subject_block(subject: str, pairs: list[tuple[str, list[str]]]) -> str:
    """One Turtle block: the subject, then one predicate per line with its objects."""
    lines = [f"    {predicate} {', '.join(objects)}" for predicate, objects in pairs if objects]
    return f"{subject}\n" + " ;\n".join(lines) + " .\n\n"


def write_graph(description: str, default_output: str, build: Callable[[], str]) -> None:
    """The scripts' command line: build the Turtle text, check it parses, write it (``-o`` to redirect)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "-o", "--output", type=Path, default=Path(default_output), help="where to write the Turtle file"
    )
    args = parser.parse_args()
    text = build()

    import pyoxigraph

    triples = sum(1 for _ in pyoxigraph.parse(text.encode(), pyoxigraph.RdfFormat.TURTLE))  # fails loudly if invalid
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}: {triples} triples")
