"""The evaluation report: ``report.json``, ``report.md`` and PNG plots, each written atomically.

The Markdown report has one table row per system, the alpha comparison in words, and
the plots: training loss curves (hard and soft terms, from each adapter's
``training_log.json``) and the metrics per system as bars.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgpeft.adapters.registry import REPORT_FILE as REPORT_JSON
from kgpeft.io import atomic_file, write_json
from kgpeft.types import StrPath

REPORT_MD = "report.md"
LOSS_PLOT = "loss_curves.png"
METRICS_PLOT = "metrics.png"
TRAINING_LOG = "training_log.json"
# Every file write_report may write, its record first (what `kgpeft eval` checks before replacing them).
QUESTIONS_FILE = "questions.jsonl"
"""Per-question results: one JSON line per system and question (see evaluation.evaluate.question_results)."""
REPORT_FILES = (REPORT_JSON, REPORT_MD, METRICS_PLOT, LOSS_PLOT, QUESTIONS_FILE)

# (key, column title, decimals); the bar plot shows the metrics that are shares in [0, 1].
COLUMNS = (
    ("hits@1", "Hits@1", 3),
    ("f1", "F1", 3),
    ("path_validity", "path validity", 3),
    ("gold_path_match", "gold-path match", 3),
    ("fact_probe", "fact probe", 3),
    ("retention_kl", "retention KL", 4),
    ("hallucinated_hops_per_question", "hallucinated hops / q", 2),
    ("latency_s", "latency (s/q)", 3),
    ("misrouted", "misrouted", 3),
    ("closed_book_infilled", "closed-book (infilled facts)", 3),
    ("closed_book_other", "closed-book (other facts)", 3),
    ("closed_book_plain_infilled", "closed-book asked plainly (infilled)", 3),
    ("closed_book_plain_other", "closed-book asked plainly (other)", 3),
    ("disambiguation", "disambiguation", 3),
    ("disambiguation_se", "± SE", 3),
    ("disambiguation_chance", "chance", 3),
    ("free_hallucinated_hops", "free halluc. hops / q", 2),
    ("free_path_correct", "free path right", 3),
    ("free_non_entity", "free answers not entities", 3),
    ("general_ppl", "general ppl", 2),
)
KNOWLEDGE_COLUMNS = tuple(key for key, _, _ in COLUMNS[COLUMNS.index(("misrouted", "misrouted", 3)) + 1 :])
"""kgpeft.evaluation.knowledge's measures."""
OPTIONAL_COLUMNS = ("misrouted", *KNOWLEDGE_COLUMNS)
"""Shown only when some system has the metric (routed evaluation, knowledge measures)."""
SHARE_METRICS = ("hits@1", "f1", "path_validity", "gold_path_match", "fact_probe")


@dataclass
class SystemResult:
    """One evaluated system: its name, what it is, its distillation alpha (adapters), its metrics, its training log."""

    name: str
    metrics: dict[str, float | None]
    description: str = ""
    alpha: float | None = None
    training_log: list[dict[str, Any]] = field(default_factory=list)
    by_type: dict[str, dict[str, float]] = field(default_factory=dict)
    """Hits@1 and question count per question type, when the question file gives types."""


def read_training_log(adapter_dir: StrPath) -> list[dict[str, Any]]:
    """The trainer's log history saved beside an adapter (empty when there is none)."""
    path = Path(adapter_dir) / TRAINING_LOG
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, list) else data.get("log_history", [])


def alpha_comparison(results: Sequence[SystemResult]) -> str:
    """One plain sentence (or two) comparing adapters trained with different alphas, by Hits@1 then F1.

    >>> alpha_comparison([SystemResult("a", {"hits@1": 0.8, "f1": 0.7}, alpha=0.5),
    ...                   SystemResult("b", {"hits@1": 0.7, "f1": 0.7}, alpha=1.0)])
    'alpha = 0.5 (a): Hits@1 0.800, F1 0.700; alpha = 1 (b): Hits@1 0.700, F1 0.700. Distillation (alpha = 0.5, a) did better than hard labels only (alpha = 1, b): Hits@1 +0.100.'
    """
    adapters = [r for r in results if r.alpha is not None and r.metrics.get("hits@1") is not None]
    if len({r.alpha for r in adapters}) < 2:
        return (
            "Only one alpha was evaluated. To compare distillation with hard labels only, train with --alpha 1 "
            "on the same budget and pass that adapter to --compare."
        )
    listing = "; ".join(
        f"alpha = {r.alpha:g} ({r.name}): Hits@1 {r.metrics['hits@1']:.3f}, F1 {_fmt(r.metrics.get('f1'), 3)}"
        for r in sorted(adapters, key=lambda r: r.alpha)
    )
    hard = [r for r in adapters if r.alpha == 1.0]
    soft = [r for r in adapters if r.alpha != 1.0]
    if not hard:
        return listing + ". No alpha = 1 (hard labels only) adapter was evaluated."
    best_hard = max(hard, key=_rank_key)
    best_soft = max(soft, key=_rank_key)
    delta = best_soft.metrics["hits@1"] - best_hard.metrics["hits@1"]
    soft_name = f"alpha = {best_soft.alpha:g}, {best_soft.name}"
    hard_name = f"alpha = 1, {best_hard.name}"
    if _rank_key(best_soft) > _rank_key(best_hard):
        verdict = f"Distillation ({soft_name}) did better than hard labels only ({hard_name})"
    elif _rank_key(best_soft) < _rank_key(best_hard):
        verdict = f"Hard labels only ({hard_name}) did better than distillation ({soft_name})"
    else:
        verdict = f"Distillation ({soft_name}) and hard labels only ({hard_name}) did equally well"
    return f"{listing}. {verdict}: Hits@1 {delta:+.3f}."


def _rank_key(result: SystemResult) -> tuple[float, float]:
    return (result.metrics.get("hits@1") or 0.0, result.metrics.get("f1") or 0.0)


def _fmt(value: float | None, decimals: int) -> str:
    return "–" if value is None else f"{value:.{decimals}f}"


def report_columns(results: Sequence[SystemResult]) -> tuple[tuple[str, str, int], ...]:
    """:data:`COLUMNS`, less the optional ones that no system has."""
    return tuple(
        column
        for column in COLUMNS
        if column[0] not in OPTIONAL_COLUMNS or any(r.metrics.get(column[0]) is not None for r in results)
    )


def markdown(results: Sequence[SystemResult], context: Mapping[str, Any], plots: Sequence[str]) -> str:
    """The Markdown report: what was evaluated, the metrics table, the alpha comparison, the plots."""
    lines = ["# kgpeft evaluation report", ""]
    lines += [f"- **{key}**: {value}" for key, value in context.items()]
    lines += ["", "## Metrics", ""]
    columns = report_columns(results)
    header = ["system", "alpha", *(title for _, title, _ in columns)]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for r in results:
        cells = [f"{r.name}" + (f" ({r.description})" if r.description else ""), _fmt(r.alpha, 2)]
        cells += [_fmt(r.metrics.get(key), decimals) for key, _, decimals in columns]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Hits@1: the top answer is a gold answer. F1: the answer set of the most probable valid path against "
        "the gold set. Path validity: share of generated paths whose every hop exists in the KG. Gold-path "
        "match: the top path's relation sequence is a gold path. Fact probe: share of minimal pairs where the "
        "true entity description is more likely than one with its key fact swapped (chance 0.5). Retention KL: "
        "mean per-token KL(base || adapted) on general English text (numpy/ma/README.rst). Latency: seconds "
        "per question, batch time shared evenly."
        + (
            " Misrouted: share of questions a routed system sent to another domain's adapter and graph "
            "(each counted as a miss)."
            if any(key == "misrouted" for key, _, _ in columns)
            else ""
        )
        + (
            " Closed-book: one-hop questions about trained entities answered by the model alone (free "
            "generation, no KG), split by whether the entity's infilling rows stated the answer; asked "
            "with the entity between the infilling markers, and asked plainly (a path-trained adapter "
            "tends to answer a plain question with a path, whose last entity is read as its answer). "
            "Disambiguation: a name several entities share, in a context sentence; the right description "
            "scored most likely per token (chance: 1 / candidates; SE: Agresti-Coull). Free hallucinated hops, free path right "
            "(the most probable path ends at a right answer) and answers not entities: the closed-book "
            "questions decoded without the KG constraint. General ppl: perplexity "
            "on a held-out slice of the same general text."
            if any(key in KNOWLEDGE_COLUMNS for key, _, _ in columns)
            else ""
        ),
        "",
        *by_type_table(results),
        "## Distillation (alpha < 1) against hard labels only (alpha = 1)",
        "",
        alpha_comparison(results),
        "",
        "## Plots",
        "",
    ]
    lines += [f"![{name}]({name})" for name in plots]
    return "\n".join(lines) + "\n"


def plot_losses(results: Sequence[SystemResult]) -> bytes | None:
    """PNG of the hard and soft loss terms over training steps, one line per adapter; None without logs."""
    logged = [r for r in results if r.training_log]
    if not logged:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, key, title in zip(
        axes, ("hard_loss", "soft_loss"), ("hard loss (cross-entropy)", "soft loss (KL)"), strict=True
    ):
        for r in logged:
            points = [(e["step"], e[key]) for e in r.training_log if key in e and "step" in e]
            if points:
                ax.plot(*zip(*points, strict=True), label=f"{r.name} (alpha={_fmt(r.alpha, 2)})")
        ax.set_title(title)
        ax.set_xlabel("step")
        if ax.lines:
            ax.legend()
        else:
            ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes)
    return _png(fig)


def plot_metrics(results: Sequence[SystemResult]) -> bytes:
    """PNG of the share metrics (Hits@1, F1, ...) as grouped bars, one colour per system."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4), constrained_layout=True)
    width = 0.8 / max(len(results), 1)
    for i, r in enumerate(results):
        values = [r.metrics.get(key) or 0.0 for key in SHARE_METRICS]
        ax.bar([x + i * width for x in range(len(SHARE_METRICS))], values, width, label=r.name)
    ax.set_xticks([x + width * (len(results) - 1) / 2 for x in range(len(SHARE_METRICS))], SHARE_METRICS)
    ax.set_ylim(0, 1.05)
    ax.legend()
    return _png(fig)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, and no GUI backend picked up by chance
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    _pyplot().close(fig)
    return buffer.getvalue()


def by_type_table(results: Sequence[SystemResult]) -> list[str]:
    """Markdown lines of Hits@1 per question type and system (none when no question has a type)."""
    types = sorted({kind for r in results for kind in r.by_type})
    if not types:
        return []
    lines = ["## Hits@1 by question type", "", "| type | " + " | ".join(r.name for r in results) + " |"]
    lines.append("|" + "---|" * (len(results) + 1))
    for kind in types:
        cells = [
            f"{r.by_type[kind]['hits@1']:.3f} (n={r.by_type[kind]['questions']:.0f})" if kind in r.by_type else "–"
            for r in results
        ]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return [*lines, "", f"Per question: {QUESTIONS_FILE} (paths generated, answers, hit or miss).", ""]


def write_report(
    folder: StrPath,
    results: Sequence[SystemResult],
    context: Mapping[str, Any],
    question_rows: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Path]:
    """Write ``report.json``, ``report.md``, the plots and the per-question results into ``folder``; return the paths.

    >>> write_report("adapters/countries", [SystemResult("student", metrics)], {"split": "test"})  # doctest: +SKIP
    """
    folder = Path(folder)
    images = {METRICS_PLOT: plot_metrics(results)}
    losses = plot_losses(results)
    if losses is not None:
        images[LOSS_PLOT] = losses
    written: dict[str, Path] = {}
    for name, data in images.items():
        with atomic_file(folder / name, "wb") as handle:
            handle.write(data)
        written[name] = folder / name
    report = {
        **context,
        "systems": results_json(results),
        "alpha_comparison": alpha_comparison(results),
        "plots": sorted(images),
    }
    if question_rows:
        with atomic_file(folder / QUESTIONS_FILE, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in question_rows)
        written[QUESTIONS_FILE] = folder / QUESTIONS_FILE
    write_json(folder / REPORT_JSON, report)
    written[REPORT_JSON] = folder / REPORT_JSON
    with atomic_file(folder / REPORT_MD, "w", encoding="utf-8") as handle:
        handle.write(markdown(results, context, sorted(images)))
    written[REPORT_MD] = folder / REPORT_MD
    return written


def results_json(results: Sequence[SystemResult]) -> dict[str, Any]:
    """The metrics per system, as ``kgpeft eval --json FILE`` writes them."""
    return {
        r.name: {"description": r.description, "alpha": r.alpha, "metrics": r.metrics}
        | ({"by_type": r.by_type} if r.by_type else {})
        for r in results
    }
