"""Beam search over paths: Hugging Face ``generate`` with a logits processor that keeps beams in the KG.

:class:`KGPathLogitsProcessor` masks every token that continues no valid path. Its
state per beam is memoised by the beam's generated tokens, so each step costs one trie
transition per beam (the parent prefix was seen the step before), never a re-decode.
Scores are the model's log-probabilities of the choices that make a path's answers: the
direction and relation of each hop, and where the path ends. Which neighbour a hop names
costs only its share among the allowed neighbours: once a hop's relation is fixed, the
log-probabilities of the allowed tokens are renormalised among themselves, so a neighbour
the model is sure of costs ~0. The answers come from executing the relation sequence, so a
path's score approximates the probability of its relation sequence; with raw scores, a hop
onto one of 16 countries would cost ~log 16 that a hop onto a single region does not, and
inverse relations would lose to forward ones for that alone. (Giving back the share too,
scoring the relation sequence alone, was measured on MetaQA on 2026-12-03 and left out:
7 of 200 test questions gained, 6 lost; the student's own preference for one more hop
then decided more 1-hop questions.) Where a hop may be followed by another, it names only a
step cover of its neighbours (``trie.step_cover``), each at no cost: the entity named there
decides which relations may follow, so that choice is left to the path the model then
writes, not to its guess at the entity. The end of turn after a complete path is forced at
log-probability 0, since ending there is the format's rule, not the model's choice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from transformers import GenerationConfig, LogitsProcessor, LogitsProcessorList

from kgpeft.inference.trie import PathAutomaton, State

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# Beam search keeps placeholder hypotheses at -1e9 when fewer valid ones exist; anything this low is not a beam.
_NO_BEAM = -1e8


@dataclass(frozen=True)
class _Prefix:
    """What the processor knows of one beam's generated tokens.

    ``sequence``: the tokens that chose directions, relations and ends (the neighbours' names
    left out), the same for two beams that took the same relation sequence; ``written``: the
    tokens up to the end of the last relation or end marker written; ``score``: the summed
    scores this processor gave the tokens, the beam's score as beam search adds it up.
    """

    state: State
    sequence: tuple[int, ...]
    written: tuple[int, ...]
    score: float


class KGPathLogitsProcessor(LogitsProcessor):
    """Restricts each beam of each batch row to tokens that continue a path existing in the graph.

    Rows of ``input_ids`` are ``batch * num_beams + beam``; generated tokens start at ``prompt_length``.
    A beam that has written the same relation sequence as a better one of its row, naming other
    entities on the way, is dropped once its last relation (or end marker) is written: the two
    have the same answers, and beam search would spend a place on it that another relation
    sequence could use. Beams that differ only in the neighbour being named now are kept: they
    are a step cover's alternatives, and the relation each writes next tells them apart.

    >>> processor = KGPathLogitsProcessor([PathAutomaton(tries, germany, 3)], 4, prompt_len, eos_id)  # doctest: +SKIP
    >>> model.generate(..., logits_processor=LogitsProcessorList([processor]))  # doctest: +SKIP
    """

    def __init__(self, automata: Sequence[PathAutomaton], num_beams: int, prompt_length: int, end_id: int) -> None:
        self.automata = list(automata)
        self.num_beams = num_beams
        self.prompt_length = prompt_length
        self.end_id = end_id
        self._prefixes: dict[tuple[int, tuple[int, ...]], _Prefix] = {}
        self._given: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}  # the scores given at the last step

    def state(self, row: int, tokens: tuple[int, ...]) -> State:
        """The automaton state of batch row ``row`` after ``tokens``, memoised by prefix."""
        return self._prefix(row, tokens).state

    def _prefix(self, row: int, tokens: tuple[int, ...]) -> _Prefix:
        key = (row, tokens)
        prefix = self._prefixes.get(key)
        if prefix is None:
            if not tokens:
                prefix = _Prefix(self.automata[row].start(), (), (), 0.0)
            else:
                # The parent prefix was memoised at the previous step: one trie transition, no re-decode.
                parent, token = self._prefix(row, tokens[:-1]), tokens[-1]
                state = self.automata[row].advance(parent.state, token)
                naming = PathAutomaton.neighbour_choice(parent.state)
                given = self._given.get((row, tokens[:-1]))
                written = (PathAutomaton.neighbour_choice(state) and not naming) or (
                    PathAutomaton.is_done(state) and not PathAutomaton.is_done(parent.state)
                )
                prefix = _Prefix(
                    state,
                    parent.sequence if naming else (*parent.sequence, token),
                    tokens if written else parent.written,
                    parent.score + (float(given[token]) if given is not None else 0.0),
                )
            self._prefixes[key] = prefix
        return prefix

    def _repeats(self, rows: Sequence[int], prefixes: Sequence[_Prefix]) -> list[int]:
        """Beams (indexes into ``rows``) whose relation sequence a better beam of their row has written too."""
        groups: dict[tuple[int, tuple[int, ...]], dict[tuple[int, ...], float]] = {}
        for row, prefix in zip(rows, prefixes, strict=True):
            if prefix.written and (PathAutomaton.neighbour_choice(prefix.state) or PathAutomaton.is_done(prefix.state)):
                best = groups.setdefault((row, prefix.sequence), {})
                best[prefix.written] = max(best.get(prefix.written, -math.inf), prefix.score)
        keep = {group: max(best, key=best.get) for group, best in groups.items() if len(best) > 1}
        return [
            i
            for i, (row, prefix) in enumerate(zip(rows, prefixes, strict=True))
            if (row, prefix.sequence) in keep and keep[(row, prefix.sequence)] != prefix.written
        ]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        # scores: (batch * num_beams, vocab) log-probabilities
        generated = [tuple(tokens) for tokens in input_ids[:, self.prompt_length :].tolist()]
        batch_rows = [i // self.num_beams for i in range(len(generated))]
        prefixes = [self._prefix(row, tokens) for row, tokens in zip(batch_rows, generated, strict=True)]
        rows: list[int] = []
        cols: list[int] = []
        ended: list[int] = []
        shared: list[int] = []
        free: list[int] = []
        for i, prefix in enumerate(prefixes):
            state = prefix.state
            allowed = PathAutomaton.allowed(state)
            rows.extend([i] * len(allowed))
            cols.extend(allowed)
            # A complete path, or a beam that left every path (its score is -inf already): end it.
            if PathAutomaton.is_done(state) or not state:
                ended.append(i)
            elif PathAutomaton.neighbour_choice(state):
                (free if PathAutomaton.free_choice(state) else shared).append(i)
        out = torch.full_like(scores, -math.inf)
        if rows:
            index = (torch.tensor(rows, device=scores.device), torch.tensor(cols, device=scores.device))
            out[index] = scores[index]
        if shared:
            # Only the neighbour is being chosen: renormalise over the allowed tokens (a forced token costs 0)
            index = torch.tensor(shared, device=scores.device)
            out[index] = out[index] - out[index].logsumexp(dim=-1, keepdim=True)
        if free:
            # A neighbour of a step cover: every one allowed costs nothing, the beam tries each
            index = torch.tensor(free, device=scores.device)
            out[index] = torch.where(out[index].isfinite(), 0.0, -math.inf)
        if ended:
            out[torch.tensor(ended, device=scores.device), self.end_id] = 0.0
        repeats = self._repeats(batch_rows, prefixes)
        if repeats:
            out[torch.tensor(repeats, device=scores.device)] = -math.inf
        # What each beam's next token will add to its score: read back when that token is the last one
        given = out.cpu()
        self._given = {
            (row, tokens): given[i] for i, (row, tokens) in enumerate(zip(batch_rows, generated, strict=True))
        }
        return out


def _prompt_cache(model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor, copies: int):
    """The KV cache of every prompt token but the last, computed once and repeated ``copies`` times per row."""
    # Positions as generate numbers them (left padding does not count), so that the two passes agree
    positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)  # (B, W)
    prompt = model(
        input_ids=input_ids[:, :-1],
        attention_mask=attention_mask[:, :-1],
        position_ids=positions[:, :-1],
        use_cache=True,
    )
    cache = prompt.cache
    cache.batch_repeat_interleave(copies)  # (B, ...) -> (B * copies, ...): the beams of a row are adjacent
    return cache


@dataclass(frozen=True)
class Beam:
    """One returned hypothesis: its generated text and its summed token log-probability."""

    text: str
    log_prob: float


def beam_search(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    inputs: Sequence[Sequence[int]],
    *,
    num_beams: int,
    max_new_tokens: int,
    end_id: int,
    automata: Sequence[PathAutomaton] | None = None,
    min_new_tokens: int = 0,
) -> list[list[Beam]]:
    """Beam search from each input (left-padded into one batch); up to ``num_beams`` beams per input, best first.

    With ``automata`` (one per input, whose prompts are ``inputs``) decoding is KG-constrained;
    without, it is free. ``length_penalty=0`` makes a beam's score its log-probability, so
    beams compare as the probabilities of their paths; beams that found nothing are dropped.

    The prompts are run through the model once, not once per beam: ``generate`` would copy
    each prompt ``num_beams`` times before its first forward pass, and on a CPU that prompt
    pass was a third of the decoding time. Its cache, copied per beam, is handed to
    ``generate``, which then starts from each prompt's last token.

    >>> beams = beam_search(model, tok, [ids], num_beams=4, max_new_tokens=64, end_id=eot)  # doctest: +SKIP
    """
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else end_id
    width = max(len(ids) for ids in inputs)
    input_ids = torch.full((len(inputs), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(inputs), width), dtype=torch.long)
    for i, ids in enumerate(inputs):
        input_ids[i, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
        attention_mask[i, width - len(ids) :] = 1
    device = model.device
    processors = LogitsProcessorList()
    if automata is not None:
        processors.append(KGPathLogitsProcessor(automata, num_beams, width, end_id))
    # A complete GenerationConfig, so that sampling settings or a repetition penalty from the
    # model's own generation_config.json cannot change the scores paths are ranked by.
    config = GenerationConfig(
        num_beams=num_beams,
        num_return_sequences=num_beams,
        do_sample=False,
        max_new_tokens=max_new_tokens,
        min_new_tokens=min_new_tokens,
        eos_token_id=end_id,
        pad_token_id=pad_id,
        return_dict_in_generate=True,
        # One beam is greedy search, which keeps no sequence scores; its probability is 1 anyway.
        **({"length_penalty": 0.0, "output_scores": True} if num_beams > 1 else {}),
    )
    input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)
    with torch.inference_mode():
        cache = _prompt_cache(model, input_ids, attention_mask, num_beams) if width > 1 else None
        out = model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            generation_config=config,
            logits_processor=processors,
            cache=cache,
        )
    sequences = out.sequences[:, width:].tolist()
    scores = out.sequences_scores.tolist() if num_beams > 1 else [0.0] * len(sequences)
    beams: list[list[Beam]] = [[] for _ in inputs]
    for row, (ids, score) in enumerate(zip(sequences, scores, strict=True)):
        if score > _NO_BEAM:
            text = tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            beams[row // num_beams].append(Beam(text=text, log_prob=float(score)))
    return beams
