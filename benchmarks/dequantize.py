"""Is a 4-bit base slower to evaluate on a CPU than a full-precision one? nf4 kernels against float weights.

Loads the base model three ways (nf4, as adapters are trained and evaluated by default; nf4
dequantised to float32, what ``kgpeft merge`` merges into; the original full-precision
weights, ``--no-4bit``), and
for each times a forward pass over a batch of prompts (the median of ``--repeats``, taken in
turns so that all three see the same load) and one decoding step after it, and prints the
times against nf4's and the
largest logit difference from the nf4 run. The dequantised weights are the nf4 ones, so its
difference is rounding; the full-precision weights are others. Reads nothing from the network::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/dequantize.py [--batch 8] [--tokens 64] [--repeats 5]

2026-12-03, this 2-core machine, one thread, a training job on the other core: nf4 2.57 s a
prompt batch and 0.166 s a decoding step; dequantised 1.15x / 1.23x that; full precision 1.24x /
1.40x. Max logit difference from nf4: dequantised 0.86, full precision 15.6. So an nf4-trained
adapter is best evaluated on the nf4 base it was trained on (the default): it is not slower on
a CPU, and the full-precision weights are not the ones it learnt on (``--no-4bit`` understated
knowledge infilling: an adapter recalled 14% of its infilling rows on nf4, 2% on full precision).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from kgpeft.modeling import DEFAULT_BASE_MODEL, load_base_model

WAYS = {
    "nf4 (as trained)": {"load_in_4bit": True},
    "nf4 dequantised (merge)": {"load_in_4bit": True, "dequantize": True},
    "full precision (--no-4bit)": {"load_in_4bit": False},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-model", default=DEFAULT_BASE_MODEL)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    models = {name: load_base_model(args.base_model, dtype=torch.float32, **kw)[0].eval() for name, kw in WAYS.items()}
    vocab = next(iter(models.values())).config.vocab_size
    ids = torch.randint(0, vocab, (args.batch, args.tokens), generator=torch.Generator().manual_seed(0))
    prompt_times: dict[str, list[float]] = {name: [] for name in models}
    step_times: dict[str, list[float]] = {name: [] for name in models}
    logits: dict[str, torch.Tensor] = {}
    with torch.inference_mode():
        for _ in range(args.repeats):
            for name, model in models.items():
                began = time.perf_counter()
                out = model(input_ids=ids, use_cache=True)
                prompt_times[name].append(time.perf_counter() - began)
                logits[name] = out.logits
                # Decoding: one new token a row on the prompt's cache, as beam search runs most of the time
                began = time.perf_counter()
                model(input_ids=ids[:, :1], past_key_values=out.past_key_values, use_cache=True)
                step_times[name].append(time.perf_counter() - began)
    reference = next(iter(models))
    print(f"{args.base_model}, batch {args.batch}: prompt of {args.tokens} tokens, then one decoding step; "
          f"median of {args.repeats}, {torch.get_num_threads()} thread(s)")  # fmt: skip
    print("| base weights | prompt s | x nf4 | decoding step s | x nf4 | max logit diff from nf4 |")
    print("|---|---|---|---|---|---|")
    prompt_ref, step_ref = statistics.median(prompt_times[reference]), statistics.median(step_times[reference])
    for name in models:
        prompt, step = statistics.median(prompt_times[name]), statistics.median(step_times[name])
        diff = (logits[name] - logits[reference]).abs().max().item()
        print(
            f"| {name} | {prompt:.3f} | {prompt / prompt_ref:.2f} | {step:.4f} | {step / step_ref:.2f} | {diff:.3g} |"
        )


if __name__ == "__main__":
    main()
