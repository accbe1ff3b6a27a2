"""Scale ladder (issue 16): every stage of `kgpeft fit` and `kgpeft ask` on generated graphs of 10k-10M triples.

Generates, deterministically (numpy, seeded), one N-Triples graph per rung with a realistic
shape: power-law degrees (objects drawn with weight rank^-0.8, so the biggest hubs have
~2.5k in-edges at 100k triples, ~17k at 1M, ~100k at 10M), 50 to 1,000 relations (Zipf
frequencies), an rdfs:label per entity (two made-up words; some collide, as real labels do),
skos:altLabel aliases for a fifth of the entities, rdfs:comment descriptions and integer
literals. Then, for each rung in a fresh process (so one rung's memory is not the next's),
it runs the code the commands run and reports each stage's seconds and peak resident memory
(``kgpeft.timing``: the process's high-water mark, reset at each stage start):

- fit: load (``load_graph``, no cache), question synthesis (``synthesize_questions``, the
  default DataConfig), gold paths (``load_question_file`` of a 300-line question file with
  IRIs, which also builds the entity linker its labels are resolved with), splits,
  infilling examples, teacher fit (``fit_teacher``, default ``gnn``, no cache; on timeout the
  oracle stands in for the later stages and the table says so), rows (rendered, tokenised
  training rows) and soft targets (``training_rows`` less the rows alone);
- ask: the entity linker's index (once per process), then per question (median over the
  test questions) linking, prompt, constrained generation, verification and ranking
  (``KGReasoner.ask``, whose stages include executing the paths).

The model and tokenizer are kgpeft.testing's tiny Llama (random weights, byte-level BPE):
what is measured is the graph-dependent work; the base model's cost does not grow with the
graph. Training is not run: its cost depends on the rows, not on the graph.

    python benchmarks/scale.py --rungs 10k,100k,1M          # the ladder so far, ~15 min
    python benchmarks/scale.py --rungs 10M --teacher oracle   # the big rung, once

Prints a table per stage and rung, each stage's growth exponent (log-log slope of seconds
over triples from 100k up, target <= 1.1), and at 10M: fit before training (<= 15 min, peak
<= 12 GB) and ask per question against the 10k rung (<= 1.5x).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RUNGS = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000, "10M": 10_000_000}
GENERATOR_VERSION = 1  # bump when generate() writes something else, to regenerate cached files
EX = "http://example.org/scale/"
RDFS_LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
RDFS_COMMENT = "<http://www.w3.org/2000/01/rdf-schema#comment>"
SKOS_ALT = "<http://www.w3.org/2004/02/skos/core#altLabel>"
POPULATION = f"<{EX}population>"
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"][:64]  # 64 syllables: 4,096 words of two
ASK_QUESTIONS = 5
FILE_QUESTIONS = 300
FIT_STAGES = ("load", "synthesis", "gold paths", "splits", "infill", "teacher", "rows", "soft targets")
ASK_STAGES = ("linker index", "link", "prompt", "generate", "verify", "rank")


def shape(triples: int) -> tuple[int, int]:
    """(entities, relations) of a rung: 4 triples per entity; 50 relations at 10k, 1,000 at 10M, log-linear between."""
    relations = round(50 * (triples / 1e4) ** (math.log(20) / math.log(1000)))
    return max(triples // 4, 100), int(np.clip(relations, 50, 1000))


def _power_law(rng: np.random.Generator, size: int, count: int, exponent: float) -> np.ndarray:
    """``count`` draws from ``range(size)`` with weight rank^-exponent, the ranks scattered over the ids."""
    cdf = np.cumsum(np.arange(1, size + 1, dtype=np.float64) ** -exponent)
    ranks = np.searchsorted(cdf, rng.random(count) * cdf[-1], side="right")
    return rng.permutation(size)[np.minimum(ranks, size - 1)]


def _words(ids: np.ndarray, salt: int) -> list[str]:
    """A made-up capitalised word per id ("Kabe", "Tovilu"): two or three syllables from the id's hash."""
    h = (ids.astype(np.uint64) * np.uint64(2654435761) + np.uint64(salt)) % np.uint64(2**32)
    parts = [np.asarray(SYLLABLES)[((h >> np.uint64(6 * k)) % np.uint64(64)).astype(np.int64)] for k in range(3)]
    three = (h >> np.uint64(20)) % np.uint64(3) == 0  # a third have three syllables
    return [(a + b + (c if t else "")).capitalize() for a, b, c, t in zip(*parts, three.tolist(), strict=True)]


def edges(triples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(subjects, relations, objects) of a rung: distinct, no self-loops, sorted by subject then relation."""
    entities, relations = shape(triples)
    rng = np.random.default_rng(seed)
    draw = int(triples * 1.15) + 100  # duplicates and self-loops are dropped below
    s = _power_law(rng, entities, draw, 0.5)
    o = _power_law(rng, entities, draw, 0.8)
    r = _power_law(rng, relations, draw, 1.0)
    keep = s != o
    key = np.unique((s[keep] * relations + r[keep]) * entities + o[keep])
    key = key[np.sort(rng.choice(key.size, size=min(triples, key.size), replace=False))]
    return key // (relations * entities), (key // entities) % relations, key % entities


def generate(path: Path, triples: int, seed: int = 0) -> dict[str, int]:
    """Write a rung's graph as gzipped N-Triples; return its counts."""
    entities, relations = shape(triples)
    s, r, o = edges(triples, seed)
    rng = np.random.default_rng(seed + 1)
    ids = np.arange(entities)
    first, second = _words(ids, 1), _words(ids, 2)
    relation_names = [
        f"{a.lower()} {b.lower()}"
        for a, b in zip(_words(np.arange(relations), 3), _words(np.arange(relations), 4), strict=True)
    ]
    aliased = np.flatnonzero(rng.random(entities) < 0.2).tolist()
    described = np.flatnonzero(rng.random(entities) < 0.1).tolist()
    counted = np.flatnonzero(rng.random(entities) < 0.2)
    population = rng.integers(100, 10**7, size=counted.size).tolist()
    tmp = path.with_name(path.name + ".tmp")
    # No name or time in the gzip header: the same rung is the same bytes (same sha256, cache keys) run after run
    with (
        tmp.open("wb") as file,
        gzip.GzipFile(filename="", fileobj=file, mode="wb", compresslevel=1, mtime=0) as raw,
        io.TextIOWrapper(raw, encoding="utf-8") as out,
    ):
        out.writelines(f'<{EX}r{i}> {RDFS_LABEL} "{name}"@en .\n' for i, name in enumerate(relation_names))
        out.writelines(
            f'<{EX}e{i}> {RDFS_LABEL} "{a} {b}"@en .\n' for i, (a, b) in enumerate(zip(first, second, strict=True))
        )
        out.writelines(f'<{EX}e{i}> {SKOS_ALT} "{second[i]} {first[i][0]}."@en .\n' for i in aliased)
        out.writelines(
            f'<{EX}e{i}> {RDFS_COMMENT} "{first[i]} {second[i]} is a generated entity."@en .\n' for i in described
        )
        out.writelines(
            f'<{EX}e{i}> {POPULATION} "{p}"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'
            for i, p in zip(counted.tolist(), population, strict=True)
        )
        for lo in range(0, s.size, 1_000_000):  # in chunks: ten million lines at once would double the peak
            chunk = zip(
                s[lo : lo + 1_000_000].tolist(),
                r[lo : lo + 1_000_000].tolist(),
                o[lo : lo + 1_000_000].tolist(),
                strict=True,
            )
            out.writelines(f"<{EX}e{a}> <{EX}r{b}> <{EX}e{c}> .\n" for a, b, c in chunk)
    os.replace(tmp, path)
    return {"entities": entities, "relations": relations, "edges": int(s.size), "aliases": len(aliased)}


def graph_file(workdir: Path, rung: str, seed: int) -> Path:
    """The rung's graph, generated once per (size, seed, generator version) and kept under ``workdir``."""
    path = workdir / f"scale-{rung}-s{seed}-v{GENERATOR_VERSION}.nt.gz"
    if not path.exists():
        workdir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        counts = generate(path, RUNGS[rung], seed)
        print(f"  generated {path} in {time.perf_counter() - start:.0f} s: {counts}", file=sys.stderr, flush=True)
    return path


class StageTimeout(Exception):
    pass


def _alarm(seconds: int) -> None:
    def raise_timeout(*_: object) -> None:
        raise StageTimeout

    signal.signal(signal.SIGALRM, raise_timeout)
    signal.alarm(seconds)


def run_rung(path: Path, teacher_name: str, teacher_timeout: int, workdir: Path, train_questions: int | None) -> dict:
    """Every stage on one graph, in this process; seconds and peak MB per stage."""
    from kgpeft.data import EntityLinker, render_example, tokenize_example
    from kgpeft.data.dataset import DataConfig
    from kgpeft.data.infill import build_infill_questions
    from kgpeft.data.questionfile import load_question_file
    from kgpeft.data.questions import synthesize_questions
    from kgpeft.data.splits import assign_splits
    from kgpeft.data.verbalise import Verbaliser
    from kgpeft.inference.reasoner import KGReasoner
    from kgpeft.kg import load_graph
    from kgpeft.teachers.cache import fit_teacher
    from kgpeft.testing import build_tiny_model, build_tiny_tokenizer
    from kgpeft.timing import Stopwatch
    from kgpeft.training.rows import training_rows

    tokenizer = build_tiny_tokenizer()
    model = build_tiny_model(len(tokenizer)).eval()
    model.config.eos_token_id, model.config.pad_token_id = tokenizer.eos_token_id, tokenizer.pad_token_id
    config = DataConfig()
    seconds: dict[str, float] = {}
    peaks: dict[str, float] = {}
    notes: list[str] = []
    stopwatch = Stopwatch(seconds, peaks=peaks)

    def lap(stage: str) -> None:
        stopwatch(stage)
        print(f"    {stage}: {seconds[stage]:.2f} s, peak {peaks[stage]:.0f} MB", file=sys.stderr, flush=True)

    kg = load_graph(path, cache=False)
    lap("load")
    verbaliser = Verbaliser(kg)
    synthesised = synthesize_questions(kg, seed=config.seed, verbaliser=verbaliser)  # its defaults are DataConfig's
    lap("synthesis")
    question_file = workdir / f"{path.name}.questions.jsonl"
    with question_file.open("w", encoding="utf-8") as out:
        for q in synthesised[:FILE_QUESTIONS]:
            answers = [kg.entity_iri(a) for a in q.answers]
            out.write(json.dumps({"question": q.question, "topic": kg.entity_iri(q.topic), "answers": answers}) + "\n")
    lap("(question file)")
    from_file = load_question_file(kg, question_file, max_hops=config.max_hops, max_paths=config.max_gold_paths)
    lap("gold paths")
    questions = assign_splits(synthesised + from_file, seed=config.seed)
    lap("splits")
    held_out = {q.topic for q in questions if q.split != "train"}
    count = round(config.infill_ratio * sum(q.split == "train" for q in questions))
    build_infill_questions(kg, (e for e in range(kg.num_entities) if e not in held_out), count, verbaliser=verbaliser)
    lap("infill")
    # A sample bounds the benchmark's time: the teacher's and the rows' cost is per question.
    train = [q for q in questions if q.split == "train"][:train_questions]
    validation = [q for q in questions if q.split == "validation"][
        : None if train_questions is None else train_questions // 4
    ]
    test = [q for q in questions if q.split == "test"]
    try:
        _alarm(teacher_timeout)
        teacher = fit_teacher(teacher_name, kg, train, validation, max_hops=config.max_hops, cache=False)
        signal.alarm(0)
    except StageTimeout:
        notes.append(f"{teacher_name} teacher stopped after {teacher_timeout} s; the oracle made the soft targets")
        teacher = fit_teacher("oracle", kg, train, validation, max_hops=config.max_hops, cache=False)
        seconds["teacher"] = float("inf")
    lap("teacher" if "teacher" not in seconds else "(oracle)")
    for q in train:  # the rows alone, as training_rows renders and tokenises them
        messages, completion = render_example(kg, q)
        tokenize_example(tokenizer, messages, completion)
    lap("rows")
    training_rows(kg, train, teacher, tokenizer, cache=False)
    lap("(rows + soft targets)")
    seconds["soft targets"] = max(seconds.pop("(rows + soft targets)") - seconds["rows"], 0.0)
    peaks["soft targets"] = peaks.pop("(rows + soft targets)")

    linker = EntityLinker(kg)
    linker.link(test[0].question)  # the first link indexes every label and alias: once per process
    lap("linker index")
    reasoner = KGReasoner(model, tokenizer, kg, linker=linker)
    per_question: dict[str, list[float]] = {}
    for q in test[:ASK_QUESTIONS]:
        answer = reasoner.ask(q.question, num_paths=4, max_hops=config.max_hops)
        for stage, value in answer.timings.items():
            per_question.setdefault(stage, []).append(value)
    lap("(ask)")
    for stage, values in per_question.items():
        seconds[stage] = statistics.median(values)
        peaks[stage] = peaks["(ask)"]
    return {
        "triples": kg.num_triples,
        "entities": kg.num_entities,
        "relations": kg.num_relations,
        "questions": len(questions),
        "seconds": seconds,
        "peak_mb": peaks,
        "notes": notes,
    }


def slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(ys) over log(xs); None with fewer than two usable points.

    >>> round(slope([1e5, 1e6, 1e7], [1.0, 10.0, 100.0]), 6)
    1.0
    """
    points = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if y > 0 and math.isfinite(y)]
    if len(points) < 2:
        return None
    mx, my = statistics.fmean(p[0] for p in points), statistics.fmean(p[1] for p in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else None


def report(results: dict[str, dict]) -> list[str]:
    """The table: one line per stage, seconds / peak MB per rung, and the growth exponent from 100k up."""
    rungs = list(results)
    lines = [f"{'stage':<16}" + "".join(f"{rung + ' (s / MB)':>20}" for rung in rungs) + f"{'exponent':>10}"]
    for stage in (*FIT_STAGES, *ASK_STAGES, "total"):
        cells, xs, ys = [], [], []
        for rung in rungs:
            value = results[rung]["seconds"].get(stage)
            peak = results[rung]["peak_mb"].get(stage)
            cells.append("-" if value is None else f"{value:.3g} / {peak:.0f}" if peak is not None else f"{value:.3g}")
            if value is not None and RUNGS[rung] >= 100_000:
                xs.append(results[rung]["triples"])
                ys.append(value)
        exponent = slope(xs, ys)
        flag = "" if exponent is None else (" ok" if exponent <= 1.1 else " HIGH")
        lines.append(
            f"{stage:<16}"
            + "".join(f"{c:>20}" for c in cells)
            + f"{'-' if exponent is None else f'{exponent:.2f}':>7}{flag}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rungs", default="10k,100k,1M", help=f"comma-separated, of {', '.join(RUNGS)}")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/kgpeft-scale"), help="generated graphs and results")
    parser.add_argument("--teacher", default="gnn", help="teacher to fit (the default fit's is gnn)")
    parser.add_argument("--teacher-timeout", type=int, default=900, help="seconds before the teacher is stopped")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--train-questions", type=int, help="training questions the teacher and rows see (a quarter as many validation)"
    )
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_rung(args.worker, args.teacher, args.teacher_timeout, args.workdir, args.train_questions)))
        return 0
    rungs = [r.strip() for r in args.rungs.split(",") if r.strip()]
    unknown = [r for r in rungs if r not in RUNGS]
    if unknown:
        parser.error(f"unknown rung(s) {', '.join(unknown)}; choose from {', '.join(RUNGS)}")
    results: dict[str, dict] = {}
    for rung in rungs:
        path = graph_file(args.workdir, rung, args.seed)
        start = time.perf_counter()
        command = [
            sys.executable,
            __file__,
            "--worker",
            str(path),
            "--workdir",
            str(args.workdir),
            "--teacher",
            args.teacher,
        ]
        if args.train_questions:
            command += ["--train-questions", str(args.train_questions)]
        done = subprocess.run(
            [*command, "--teacher-timeout", str(args.teacher_timeout)], stdout=subprocess.PIPE, text=True
        )
        if done.returncode != 0:
            print(f"rung {rung} failed (exit {done.returncode})", file=sys.stderr)
            return 1
        result = json.loads(done.stdout.strip().splitlines()[-1])
        fit = [result["seconds"][s] for s in FIT_STAGES if s in result["seconds"]]
        result["seconds"]["total"] = sum(fit)
        result["peak_mb"]["total"] = max(result["peak_mb"][s] for s in FIT_STAGES if s in result["peak_mb"])
        results[rung] = result
        (args.workdir / f"result-{rung}-s{args.seed}.json").write_text(json.dumps(result, indent=1))
        print(
            f"rung {rung}: {result['triples']:,} triples, {result['entities']:,} entities, {result['relations']} relations, "
            f"{result['questions']} questions; {time.perf_counter() - start:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        for note in result["notes"]:
            print(f"  note: {note}", file=sys.stderr)
    print(
        f"rungs run: {', '.join(rungs)} (teacher {args.teacher}, tiny model; seconds / peak resident MB per stage; "
        "ask stages per question, median; total = fit's stages before training)"
    )
    print("\n".join(report(results)))
    if "10M" in results:
        big = results["10M"]
        fit_s, fit_mb = big["seconds"]["total"], big["peak_mb"]["total"]
        print(
            f"10M fit before training: {fit_s / 60:.1f} min (target <= 15), peak {fit_mb / 1024:.1f} GB (target <= 12)"
        )
        if "10k" in results:
            ask = [sum(results[r]["seconds"].get(s, 0.0) for s in ASK_STAGES[1:]) for r in ("10k", "10M")]
            print(
                f"ask per question: 10M {ask[1]:.3f} s vs 10k {ask[0]:.3f} s = {ask[1] / ask[0]:.2f}x (target <= 1.5x)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
