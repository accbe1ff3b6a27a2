"""Does knowledge infilling put a graph's facts into the model? Infilling against none, on a graph no model knows.

Two `kgpeft fit` runs on ``kg/isles.ttl`` (an invented archipelago, examples/build_isles_kg.py)
that differ only in ``--infill-ratio`` (the given ratio, and 0), then one `kgpeft eval` of the
infilling adapter against the base model and the no-infill adapter: the knowledge measures
of kgpeft/evaluation/knowledge.py (closed-book facts on trained entities, shown in infilling
rows or not; entity disambiguation against chance with its standard error; hallucination in
free decoding; general-text perplexity), plus path Hits@1 and retention KL. Prints the
table and the issue's targets, each met or not:

- closed-book accuracy on infilled facts >= base + 0.20 and >= the no-infill adapter + 0.10;
- disambiguation above chance by more than two standard errors;
- hallucinated hops per question (free decoding) below the no-infill adapter's.

The budget is stated by the flags (default: 360 steps of 8 rows, three times kgpeft's default,
the oracle teacher so that no GNN is trained, 200 synthesised questions, so that the rows are
seen about nine times: at kgpeft's 120 steps, about three times, an infilling adapter gave back
14% of its own infilling rows, at 360 steps 98%). Run from the repository root, on a quiet
machine if you can::

    OMP_NUM_THREADS=1 KGPEFT_CACHE=/tmp/k19cache .venv/bin/python benchmarks/infill.py [--infill-ratio 1.0]
        [--max-steps 360] [--knowledge 64] [--skip-fit] [--skip-eval]

The evaluation runs on the nf4 base the adapters were trained on (``--eval-no-4bit``: the
full-precision one, which understates what infilling put in: an infilling adapter recalled
14% of its own infilling rows on nf4, 2% on full precision; nf4 is not slower on a CPU,
benchmarks/dequantize.py). The README has the figures, with their budget and times.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = (
    ("closed_book_infilled", "closed-book, infilled facts (entity marked, as infilling asks)"),
    ("closed_book_other", "closed-book, other facts of the same entities"),
    ("closed_book_plain_infilled", "closed-book asked plainly, infilled facts"),
    ("closed_book_plain_other", "closed-book asked plainly, other facts"),
    ("disambiguation", "entity disambiguation"),
    ("disambiguation_se", "  its standard error"),
    ("disambiguation_chance", "  chance"),
    ("free_hallucinated_hops", "hallucinated hops / question (free decoding)"),
    ("free_path_correct", "free path ends at a right answer (same questions)"),
    ("free_non_entity", "free answers that are no entity of the graph"),
    ("hits@1", "path Hits@1 (constrained, test split)"),
    ("retention_kl", "retention KL on general text"),
    ("general_ppl", "general-text perplexity (held-out slice)"),
    ("fact_probe", "fact probe (minimal pairs)"),
)


def kgpeft(*args: str) -> float:
    """Run one kgpeft command; its wall time in seconds (stops the benchmark with its stderr on failure)."""
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "kgpeft", *args], capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"kgpeft {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kg", default="kg/isles.ttl")
    parser.add_argument("--base-model", default="smollm2-135m-instruct")
    parser.add_argument("--work", type=Path, default=Path("/tmp/kgpeft-infill-bench"), help="adapters and report")
    parser.add_argument("--infill-ratio", type=float, default=1.0, help="infilling rows per training question")
    parser.add_argument("--num-questions", type=int, default=200, help="synthesised path questions")
    parser.add_argument("--max-steps", type=int, default=360, help="training steps of each fit (kgpeft's: 120)")
    parser.add_argument("--teacher", default="oracle")
    parser.add_argument("--limit", type=int, default=50, help="test questions for path Hits@1")
    parser.add_argument("--knowledge", type=int, default=64, help="closed-book and disambiguation items")
    parser.add_argument("--fact-probes", type=int, default=0, help="fact-probe pairs (0: skipped, as on 2026-12-03)")
    parser.add_argument(
        "--eval-no-4bit", action="store_true", help="evaluate on the full-precision base (understates what was learnt)"
    )
    parser.add_argument("--skip-fit", action="store_true", help="evaluate the adapters an earlier run left in --work")
    parser.add_argument("--skip-eval", action="store_true", help="print the table of an earlier run's eval.json")
    args = parser.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    run_file = args.work / "run.yaml"
    run_file.write_text(f"data:\n  num_questions: {args.num_questions}\n", encoding="utf-8")
    adapters = {"infill": args.work / "infill", "no-infill": args.work / "no-infill"}
    seconds = {}
    for name, ratio in (("infill", args.infill_ratio), ("no-infill", 0.0)):
        if args.skip_fit:
            continue
        seconds[f"fit {name}"] = kgpeft(
            "fit", "--kg", args.kg, "--base-model", args.base_model, "--output-dir", str(adapters[name]),
            "--overwrite", "--config", str(run_file), "--teacher", args.teacher,
            "--max-steps", str(args.max_steps), "--infill-ratio", str(ratio),
        )  # fmt: skip
        print(f"fit {name} (--infill-ratio {ratio:g}): {seconds[f'fit {name}']:.0f} s", flush=True)
    out = args.work / "eval.json"
    if not args.skip_eval:
        seconds["eval"] = kgpeft(
            "eval", "--adapter", str(adapters["infill"]), "--compare", f"base,{adapters['no-infill']}",
            "--limit", str(args.limit), "--json", str(out), "--report-dir", str(args.work / "report"),
            "--knowledge-probes", str(args.knowledge), "--fact-probes", str(args.fact_probes),
            *(["--no-4bit"] if args.eval_no_4bit else []),
        )  # fmt: skip
        print(f"eval: {seconds['eval']:.0f} s", flush=True)
    systems = json.loads(out.read_text(encoding="utf-8"))["systems"]
    metrics = {
        "infill": systems["student"]["metrics"],
        "no-infill": systems[adapters["no-infill"].name]["metrics"],
        "base": systems["base"]["metrics"],
    }
    print(f"\n{args.kg}, {args.base_model}, {args.max_steps} steps, teacher {args.teacher}, "
          f"--infill-ratio {args.infill_ratio:g} vs 0")  # fmt: skip
    print("| measure | infill | no-infill | base |\n|---|---|---|---|")
    for key, title in ROWS:
        cells = [metrics[name].get(key) for name in ("infill", "no-infill", "base")]
        print(f"| {title} | " + " | ".join("–" if v is None else f"{v:.3f}" for v in cells) + " |")
    print()
    infill, none, base = metrics["infill"], metrics["no-infill"], metrics["base"]
    checks = [
        (
            "closed-book (infilled facts) >= base + 0.20",
            _get(infill, "closed_book_infilled") >= _get(base, "closed_book_infilled") + 0.20,
        ),
        (
            "closed-book (infilled facts) >= no-infill + 0.10",
            _get(infill, "closed_book_infilled") >= _get(none, "closed_book_infilled") + 0.10,
        ),
        (
            "disambiguation above chance by > 2 SE",
            _get(infill, "disambiguation")
            > _get(infill, "disambiguation_chance") + 2 * _get(infill, "disambiguation_se"),
        ),
        (
            "hallucinated hops / q below no-infill",
            _get(infill, "free_hallucinated_hops") < _get(none, "free_hallucinated_hops"),
        ),
    ]
    for title, met in checks:
        print(f"{'met    ' if met else 'NOT met'}  {title}")
    print(json.dumps({"seconds": seconds, "metrics": metrics}, indent=1))


def _get(metrics: dict, key: str) -> float:
    value = metrics.get(key)
    return float("nan") if value is None else float(value)


if __name__ == "__main__":
    main()
