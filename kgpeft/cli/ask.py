"""`kgpeft ask`: answer a question with paths verified in the knowledge graph.

kgpeft ask --adapter adapters/countries "Which region is Germany in?" [--topic LABEL_OR_IRI] [--json]
kgpeft ask --base-model smollm2-135m-instruct --kg kg/countries.ttl "..."   (the untrained base, constrained)
kgpeft ask --adapter A --adapter B "..."   (routed to the adapter whose KG has the question's entity)
"""

from __future__ import annotations

import argparse
import json

from kgpeft.cli.options import add_no_4bit_argument, count

_HELP = "Answer a question with verified KG paths."


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ask", help=_HELP, description=_HELP)
    parser.add_argument("question", help="the question, in words")
    parser.add_argument(
        "--adapter",
        action="append",
        default=[],
        metavar="DIR",
        help="adapter folder (kgpeft fit's output); repeat to route each question to the adapter whose KG "
        "contains its entity",
    )
    parser.add_argument("--base-model", default=None, help="base model (default: the adapter's); alone: no adapter")
    parser.add_argument("--kg", default=None, help="RDF file to ground answers in (default: the adapter's KG)")
    parser.add_argument("--topic", default=None, help="topic entity as a label or IRI (default: linked from the text)")
    parser.add_argument("--num-paths", type=count(1), default=4, help="beams, i.e. paths generated (default 4)")
    parser.add_argument(
        "--max-hops", type=count(1), default=None, help="longest path (default: as the adapter was trained, else 3)"
    )
    parser.add_argument(
        "--unconstrained", action="store_true", help="decode freely and report hallucinated hops, for comparison"
    )
    parser.add_argument("--combine", action="store_true", help="with several --adapter: activate all of them at once")
    add_no_4bit_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")
    parser.set_defaults(func=run, command="ask")


def run(args: argparse.Namespace) -> int:
    from kgpeft.data.questions import question_length_problem
    from kgpeft.errors import AdapterError, DataError
    from kgpeft.inference import KGReasoner
    from kgpeft.inference.loading import load_kg, load_model
    from kgpeft.inference.routing import activate, route

    if args.kg and len(args.adapter) > 1:
        raise AdapterError("--kg applies to one adapter; with several, each answers from its own KG")
    if too_long := question_length_problem(args.question):  # before loading anything
        raise DataError(f"{too_long}: shorten it")
    loaded = load_model(args.adapter, base_model=args.base_model, load_in_4bit=args.load_in_4bit)
    domains = [(name, load_kg(args.kg, info), info) for name, info in loaded.adapters] or [
        (None, load_kg(args.kg), None)
    ]
    reasoners = [(name, KGReasoner(loaded.model, loaded.tokenizer, kg), info) for name, kg, info in domains]
    name, reasoner, info = route(args.question, args.topic, reasoners)
    max_hops = args.max_hops
    if max_hops is None:
        max_hops = info.record.max_hops() if info else 3
    _check_prompt_fits(loaded, args.question, max_hops)
    active = [n for n, _ in loaded.adapters] if args.combine else [name]
    with activate(loaded.model, active):
        answer = reasoner.ask(
            args.question,
            args.topic,
            num_paths=args.num_paths,
            max_hops=max_hops,
            constrained=not args.unconstrained,
        )
    if args.json:
        print(json.dumps({"adapters": [n for n in active if n], **answer.to_dict()}, indent=2, ensure_ascii=False))
    else:
        _print_answer(answer, [n for n in active if n])
    return 0


def _check_prompt_fits(loaded, question: str, max_hops: int) -> None:
    """Refuse a question whose prompt leaves the model no room for a path within its context:
    the model would only attend past what it was trained on, at a cost that grows with the square."""
    from kgpeft.data.render import prompt_ids, render_prompt
    from kgpeft.errors import DataError
    from kgpeft.inference.reasoner import TOKENS_PER_HOP

    context = getattr(loaded.model.config, "max_position_embeddings", None)
    if not context:
        return
    used = len(prompt_ids(loaded.tokenizer, render_prompt(question)))
    room = TOKENS_PER_HOP * (max_hops + 1)  # the path's hops, and the topic label it starts with
    if used + room > context:
        raise DataError(
            f"the question takes {used} tokens with its prompt, and its path up to {room} more: over the model's "
            f"context of {context} tokens; shorten the question"
        )


def _print_answer(answer, adapters: list[str]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from kgpeft.cli.console import results_console
    from kgpeft.inference.reasoner import EXPLAINED_ANSWERS

    console = results_console()
    topic = answer.topic
    how = "given" if topic.method == "given" else f"linked from '{escape(topic.mention)}' ({topic.method})"
    console.print(f"[bold]Question:[/bold] {escape(answer.question)}")
    console.print(f"[bold]Topic:[/bold] {escape(topic.label)} [dim]{how}[/dim]")
    if topic.ambiguous:
        others = ", ".join(topic.alternatives) or "others"
        console.print(f"[yellow]ambiguous:[/yellow] also {escape(others)}; pass --topic to choose")
    console.print(f"[bold]Adapter:[/bold] {', '.join(adapters) or 'none (base model)'}")
    if not answer.answers:
        console.print("[red]No valid path reached an answer.[/red]")
    for rank, ranked in enumerate(answer.answers[:EXPLAINED_ANSWERS], start=1):
        console.print(f"{rank:>2}. [bold green]{escape(ranked.label)}[/bold green]  score {ranked.score:.3f}")
        for evidence in ranked.evidence:
            console.print(f"      [dim]{escape(evidence)}[/dim]")
    if len(answer.answers) > EXPLAINED_ANSWERS:
        console.print(f"    ... and {len(answer.answers) - EXPLAINED_ANSWERS} more answers (see --json)")

    mode = "constrained to the KG" if answer.constrained else "unconstrained"
    table = Table(title=f"Generated paths ({mode})", show_lines=False)
    table.add_column("p", justify="right")
    table.add_column("valid")
    table.add_column("path")
    for path in answer.paths:
        status = "[green]yes[/green]" if path.valid else f"[red]no ({path.hallucinated_hops} bad hops)[/red]"
        if not path.well_formed:
            status = "[red]malformed[/red]"
        table.add_row(f"{path.probability:.3f}", status, escape(path.text))
    console.print(table)
    hallucinated = sum(p.hallucinated_hops for p in answer.paths)
    if not answer.constrained:
        console.print(f"hallucinated hops: {hallucinated}; invalid paths: {sum(not p.valid for p in answer.paths)}")
    console.print("[dim]" + ", ".join(f"{k} {v:.2f}s" for k, v in answer.timings.items()) + "[/dim]")
