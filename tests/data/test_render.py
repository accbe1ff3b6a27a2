from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kgpeft.data.questions import Question, synthesize_questions
from kgpeft.data.render import (
    PATH_SYSTEM_PROMPT,
    end_of_turn_id,
    format_completion,
    ground_path,
    neighbour_spans,
    neighbour_token_mask,
    parse_completion,
    path_to_text,
    prompt_ids,
    render_completion,
    render_example,
    render_prompt,
    tokenize_example,
)
from kgpeft.testing import build_tiny_tokenizer

RESERVED = ("->", "<-", "<path>", "</path>")
labels = st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=12).filter(
    lambda s: s == s.strip() and not s.startswith("^") and not any(r in s for r in RESERVED)
)


@st.composite
def parsed_paths(draw):
    hops = draw(st.integers(1, 3))
    path = [draw(labels)]
    for _ in range(hops):
        relation = draw(labels)
        path += ["^" + relation if draw(st.booleans()) else relation, draw(labels)]
    return path


@given(st.lists(parsed_paths(), min_size=1, max_size=3))
def test_format_then_parse_round_trips(paths):
    assert parse_completion(format_completion(paths)) == paths


def test_render_completion_matches_the_contract_example(world):
    germany, western_europe, europe = (world.entity_by_label(x) for x in ("Germany", "Western Europe", "Europe"))
    located_in = world.relation_by_label("located in")
    text = render_completion(world, germany, [(located_in, located_in)], [europe])
    assert text == "<path> Germany -> located in -> Western Europe -> located in -> Europe </path>"
    backward = path_to_text(world, europe, (world.inverse_step(located_in),), [western_europe])
    assert backward == "Europe <- located in <- Western Europe"


def test_parse_is_tolerant_of_junk_and_malformed_paths():
    text = (
        "Sure! <path> A -> r -> B </path> <path> A -> r <- B </path> <path> A -> r -> B <- s <- C </path>\n"
        "<path> cut off -> r\nAnswer: B | C\n<path> X -> r -> Y </path> trailing junk"
    )
    parsed = parse_completion(text)
    assert parsed == [["A", "r", "B"], ["A", "r", "B", "^s", "C"], ["X", "r", "Y"]]
    assert parse_completion("no markers at all") == []


def test_grounding_ends_at_a_target_and_avoids_revisiting(world):
    neighbor = world.relation_by_label("neighbor of")
    capital = world.relation_by_label("capital")
    france, madrid = world.entity_by_label("France"), world.entity_by_label("Madrid")
    chain = ground_path(world, france, (neighbor, capital), [madrid])
    assert [world.entity_label(e) for e in chain] == ["France", "Spain", "Madrid"]
    # Without targets the chain avoids coming back to France after two borders.
    chain = ground_path(world, france, (neighbor, neighbor))
    assert chain[-1] != france
    with pytest.raises(ValueError):
        ground_path(world, world.entity_by_label("Berlin"), (capital,))


def test_prompt_has_system_and_user_turns():
    messages = render_prompt("What is Germany located in?")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == PATH_SYSTEM_PROMPT
    assert "<ent>" in render_prompt("x", kind="infill")[0]["content"]


def test_render_example_needs_gold_paths(world):
    questions = synthesize_questions(world, num_questions=1)
    messages, completion = render_example(world, questions[0])
    assert messages == render_prompt(questions[0].question)
    (path,) = parse_completion(completion)
    assert set(world.execute(questions[0].topic, questions[0].gold_paths[0]).tolist()) == set(questions[0].answers)
    assert path[0] == world.entity_label(questions[0].topic)
    unlabelled = Question("q", "Who?", None, (), (), "train")
    with pytest.raises(ValueError, match="no topic or gold paths"):
        render_example(world, unlabelled)


@pytest.fixture(scope="module")
def chat_tokenizer():
    return build_tiny_tokenizer()


@pytest.fixture(scope="module")
def plain_tokenizer():
    tokenizer = build_tiny_tokenizer()
    tokenizer.chat_template = None
    return tokenizer


def masked_text(tokenizer, out) -> str:
    ids = [i for i, m in zip(out["input_ids"], out["completion_mask"], strict=True) if m]
    return tokenizer.decode(ids)


@pytest.mark.parametrize("kind", ["chat_tokenizer", "plain_tokenizer"])
@settings(deadline=None, max_examples=50)
@given(completion=st.text(min_size=1, max_size=60))
def test_masked_ids_decode_to_completion_and_end_token(request, kind, completion):
    tokenizer = request.getfixturevalue(kind)
    out = tokenize_example(tokenizer, render_prompt("Germany is located in what?"), completion)
    assert len(out["input_ids"]) == len(out["completion_mask"]) == len(out["neighbour_mask"])
    assert all(c for c, m in zip(out["completion_mask"], out["neighbour_mask"], strict=True) if m)
    end = tokenizer.decode([end_of_turn_id(tokenizer)])
    assert masked_text(tokenizer, out) == completion + end
    # The mask is one block at the end: prompt first, then completion.
    first = out["completion_mask"].index(1)
    assert all(out["completion_mask"][first:]) and not any(out["completion_mask"][:first])


def test_chat_prompt_uses_template_and_ends_turn_with_im_end(chat_tokenizer):
    messages = render_prompt("Germany is located in what?")
    ids = prompt_ids(chat_tokenizer, messages)
    text = chat_tokenizer.decode(ids)
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")
    assert chat_tokenizer.decode([end_of_turn_id(chat_tokenizer)]) == "<|im_end|>"
    out = tokenize_example(chat_tokenizer, messages, "Answer: Western Europe")
    assert out["input_ids"][: len(ids)] == ids


def test_plain_prompt_without_template(plain_tokenizer):
    ids = prompt_ids(plain_tokenizer, render_prompt("Germany is located in what?"))
    assert plain_tokenizer.decode(ids).endswith("Germany is located in what?\n")
    assert end_of_turn_id(plain_tokenizer) == plain_tokenizer.eos_token_id


def test_template_refusing_system_turns_gets_it_merged_into_the_user_turn():
    tokenizer = build_tiny_tokenizer()
    tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
        "{% endif %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    text = tokenizer.decode(prompt_ids(tokenizer, render_prompt("Q?")))
    assert text.startswith("<|im_start|>user\n" + PATH_SYSTEM_PROMPT) and "Q?" in text


def test_path_answers_do_not_pass_back_through_the_topic(world):
    from kgpeft.data.render import path_answers

    def labels(*steps) -> set[str]:
        return {world.entity_label(e) for e in path_answers(world, world.entity_by_label("Germany"), steps).tolist()}

    located, capital = world.relation_by_label("located in"), world.relation_by_label("capital")
    # The capitals of the countries in Germany's region: the other countries', not Berlin again
    assert labels(located, world.inverse_step(located), capital) == {"Paris", "Brussels"}
    # A path that only comes back to the topic still says so
    assert labels(capital, world.inverse_step(capital)) == {"Germany"}
    assert labels(capital) == {"Berlin"}


def test_neighbour_spans_are_the_names_hops_reach_in_every_path():
    text = (
        "<path> The Debt -> starred actors -> Helen Mirren <- starred actors <- Woman in Gold </path>\n"
        "<path> The Debt -> directed by -> John Madden </path>"
    )
    assert [text[a:b] for a, b in neighbour_spans(text)] == ["Helen Mirren", "Woman in Gold", "John Madden"]
    assert neighbour_spans("no path here") == []
    assert neighbour_spans("<path> A -> r </path>") == []  # not a path: the arrows do not pair up


@pytest.mark.parametrize("kind", ["chat_tokenizer", "plain_tokenizer"])
def test_neighbour_mask_marks_the_tokens_of_reached_names_only(request, kind):
    tokenizer = request.getfixturevalue(kind)
    completion = "<path> Germany -> located in -> Western Europe <- part of <- France </path>"
    out = tokenize_example(tokenizer, render_prompt("Where is Germany?"), completion)
    assert len(out["neighbour_mask"]) == len(out["input_ids"])
    marked = [i for i, m in zip(out["input_ids"], out["neighbour_mask"], strict=True) if m]
    assert tokenizer.decode(marked).split() == ["Western", "Europe", "France"]
    # Only completion tokens, never the topic, relations, arrows, the end marker or the end of turn
    assert all(c for c, m in zip(out["completion_mask"], out["neighbour_mask"], strict=True) if m)
    infill = tokenize_example(tokenizer, render_prompt("x"), "an infilling answer")
    assert neighbour_token_mask(tokenizer, "an infilling answer") == [0] * sum(infill["completion_mask"])
    assert not any(infill["neighbour_mask"])


_LABEL = (
    st.text(alphabet="abcXYZ é-<>.", min_size=1, max_size=12)
    .map(str.strip)
    .filter(lambda s: s and "->" not in s and "<-" not in s and "<path>" not in s and "</path>" not in s)
)


@settings(deadline=None, max_examples=100)
@given(labels=st.lists(_LABEL, min_size=3, max_size=9).filter(lambda xs: len(xs) % 2 == 1))
def test_neighbour_spans_read_back_the_entities_format_completion_wrote(labels):
    text = format_completion([labels])
    assert parse_completion(text) == [labels]  # the round trip the spans rely on
    assert [text[a:b] for a, b in neighbour_spans(text)] == labels[2::2]
