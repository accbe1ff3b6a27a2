"""`kgpeft kg`: inspect a knowledge graph.

kgpeft kg stats FILE [--json]
kgpeft kg paths FILE --from ENTITY --max-hops N [--limit 20]
"""

from __future__ import annotations

import argparse
import json

from kgpeft.errors import KGLoadError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "kg", help="Inspect a knowledge graph (statistics, paths).", description="Inspect a knowledge graph."
    )
    parser.set_defaults(func=run, command="kg", action=None)
    actions = parser.add_subparsers(title="actions", metavar="ACTION")

    stats = actions.add_parser("stats", help="Counts, label coverage and degree percentiles of an RDF file.")
    _add_source_arguments(stats)
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.set_defaults(action=run_stats)

    paths = actions.add_parser("paths", help="Relation paths from an entity, as path text.")
    _add_source_arguments(paths)
    paths.add_argument("--from", dest="entity", required=True, help="start entity: an IRI, a label or an alias")
    paths.add_argument("--max-hops", type=int, default=2, help="longest path, in steps (default 2)")
    paths.add_argument("--limit", type=int, default=20, help="most paths to print (default 20)")
    paths.set_defaults(action=run_paths)


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="RDF file (.ttl .nt .nq .trig .rdf .jsonld ..., optionally .gz)")
    parser.add_argument("--format", help="RDF format, when the extension does not tell (e.g. turtle)")
    parser.add_argument("--language", default="en", help="preferred language of labels (default en)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the on-disk index cache")


def run(args: argparse.Namespace) -> int:
    if args.action is None:
        raise KGLoadError("choose an action: stats or paths (see `kgpeft kg --help`)")
    return args.action(args)


def _load(args: argparse.Namespace):
    from kgpeft.kg import load_graph

    return load_graph(args.file, format=args.format, language=args.language, cache=not args.no_cache)


def run_stats(args: argparse.Namespace) -> int:
    from rich.table import Table

    from kgpeft.cli.console import results_console
    from kgpeft.kg.stats import graph_stats

    stats = graph_stats(_load(args))
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    table = Table(title=f"{args.file}  (sha256 {stats['sha256'][:12]})", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for key in ("entities", "relations", "triples", "literal_triples", "aliases"):
        table.add_row(key.replace("_", " "), f"{stats[key]:,}")
    for key in ("label_coverage", "description_coverage"):
        table.add_row(key.replace("_", " "), f"{stats[key]:.1%}")
    degrees = stats["degree_percentiles"]
    table.add_row("degree p50 / p90 / p99 / max", " / ".join(f"{v:g}" for v in degrees.values()))
    table.add_row("triples per relation", "")
    for row in stats["top_relations"]:
        table.add_row(f"  {row['label']}", f"{row['triples']:,}")
    results_console().print(table)
    return 0


def run_paths(args: argparse.Namespace) -> int:
    if args.max_hops < 1 or args.limit < 1:
        raise KGLoadError("--max-hops and --limit must be at least 1.")
    from kgpeft.data.render import path_to_text

    kg = _load(args)
    start = _resolve_entity(kg, args.entity)
    paths = kg.relation_paths(start, args.max_hops, max_paths=args.limit)
    for path in paths:
        reached = kg.execute(start, path)
        more = f"  (+{reached.size - 1} more)" if reached.size > 1 else ""
        print(path_to_text(kg, start, path) + more)
    if not paths:
        print(f"no paths from {kg.entity_label(start)} (it has no links)")
    return 0


def _resolve_entity(kg, name: str) -> int:
    """The entity an IRI, an exact label or a unique label/alias (any case) names."""
    found = kg.entity_by_iri(name)
    if found is None:
        found = kg.entity_by_label(name)
    if found is not None:
        return found
    matches = kg.entities_by_name(name)
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(repr(kg.entity_label(e)) for e in matches[:5])
        raise KGLoadError(f"{name!r} names {len(matches)} entities ({shown}...): pass one of these labels or an IRI.")
    raise KGLoadError(
        f"no entity with IRI, label or alias {name!r} in {kg.source}: check the spelling (labels are case-sensitive, aliases are not)."
    )
