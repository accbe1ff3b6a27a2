"""Slow tests on the real default base model and kg/countries.ttl (``make test-slow``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgpeft.data import DataConfig, build_dataset, render_completion, render_prompt, tokenize_example
from kgpeft.data.render import ground_path
from kgpeft.inference import check_tokenizer, hop_fragment, path_prefix

pytestmark = pytest.mark.slow

COUNTRIES = Path(__file__).parents[2] / "kg" / "countries.ttl"


@pytest.fixture(scope="module")
def countries():
    from kgpeft.kg import load_graph

    return load_graph(COUNTRIES)


@pytest.fixture(scope="module")
def smollm():
    from kgpeft.modeling import load_base_model

    model, tokenizer = load_base_model("smollm2-135m-instruct", load_in_4bit=False)
    return model.eval(), tokenizer


def test_fragments_tokenise_like_whole_completions_with_the_default_tokenizer(countries, smollm):
    _, tokenizer = smollm
    check_tokenizer(tokenizer)
    questions = build_dataset(countries, DataConfig()).split("train")[:300]
    for q in questions:
        path = q.gold_paths[0]
        chain = ground_path(countries, q.topic, path, q.answers)
        pieces = [path_prefix(countries, q.topic)]
        pieces += [hop_fragment(countries, h, s, t) for h, s, t in zip(chain, path, chain[1:], strict=False)]
        pieces.append(" </path>")
        ids = [i for piece in pieces for i in tokenizer(piece, add_special_tokens=False)["input_ids"]]
        row = tokenize_example(
            tokenizer, render_prompt(q.question), render_completion(countries, q.topic, [path], q.answers)
        )
        whole = [i for i, m in zip(row["input_ids"], row["completion_mask"], strict=True) if m]
        assert whole[: len(ids)] == ids, q.question


def test_constrained_answers_on_countries_are_valid(countries, smollm):
    from kgpeft.inference import KGReasoner

    model, tokenizer = smollm
    answer = KGReasoner(model, tokenizer, countries).ask("Which region is Germany in?", num_paths=3, max_hops=2)
    assert answer.topic.label == "Germany"
    assert answer.paths and all(p.valid for p in answer.paths)
