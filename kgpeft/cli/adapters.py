"""`kgpeft adapters`: list, inspect and combine domain adapters.

kgpeft adapters list [DIR] [--json]
kgpeft adapters show DIR
kgpeft adapters combine A B -o C [--method cat] [--weights 0.5,0.5] [--density 0.5] [--domain NAME] [--overwrite]
"""

from __future__ import annotations

import argparse
import json

from kgpeft.cli.options import add_overwrite_argument
from kgpeft.errors import AdapterError

DEFAULT_DIR = "adapters"
# Shown in the table; every numeric metric is in --json.
_TABLE_METRICS = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "adapters",
        help="List, combine and inspect domain adapters.",
        description="List, combine and inspect domain adapters.",
    )
    parser.set_defaults(func=run, command="adapters", action=None)
    actions = parser.add_subparsers(title="actions", metavar="ACTION")

    listing = actions.add_parser("list", help="List every adapter under a folder, with its KG's state.")
    listing.add_argument("dir", nargs="?", default=DEFAULT_DIR, help=f"folder to search (default {DEFAULT_DIR}/)")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.add_argument("--no-kg-check", action="store_true", help="do not hash the KG files")
    listing.set_defaults(action=run_list)

    show = actions.add_parser("show", help="Print an adapter's kgpeft.json record.")
    show.add_argument("dir", help="adapter folder")
    show.set_defaults(action=run_show)

    from kgpeft.adapters.combine import DEFAULT_DENSITY, METHODS

    combine = actions.add_parser(
        "combine",
        help="Combine adapters into one (PEFT add_weighted_adapter).",
        description="Combine adapters trained on the same base into one adapter folder.",
    )
    combine.add_argument("adapters", nargs="+", help="adapter folders (two or more)")
    combine.add_argument("-o", "--output", required=True, help="folder of the combined adapter")
    combine.add_argument(
        "--method",
        default="cat",
        choices=list(METHODS),
        help="PEFT combination type (default cat: the exact weighted sum; linear/ties/dare_* need equal ranks)",
    )
    combine.add_argument("--weights", help="one weight per adapter, comma-separated (default 1.0 each)")
    combine.add_argument(
        "--density", type=float, help=f"fraction kept by ties/dare_*/magnitude_prune (default {DEFAULT_DENSITY})"
    )
    combine.add_argument("--domain", help="domain of the result (default: the sources' domains joined by +)")
    add_overwrite_argument(combine, "adapter folder (one with kgpeft.json)")
    combine.set_defaults(action=run_combine)


def run(args: argparse.Namespace) -> int:
    if args.action is None:
        raise AdapterError("choose an action: list, show or combine (see `kgpeft adapters --help`)")
    return args.action(args)


def run_list(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from kgpeft.adapters.registry import find_adapters
    from kgpeft.cli.console import results_console

    entries = [info.summary(check_kg=not args.no_kg_check) for info in find_adapters(args.dir)]
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    console = results_console()
    broken = [entry for entry in entries if "broken" in entry]
    entries = [entry for entry in entries if "broken" not in entry]
    if not entries and not broken:
        console.print(f"no adapters under {args.dir}")
        return 0
    table = Table(title=f"adapters under {args.dir}")
    for column in ("domain", "path", "base model", "4-bit", "rank", "modules", "KG", "metrics"):
        table.add_column(column)
    state_style = {
        "ok": "green",
        "changed": "red",
        "missing": "yellow",
        "unreadable": "red",
        "unreachable": "yellow",
        "unchecked": "dim",
    }
    for entry in entries:
        modules = entry["target_modules"]
        kgs = "\n".join(f"[{state_style[kg['state']]}]{kg['state']}[/] {kg['path']}" for kg in entry["kgs"])
        metrics = " ".join(f"{k}={v:.3g}" for k, v in list(entry["metrics"].items())[:_TABLE_METRICS])
        table.add_row(
            entry["domain"] + (f" ({entry['combination']})" if entry["combination"] else ""),
            entry["path"],
            entry["base_model"],
            "yes" if entry["load_in_4bit"] else "no",
            str(entry["rank"]),
            modules if isinstance(modules, str) else str(len(modules)),
            kgs,
            metrics,
        )
    if entries:
        console.print(table)
    for entry in broken:  # one line each, so one damaged folder hides none of the others
        console.print(f"[red]broken[/red] {escape(entry['path'])}: {escape(entry['broken'])}", soft_wrap=True)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from kgpeft.adapters.registry import read_adapter

    info = read_adapter(args.dir)
    print(json.dumps({**asdict(info.record), "kg_states": dict(info.kg_states())}, indent=2, default=str))
    return 0


def parse_weights(text: str | None) -> list[float] | None:
    """``"0.5,0.5"`` -> ``[0.5, 0.5]``."""
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise AdapterError(f"--weights {text!r}: expected numbers separated by commas, e.g. 0.5,0.5") from None


def run_combine(args: argparse.Namespace) -> int:
    from kgpeft.adapters.combine import combine_adapters

    record = combine_adapters(
        args.adapters,
        args.output,
        method=args.method,
        weights=parse_weights(args.weights),
        density=args.density,
        domain=args.domain,
        overwrite=args.overwrite,
    )
    combination = record.combination
    print(
        f"wrote {args.output}: domain {record.domain}, {combination['method']} of "
        f"{', '.join(s['domain'] for s in combination['sources'])} with weights {combination['weights']}, "
        f"rank {record.model_config().lora_r}"
    )
    return 0
