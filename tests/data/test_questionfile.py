from __future__ import annotations

import dataclasses
import json

import pytest

from kgpeft.data.questionfile import BadLineWarning, load_question_file
from kgpeft.errors import DataError


def write(tmp_path, *lines):
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def test_topics_and_answers_resolve_by_iri_label_and_alias(world, tmp_path):
    germany = world.entity_by_label("Germany")
    path = write(
        tmp_path,
        {"question": "Where is Germany?", "topic": world.entity_iri(germany), "answers": ["Western Europe"]},
        "",
        {"question": "Capital?", "topic": "deutschland", "answers": ["Berlin"]},
        {
            "question": "Capital of the Czech Republic?",
            "topic": f"<{world.entity_iri(world.entity_by_label('Czechia'))}>",
        },
    )
    first, second, third = load_question_file(world, path)
    located_in = world.relation_by_label("located in")
    assert (first.topic, first.answers, first.gold_paths) == (
        germany,
        (world.entity_by_label("Western Europe"),),
        ((located_in,),),
    )
    assert first.id == "questions.jsonl:1" and second.id == "questions.jsonl:3"
    assert second.topic == germany and second.gold_paths == ((world.relation_by_label("capital"),),)
    assert third.topic == world.entity_by_label("Czechia") and third.answers == () and third.gold_paths == ()


def test_unlabelled_questions_are_accepted_and_topics_linked_from_text(world, tmp_path):
    path = write(
        tmp_path,
        {"question": "What borders France?"},
        {"question": "Who won the 1998 World Cup?"},
        {"question": "What is the capital of France?", "answers": ["Paris"]},
    )
    linked, unknown, answered = load_question_file(world, path)
    assert linked.topic == world.entity_by_label("France") and linked.answers == ()
    assert unknown.topic is None
    assert answered.topic == world.entity_by_label("France") and answered.gold_paths == (
        (world.relation_by_label("capital"),),
    )


def test_answers_are_reached_by_shortest_paths(world, tmp_path):
    path = write(tmp_path, {"question": "Which continent?", "topic": "Germany", "answers": ["Europe"]})
    (q,) = load_question_file(world, path)
    assert q.gold_paths and all(len(p) == 2 for p in q.gold_paths)
    for gold in q.gold_paths:
        assert world.entity_by_label("Europe") in world.execute(q.topic, gold)


def test_a_line_stating_its_hops_gets_gold_paths_of_that_length(world, tmp_path):
    # Europe is two hops from Germany; a line that says its question takes three gets three-hop
    # paths reaching it, not the shorter ones that explain the answers as well (a row stopping
    # early would teach the student to stop), and keeps "hops" in extra for reports.
    line = {"question": "Which continent?", "topic": "Germany", "answers": ["Europe"]}
    (free,), (stated,) = (load_question_file(world, write(tmp_path, line | extra)) for extra in ({}, {"hops": 3}))
    assert {len(p) for p in free.gold_paths} == {2}
    assert stated.gold_paths and {len(p) for p in stated.gold_paths} == {3}
    for gold in stated.gold_paths:
        assert world.entity_by_label("Europe") in world.execute(stated.topic, gold)
    assert stated.extra == {"hops": 3} and free.extra == {}


def test_gold_paths_are_the_plans_that_explain_the_answers_not_every_path_reaching_one(world, tmp_path):
    # France and Belgium share Germany's region. "neighbor of" reaches both in one step but also
    # Poland and Czechia (F1 0.67); "located in, ^located in" gives exactly them once Germany
    # itself (where the path comes back to) is left out: the longer, exact plan is the gold path.
    path = write(
        tmp_path,
        {"question": "Which countries share Germany's region?", "topic": "Germany", "answers": ["France", "Belgium"]},
    )
    (q,) = load_question_file(world, path)
    located_in = world.relation_by_label("located in")
    assert q.gold_paths == ((located_in, world.inverse_step(located_in)),)


def test_gold_paths_are_capped_and_shortest_first(world, tmp_path):
    # Both of Germany's answers below are reached by many equally good paths: at most max_paths kept
    lines = [{"question": "Neighbours' neighbours?", "topic": "Germany", "answers": ["Spain", "Portugal", "Poland"]}]
    (q,) = load_question_file(world, write(tmp_path, *lines), max_paths=1)
    (many,) = load_question_file(world, write(tmp_path, *lines), max_paths=32)
    assert len(q.gold_paths) == 1 and q.gold_paths == many.gold_paths[:1]
    assert [len(p) for p in many.gold_paths] == sorted(len(p) for p in many.gold_paths)


def test_names_several_entities_share_resolve_to_the_namesakes_the_answers_support(world, tmp_path):
    # "Shared" names France and Spain; Madrid is Spain's capital (France reaches it only through a
    # neighbour, F1 0.5). "Metro" names Berlin and Lisbon; Germany's paths reach Berlin only.
    world._aliases.update({"France": ["Shared"], "Spain": ["Shared"], "Berlin": ["Metro"], "Lisbon": ["Metro"]})
    lines = [
        {"question": "Capital of it?", "topic": "Shared", "answers": ["Madrid"]},
        {"question": "Capital of Germany?", "topic": "Germany", "answers": ["Metro"]},
    ]
    spain, germany = load_question_file(world, write(tmp_path, *lines))
    capital = world.relation_by_label("capital")
    assert (spain.topic, spain.gold_paths) == (world.entity_by_label("Spain"), ((capital,),))
    assert (germany.answers, germany.gold_paths) == ((world.entity_by_label("Berlin"),), ((capital,),))


BAD_LINES = [
    ("{not json", "invalid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ({"topic": "Germany"}, 'missing "question"'),
    ({"question": "   "}, '"question" must be a non-empty string'),
    ({"question": "Q" * 2001}, "the question is 2001 characters long, over the 2000"),
    ({"question": "Q?", "id": ["x"]}, '"id" must be a non-empty string or an integer'),
    ({"question": "Q?", "id": "questions.jsonl:1"}, "id 'questions.jsonl:1' repeats the id of line 1"),
    ({"question": "Q?", "topic": 3}, '"topic" must be a string'),
    ({"question": "Q?", "topic": "Germany", "answers": "Berlin"}, '"answers" must be a list'),
    ({"question": "Q?", "topic": "Germny", "answers": ["Berlin"]}, "unknown topic 'Germny' (did you mean 'Germany'"),
    ({"question": "Q?", "topic": "Germany", "answers": ["Atlantis"]}, "unknown answer 'Atlantis'"),
    ({"question": "Q?", "topic": "Europe", "answers": ["Asia"]}, "no path of at most 3 hops from 'Europe'"),
    ({"question": "Who knows?", "answers": ["Berlin"]}, "answers given but no topic"),
    (
        {"question": "Q?", "topic": "Germany", "answers": ["Europe"], "hops": 1},
        "no path of 1 hop(s), the line's \"hops\", from 'Germany'",
    ),
    (
        {"question": "Q?", "topic": "Germany", "answers": ["Berlin"], "hops": 4},
        '"hops" is 4, more than max_hops 3: raise --max-hops',
    ),
    ({"question": "Q?", "hops": 0}, '"hops" must be a positive integer (the length of the question\'s paths), got 0'),
    (
        {"question": "Q?", "hops": "2"},
        "\"hops\" must be a positive integer (the length of the question's paths), got '2'",
    ),
    ({"question": "Q?", "hops": True}, '"hops" must be a positive integer'),
    ({"question": "Q?", "topic": "Shared"}, "topic 'Shared' names several entities (France, Spain)"),
]


@pytest.mark.parametrize(("line", "message"), BAD_LINES)
def test_each_bad_line_is_refused_with_its_line_number(world, tmp_path, line, message):
    world._aliases.update({"France": ["Shared"], "Spain": ["Shared"]})
    path = write(tmp_path, {"question": "Fine?", "topic": "Germany"}, line)
    with pytest.raises(DataError, match=r"questions\.jsonl") as err:
        load_question_file(world, path)
    assert f"1 bad line: line 2: {message}" in str(err.value)


def test_many_bad_lines_are_summarised_and_can_be_skipped(world, tmp_path):
    good = {"question": "Where is Germany?", "topic": "Germany", "answers": ["Western Europe"]}
    path = write(tmp_path, good, *["{oops"] * 7, good)
    with pytest.raises(DataError) as err:
        load_question_file(world, path)
    message = str(err.value)
    assert "7 bad lines: line 2: invalid JSON" in message and "line 6:" in message
    assert "line 7:" not in message and "and 2 more" in message and "\n" not in message
    with pytest.warns(BadLineWarning) as record:
        questions = load_question_file(world, path, skip_bad_lines=True)
    assert len(record) == 6 and "line 6 skipped: invalid JSON" in str(record[-2].message)
    assert "2 more bad lines skipped (lines 7, 8)" in str(record[-1].message)
    assert [q.id for q in questions] == ["questions.jsonl:1", "questions.jsonl:9"]


def test_unreadable_or_empty_files(world, tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_question_file(world, tmp_path / "missing.jsonl")
    with pytest.raises(DataError, match="is a directory: pass a JSONL question file"):
        load_question_file(world, tmp_path)
    (tmp_path / "latin1.jsonl").write_bytes(b'{"question": "Q?"}\n{"question": "Caf\xe9?"}\n')
    with pytest.raises(DataError, match=r"latin1\.jsonl:2: not UTF-8 text"):
        load_question_file(world, tmp_path / "latin1.jsonl")
    with pytest.raises(DataError, match="no usable questions"):
        load_question_file(world, write(tmp_path, ""))
    with pytest.raises(DataError, match="no usable questions"), pytest.warns(BadLineWarning):
        load_question_file(world, write(tmp_path, "{bad"), skip_bad_lines=True)


def test_extra_fields_are_kept_id_names_the_question_and_typos_are_warned_once(world, tmp_path, caplog):
    path = write(
        tmp_path,
        {"id": "WebQ-7", "question": "Where is Germany?", "topic": "Germany", "answers": ["Western Europe"],
         "hops": 1, "type": "location"},
        {"id": 12, "question": "Capital of Germany?", "topic": "Germany", "answer": ["Berlin"], "topics": []},
        {"question": "Borders of France?", "questoin": "typo", "answer": "Paris", "hop": 1},
    )  # fmt: skip
    with caplog.at_level("WARNING"):
        first, second, third = load_question_file(world, path)
    assert (first.id, second.id, third.id) == ("WebQ-7", "12", "questions.jsonl:3")
    assert first.extra == {"hops": 1, "type": "location"} and first.answers
    assert second.extra == {"answer": ["Berlin"], "topics": []} and second.answers == ()
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1, warned
    assert "'answer' (did you mean 'answers'?)" in warned[0] and "'questoin' (did you mean 'question'?)" in warned[0]
    assert "'topics' (did you mean 'topic'?)" in warned[0] and "'hop' (did you mean 'hops'?)" in warned[0]
    assert "'hops' (did" not in warned[0] and "type" not in warned[0]


def test_extras_and_ids_survive_the_dataset_round_trip(world, tmp_path):
    from kgpeft.data.questions import QuestionSet

    path = write(tmp_path, {"id": "q1", "question": "Where is Germany?", "topic": "Germany", "meta": [1, {"a": None}]})
    (question,) = load_question_file(world, path)
    question = dataclasses.replace(question, split="test")
    back = QuestionSet.from_dataset(QuestionSet([question], "sha").to_dataset(), "sha")
    assert back.questions == [question] and back.questions[0].extra == {"meta": [1, {"a": None}]}


def test_refusing_many_bad_lines_costs_only_the_suggestions_shown(world, tmp_path, monkeypatch):
    from kgpeft.data.linking import EntityLinker

    calls = []
    suggest = EntityLinker.suggest
    monkeypatch.setattr(EntityLinker, "suggest", lambda self, *a, **k: calls.append(a) or suggest(self, *a, **k))
    path = write(tmp_path, *[{"question": "Q?", "topic": f"Nowhere{i}", "answers": ["Berlin"]} for i in range(300)])
    with pytest.raises(DataError) as err:
        load_question_file(world, path)
    assert "300 bad lines" in str(err.value) and "and 295 more" in str(err.value) and len(calls) == 5
    assert "skip_bad_lines" in str(err.value) and "--skip-bad-lines" in str(err.value)
    calls.clear()
    with pytest.warns(BadLineWarning) as record, pytest.raises(DataError, match="no usable questions"):
        load_question_file(world, path, skip_bad_lines=True)
    assert len(record) == 6 and "295 more bad lines skipped (lines 6, 7," in str(record[-1].message)
    assert len(calls) == 5
