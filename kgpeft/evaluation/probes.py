"""Model-level probes: does the adapter know entity facts (fact probe), and does it still speak English (retention)?

**Fact probe** (knowledge infilling). For an entity with a description, the *key fact*
is the most specific neighbour whose label the description mentions ("... with capital
Berlin.": Berlin is the capital of one country, Western Europe holds several). A
minimal pair is made by swapping that label for a *distractor*: an entity in the same
role for another entity (another capital), not linked to this one, with the closest
token count, so that the two texts differ in the fact and barely in length. The model
reads the infilling prompt of the entity (a context sentence that states neither
label, as in training) and the probe is passed when the true description is more
likely than the corrupted one. Chance is 0.5. Likelihood comparison is used rather than
generation because it is deterministic, cheap, and does not depend on decoding settings.

**Retention.** The mean per-token KL(base || adapted) of the next-token distributions
on general English text: the prose paragraphs of ``numpy/ma/README.rst`` ("A guide to
masked arrays in NumPy", a first-person account of why the module was rewritten).
numpy is a hard dependency, so the file is present wherever kgpeft is installed, it is
free running text rather than code, and it has nothing to do with any KG, so a rise
in KL measures drift of general language, not learnt knowledge. The base distribution
comes from the same model with its adapter disabled (``model.disable_adapter()``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from kgpeft.data.infill import DESCRIPTION_END, ENTITY_END, ENTITY_START, context_sentence, entity_knowledge
from kgpeft.data.render import render_prompt, tokenize_example
from kgpeft.data.verbalise import Verbaliser
from kgpeft.errors import KGPeftError
from kgpeft.types import EntityId

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from kgpeft.kg import KnowledgeGraph

RETENTION_SOURCE = ("numpy.ma", "README.rst")
_CONTEXT_TRIES = 8


@dataclass(frozen=True)
class FactProbe:
    """A minimal pair for one entity: the same prompt, the true and the corrupted description."""

    entity: EntityId
    messages: list[dict[str, str]]
    true: str
    corrupted: str


def _mentions(text: str, label: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(label)}(?!\w)", text) is not None


def build_fact_probes(
    kg: KnowledgeGraph, tokenizer: PreTrainedTokenizerBase, *, count: int = 64, seed: int = 0
) -> list[FactProbe]:
    """Up to ``count`` minimal pairs over entities with descriptions, chosen seeded.

    >>> probe = build_fact_probes(kg, tokenizer, count=1)[0]  # doctest: +SKIP
    >>> probe.true, probe.corrupted  # doctest: +SKIP
    ('Germany is a country in Western Europe with capital Berlin. </ent_desc>', '... with capital Madrid. </ent_desc>')
    """
    entities = [e for e in range(kg.num_entities) if kg.entity_description(e)]
    random.Random(seed).shuffle(entities)
    verbaliser = Verbaliser(kg)
    pools: dict[int, np.ndarray] = {}
    probes: list[FactProbe] = []
    for entity in entities:
        if len(probes) >= count:
            break
        knowledge = entity_knowledge(kg, entity, verbaliser) or ""
        swap = _key_fact_swap(kg, tokenizer, entity, knowledge, pools, random.Random(f"{seed}|{entity}"))
        if swap is None:
            continue
        true_label, distractor = swap
        context = _context(kg, entity, verbaliser, (true_label, distractor), seed)
        corrupted = re.sub(rf"(?<!\w){re.escape(true_label)}(?!\w)", distractor, knowledge)
        probes.append(
            FactProbe(
                entity=entity,
                messages=render_prompt(context, kind="infill"),
                true=f"{knowledge} {DESCRIPTION_END}",
                corrupted=f"{corrupted} {DESCRIPTION_END}",
            )
        )
    return probes


def _key_fact_swap(
    kg: KnowledgeGraph,
    tokenizer: PreTrainedTokenizerBase,
    entity: EntityId,
    knowledge: str,
    pools: dict[int, np.ndarray],
    rng: random.Random,
) -> tuple[str, str] | None:
    """(label of the key fact, distractor label), or None when the description names no neighbour.

    A fact is (neighbour label, step, how many entities share that neighbour along that step).
    """
    facts = [
        (kg.entity_label(n), step, len(kg.neighbors(n, kg.inverse_step(step))))
        for step in kg.steps_from(entity).tolist()
        for n in kg.neighbors(entity, step).tolist()
        if _mentions(knowledge, kg.entity_label(n)) and n != entity
    ]
    if not facts:
        return None
    # The key fact is the most specific one: the neighbour fewest entities share along that step
    # ("capital Berlin" over "located in Western Europe" over "type country"), then the longest label.
    label, step, _ = min(facts, key=lambda fact: (fact[2], -len(fact[0]), fact[1]))
    if step not in pools:
        pools[step] = kg.follow(np.arange(kg.num_entities), step)
    linked = set(kg.neighbors(entity, step).tolist())
    options = [
        kg.entity_label(e)
        for e in pools[step].tolist()
        if e not in linked and e != entity and not _mentions(knowledge, kg.entity_label(e))
    ]
    if not options:
        return None
    size = len(tokenizer(" " + label, add_special_tokens=False)["input_ids"])
    lengths = [len(ids) for ids in tokenizer([" " + o for o in options], add_special_tokens=False)["input_ids"]]
    best = min(abs(n - size) for n in lengths)
    return label, rng.choice([o for o, n in zip(options, lengths, strict=True) if abs(n - size) == best])


def _context(kg: KnowledgeGraph, entity: EntityId, verbaliser: Verbaliser, avoid: Sequence[str], seed: int) -> str:
    """An infilling context sentence that states neither label of the pair, else the bare marked mention."""
    for attempt in range(_CONTEXT_TRIES):
        sentence = context_sentence(kg, entity, random.Random(f"{seed}|probe|{entity}|{attempt}"), verbaliser)
        if not any(_mentions(sentence, label) for label in avoid):
            return sentence
    return f"{ENTITY_START} {kg.entity_label(entity)} {ENTITY_END}"


def completion_log_probs(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[tuple[list[dict[str, str]], str]],
    *,
    batch_size: int = 32,
) -> list[float]:
    """Summed log-probability of each completion given its prompt, under the model as it is now.

    >>> completion_log_probs(model, tok, [(render_prompt("Hi"), "Hello.")])  # doctest: +SKIP
    [-12.3]
    """
    import torch

    out: list[float] = []
    for start in range(0, len(examples), batch_size):
        rows = [tokenize_example(tokenizer, m, c) for m, c in examples[start : start + batch_size]]
        width = max(len(r["input_ids"]) for r in rows)
        pad = tokenizer.pad_token_id or 0
        ids = torch.tensor([r["input_ids"] + [pad] * (width - len(r["input_ids"])) for r in rows])  # (B, T)
        mask = torch.tensor([[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in rows])
        target = torch.tensor([r["completion_mask"] + [0] * (width - len(r["input_ids"])) for r in rows])
        # Only the positions that predict a completion token go through the LM head: (N, V), not (B, T, V)
        keep = torch.zeros_like(target, dtype=torch.bool)  # (B, T)
        keep[:, :-1] = target[:, 1:].bool()  # position t predicts token t + 1
        device = model.device
        with torch.inference_mode():
            logits = model(
                input_ids=ids.to(device), attention_mask=mask.to(device), logits_to_keep=keep.to(device)
            ).logits.float()  # (N, V), rows in row-major order of keep
        tokens = ids[:, 1:][keep[:, :-1]].to(device)  # (N,)
        picked = logits.gather(-1, tokens[:, None]).squeeze(-1) - logits.logsumexp(-1)  # (N,) log p(token)
        row = torch.arange(len(rows))[:, None].expand_as(keep)[keep].to(device)  # (N,) the row of each position
        out.extend(torch.zeros(len(rows), device=device).index_add_(0, row, picked).tolist())
    return out


def fact_probe_accuracy(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, probes: Sequence[FactProbe]
) -> float | None:
    """The share of probes whose true description is more likely than the corrupted one; None without probes."""
    if not probes:
        return None
    examples = [(p.messages, text) for p in probes for text in (p.true, p.corrupted)]
    scores = completion_log_probs(model, tokenizer, examples)
    return float(np.mean([scores[2 * i] > scores[2 * i + 1] for i in range(len(probes))]))


def general_text() -> str:
    """The prose paragraphs of ``numpy/ma/README.rst`` (code, lists and headings left out)."""
    package, name = RETENTION_SOURCE
    try:
        raw = (resources.files(package) / name).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError) as err:
        raise KGPeftError(f"the retention text {package}/{name} is missing from this numpy installation") from err
    paragraphs = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", raw)]
    return "\n\n".join(p for p in paragraphs if len(p) >= 200 and p[0].isalpha() and _is_prose(p))


def _is_prose(paragraph: str) -> bool:
    """Mostly letters and spaces, and none of the characters that mark code (``=``, ``#``, ``>>>``)."""
    letters = sum(c.isalpha() or c.isspace() for c in paragraph)
    return letters / len(paragraph) > 0.85 and not any(mark in paragraph for mark in ("=", "#", ">>>", "::"))


def retention_kl(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, text: str, *, max_tokens: int = 512, window: int = 128
) -> float:
    """Mean per-token KL(base || adapted) over ``text`` cut into windows; ``model`` is a PeftModel.

    >>> retention_kl(peft_model, tok, general_text())  # doctest: +SKIP
    0.012
    """
    import torch

    batch = _windows(tokenizer, text, 0, max_tokens, window).to(model.device)  # (B, W)
    with torch.inference_mode():
        adapted = _log_softmax(model(input_ids=batch).logits)  # (B, W, V)
        with model.disable_adapter():
            base = _log_softmax(model(input_ids=batch).logits)
    kl = (base.exp() * (base - adapted)).sum(-1)  # (B, W)
    return float(kl.mean())


def general_perplexity(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, text: str, *, max_tokens: int = 512, window: int = 128
) -> float:
    """Perplexity of the model as it is now on the ``max_tokens`` of ``text`` after those :func:`retention_kl` reads.

    A held-out slice: what the KL compares is not what the perplexity scores (the text's start
    when it is too short to have a second slice).

    >>> general_perplexity(model, tok, general_text())  # doctest: +SKIP
    31.4
    """
    import torch

    total = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    start = max_tokens if total >= max_tokens + window else 0
    batch = _windows(tokenizer, text, start, max_tokens, window).to(model.device)  # (B, W)
    with torch.inference_mode():
        logits = _log_softmax(model(input_ids=batch).logits[:, :-1])  # (B, W-1, V)
    nll = -logits.gather(-1, batch[:, 1:, None]).squeeze(-1)  # (B, W-1)
    return float(torch.exp(nll.mean()))


def _windows(tokenizer: PreTrainedTokenizerBase, text: str, start: int, max_tokens: int, window: int) -> torch.Tensor:
    """Up to ``max_tokens`` tokens of ``text`` from token ``start``, as whole windows: (B, W)."""
    import torch

    ids = tokenizer(text, add_special_tokens=False)["input_ids"][start : start + max_tokens]
    usable = len(ids) - len(ids) % window if len(ids) >= window else len(ids)
    return torch.tensor(ids[:usable]).view(-1, min(window, usable))


def _log_softmax(logits: torch.Tensor) -> torch.Tensor:
    import torch

    return torch.log_softmax(logits.float(), dim=-1)
