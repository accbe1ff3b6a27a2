"""``kgpeft.evaluate``: an adapter against the base model, its teacher and other systems, in one call.

Adapter folder -> graph and questions (a question file, or the adapter's recorded split)
-> the compared systems, built by name from a small registry -> each answers every
question -> metrics, a report (``report.md``, ``report.json``, plots) and optionally a
JSON file. The CLI's ``kgpeft eval`` only parses flags, calls :func:`evaluate_adapter` and
prints its :class:`EvalResult`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from kgpeft.errors import AdapterError, DataError
from kgpeft.evaluation.knowledge import KnowledgeProbes, build_knowledge_probes, knowledge_metrics
from kgpeft.evaluation.report import SystemResult
from kgpeft.evaluation.systems import ProbeSettings, ReasonerSystem, RoutedSystem, System, TeacherSystem
from kgpeft.kg.sparql import is_store_url
from kgpeft.types import StrPath

if TYPE_CHECKING:
    from kgpeft.adapters.record import AdapterRecord
    from kgpeft.adapters.registry import AdapterInfo
    from kgpeft.data import Question
    from kgpeft.inference import KGReasoner
    from kgpeft.inference.loading import LoadedModel
    from kgpeft.kg import KnowledgeGraph

SPLITS = ("train", "validation", "test")


@dataclass
class EvalResult:
    """What :func:`evaluate_adapter` produced: one result per system (the student first) and the report's files."""

    results: list[SystemResult]
    context: dict[str, str]
    """What was evaluated and how (adapter, graph, questions, decoding, base model, date), as the report states it."""
    report_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    """The report's files by name (``report.md``, ``report.json``, plots), and ``json`` when asked for."""


@dataclass
class SystemContext:
    """What a system builder may use: the loaded model and adapters, the graph, and the run's settings."""

    loaded: LoadedModel
    kg: KnowledgeGraph
    reasoner: KGReasoner
    home: ReasonerSystem
    """The student: the evaluated adapter, decoding constrained to its graph."""
    student_name: str
    """The student's PEFT adapter name."""
    student: AdapterInfo
    domains: list[tuple[str, AdapterInfo]]
    """The ``route_with`` adapters (PEFT name, folder), each answering in its own graph."""
    others: Iterator[tuple[str, AdapterInfo]]
    """The compared adapter folders, in the order they were named."""
    probes: ProbeSettings
    settings: dict[str, Any]
    """``num_paths``, ``max_hops`` and ``batch_size``, shared by every reasoning system."""


SystemBuilder = Callable[[SystemContext], "tuple[System, AdapterInfo | None]"]
"""Builds one compared system; the adapter folder it comes with (for its alpha and training log), or None."""

_SYSTEMS: dict[str, SystemBuilder] = {}
_NEEDS_DOMAINS: set[str] = set()
B = TypeVar("B", bound=SystemBuilder)


def register_system(name: str, *, needs_domains: bool = False) -> Callable[[B], B]:
    """Register a builder for ``compare=[name]``; ``needs_domains``: it needs ``route_with`` adapters.

    >>> @register_system("base")  # doctest: +SKIP
    ... def base(ctx: SystemContext) -> tuple[System, None]: ...
    """

    def decorate(builder: B) -> B:
        if _SYSTEMS.get(name, builder) is not builder:
            raise ValueError(f"a system named {name!r} is already registered")
        _SYSTEMS[name] = builder
        if needs_domains:
            _NEEDS_DOMAINS.add(name)
        return builder

    return decorate


def available_systems() -> list[str]:
    """The names ``compare`` accepts besides adapter folders, in registration order."""
    return list(_SYSTEMS)


@register_system("base")
def _base(ctx: SystemContext) -> tuple[System, None]:
    """The base model with no adapter active."""
    return ReasonerSystem(
        "base", ctx.reasoner, adapter=None, description="no adapter", probe_settings=ctx.probes, **ctx.settings
    ), None


@register_system("teacher")
def _teacher(ctx: SystemContext) -> tuple[System, None]:
    """The teacher saved in the adapter folder, answering alone."""
    from kgpeft.teachers import load_teacher

    folder = ctx.student.path / "teacher"
    if not folder.is_dir():
        raise AdapterError(f"{ctx.student.path} has no teacher/ folder to compare with; drop 'teacher' from --compare")
    return TeacherSystem(load_teacher(folder, ctx.kg)), None


@register_system("unconstrained")
def _unconstrained(ctx: SystemContext) -> tuple[System, None]:
    """The student decoding freely: how often it would hallucinate without the graph's constraint."""
    return ReasonerSystem(
        "unconstrained",
        ctx.reasoner,
        adapter=ctx.student_name,
        description="student, free decoding",
        constrained=False,
        probe_settings=ProbeSettings(fact_probes=0, retention_tokens=0, knowledge=0),
        **ctx.settings,
    ), None


@register_system("routed", needs_domains=True)
def _routed(ctx: SystemContext) -> tuple[System, None]:
    """Each question sent to the domain whose graph links its text, as ``kgpeft ask`` with several adapters does."""
    from kgpeft.inference import KGReasoner
    from kgpeft.inference.loading import load_kg

    domains = [(ctx.student_name, ctx.reasoner)] + [
        (name, KGReasoner(ctx.loaded.model, ctx.loaded.tokenizer, load_kg(None, info))) for name, info in ctx.domains
    ]
    return RoutedSystem("routed", ctx.home, domains), None


@register_system("combined", needs_domains=True)
def _combined(ctx: SystemContext) -> tuple[System, None]:
    """Every adapter active at once, answering in the student's graph."""
    names = [ctx.student_name] + [name for name, _ in ctx.domains]
    description = " + ".join(names) + " active at once"
    return ReasonerSystem(
        "combined", ctx.reasoner, adapter=names, description=description, probe_settings=ctx.probes, **ctx.settings
    ), None


def _adapter(ctx: SystemContext) -> tuple[System, AdapterInfo]:
    """Another adapter folder (say, the alpha = 1 run), on the same graph and questions."""
    name, info = next(ctx.others)
    system = ReasonerSystem(
        info.path.name,
        ctx.reasoner,
        adapter=name,
        description=str(info.path),
        alpha=adapter_alpha(info.record),
        probe_settings=ctx.probes,
        **ctx.settings,
    )
    return system, info


def adapter_alpha(record: AdapterRecord) -> float | None:
    """The adapter's distillation alpha (None for an adapter that was combined, not trained)."""
    config = record.fit_config()
    return config.train.alpha if config is not None else None


def default_compare(student_dir: Path) -> list[str]:
    """``base``, and ``teacher`` when the adapter folder has one."""
    return ["base", "teacher"] if (student_dir / "teacher").is_dir() else ["base"]


def evaluate_adapter(
    adapter: StrPath,
    *,
    kg: StrPath | None = None,
    questions: StrPath | None = None,
    split: str = "test",
    limit: int | None = None,
    compare: Sequence[str] | None = None,
    route_with: Sequence[StrPath] = (),
    num_paths: int = 4,
    max_hops: int | None = None,
    batch_size: int = 32,
    probes: ProbeSettings | None = None,
    load_in_4bit: bool | None = None,
    skip_bad_lines: bool = False,
    report_dir: StrPath | None = None,
    json_path: StrPath | None = None,
    on_stage: Callable[[str], None] | None = None,
    on_progress: Callable[[str, str, int], None] | None = None,
) -> EvalResult:
    """Evaluate the adapter in folder ``adapter`` against ``compare`` and write the report; return the results.

    ``compare`` names registered systems (:func:`available_systems`: base, teacher,
    unconstrained, routed, combined) or other adapter folders; by default ``base``, and
    ``teacher`` when the adapter has one. ``routed`` and ``combined`` need ``route_with``.
    Questions come from ``questions`` (a JSONL file) or else the adapter's recorded
    ``split``; ``kg`` defaults to the graph it was trained on, ``max_hops`` to its depth.
    The report goes to ``report_dir`` (default: the adapter folder); outputs are checked
    before the evaluation, which takes minutes. ``on_stage(message)`` reports slow steps;
    ``on_progress(system, event, n)`` reports ``("start", total)``, ``("advance", done)``,
    ``("probes", 0)`` and ``("done", 0)`` per system.

    >>> import kgpeft
    >>> result = kgpeft.evaluate("adapters/countries", compare=["base", "teacher"])  # doctest: +SKIP
    >>> {r.name: r.metrics["hits@1"] for r in result.results}  # doctest: +SKIP
    {'student': 0.93, 'base': 0.24, 'teacher': 1.0}
    """
    from kgpeft.adapters import read_adapter
    from kgpeft.data import EntityLinker
    from kgpeft.evaluation.evaluate import link_questions, predict, question_results, question_type, score
    from kgpeft.evaluation.metrics import scores_by_type
    from kgpeft.evaluation.report import REPORT_FILES, read_training_log, results_json, write_report
    from kgpeft.inference.loading import load_kg, load_model
    from kgpeft.io import check_output_file, check_output_files, write_json

    stage = on_stage or (lambda message: None)
    progress = on_progress or (lambda name, event, n: None)
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    student = read_adapter(adapter)
    # Checked before the evaluation, which takes minutes, rather than when its results are written;
    # an earlier kgpeft report is replaced, a file of the user's is not.
    report_dir = Path(report_dir) if report_dir else student.path
    check_output_files(report_dir, REPORT_FILES, key="systems", what="kgpeft eval", flag="--report-dir")
    if json_path:
        check_output_file(json_path, key="systems", what="kgpeft eval result", flag="--json")
    graph = load_kg(kg, student)
    trained_hops = student.record.max_hops()
    max_hops = trained_hops if max_hops is None else max_hops
    # Gold paths of a question file are searched as deep as training went, whatever the decoding depth.
    question_list, source = _questions(graph, student, questions, split, max(trained_hops, max_hops), skip_bad_lines)
    if limit is not None:
        question_list = question_list[:limit]
    if not question_list:
        raise DataError(f"no questions to evaluate in {source}")
    linker = EntityLinker(graph)
    question_list = link_questions(graph, question_list, linker)

    compare = list(compare) if compare is not None else default_compare(student.path)
    others = [c for c in compare if c not in _SYSTEMS]
    wanted = [c for c in compare if c in _NEEDS_DOMAINS]
    if wanted and not route_with:
        raise DataError(f"--compare {','.join(wanted)} needs the other domains' adapters: add --route-with DIR")
    probes = probes or ProbeSettings()
    stage("loading the model and adapters")
    loaded = load_model([student.path, *others, *route_with], load_in_4bit=load_in_4bit)
    systems = _build_systems(loaded, graph, compare, len(route_with), probes, num_paths, max_hops, batch_size)
    knowledge = _knowledge_probes(graph, student, probes)

    results = []
    question_rows: list[dict[str, Any]] = []
    for system, info in systems:
        progress(system.name, "start", len(question_list))
        asked, predictions = predict(
            system,
            question_list,
            graph,
            progress=lambda n, name=system.name: progress(name, "advance", n),
            linker=linker,
        )
        metrics = score(asked, predictions)
        by_type = scores_by_type([question_type(q) for q in asked], [q.answers for q in asked], predictions)
        question_rows += question_results(graph, system.name, asked, predictions)
        progress(system.name, "probes", 0)
        metrics.update(system.probes(graph))
        if knowledge is not None and isinstance(system, ReasonerSystem) and system.probe_settings.knowledge:
            with system.active():
                metrics.update(knowledge_metrics(system.reasoner, knowledge, max_hops=max_hops))
        progress(system.name, "done", 0)
        log = read_training_log(info.path) if info is not None else []
        results.append(SystemResult(system.name, metrics, system.description, system.alpha, log, by_type))

    context = {
        "adapter": str(student.path),
        "kg": f"{_shown_path(graph.source)} (sha256 {graph.sha256[:12]})",
        "questions": f"{len(question_list)} from {source}" + (f" (first {limit})" if limit else ""),
        "decoding": f"{num_paths} beams, at most {max_hops} hops, constrained to the KG unless noted",
        "base model": f"{student.record.base_model} ({'4-bit nf4' if student.record.load_in_4bit else 'full precision'})",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    files = write_report(report_dir, results, context, question_rows)
    if json_path:
        write_json(json_path, {**context, "systems": results_json(results)})
        files["json"] = Path(json_path)
    return EvalResult(results=results, context=context, report_dir=report_dir, files=files)


def _build_systems(
    loaded: LoadedModel,
    kg: KnowledgeGraph,
    compare: list[str],
    num_domains: int,
    probes: ProbeSettings,
    num_paths: int,
    max_hops: int,
    batch_size: int,
) -> list[tuple[System, AdapterInfo | None]]:
    """(system, adapter folder or None) for the student and each compared system, student first."""
    from kgpeft.adapters.registry import STUDENT_SYSTEM
    from kgpeft.inference import KGReasoner

    reasoner = KGReasoner(loaded.model, loaded.tokenizer, kg)
    settings = {"num_paths": num_paths, "max_hops": max_hops, "batch_size": batch_size}
    (student_name, student), *other_adapters = loaded.adapters
    # The route_with adapters were loaded last; each answers in its own graph
    domains = other_adapters[len(other_adapters) - num_domains :]
    home = ReasonerSystem(
        STUDENT_SYSTEM,
        reasoner,
        adapter=student_name,
        description=str(student.path),
        alpha=adapter_alpha(student.record),
        probe_settings=probes,
        **settings,
    )
    ctx = SystemContext(
        loaded, kg, reasoner, home, student_name, student, domains, iter(other_adapters), probes, settings
    )
    return [(home, student)] + [_SYSTEMS.get(item, _adapter)(ctx) for item in compare]


def _knowledge_probes(kg: KnowledgeGraph, student: AdapterInfo, probes: ProbeSettings) -> KnowledgeProbes | None:
    """The knowledge measures' items, from the student's training split (None when off or not recorded)."""
    from kgpeft.data import build_dataset

    config = student.record.data_config()
    if not probes.knowledge or config is None:
        return None
    try:
        train = build_dataset(kg, config).split("train")
    except DataError as err:  # the recorded question file is gone: the path evaluation may still run
        logging.getLogger(__name__).warning("knowledge measures skipped: the training data cannot be rebuilt: %s", err)
        return None
    return build_knowledge_probes(kg, train, count=probes.knowledge, seed=probes.seed)


def _questions(
    kg: KnowledgeGraph, student: AdapterInfo, path: StrPath | None, split: str, gold_hops: int, skip_bad_lines: bool
) -> tuple[list[Question], str]:
    """The questions to evaluate and where they come from: a question file, or the adapter's recorded split."""
    from kgpeft.data import build_dataset, load_question_file

    if path:
        return load_question_file(kg, path, max_hops=gold_hops, skip_bad_lines=skip_bad_lines), str(path)
    config = student.record.data_config()
    if config is None:
        raise AdapterError(f"{student.path}: kgpeft.json records no data config; pass --questions FILE")
    return build_dataset(kg, config).split(split), f"the {split} split of the adapter's data config"


def _shown_path(path: str | None) -> str | None:
    """``path`` relative to the working directory when it lies under it (reports get copied and shared)."""
    if not path or is_store_url(path):  # a store's URL is shown as given
        return path
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path
