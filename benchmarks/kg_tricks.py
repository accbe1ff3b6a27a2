"""What each trick of the fast KG loader buys, measured in one run.

The fast path (:mod:`kgpeft.kg.triples` interning, :mod:`kgpeft.kg.build` indexing, both
under :func:`kgpeft.kg.load.load_graph`) is compared with the plain reference interning
(:mod:`kgpeft.kg.reference`: sorted sets) and with itself with one trick switched off:

- ``one chunk``: the whole text cut and interned at once instead of ``CHUNK_BYTES`` at a time;
- ``np.lexsort``: rows sorted with ``np.lexsort`` instead of as packed int64 keys.

A third trick, pausing the cyclic garbage collector during a load, was measured here at
0.82x-1.12x over five runs (median 0.97x: no gain; the terms are bytes, which the collector
does not track) and removed on 2026-12-03.

Each variant is a whole ``load_graph`` (no cache) of the generated graph of
``benchmarks/kg_load.py``, in its own worker process (a heap left by another variant slows
the next one), the workers taking turns run by run so that a shared machine's load falls
on all alike; each keeps its least CPU time. A trick whose gain is under ``NOISE`` is
within the noise, and the verdict says to remove it.

    python benchmarks/kg_tricks.py                  # prints the table
    python benchmarks/kg_tricks.py --entities 10000 # smaller, quicker
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kg_load import generate

NOISE = 1.05  # repeated runs of the same code differed by up to 5% on the shared 2-core machine

WORKER = """
import gc, json, sys, time
import kgpeft.kg.load as load
import kgpeft.kg.triples as triples
from kgpeft.kg.reference import reference_split_ntriples

patches = {
    "fast path": [],
    "reference (sorted sets)": [(load, "split_ntriples", lambda b: reference_split_ntriples(b.getvalue()))],
    "fast path, one chunk": [(triples, "CHUNK_BYTES", 1 << 62)],
    "fast path, np.lexsort": [(triples, "_packing", lambda columns: None)],
}[sys.argv[1]]
for module, name, value in patches:
    setattr(module, name, value)
for _ in sys.stdin:  # one line per run asked for
    gc.collect()
    start = time.process_time()
    kg = load.load_graph(sys.argv[2], cache=False)
    print(json.dumps(time.process_time() - start), flush=True)
    del kg
"""
VARIANTS = ("fast path", "reference (sorted sets)", "fast path, one chunk", "fast path, np.lexsort")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=34_000, help="entities to generate (9 triples each)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each variant (the least CPU time counts)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.ttl"
        triples = generate(path, args.entities)
        workers = {
            name: subprocess.Popen(
                [sys.executable, "-c", WORKER, name, str(path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for name in VARIANTS
        }
        best = dict.fromkeys(VARIANTS, float("inf"))
        for _ in range(args.runs):
            for name, worker in workers.items():
                worker.stdin.write("\n")
                worker.stdin.flush()
                best[name] = min(best[name], json.loads(worker.stdout.readline()))
        for worker in workers.values():
            worker.stdin.close()
            worker.wait()

    print(f"load_graph(cache=False) of a {triples:,}-triple graph; least CPU seconds of {args.runs} runs each")
    print(f"{'variant':<26} {'CPU s':>7} {'vs fast path':>13}  verdict")
    for name in VARIANTS:
        ratio = best[name] / best["fast path"]
        if name == "fast path":
            verdict = ""
        elif name.startswith("reference"):
            verdict = "what the fast path gains"
        else:
            verdict = "the trick is worth it" if ratio >= NOISE else "within noise: remove the trick"
        print(f"{name:<26} {best[name]:>7.3f} {ratio:>12.2f}x  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
