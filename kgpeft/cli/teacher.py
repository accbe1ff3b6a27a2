"""`kgpeft teacher`: fit a path-generating teacher on a knowledge graph, or evaluate a fitted one.

    kgpeft teacher fit --kg FILE [--teacher gnn] [--questions Q.jsonl] [-o DIR] [teacher options]
    kgpeft teacher eval --kg FILE --teacher-dir DIR [--split test] [--json FILE]

Teacher options (``--epochs``, ``--hidden-dim``, ``--temperature``, ...) are generated
from the registered teachers' config dataclasses. They are added when ``teacher fit``
is parsed, not at start-up, because the teacher modules import torch and PyG: ``kgpeft
--help`` stays instant.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kgpeft.cli.options import add_overwrite_argument

SPLITS = ("train", "validation", "test")


class _LazyFlagsParser(argparse.ArgumentParser):
    """An ArgumentParser that calls ``add_flags(self)`` right before its first parse (help included)."""

    def __init__(self, *args: Any, add_flags: Callable[[argparse.ArgumentParser], None] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._add_flags = add_flags

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        if self._add_flags is not None:
            add_flags, self._add_flags = self._add_flags, None
            add_flags(self)
        return super().parse_known_args(args, namespace)


def add_teacher_flags(parser: argparse.ArgumentParser) -> None:
    """The chosen teacher's options, and the run settings a teacher receives: the data's depth and a seed."""
    from kgpeft.cli.options import add_dataclass_arguments, add_teacher_arguments
    from kgpeft.data import DataConfig

    add_dataclass_arguments(parser.add_argument_group("data options"), DataConfig, ("max_hops", "skip_bad_lines"))
    parser.add_argument("--seed", type=int, default=0, help="Random seed of fitting (default: 0).")
    add_teacher_arguments(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    help_ = "Fit or evaluate a path-generating teacher."
    parser = subparsers.add_parser("teacher", help=help_, description=help_)
    parser.set_defaults(func=run, command="teacher", action=None)
    actions = parser.add_subparsers(title="actions", metavar="ACTION", parser_class=_LazyFlagsParser)

    fit_help = "Fit a teacher on a KG's training questions (early stopping on validation) and save it."
    fit = actions.add_parser("fit", help=fit_help, description=fit_help, add_flags=add_teacher_flags)
    fit.add_argument("--kg", required=True, metavar="FILE", help="RDF file of the knowledge graph.")
    fit.add_argument(
        "--teacher", default="gnn", metavar="NAME", help="Registered teacher: gnn, oracle, llm (default: gnn)."
    )
    fit.add_argument(
        "--questions", metavar="Q.jsonl", help="JSONL question file (default: questions synthesised from the KG)."
    )
    fit.add_argument("-o", "--output", metavar="DIR", help="Output folder (default: teachers/<KG name>-<teacher>).")
    add_overwrite_argument(fit, "teacher folder (one with teacher.json)")
    fit.set_defaults(action="fit")

    eval_help = "Evaluate a fitted teacher alone on a split: Hits@1, F1 and path validity."
    evaluate = actions.add_parser("eval", help=eval_help, description=eval_help)
    evaluate.add_argument("--kg", required=True, metavar="FILE", help="RDF file the teacher was fitted on.")
    evaluate.add_argument("--teacher-dir", required=True, metavar="DIR", help="Folder written by `kgpeft teacher fit`.")
    evaluate.add_argument("--split", default="test", choices=SPLITS, help="Split to evaluate (default: test).")
    evaluate.add_argument(
        "--questions",
        metavar="Q.jsonl",
        help="JSONL question file (default: the questions the teacher was fitted with).",
    )
    evaluate.add_argument(
        "--skip-bad-lines", action="store_true", help="Drop unusable lines of --questions with a warning."
    )
    evaluate.add_argument("--json", metavar="FILE", help="Also write the metrics to this JSON file.")
    evaluate.set_defaults(action="eval")
    parser.set_defaults(print_help=parser.print_help)


def run(args: argparse.Namespace) -> int:
    if args.action == "fit":
        return run_fit(args)
    if args.action == "eval":
        return run_eval(args)
    args.print_help()
    return 1


def run_fit(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kgpeft.cli.options import build_config, teacher_values
    from kgpeft.data import DataConfig, build_dataset
    from kgpeft.io import check_output_dir
    from kgpeft.kg import load_graph
    from kgpeft.kg.load import graph_name
    from kgpeft.teachers import get_teacher
    from kgpeft.teachers.base import CONFIG_NAME

    console = Console(stderr=True)
    output = Path(args.output) if args.output else Path("teachers") / f"{graph_name(args.kg)}-{args.teacher}"
    inputs = [args.kg, args.questions]  # refused before fitting, not after
    check_output_dir(output, marker=CONFIG_NAME, what="teacher folder", overwrite=args.overwrite, inputs=inputs)
    options = teacher_values(args, args.teacher)
    data_config = build_config(DataConfig, {**vars(args), "question_file": args.questions}, "data options")
    teacher = get_teacher(args.teacher, max_hops=data_config.max_hops, seed=args.seed, **options)
    kg = load_graph(args.kg)
    questions = build_dataset(kg, data_config)
    train, validation = questions.split("train"), questions.split("validation")
    console.print(f"fitting the {args.teacher} teacher on {len(train)} questions ({len(validation)} for validation)")
    metrics = teacher.fit(kg, train, validation=validation)
    teacher.info = {"data": dataclasses.asdict(data_config)}
    teacher.save(output)
    _print_metrics(f"{args.teacher} teacher, fitted", metrics)
    console.print(f"saved to {output}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from kgpeft.data import DataConfig, build_dataset
    from kgpeft.evaluation import evaluate_teacher
    from kgpeft.fields import dataclass_from_dict
    from kgpeft.io import check_output_file, write_json
    from kgpeft.kg import load_graph
    from kgpeft.teachers import load_teacher

    if args.json:  # before the evaluation: a file of the user's is never replaced
        check_output_file(args.json, key="split", what="kgpeft teacher eval result", flag="--json")
    kg = load_graph(args.kg)
    teacher = load_teacher(args.teacher_dir, kg)
    data_config = dataclass_from_dict(DataConfig, teacher.info.get("data", {}))
    if args.questions:
        data_config = dataclasses.replace(data_config, question_file=args.questions, skip_bad_lines=args.skip_bad_lines)
    questions = build_dataset(kg, data_config).split(args.split)
    if teacher.needs_answers:
        questions = [q for q in questions if q.answers]
    metrics = {"teacher": teacher.name, "split": args.split, **evaluate_teacher(teacher, questions)}
    _print_metrics(f"{teacher.name} teacher on the {args.split} split", metrics)
    if args.json:
        write_json(args.json, metrics)
    return 0


def _print_metrics(title: str, metrics: dict[str, Any]) -> None:
    from rich.table import Table

    from kgpeft.cli.console import results_console

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    results_console().print(table)
