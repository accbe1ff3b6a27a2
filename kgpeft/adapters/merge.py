"""Merge adapters into their base: one full model folder that plain transformers loads alone.

An adapter trained on a 4-bit base learned to correct the *quantised* weights, so by
default it is merged into those weights dequantised (nf4 -> float): the merged model then
computes what the trained model computed. ``into="original"`` merges into the
original-precision base instead (better base weights, but not what the adapter was trained
against). Several adapters are merged by adding each one's weight change at full strength,
which is what they compute when all are active at once; for a weighted mix, combine them
first (`kgpeft adapters combine`) and merge the result.

The merge is checked, not assumed: the written folder is loaded back with plain
``AutoModelForCausalLM`` and its logits are compared with the unmerged adapter model's on
sample prompts (with completions, as in training); the largest absolute difference is returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from kgpeft.adapters.loading import adapter_names, adapter_tokenizer, default_load_in_4bit, load_adapters
from kgpeft.adapters.registry import read_adapter
from kgpeft.errors import AdapterError
from kgpeft.io import atomic_dir, check_output_dir, write_json
from kgpeft.modeling import load_base_model
from kgpeft.types import StrPath

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

MergeDtype = Literal["float32", "bfloat16", "float16"]
MergeInto = Literal["dequantized", "original"]
MERGE_RECORD_FILE = "kgpeft-merge.json"

# (question, path labels) in the format kgpeft trains on, tokenised as training
# does; the check needs varied tokens in the real prompt layout, not good answers.
Example = tuple[str, tuple[str, ...]]
SAMPLE_EXAMPLES: tuple[Example, ...] = (
    ("Which region is Germany located in?", ("Germany", "located in", "Western Europe")),
    ("What is the capital of France?", ("France", "capital", "Paris")),
    ("Which elements are in group 18?", ("group 18", "^group", "Helium")),
    ("Who discovered sodium?", ()),  # the prompt alone, as at inference
)


def sample_ids(tokenizer: PreTrainedTokenizerBase, examples: Sequence[Example] = SAMPLE_EXAMPLES) -> list[list[int]]:
    """Token ids of each example (prompt + completion) through the one tokenisation training uses."""
    from kgpeft.data.render import format_completion, render_prompt, tokenize_example

    inputs = []
    for question, path in examples:
        completion = format_completion([path]) if path else ""
        inputs.append(tokenize_example(tokenizer, render_prompt(question), completion)["input_ids"])
    return inputs


@dataclass(frozen=True)
class MergeResult:
    path: Path
    max_logit_diff: float  # largest |merged - unmerged| logit over the sample examples
    num_examples: int
    dtype: str
    into: str
    dequantized: bool  # True when the base was nf4-quantised and dequantised before merging


def logits(model: PreTrainedModel, inputs: Sequence[list[int]]) -> list[torch.Tensor]:
    """fp32 CPU logits ``(1, T, V)`` per input, one at a time so that no padding enters a comparison."""
    import torch

    device = next(model.parameters()).device
    with torch.no_grad():
        return [model(input_ids=torch.tensor([ids], device=device)).logits.float().cpu() for ids in inputs]


def merge_adapters(
    adapter_dirs: Sequence[StrPath],
    output: StrPath,
    *,
    dtype: MergeDtype = "float32",
    into: MergeInto = "dequantized",
    base_model: str | None = None,
    examples: Sequence[Example] = SAMPLE_EXAMPLES,
    overwrite: bool = False,
) -> MergeResult:
    """Merge every adapter into the base and write a full model folder at ``output`` (atomically).

    ``base_model`` overrides the recorded base (e.g. when its folder moved); it must still
    be the same model, which the fingerprint check enforces. An existing ``output`` is
    replaced only if it is a merged model kgpeft wrote (it holds ``kgpeft-merge.json``)
    and ``overwrite`` is set; anything else there is refused before any work.

    >>> merge_adapters(["adapters/countries"], "merged/countries").max_logit_diff  # doctest: +SKIP
    3.1e-06
    """
    import torch
    from transformers import AutoModelForCausalLM

    if dtype not in ("float32", "bfloat16", "float16"):
        raise AdapterError(f"--dtype {dtype}: choose float32, bfloat16 or float16")
    if into not in ("dequantized", "original"):
        raise AdapterError(f"--into {into}: choose dequantized or original")
    infos = [read_adapter(folder) for folder in adapter_dirs]
    if not infos:
        raise AdapterError("no adapter given")
    base_name = base_model or infos[0].record.base_model
    inputs = [*adapter_dirs, base_name]
    check_output_dir(output, marker=MERGE_RECORD_FILE, what="merged model", overwrite=overwrite, inputs=inputs)
    dequantize = into == "dequantized" and default_load_in_4bit(infos)

    # Merging happens in fp32 whatever the output dtype, so rounding enters only once, at the end.
    base, _ = load_base_model(base_name, load_in_4bit=dequantize, dtype=torch.float32, dequantize=dequantize)
    model = load_adapters(base, [info.path for info in infos])
    names = adapter_names(infos)
    model.base_model.set_adapter(names, inference_mode=True)  # all active: the reference the merge must match
    tokenizer = adapter_tokenizer(infos[0])
    inputs = sample_ids(tokenizer, examples)
    reference = logits(model, inputs)

    merged = model.merge_and_unload(adapter_names=names).to(getattr(torch, dtype))
    with atomic_dir(output) as tmp:
        merged.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        reloaded = AutoModelForCausalLM.from_pretrained(str(tmp), dtype=getattr(torch, dtype))
        if getattr(reloaded.config, "quantization_config", None) is not None:
            raise AdapterError(f"{output}: the merged model still carries a quantization config; nothing written")
        diff = max((new - ref).abs().max().item() for new, ref in zip(logits(reloaded, inputs), reference, strict=True))
        write_json(
            tmp / MERGE_RECORD_FILE,
            {
                "adapters": [{"domain": info.record.domain, "path": str(info.path)} for info in infos],
                "kgs": [{"path": p, "sha256": s} for info in infos for p, s in info.record.kgs()],
                "base_model": infos[0].record.base_model,
                "into": into,
                "dequantized": dequantize,
                "dtype": dtype,
                "max_logit_diff": diff,
            },
        )
    return MergeResult(
        path=Path(output), max_logit_diff=diff, num_examples=len(inputs), dtype=dtype, into=into, dequantized=dequantize
    )
