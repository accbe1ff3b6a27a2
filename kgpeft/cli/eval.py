"""`kgpeft eval`: evaluate an adapter against the base model, its teacher and other adapters; write a report.

kgpeft eval --adapter adapters/countries [--compare base,teacher,adapters/countries-alpha1] [--split test]
kgpeft eval --adapter DIR --questions Q.jsonl --kg FILE --json out.json
kgpeft eval --adapter adapters/countries --route-with adapters/elements --compare routed,combined
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from kgpeft.cli.options import add_no_4bit_argument, count

_HELP = "Evaluate an adapter and write a report."
KEYWORDS = ("base", "teacher", "unconstrained", "routed", "combined")
DOMAIN_KEYWORDS = ("routed", "combined")


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
    add_no_4bit_argument(parser)
    parser.set_defaults(func=run, command="eval")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from kgpeft.adapters import read_adapter
    from kgpeft.cli.console import results_console
    from kgpeft.data import EntityLinker
    from kgpeft.errors import DataError
    from kgpeft.evaluation import SystemResult, evaluate, link_questions, read_training_log, write_report
    from kgpeft.evaluation.report import REPORT_FILES, results_json
    from kgpeft.inference.loading import load_kg, load_model
    from kgpeft.io import check_output_file, check_output_files, write_json

    console = Console(stderr=True)  # progress and status; results go to stdout
    student = read_adapter(args.adapter)
    # Checked before the evaluation, which takes minutes, rather than when its results are written;
    # an earlier kgpeft report is replaced, a file of the user's is not.
    report_dir = Path(args.report_dir) if args.report_dir else student.path
    check_output_files(report_dir, REPORT_FILES, key="systems", what="kgpeft eval", flag="--report-dir")
    if args.json_path:
        check_output_file(args.json_path, key="systems", what="kgpeft eval result", flag="--json")
    kg = load_kg(args.kg, student)
    trained_hops = student.record.max_hops()
    max_hops = trained_hops if args.max_hops is None else args.max_hops
    # Gold paths of a question file are searched as deep as training went, whatever the decoding depth.
    questions, source = _questions(args, kg, student, max(trained_hops, max_hops))
    if args.limit is not None:
        questions = questions[: args.limit]
    if not questions:
        raise DataError(f"no questions to evaluate in {source}")
    linker = EntityLinker(kg)
    questions = link_questions(kg, questions, linker)

    compare = _compare_list(args.compare, student.path)
    others = [c for c in compare if c not in KEYWORDS]
    wanted = [c for c in compare if c in DOMAIN_KEYWORDS]
    if wanted and not args.route_with:
        raise DataError(f"--compare {','.join(wanted)} needs the other domains' adapters: add --route-with DIR")
    with console.status("loading the model and adapters"):
        loaded = load_model([student.path, *others, *args.route_with], load_in_4bit=args.load_in_4bit)
    systems = _systems(args, loaded, kg, compare, max_hops)

    results = []
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        for system, info in systems:
            task = progress.add_task(f"{system.name:<14}", total=len(questions))
            metrics = evaluate(
                system,
                questions,
                kg,
                probes=False,
                progress=lambda n, task=task: progress.advance(task, n),
                linker=linker,
            )
            progress.update(task, description=f"{system.name:<14} probes")
            metrics.update(system.probes(kg))
            progress.update(task, description=f"{system.name:<14} done")
            log = read_training_log(info.path) if info is not None else []
            results.append(SystemResult(system.name, metrics, system.description, system.alpha, log))

    context = {
        "adapter": str(student.path),
        "kg": f"{_shown_path(kg.source)} (sha256 {kg.sha256[:12]})",
        "questions": f"{len(questions)} from {source}" + (f" (first {args.limit})" if args.limit else ""),
        "decoding": f"{args.num_paths} beams, at most {max_hops} hops, constrained to the KG unless noted",
        "base model": f"{student.record.base_model} ({'4-bit nf4' if student.record.load_in_4bit else 'full precision'})",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    written = write_report(report_dir, results, context)
    if args.json_path:
        write_json(args.json_path, {**context, "systems": results_json(results)})
    out = results_console()
    _print_summary(out, results)
    out.print(f"report: {written['report.md']} (and report.json, plots) in {report_dir}")
    if args.json_path:
        out.print(f"metrics: {args.json_path}")
    return 0


def _shown_path(path: str | None) -> str | None:
    """``path`` relative to the working directory when it lies under it (reports get copied and shared)."""
    if not path:
        return path
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def _questions(args: argparse.Namespace, kg, student, gold_hops: int):
    """The questions to evaluate and where they come from: a question file, or the adapter's recorded split."""
    from kgpeft.data import build_dataset, load_question_file
    from kgpeft.errors import AdapterError

    if args.questions:
        questions = load_question_file(kg, args.questions, max_hops=gold_hops, skip_bad_lines=args.skip_bad_lines)
        return questions, args.questions
    config = student.record.data_config()
    if config is None:
        raise AdapterError(f"{student.path}: kgpeft.json records no data config; pass --questions FILE")
    return build_dataset(kg, config).split(args.split), f"the {args.split} split of the adapter's data config"


def _compare_list(spec: str | None, student_dir: Path) -> list[str]:
    """The systems to compare with, as given, or ``base`` (and ``teacher`` when the adapter folder has one)."""
    if spec is None:
        return ["base", "teacher"] if (student_dir / "teacher").is_dir() else ["base"]
    return [item.strip() for item in spec.split(",") if item.strip()]


def _systems(args: argparse.Namespace, loaded, kg, compare: list[str], max_hops: int):
    """(system, adapter info or None) for the student and each compared system, student first."""
    from kgpeft.adapters.registry import STUDENT_SYSTEM
    from kgpeft.errors import AdapterError, KGPeftError
    from kgpeft.evaluation import ProbeSettings, ReasonerSystem, RoutedSystem, TeacherSystem
    from kgpeft.inference import KGReasoner
    from kgpeft.inference.loading import load_kg
    from kgpeft.teachers import load_teacher

    reasoner = KGReasoner(loaded.model, loaded.tokenizer, kg)
    try:
        probes = ProbeSettings(fact_probes=args.fact_probes, retention_tokens=args.retention_tokens)
    except ValueError as err:
        raise KGPeftError(f"--{str(err).replace('_', '-')}") from err
    settings = {"num_paths": args.num_paths, "max_hops": max_hops, "batch_size": args.batch_size}
    (student_name, student), *other_adapters = loaded.adapters
    # --route-with adapters were loaded last; each answers in its own graph
    domain_adapters = other_adapters[len(other_adapters) - len(args.route_with) :]
    alpha = _alpha(student.record)
    home = ReasonerSystem(
        STUDENT_SYSTEM,
        reasoner,
        adapter=student_name,
        description=str(student.path),
        alpha=alpha,
        probe_settings=probes,
        **settings,
    )
    systems = [(home, student)]
    adapters = iter(other_adapters)
    for item in compare:
        if item == "base":
            system = ReasonerSystem(
                "base", reasoner, adapter=None, description="no adapter", probe_settings=probes, **settings
            )
            systems.append((system, None))
        elif item == "unconstrained":
            system = ReasonerSystem(
                "unconstrained",
                reasoner,
                adapter=student_name,
                description="student, free decoding",
                constrained=False,
                probe_settings=ProbeSettings(fact_probes=0, retention_tokens=0),
                **settings,
            )
            systems.append((system, None))
        elif item == "teacher":
            folder = student.path / "teacher"
            if not folder.is_dir():
                raise AdapterError(
                    f"{student.path} has no teacher/ folder to compare with; drop 'teacher' from --compare"
                )
            systems.append((TeacherSystem(load_teacher(folder, kg)), None))
        elif item == "routed":
            domains = [(student_name, reasoner)] + [
                (name, KGReasoner(loaded.model, loaded.tokenizer, load_kg(None, info)))
                for name, info in domain_adapters
            ]
            systems.append((RoutedSystem("routed", home, domains), None))
        elif item == "combined":
            names = [student_name] + [name for name, _ in domain_adapters]
            system = ReasonerSystem(
                "combined",
                reasoner,
                adapter=names,
                description=" + ".join(names) + " active at once",
                probe_settings=probes,
                **settings,
            )
            systems.append((system, None))
        else:
            name, info = next(adapters)
            system = ReasonerSystem(
                info.path.name,
                reasoner,
                adapter=name,
                description=str(info.path),
                alpha=_alpha(info.record),
                probe_settings=probes,
                **settings,
            )
            systems.append((system, info))
    return systems


def _alpha(record) -> float | None:
    """The adapter's distillation alpha (None for an adapter that was combined, not trained)."""
    config = record.fit_config()
    return config.train.alpha if config is not None else None


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
