"""KG-constrained beam search against plain beam search: same model, prompts, beams and generated lengths.

Each question of kg/countries.ttl's test split is decoded twice from the same input (the
chat prompt plus ``<path> {topic}``) with the same number of beams: once constrained to
paths in the graph, once free. The free run is forced to exactly as many decoding steps
as the constrained one took (``min_new_tokens = max_new_tokens`` = that count, so the end
of turn is suppressed until then), so both do the same number of forward passes over the
same number of beams and the times compare per generated token. Runs alternate question
by question so both see the same load on a shared machine, and both wall and CPU time are
reported (CPU time, what this process computed, is the steadier of the two when other jobs
share the cores); the first round warms up (it also builds the per-entity tries, whose
cost is reported separately). Target: constrained <= 1.3x unconstrained.

    .venv/bin/python benchmarks/decode.py [--base-model smollm2-135m-instruct] [--questions 8] [--beams 4]
        [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import transformers

from kgpeft.data import DataConfig, build_dataset, prompt_ids, render_prompt
from kgpeft.data.render import end_of_turn_id
from kgpeft.inference import PathAutomaton, PathTries, path_prefix
from kgpeft.inference.decode import KGPathLogitsProcessor, beam_search
from kgpeft.kg import load_graph
from kgpeft.modeling import DEFAULT_BASE_MODEL, load_base_model

TARGET_RATIO = 1.3
TOKENS_PER_HOP = 32


class ProcessorClock:
    """Accumulates the CPU time spent inside the KG logits processor: the constraint's own cost."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        original = KGPathLogitsProcessor.__call__

        def timed(processor, input_ids, scores):
            start = time.process_time()
            out = original(processor, input_ids, scores)
            self.seconds += time.process_time() - start
            self.calls += 1
            return out

        KGPathLogitsProcessor.__call__ = timed


class ForwardCounter:
    """Counts the model's forward passes: the prompt pass, then one per generated token."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.calls = 0
        model.register_forward_hook(self._hook)

    def _hook(self, *_: object) -> None:
        self.calls += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-model", default=DEFAULT_BASE_MODEL, help="model spec (hub id, folder, .gguf, alias)")
    parser.add_argument("--kg", default="kg/countries.ttl")
    parser.add_argument("--questions", type=int, default=8, help="test questions decoded per round")
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--max-hops", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the questions; the first is a warm-up")
    parser.add_argument("--4bit", dest="load_in_4bit", action="store_true", help="load the model in 4-bit nf4")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    options = parser.parse_args()
    transformers.logging.set_verbosity_error()
    if options.threads:
        torch.set_num_threads(options.threads)

    kg = load_graph(options.kg)
    questions = build_dataset(kg, DataConfig()).split("test")[: options.questions]
    model, tokenizer = load_base_model(options.base_model, load_in_4bit=options.load_in_4bit)
    model.eval()
    counter = ForwardCounter(model)
    clock = ProcessorClock()
    end_id = end_of_turn_id(tokenizer)
    tries = PathTries(kg, tokenizer)
    budget = TOKENS_PER_HOP * options.max_hops + len(tries.end_ids) + 1
    inputs = [
        prompt_ids(tokenizer, render_prompt(q.question))
        + tokenizer(path_prefix(kg, q.topic), add_special_tokens=False)["input_ids"]
        for q in questions
    ]
    print(
        f"model: {options.base_model} ({sum(p.numel() for p in model.parameters()) / 1e6:.0f}M params), "
        f"{'4-bit nf4' if options.load_in_4bit else 'full precision'}, threads {torch.get_num_threads()}"
    )
    print(
        f"{len(questions)} test questions of {options.kg}, {options.beams} beams, <= {options.max_hops} hops; "
        f"{options.rounds - 1} measured rounds after a warm-up"
    )

    # (wall seconds, CPU seconds) per run. CPU time is what this process computed: on a shared
    # machine it is far less disturbed by other jobs than wall time, so both are reported.
    constrained_t: list[tuple[float, float]] = []
    free_t: list[tuple[float, float]] = []
    steps_total = 0
    cold_s = 0.0
    for round_ in range(options.rounds):
        for index, (q, ids) in enumerate(zip(questions, inputs, strict=True)):
            automaton = PathAutomaton(tries, q.topic, options.max_hops)
            counter.calls = 0
            constrained = _timed(
                beam_search,
                model,
                tokenizer,
                [ids],
                num_beams=options.beams,
                max_new_tokens=budget,
                end_id=end_id,
                automata=[automaton],
            )
            steps = counter.calls  # forward passes, the prompt's included
            tokens = steps - 1

            counter.calls = 0
            free = _timed(
                beam_search,
                model,
                tokenizer,
                [ids],
                num_beams=options.beams,
                max_new_tokens=tokens,
                end_id=end_id,
                min_new_tokens=tokens,
            )
            assert counter.calls == steps, f"unequal lengths: {counter.calls} free vs {steps} constrained steps"
            print(
                f"  round {round_} question {index}: {steps} steps, constrained {constrained[0]:.2f} s "
                f"(CPU {constrained[1]:.2f} s), free {free[0]:.2f} s (CPU {free[1]:.2f} s)",
                flush=True,
            )
            if round_ == 0:
                cold_s += constrained[1] - free[1]
                continue
            constrained_t.append(constrained)
            free_t.append(free)
            steps_total += steps

    print(f"forward passes measured:     {steps_total} ({steps_total / len(free_t):.1f} per question)")
    for kind, i in (("wall", 0), ("CPU", 1)):
        total_c, total_f = sum(t[i] for t in constrained_t), sum(t[i] for t in free_t)
        ratios = [c[i] / f[i] for c, f in zip(constrained_t, free_t, strict=True)]
        print(f"[{kind} time] unconstrained: {total_f:8.2f} s ({1000 * total_f / steps_total:6.1f} ms/pass)")
        print(f"[{kind} time] constrained:   {total_c:8.2f} s ({1000 * total_c / steps_total:6.1f} ms/pass)")
        print(
            f"[{kind} time] ratio constrained / free: {total_c / total_f:.3f}x overall, "
            f"{statistics.median(ratios):.3f}x median per question (target <= {TARGET_RATIO}x)"
        )
    print(f"trie building in the warm-up round: {cold_s:.2f} CPU s over {len(questions)} questions")
    print(
        f"inside the KG logits processor: {1000 * clock.seconds / clock.calls:.2f} ms CPU per step "
        f"({clock.calls} steps, all rounds, trie building included)"
    )


def _timed(run: Callable[..., object], *args: object, **kwargs: object) -> tuple[float, float]:
    """(wall, CPU) seconds of ``run(*args, **kwargs)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    run(*args, **kwargs)
    return time.perf_counter() - wall, time.process_time() - cpu


if __name__ == "__main__":
    main()
