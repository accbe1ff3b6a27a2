"""Hop fragments tokenised alone must give exactly the tokens of the whole completion, and the tries must hold them."""

from __future__ import annotations

import pytest

from kgpeft.data import build_questions, render_completion, render_prompt, tokenize_example
from kgpeft.data.dataset import DataConfig
from kgpeft.data.render import ground_path
from kgpeft.errors import ModelLoadError
from kgpeft.inference import PathAutomaton, PathTries, check_tokenizer, hop_fragment, path_prefix
from kgpeft.inference.trie import END


def fragment_ids(tokenizer, world, topic, path, answers) -> list[int]:
    """Tokens of a one-path completion built the way constrained decoding builds it: prefix, hops, end marker."""
    chain = ground_path(world, topic, path, answers)
    pieces = [path_prefix(world, topic)]
    pieces += [hop_fragment(world, head, step, tail) for head, step, tail in zip(chain, path, chain[1:], strict=False)]
    pieces.append(" </path>")
    return [i for piece in pieces for i in tokenizer(piece, add_special_tokens=False)["input_ids"]]


def test_fragments_tokenise_like_the_whole_completion(tiny_tokenizer, world):
    questions = build_questions(world, DataConfig(max_hops=3, test_ratio=0.0, validation_ratio=0.0, infill_ratio=0.0))
    assert len(questions) > 20
    for q in questions:
        messages = render_prompt(q.question)
        completion = render_completion(world, q.topic, q.gold_paths[:1], q.answers)
        row = tokenize_example(tiny_tokenizer, messages, completion)
        whole = [i for i, m in zip(row["input_ids"], row["completion_mask"], strict=True) if m]
        pieces = fragment_ids(tiny_tokenizer, world, q.topic, q.gold_paths[0], q.answers)
        assert whole[: len(pieces)] == pieces, completion


def test_automaton_accepts_exactly_the_rendered_path(tiny_tokenizer, world):
    tries = PathTries(world, tiny_tokenizer)
    germany = world.entity_by_label("Germany")
    located_in = world.relation_by_label("located in")
    automaton = PathAutomaton(tries, germany, max_hops=2)
    text = " -> located in -> Western Europe -> located in -> Europe </path>"
    state = automaton.start()
    for token in tiny_tokenizer(text, add_special_tokens=False)["input_ids"]:
        assert token in automaton.allowed(state)
        state = automaton.advance(state, token)
    assert automaton.is_done(state)
    assert world.execute(germany, (located_in, located_in)).tolist() == [world.entity_by_label("Europe")]


def test_path_must_end_at_max_hops(tiny_tokenizer, world):
    tries = PathTries(world, tiny_tokenizer)
    automaton = PathAutomaton(tries, world.entity_by_label("Germany"), max_hops=1)
    state = automaton.start()
    for token in tiny_tokenizer(" -> capital -> Berlin", add_special_tokens=False)["input_ids"]:
        state = automaton.advance(state, token)
    # After the last hop only the end marker continues: nothing else is valid, and nothing else is offered.
    assert automaton.allowed(state) == tries.end_ids[:1]
    assert automaton.advance(state, tiny_tokenizer(" ->", add_special_tokens=False)["input_ids"][0]) == ()


def test_first_hop_cannot_end_and_an_edgeless_topic_has_no_start(tiny_tokenizer, world):
    tries = PathTries(world, tiny_tokenizer)
    node = tries.root(world.entity_by_label("Germany"), can_step=True, can_end=False)
    for token in tries.end_ids:  # follow " </path>" as far as the trie goes: it never ends a path here
        node = node.children.get(token)
        if node is None:
            break
    assert node is None or node.target != END
    assert PathAutomaton(tries, world.entity_by_label("Atlantis"), max_hops=3).start() == ()


def test_tries_are_built_lazily_per_entity(tiny_tokenizer, world):
    tries = PathTries(world, tiny_tokenizer)
    automaton = PathAutomaton(tries, world.entity_by_label("Japan"), max_hops=3)
    automaton.start()
    assert len(tries._tries) == 1  # only the topic's trie, not the graph's


def test_a_tokenizer_that_merges_across_fragments_is_refused():
    class Merging:
        """Tokenises each character, but joins a leading space into the first token only when alone."""

        name_or_path = "merging"

        def __call__(self, text, add_special_tokens=False):
            ids = [ord(c) for c in text]
            if text.startswith(" "):
                ids = [1000 + ids[1], *ids[2:]]
            return {"input_ids": ids}

    with pytest.raises(ModelLoadError, match="tokenises path fragments differently"):
        check_tokenizer(Merging())


def test_neighbour_choice_only_once_the_relation_is_fixed(tiny_tokenizer, world):
    tries = PathTries(world, tiny_tokenizer)
    western_europe = world.entity_by_label("Western Europe")
    automaton = PathAutomaton(tries, western_europe, max_hops=2)
    state = automaton.start()
    # At the start the direction and relation are still open
    assert not PathAutomaton.neighbour_choice(state)
    flags = []
    for token in tiny_tokenizer(" <- located in <- Germany", add_special_tokens=False)["input_ids"]:
        state = automaton.advance(state, token)
        flags.append(PathAutomaton.neighbour_choice(state))
    # Once " <- located in <-" is written only the country is left to choose; after it, the
    # next hop or the end is a real choice again
    assert flags[-1] is False
    assert any(flags)
    inside = automaton.start()
    for token in tiny_tokenizer(" <- located in <-", add_special_tokens=False)["input_ids"]:
        inside = automaton.advance(inside, token)
    assert PathAutomaton.neighbour_choice(inside)
    assert len(PathAutomaton.allowed(inside)) > 1  # Germany, France, Belgium


def accepts(tokenizer, automaton: PathAutomaton, text: str) -> bool:
    state = automaton.start()
    for token in tokenizer(text, add_special_tokens=False)["input_ids"]:
        state = automaton.advance(state, token)
    return automaton.is_done(state)


def test_a_hop_names_the_topic_again_only_when_its_relation_reaches_nothing_else(tiny_tokenizer, world):
    automaton = PathAutomaton(PathTries(world, tiny_tokenizer), world.entity_by_label("Germany"), max_hops=3)
    region = " -> located in -> Western Europe <- located in <-"
    # Western Europe holds France and Belgium too: the hop names one of them, as a training row does
    assert accepts(tiny_tokenizer, automaton, f"{region} France </path>")
    assert not accepts(tiny_tokenizer, automaton, f"{region} Germany </path>")
    # Berlin is the capital of Germany alone: the hop back is the only one that relation has
    assert accepts(tiny_tokenizer, automaton, " -> capital -> Berlin <- capital <- Germany </path>")
    # Only the topic is held back: a path may come back to another entity it visited
    assert accepts(
        tiny_tokenizer,
        automaton,
        " -> neighbor of -> France -> neighbor of -> Belgium -> neighbor of -> France </path>",
    )
    assert not accepts(tiny_tokenizer, automaton, " -> neighbor of -> France -> neighbor of -> Germany </path>")


def test_a_hop_that_can_go_on_names_the_neighbours_the_most_steps_leave(tiny_tokenizer, tmp_path):
    from kgpeft.kg import load_graph

    films = tmp_path / "films.ttl"
    films.write_text(
        """@prefix : <http://example.org/films/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
:directedBy rdfs:label "directed by" .
:inLanguage rdfs:label "in language" .
:Topic rdfs:label "Topic" ; :directedBy :Edwards .
:Alpha rdfs:label "Alpha" ; :directedBy :Edwards .
:Beta rdfs:label "Beta" ; :directedBy :Edwards ; :inLanguage :French .
:Edwards rdfs:label "Edwards" .
:French rdfs:label "French" .
""",
        encoding="utf-8",
    )
    kg = load_graph(films)
    tries = PathTries(kg, tiny_tokenizer)
    directed = " -> directed by -> Edwards <- directed by <-"
    three = PathAutomaton(tries, kg.entity_by_label("Topic"), max_hops=3)
    # Alpha has no language: naming it would leave "in language" out of the third hop, though
    # the relation sequence reaches Beta, which has one. Only Beta is named where a hop may follow.
    assert accepts(tiny_tokenizer, three, f"{directed} Beta -> in language -> French </path>")
    assert not accepts(tiny_tokenizer, three, f"{directed} Alpha </path>")
    assert accepts(tiny_tokenizer, three, f"{directed} Beta </path>")
    # At the last hop nothing follows: every neighbour may be named
    two = PathAutomaton(tries, kg.entity_by_label("Topic"), max_hops=2)
    assert accepts(tiny_tokenizer, two, f"{directed} Alpha </path>")
    assert accepts(tiny_tokenizer, two, f"{directed} Beta </path>")


def test_from_the_topic_a_neighbour_whose_way_back_reaches_only_the_topic_counts_one_step_less(
    tiny_tokenizer, tmp_path
):
    from kgpeft.kg import load_graph

    films = tmp_path / "films.ttl"
    films.write_text(
        """@prefix : <http://example.org/films/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
:writtenBy rdfs:label "written by" .
:hasTags rdfs:label "has tags" .
:Robo rdfs:label "Robo" ; :writtenBy :Miner, :Neumeier .
:Troopers rdfs:label "Troopers" ; :writtenBy :Neumeier .
:Other rdfs:label "Other" ; :hasTags :Miner .
:Miner rdfs:label "Miner" .
:Neumeier rdfs:label "Neumeier" .
""",
        encoding="utf-8",
    )
    kg = load_graph(films)
    robo = PathAutomaton(PathTries(kg, tiny_tokenizer), kg.entity_by_label("Robo"), max_hops=2)
    # Miner has two steps, Neumeier one, but Miner's way back by "written by" reaches only Robo:
    # the films sharing a writer with Robo go through Neumeier, and both may be named
    assert accepts(tiny_tokenizer, robo, " -> written by -> Neumeier <- written by <- Troopers </path>")
    assert accepts(tiny_tokenizer, robo, " -> written by -> Miner <- has tags <- Other </path>")
