"""Constrained beam search yields only paths that exist in the graph, whatever the model, and answers execute them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgpeft.data.render import path_answers
from kgpeft.inference import KGPathLogitsProcessor, KGReasoner, PathAutomaton, PathTries, verify_path
from kgpeft.testing import build_tiny_model


def edge_exists(kg, head: str, relation: str, tail: str, backward: bool) -> bool:
    """An independent check of one hop, from the graph's triples as the reasoner never reads them."""
    h, t = kg.entity_by_label(head), kg.entity_by_label(tail)
    r = kg.relation_by_label(relation)
    if None in (h, t, r):
        return False
    subject, obj = (t, h) if backward else (h, t)
    return obj in kg.neighbors(subject, r).tolist()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10_000),
    topic_label=st.sampled_from(["Germany", "Japan", "Berlin", "Western Europe", "Portugal", "Georgia (country)"]),
    num_paths=st.integers(1, 4),
    max_hops=st.integers(1, 3),
)
def test_constrained_paths_are_always_valid(tiny_tokenizer, world, seed, topic_label, num_paths, max_hops):
    model = build_tiny_model(len(tiny_tokenizer), hidden_size=32, num_layers=1, seed=seed).eval()
    reasoner = KGReasoner(model, tiny_tokenizer, world)
    answer = reasoner.ask(f"Tell me about {topic_label}.", topic_label, num_paths=num_paths, max_hops=max_hops)
    topic = world.entity_by_label(topic_label)
    assert answer.paths, "a topic with edges always has a path"
    assert len(answer.paths) <= num_paths
    for path in answer.paths:
        assert path.valid, path.text
        assert path.start == topic and 1 <= len(path.hops) <= max_hops
        assert all(edge_exists(world, h.head, h.relation, h.tail, h.backward) for h in path.hops)
        # The answers are the execution of the relation sequence, not just the entity the text ends at.
        assert list(path.answers) == path_answers(world, topic, path.steps).tolist()
    assert np.isclose(sum(p.probability for p in answer.paths), 1.0)
    for ranked in answer.answers:
        reaching = [i for i, p in enumerate(answer.paths) if ranked.entity in p.answers]
        assert list(ranked.paths) == reaching
        # Constrained beams score relation sequences: each counts once, at its best beam
        best: dict = {}
        for i in reaching:
            key = answer.paths[i].steps
            best[key] = max(best.get(key, 0.0), answer.paths[i].probability)
        assert np.isclose(ranked.score, sum(best.values()))
    # By score, the topic last when anything else answers (a path's only endpoint may be the topic)
    others = [a.score for a in answer.answers if a.entity != topic]
    expected = sorted(others, reverse=True) + [a.score for a in answer.answers if a.entity == topic]
    assert [a.score for a in answer.answers] == (expected if others else sorted(expected, reverse=True))


def test_top_answer_and_evidence(reasoner, world):
    answer = reasoner.ask("Which region is Germany in?", num_paths=3, max_hops=2)
    assert answer.top is not None and answer.top_path is not None
    assert answer.top.entity in answer.paths[answer.top.paths[0]].answers
    for ranked in answer.answers:
        for evidence in ranked.evidence:  # each evidence chain exists and ends at its answer
            assert evidence.startswith("Germany") and evidence.endswith(ranked.label)
    assert set(answer.timings) == {"link", "prompt", "generate", "verify", "rank", "total"}


def test_edgeless_topic_gives_no_path_and_no_free_text(reasoner):
    answer = reasoner.ask("What is Atlantis?", "Atlantis", num_paths=2)
    assert answer.paths == [] and answer.answers == [] and answer.top is None


def test_each_step_is_one_memoised_transition(tiny_model, tiny_tokenizer, world):
    """The processor never re-decodes: every prefix is advanced once, from its memoised parent."""
    from transformers import LogitsProcessorList

    from kgpeft.data import prompt_ids, render_prompt
    from kgpeft.inference.trie import path_prefix

    tries = PathTries(world, tiny_tokenizer)
    automaton = PathAutomaton(tries, world.entity_by_label("France"), max_hops=3)
    calls = []
    advance = automaton.advance
    automaton.advance = lambda state, token: calls.append(token) or advance(state, token)
    ids = (
        prompt_ids(tiny_tokenizer, render_prompt("Where is France?"))
        + tiny_tokenizer(path_prefix(world, automaton.topic), add_special_tokens=False)["input_ids"]
    )
    processor = KGPathLogitsProcessor([automaton], 3, len(ids), tiny_tokenizer.eos_token_id)
    import torch

    tiny_model.generate(
        torch.tensor([ids]),
        num_beams=3,
        num_return_sequences=3,
        max_new_tokens=40,
        logits_processor=LogitsProcessorList([processor]),
        eos_token_id=tiny_tokenizer.eos_token_id,
        pad_token_id=tiny_tokenizer.pad_token_id,
    )
    prefixes = [key for key in processor._prefixes if key[1]]
    assert len(calls) == len(prefixes) > 0


def test_unconstrained_mode_reports_hallucinated_hops(reasoner, world):
    answer = reasoner.ask("Which region is Germany in?", "Germany", num_paths=2, max_hops=1, constrained=False)
    assert not answer.constrained and answer.paths
    for path in answer.paths:  # a random model writes anything; what is reported must match the graph
        assert path.valid == (path.well_formed and all(h.exists for h in path.hops))
        for hop in path.hops:
            assert hop.exists == edge_exists(world, hop.head, hop.relation, hop.tail, hop.backward)


@pytest.mark.parametrize(
    ("labels", "hallucinated"),
    [
        (["Germany", "located in", "Western Europe"], 0),
        (["Western Europe", "^located in", "Germany"], 0),
        (["Germany", "capital", "Paris"], 1),  # both exist, the edge does not
        (["Germany", "born in", "Berlin"], 1),  # no such relation
        (["Germany", "capital", "Berlin", "located in", "Atlantis"], 1),
        (["Narnia", "capital", "Berlin"], 1),  # no such entity
        (["Germany", "located in", "Western Europe", "^located in", "France"], 0),  # back through the topic
        (["Germany", "capital", "Berlin", "^capital", "Germany"], 0),  # the topic is the only endpoint
    ],
)
def test_verify_path_counts_hallucinated_hops(world, labels, hallucinated):
    path = verify_path(world, labels, 1.0)
    assert path.hallucinated_hops == hallucinated
    assert path.valid == (hallucinated == 0)
    if path.valid:
        # The endpoint set, less the topic unless it is all there is: Germany's region's countries are the others
        ends = world.execute(path.start, path.steps).tolist()
        assert list(path.answers) == ([e for e in ends if e != path.start] if len(ends) > 1 else ends)
        assert len(path.answers) >= 1
    else:
        assert path.answers == () and path.steps is None


def test_choosing_a_neighbour_costs_nothing_and_relations_keep_the_model_scores(tiny_tokenizer, world):
    import torch

    tries = PathTries(world, tiny_tokenizer)
    automaton = PathAutomaton(tries, world.entity_by_label("Western Europe"), max_hops=1)
    processor = KGPathLogitsProcessor([automaton], num_beams=1, prompt_length=1, end_id=0)
    scores = torch.log_softmax(torch.randn(1, len(tiny_tokenizer), generator=torch.Generator().manual_seed(0)), -1)

    # At the start, direction and relation are the model's choice: its own log-probabilities
    start = processor(torch.tensor([[5]]), scores.clone())
    allowed = torch.isfinite(start[0])
    # Exact on purpose: the processor copies allowed scores (no arithmetic), so any change is a bug.
    assert torch.equal(start[0][allowed], scores[0][allowed]) and start[0].logsumexp(0).item() < -1e-3

    # After " <- located in <-" only the country is open: the allowed tokens share probability 1
    prefix = tiny_tokenizer(" <- located in <-", add_special_tokens=False)["input_ids"]
    out = processor(torch.tensor([[5, *prefix]]), scores.clone())
    assert torch.isfinite(out[0]).sum() > 1
    assert math.isclose(out[0].logsumexp(0).item(), 0.0, abs_tol=1e-5)


def test_beams_naming_other_neighbours_of_one_relation_sequence_count_once(reasoner, world):
    from kgpeft.inference.answer import ReasoningPath

    western_europe, europe = world.entity_by_label("Western Europe"), world.entity_by_label("Europe")
    located_in = world.relation_by_label("located in")
    contains = world.inverse_step(located_in)
    members = tuple(int(e) for e in world.execute(western_europe, (contains,)))
    beams = [  # two beams of "<- located in <-" naming different countries, one of "-> located in ->"
        ReasoningPath("a", (), 0.3, western_europe, (contains,), members),
        ReasoningPath("b", (), 0.3, western_europe, (contains,), members),
        ReasoningPath("c", (), 0.4, western_europe, (located_in,), (europe,)),
    ]
    ranked = reasoner._rank(beams, per_sequence=True)
    assert ranked[0].entity == europe and math.isclose(ranked[0].score, 0.4)
    assert {r.entity for r in ranked[1:]} == set(members) and math.isclose(ranked[1].score, 0.3)
    # Free decoding: beams are different texts, so different hypotheses, and their probabilities add up
    summed = reasoner._rank(beams, per_sequence=False)
    assert summed[0].entity in members and math.isclose(summed[0].score, 0.6)


@pytest.mark.parametrize("constrained", [True, False])
def test_beam_search_matches_generate_run_on_every_beam(tiny_tokenizer, world, constrained):
    """Prompts run once and their cache copied per beam: the same beams and scores as plain generate."""
    import torch
    from transformers import GenerationConfig, LogitsProcessorList

    from kgpeft.data.render import end_of_turn_id, prompt_ids, render_prompt
    from kgpeft.inference.decode import beam_search
    from kgpeft.inference.trie import path_prefix

    model = build_tiny_model(len(tiny_tokenizer), hidden_size=32, num_layers=2, seed=3).eval()
    tries, end_id = PathTries(world, tiny_tokenizer), end_of_turn_id(tiny_tokenizer)
    topics = [world.entity_by_label(label) for label in ("Germany", "Japan", "Portugal")]
    inputs = [
        prompt_ids(tiny_tokenizer, render_prompt(q)) + tiny_tokenizer(path_prefix(world, t))["input_ids"]
        for q, t in zip(
            ["Which region is Germany in?", "Japan?", "What borders Portugal and why?"], topics, strict=True
        )
    ]
    automata = [PathAutomaton(tries, t, 2) for t in topics] if constrained else None
    beams = beam_search(model, tiny_tokenizer, inputs, num_beams=3, max_new_tokens=24, end_id=end_id, automata=automata)

    width = max(map(len, inputs))
    pad = tiny_tokenizer.pad_token_id
    ids = torch.tensor([[pad] * (width - len(x)) + x for x in inputs])
    mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in inputs])
    processors = LogitsProcessorList(
        [KGPathLogitsProcessor([PathAutomaton(tries, t, 2) for t in topics], 3, width, end_id)] if constrained else []
    )
    config = GenerationConfig(
        num_beams=3, num_return_sequences=3, do_sample=False, max_new_tokens=24, eos_token_id=end_id,
        pad_token_id=pad, return_dict_in_generate=True, length_penalty=0.0, output_scores=True,
    )  # fmt: skip
    with torch.inference_mode():
        plain = model.generate(
            input_ids=ids, attention_mask=mask, generation_config=config, logits_processor=processors
        )
    expected = [
        (tiny_tokenizer.decode(seq[width:], skip_special_tokens=True, clean_up_tokenization_spaces=False), score)
        for seq, score in zip(plain.sequences.tolist(), plain.sequences_scores.tolist(), strict=True)
        if score > -1e8
    ]
    got = [(b.text, b.log_prob) for row in beams for b in row]
    assert [text for text, _ in got] == [text for text, _ in expected]
    assert [score for _, score in got] == pytest.approx([score for _, score in expected], abs=1e-4)


def test_only_the_best_ranked_answers_are_grounded(reasoner, monkeypatch):
    """Evidence costs a walk of the graph per answer: the answers past the shown ones carry none."""
    import kgpeft.inference.reasoner as reasoner_module

    monkeypatch.setattr(reasoner_module, "EXPLAINED_ANSWERS", 1)
    answer = reasoner.ask("Which countries neighbour Germany?", "Germany", num_paths=3, max_hops=2)
    assert len(answer.answers) > 1 and answer.answers[0].evidence
    assert all(not ranked.evidence and ranked.paths for ranked in answer.answers[1:])


def test_the_topic_answers_only_when_no_path_gives_anything_else(reasoner, world):
    from kgpeft.inference.answer import ReasoningPath

    germany, berlin = world.entity_by_label("Germany"), world.entity_by_label("Berlin")
    capital = world.relation_by_label("capital")
    back = (capital, world.inverse_step(capital))  # Germany -> capital -> Berlin <- capital <- Germany

    def path(steps, probability):
        answers = tuple(path_answers(world, germany, steps).tolist())
        return ReasoningPath("text", (), probability, start=germany, steps=steps, answers=answers)

    detour, direct = path(back, 0.7), path((capital,), 0.3)
    assert detour.answers == (germany,)  # the only endpoint, so path_answers keeps it
    ranked = reasoner._rank([detour, direct], per_sequence=True)
    assert [a.entity for a in ranked] == [berlin, germany], "the more probable detour does not outrank Berlin"
    assert [a.entity for a in reasoner._rank([detour], per_sequence=True)] == [germany]
