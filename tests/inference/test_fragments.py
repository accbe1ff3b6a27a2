"""Hop fragments tokenised alone must give exactly the tokens of the whole completion, and the tries must hold them."""

from __future__ import annotations

import pytest
import torch

from kgpeft.data import build_questions, render_completion, render_prompt, tokenize_example
from kgpeft.data.dataset import DataConfig
from kgpeft.data.render import ground_path
from kgpeft.errors import ModelLoadError
from kgpeft.inference import KGPathLogitsProcessor, PathAutomaton, PathTries, check_tokenizer, hop_fragment, path_prefix
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
    # One hop: every neighbour may be named (where a hop may go on, a step cover is, at no cost)
    automaton = PathAutomaton(tries, western_europe, max_hops=1)
    state = automaton.start()
    # At the start the direction and relation are still open
    assert not PathAutomaton.neighbour_choice(state)
    flags = []
    for token in tiny_tokenizer(" <- located in <- Germany", add_special_tokens=False)["input_ids"]:
        state = automaton.advance(state, token)
        flags.append(PathAutomaton.neighbour_choice(state))
    # Once " <- located in <-" is written only the country is left to choose; after it, the
    # end is a real choice again
    assert flags[-1] is False
    assert any(flags)
    inside = automaton.start()
    for token in tiny_tokenizer(" <- located in <-", add_special_tokens=False)["input_ids"]:
        inside = automaton.advance(inside, token)
    assert PathAutomaton.neighbour_choice(inside)
    assert not PathAutomaton.free_choice(inside)  # the model's share among them is charged
    assert len(PathAutomaton.allowed(inside)) > 1  # Germany, France, Belgium


def accepts(tokenizer, automaton: PathAutomaton, text: str) -> bool:
    state = automaton.start()
    for token in tokenizer(text, add_special_tokens=False)["input_ids"]:
        state = automaton.advance(state, token)
    return automaton.is_done(state)


def test_a_hop_names_the_topic_again_only_when_its_relation_reaches_nothing_else(tiny_tokenizer, world):
    tries = PathTries(world, tiny_tokenizer)
    automaton = PathAutomaton(tries, world.entity_by_label("Germany"), max_hops=2)
    region = " -> located in -> Western Europe <- located in <-"
    # Western Europe holds France and Belgium too: the hop names one of them, as a training row does
    assert accepts(tiny_tokenizer, automaton, f"{region} France </path>")
    assert not accepts(tiny_tokenizer, automaton, f"{region} Germany </path>")
    # Berlin is the capital of Germany alone: the hop back is the only one that relation has
    assert accepts(tiny_tokenizer, automaton, " -> capital -> Berlin <- capital <- Germany </path>")
    # Only the topic is held back: a path may come back to another entity it visited
    portugal = PathAutomaton(tries, world.entity_by_label("Portugal"), max_hops=3)
    assert accepts(
        tiny_tokenizer, portugal, " -> neighbor of -> Spain -> neighbor of -> France -> neighbor of -> Spain </path>"
    )
    assert not accepts(tiny_tokenizer, portugal, " -> neighbor of -> Spain -> neighbor of -> Portugal </path>")


def films_graph(tmp_path, triples: str):
    """A small film graph from Turtle ``triples`` (prefixes ``:`` and ``rdfs:`` declared)."""
    from kgpeft.kg import load_graph

    films = tmp_path / "films.ttl"
    prefixes = "@prefix : <http://example.org/films/> .\n@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
    films.write_text(prefixes + triples, encoding="utf-8")
    return load_graph(films)


def test_a_hop_that_can_go_on_names_a_step_cover_of_its_neighbours(tiny_tokenizer, tmp_path):
    kg = films_graph(
        tmp_path,
        """\
:directedBy rdfs:label "directed by" .
:inLanguage rdfs:label "in language" .
:Topic rdfs:label "Topic" ; :directedBy :Edwards .
:Alpha rdfs:label "Alpha" ; :directedBy :Edwards .
:Beta rdfs:label "Beta" ; :directedBy :Edwards ; :inLanguage :French .
:Edwards rdfs:label "Edwards" .
:French rdfs:label "French" .
""",
    )
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


def kramer_films(tmp_path):
    """Films of one director, none with every step: Alpha has a language, Beta a writer, all a genre."""
    return films_graph(
        tmp_path,
        """\
:directedBy rdfs:label "directed by" .
:inLanguage rdfs:label "in language" .
:hasGenre rdfs:label "has genre" .
:writtenBy rdfs:label "written by" .
:Topic rdfs:label "Topic" ; :directedBy :Kramer .
:Alpha rdfs:label "Alpha" ; :directedBy :Kramer ; :inLanguage :German ; :hasGenre :Drama .
:Beta rdfs:label "Beta" ; :directedBy :Kramer ; :hasGenre :Comedy ; :writtenBy :Abby .
:Gamma rdfs:label "Gamma" ; :directedBy :Kramer ; :hasGenre :Drama .
:Kramer rdfs:label "Kramer" .
:Abby rdfs:label "Abby" .
:Comedy rdfs:label "Comedy" .
:German rdfs:label "German" .
:Drama rdfs:label "Drama" .
""",
    )


def test_a_step_cover_names_for_every_next_step_a_neighbour_it_leaves_and_costs_nothing(tiny_tokenizer, tmp_path):
    from kgpeft.inference.trie import step_cover

    kg = kramer_films(tmp_path)
    # No film has every step: one with a language and one with a writer are named, as rich as each other,
    # Gamma (no step they lack) is not
    automaton = PathAutomaton(PathTries(kg, tiny_tokenizer), kg.entity_by_label("Topic"), max_hops=3)
    directed = " -> directed by -> Kramer <- directed by <-"
    assert accepts(tiny_tokenizer, automaton, f"{directed} Alpha -> in language -> German </path>")
    assert accepts(tiny_tokenizer, automaton, f"{directed} Beta -> written by -> Abby </path>")
    assert accepts(tiny_tokenizer, automaton, f"{directed} Beta -> has genre -> Comedy </path>")
    assert not accepts(tiny_tokenizer, automaton, f"{directed} Gamma </path>")
    kramer = kg.entity_by_label("Kramer")
    back = next(s for s in kg.steps_from(kramer).tolist() if kg.is_inverse(s))
    films_of = sorted(kg.neighbors(kramer, back).tolist())
    assert [kg.entity_label(e) for e in step_cover(kg, back, films_of)] == ["Alpha", "Beta"]
    # Which one is named is decoding's choice, charged nothing: the next hop decides
    state = automaton.start()
    for token in tiny_tokenizer(directed, add_special_tokens=False)["input_ids"]:
        state = automaton.advance(state, token)
    assert PathAutomaton.neighbour_choice(state) and PathAutomaton.free_choice(state)
    processor = KGPathLogitsProcessor([automaton], 1, 0, end_id=0)
    generated = tiny_tokenizer(directed, add_special_tokens=False)["input_ids"]
    scores = torch.log_softmax(torch.randn(1, len(tiny_tokenizer)), dim=-1)
    out = processor(torch.tensor([generated]), scores)
    assert sorted(torch.nonzero(out[0] == 0).flatten().tolist()) == sorted(PathAutomaton.allowed(state))
    assert torch.isinf(out[0]).sum() == len(tiny_tokenizer) - len(PathAutomaton.allowed(state))


def test_of_neighbours_as_rich_in_steps_a_cover_names_the_one_with_more_edges(tiny_tokenizer, tmp_path):
    kg = films_graph(
        tmp_path,
        """\
:directedBy rdfs:label "directed by" .
:Lili rdfs:label "Lili" ; :directedBy :Blatty, :Edwards .
:Exorcist rdfs:label "Exorcist" ; :directedBy :Blatty .
:Ten rdfs:label "Ten" ; :directedBy :Edwards .
:Victor rdfs:label "Victor" ; :directedBy :Edwards .
:Blatty rdfs:label "Blatty" .
:Edwards rdfs:label "Edwards" .
""",
    )
    automaton = PathAutomaton(PathTries(kg, tiny_tokenizer), kg.entity_by_label("Lili"), max_hops=3)
    # Both directors leave by "directed by" alone; Edwards made more films, so more ways on
    assert accepts(tiny_tokenizer, automaton, " -> directed by -> Edwards <- directed by <- Ten </path>")
    assert not accepts(tiny_tokenizer, automaton, " -> directed by -> Blatty <- directed by <- Exorcist </path>")


def test_a_beam_repeating_a_better_ones_relation_sequence_is_dropped_once_its_relation_is_written(
    tiny_tokenizer, tmp_path
):
    kg = kramer_films(tmp_path)
    automaton = PathAutomaton(PathTries(kg, tiny_tokenizer), kg.entity_by_label("Topic"), max_hops=3)
    processor = KGPathLogitsProcessor([automaton], 2, 0, end_id=0)
    directed = " -> directed by -> Kramer <- directed by <-"

    def step(*texts: str) -> torch.Tensor:
        ids = [tiny_tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        width = max(map(len, ids))
        assert all(len(i) == width for i in ids), "beams of one step have as many tokens"
        return processor(torch.tensor(ids), torch.zeros(len(ids), len(tiny_tokenizer)))

    # Two beams naming the cover's two films: both kept, the relation each writes next decides
    for cut in (1, 2):
        out = step(f"{directed} Alpha"[:-cut], f"{directed} Beta"[:-cut])
        assert out.isfinite().any(dim=-1).all()
    # Both go on by "has genre": the same relation sequence, the same answers; the second is dropped
    out = step(f"{directed} Alpha -> has genre ->", f"{directed} Beta -> has genre ->")
    assert out[0].isfinite().any() and not out[1].isfinite().any()
    # The better of the two is kept: here the second, whose "->" the model liked more
    processor = KGPathLogitsProcessor([automaton], 2, 0, end_id=0)
    alpha, beta = (
        tiny_tokenizer(f"{directed} {f} -> has genre ->", add_special_tokens=False)["input_ids"]
        for f in ("Alpha", "Beta")
    )
    scores = torch.zeros(2, len(tiny_tokenizer))
    scores[0, alpha[-1]] = -1.0
    processor(torch.tensor([alpha[:-1], beta[:-1]]), scores)
    out = processor(torch.tensor([alpha, beta]), torch.zeros(2, len(tiny_tokenizer)))
    assert not out[0].isfinite().any() and out[1].isfinite().any()


def test_from_the_topic_a_way_back_that_reaches_only_the_topic_is_no_step_to_cover(tiny_tokenizer, tmp_path):
    kg = films_graph(
        tmp_path,
        """\
:writtenBy rdfs:label "written by" .
:hasTags rdfs:label "has tags" .
:Robo rdfs:label "Robo" ; :writtenBy :Miner, :Neumeier .
:Troopers rdfs:label "Troopers" ; :writtenBy :Neumeier .
:Other rdfs:label "Other" ; :hasTags :Miner .
:Miner rdfs:label "Miner" .
:Neumeier rdfs:label "Neumeier" .
""",
    )
    robo = PathAutomaton(PathTries(kg, tiny_tokenizer), kg.entity_by_label("Robo"), max_hops=2)
    # Miner has two steps, Neumeier one, but Miner's way back by "written by" reaches only Robo:
    # the films sharing a writer with Robo go through Neumeier, and both may be named
    assert accepts(tiny_tokenizer, robo, " -> written by -> Neumeier <- written by <- Troopers </path>")
    assert accepts(tiny_tokenizer, robo, " -> written by -> Miner <- has tags <- Other </path>")
