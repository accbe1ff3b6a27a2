"""Benchmark of the SPARQL backend: the same generated graph in memory and in a local Oxigraph server.

Issue 17's targets: per question, what ``kgpeft ask`` asks of the graph takes <= 2x the
in-memory time against the store; the pre-training stages take <= 3x. Measured:

- *load*: ``load_graph(file)`` vs ``load_graph(url)`` with a cold cache (the store builds its
  catalogue: paged SELECTs of literals, types, entities) and with a warm one (``ask``'s case:
  one inventory query, then the catalogue from disk).
- *ask*, per question, with a cold neighbour cache (a new ``ask`` process has none): entity
  linking, the constrained decoder's questions (steps and neighbours at each hop, as
  ``relation_paths`` to 2 hops asks them), verification and execution of the found paths.
  The model's forward passes are left out: they do not depend on the backend.
- *pre-training*: question synthesis (gold paths included) over a topic sample and the
  oracle teacher's fit on those questions.

    python benchmarks/sparql.py                     # 111k entities, ~1M triples
    python benchmarks/sparql.py --entities 20000    # a smaller rung
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from kg_load import generate


def measure(kg, questions: list[str], topics: int) -> dict[str, float]:
    from kgpeft.data.linking import EntityLinker
    from kgpeft.data.questions import synthesize_questions
    from kgpeft.teachers.registry import build_teacher

    linker = EntityLinker(kg)
    per_question = []
    for text in questions:
        if hasattr(kg, "_adjacency"):
            kg._adjacency.clear()  # a new ask process starts without neighbour lists
        start = time.perf_counter()
        topic = linker.link(text).top.entity
        paths = kg.relation_paths(topic, 2)
        for path in paths[:3]:
            assert kg.path_is_valid(topic, path)
            kg.execute(topic, path)
        per_question.append(time.perf_counter() - start)
    start = time.perf_counter()
    synthesized = synthesize_questions(kg, max_hops=2, max_topics=topics, seed=0)
    build_teacher("oracle", max_hops=2).fit(kg, synthesized[:200])
    return {"ask": statistics.median(per_question), "pretrain": time.perf_counter() - start}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=111_000, help="entities to generate (9 triples each)")
    parser.add_argument("--topics", type=int, default=300, help="topics sampled for question synthesis")
    args = parser.parse_args()

    from kgpeft.kg import load_graph
    from kgpeft.testing import oxigraph_server

    with tempfile.TemporaryDirectory() as folder:
        os.environ["KGPEFT_CACHE"] = str(Path(folder) / "cache")
        path = Path(folder) / "bench.ttl"
        triples = generate(path, args.entities)
        print(f"graph: {args.entities} entities, {triples} triples")
        start = time.perf_counter()
        memory = load_graph(path, cache=False)
        memory_load = time.perf_counter() - start
        start = time.perf_counter()
        with oxigraph_server(path, folder) as url:
            print(f"oxigraph load + start: {time.perf_counter() - start:.1f} s")
            start = time.perf_counter()
            store = load_graph(url)
            cold = time.perf_counter() - start
            start = time.perf_counter()
            store = load_graph(url)
            warm = time.perf_counter() - start
            labels = [memory.entity_label(e) for e in range(0, memory.num_entities, max(1, memory.num_entities // 20))]
            questions = [f"What is related to {label}?" for label in labels]
            ours, theirs = measure(store, questions, args.topics), measure(memory, questions, args.topics)
        print(f"load: memory {memory_load:.2f} s; store cold {cold:.2f} s, warm {warm:.2f} s")
        ok = True
        for name, target in (("ask", 2.0), ("pretrain", 3.0)):
            ratio = ours[name] / theirs[name]
            ok &= ratio <= target
            print(f"{name}: memory {theirs[name] * 1000:.1f} ms, store {ours[name] * 1000:.1f} ms, "
                  f"ratio {ratio:.2f} (target <= {target:g}): {'PASS' if ratio <= target else 'FAIL'}")  # fmt: skip
        print(f"store queries sent: {store.client.queries}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
