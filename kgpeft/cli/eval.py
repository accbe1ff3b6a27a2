"""`kgpeft eval`: evaluate an adapter against the base model, its teacher and other adapters; write a report.

kgpeft eval --adapter adapters/countries [--compare base,teacher,adapters/countries-alpha1] [--split test]
kgpeft eval --adapter DIR --questions Q.jsonl --kg FILE --json out.json
kgpeft eval --adapter adapters/countries --route-with adapters/elements --compare routed,combined
"""

from __future__ import annotations

import argparse

from kgpeft.cli.options import add_no_4bit_argument, count

_HELP = "Evaluate an adapter and write a report."


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help=_HELP,
        description=_HELP + " Writes report.json, report.md and PNG plots into the adapter folder (or --report-dir).",
    )
    parser.add_argument("--adapter", required=True, metavar="DIR", help="adapter folder to evaluate (the student)")
    parser.add_argument("--kg", default=None, help="RDF file (default: the KG the adapter was trained on)")
    parser.add_argument(
        "--questions", default=None, help="JSONL question file (default: rebuild the adapter's recorded split)"
    )
    parser.add_argument(
        "--skip-bad-lines", action="store_true", help="drop unusable lines of --questions with a warning"
    )
    parser.add_argument("--split", default="test", choices=("train", "validation", "test"), help="default: test")
    parser.add_argument("--limit", type=count(1), default=None, help="evaluate only the first N questions")
    parser.add_argument(
        "--compare",
        default=None,
        help="comma-separated systems to compare with: base, teacher, unconstrained (the student decoding "
        "freely), routed and combined (with --route-with), or other adapter folders (default: base, and teacher "
        "when the adapter has one)",
    )
    parser.add_argument(
        "--route-with",
        action="append",
        default=[],
        metavar="DIR",
        help="another domain's adapter (repeatable), loaded beside the student for 'routed' (each question sent "
        "to the domain whose KG links its text, as `kgpeft ask --adapter A --adapter B` does) and 'combined' "
        "(every adapter active at once, answering in the student's KG)",
    )
    parser.add_argument(
        "--report-dir",
        default=None,
        metavar="DIR",
        help="write report.md, report.json and the plots here (default: the adapter folder)",
    )
    parser.add_argument("--json", dest="json_path", default=None, metavar="FILE", help="also write the metrics here")
    parser.add_argument("--num-paths", type=count(1), default=4, help="beams, i.e. paths per question (default 4)")
    parser.add_argument("--max-hops", type=count(1), default=None, help="longest path (default: as trained)")
    parser.add_argument(
        "--batch-size",
        type=count(1),
        default=32,
        help="questions decoded together (default 32: on CPU a batch of 32 costs 0.6x per question what 8 do)",
    )
    parser.add_argument(
        "--fact-probes", type=count(0), default=64, help="fact-probe minimal pairs; 0 skips (default 64)"
    )
    parser.add_argument(
        "--retention-tokens", type=count(0), default=512, help="tokens of general text for retention KL; 0 skips"
    )
    parser.add_argument(
        "--knowledge-probes",
        type=count(0),
        default=64,
        help="closed-book questions and disambiguation items about trained entities; 0 skips (default 64)",
    )
    add_no_4bit_argument(parser)
    parser.set_defaults(func=run, command="eval")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kgpeft.cli.console import results_console
    from kgpeft.errors import KGPeftError
    from kgpeft.evaluation import ProbeSettings
    from kgpeft.evaluation.api import evaluate_adapter

    try:
        probes = ProbeSettings(
            fact_probes=args.fact_probes, retention_tokens=args.retention_tokens, knowledge=args.knowledge_probes
        )
    except ValueError as err:
        raise KGPeftError(f"--{str(err).replace('_', '-')}") from err
    console = Console(stderr=True)  # progress and status; results go to stdout
    with _ProgressDisplay(console) as display:
        result = evaluate_adapter(
            args.adapter,
            kg=args.kg,
            questions=args.questions,
            split=args.split,
            limit=args.limit,
            compare=_compare_list(args.compare),
            route_with=args.route_with,
            num_paths=args.num_paths,
            max_hops=args.max_hops,
            batch_size=args.batch_size,
            probes=probes,
            load_in_4bit=args.load_in_4bit,
            skip_bad_lines=args.skip_bad_lines,
            report_dir=args.report_dir,
            json_path=args.json_path,
            on_stage=display.stage,
            on_progress=display.progress,
        )
    out = results_console()
    _print_summary(out, result.results)
    out.print(f"report: {result.files['report.md']} (and report.json, plots) in {result.report_dir}")
    if args.json_path:
        out.print(f"metrics: {args.json_path}")
    return 0


class _ProgressDisplay:
    """Shows :func:`~kgpeft.evaluation.api.evaluate_adapter`'s stages as a spinner and its systems as progress bars."""

    def __init__(self, console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console
        self.status = None
        self.bars = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        )
        self.tasks: dict[str, object] = {}
        self.started = False

    def __enter__(self) -> _ProgressDisplay:
        return self

    def __exit__(self, *exc) -> None:
        self._stop_status()
        # Only when started: a non-interactive Progress prints an empty line as it stops (after an error, a second line)
        if self.started:
            self.bars.stop()

    def _stop_status(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def stage(self, message: str) -> None:
        self._stop_status()
        self.status = self.console.status(message)
        self.status.start()

    def progress(self, name: str, event: str, n: int) -> None:
        self._stop_status()
        if event == "start":
            self.bars.start()
            self.started = True
            self.tasks[name] = self.bars.add_task(f"{name:<14}", total=n)
        elif event == "advance":
            self.bars.advance(self.tasks[name], n)
        else:  # "probes", then "done"
            self.bars.update(self.tasks[name], description=f"{name:<14} {event}")


def _compare_list(spec: str | None) -> list[str] | None:
    """The systems to compare with, as given (None: the library's default)."""
    if spec is None:
        return None
    return [item.strip() for item in spec.split(",") if item.strip()]


def _print_summary(console, results) -> None:
    from rich.table import Table

    from kgpeft.evaluation.report import alpha_comparison, report_columns

    columns = report_columns(results)
    table = Table(title="evaluation")
    table.add_column("system", no_wrap=True)
    for _, title, _ in columns:
        table.add_column(title, justify="right")
    for r in results:
        table.add_row(r.name, *("–" if r.metrics.get(k) is None else f"{r.metrics[k]:.{d}f}" for k, _, d in columns))
    console.print(table)
    console.print(alpha_comparison(results))
