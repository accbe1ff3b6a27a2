"""The gnn teacher over question subgraphs: capped subgraphs answer as the whole graph does, caps are counted,
and folders of the whole-graph gnn (format 1) are refused with one clear error."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kgpeft.data.render import path_answers
from kgpeft.errors import TeacherError
from kgpeft.kg.subgraph import extract_subgraph
from kgpeft.teachers import get_teacher, load_teacher

# Caps that bite on the world graph: a country has 2-5 neighbours, a region several countries.
CAPS = {"max_neighbors": 2, "max_nodes": 12}


@pytest.fixture(scope="module")
def capped(world, world_questions, teacher_options):
    teacher = get_teacher("gnn", **{**teacher_options("gnn"), "epochs": 15, **CAPS})
    teacher.fit(world, world_questions.split("train"), validation=world_questions.split("validation"))
    return teacher


def holds_gold_paths(kg, sub, question) -> bool:
    """Whether every entity on every gold path of ``question`` is in ``sub``."""
    inside = set(sub.nodes.tolist())
    return all(
        set(kg.execute(question.topic, path[:k]).tolist()) <= inside
        for path in question.gold_paths
        for k in range(1, len(path) + 1)
    )


def test_caps_are_counted_in_the_metrics(capped):
    metrics = capped.metrics
    assert metrics["subgraph_capped_lists"] > 0 and metrics["subgraph_dropped_edges"] > 0
    assert 1 <= metrics["subgraph_nodes_mean"] <= CAPS["max_nodes"]
    assert 0.0 <= metrics["subgraph_frontiers_outside"] <= 1.0


def test_answers_equal_the_whole_graph_answers_where_the_subgraph_holds_every_gold_path(capped, world, world_questions):
    """The same weights reading the whole graph (every entity, no cap) give the same paths and answers."""
    whole = copy.copy(capped)
    whole._subgraph = lambda topic: extract_subgraph(world, [topic], world.num_entities, max_neighbors=0, max_nodes=0)
    questions = [q for q in world_questions.questions if q.gold_paths]
    kept = [q for q in questions if holds_gold_paths(world, capped._subgraph(int(q.topic)), q)]
    cut = [q for q in kept if capped._subgraph(int(q.topic)).capped_lists > 0]
    assert len(kept) >= 10 and len(cut) >= 5, (len(kept), len(cut))  # the comparison covers capped subgraphs
    for question, ours, theirs in zip(kept, capped.predict_batch(kept), whole.predict_batch(kept), strict=True):
        assert whole._subgraph(int(question.topic)).num_nodes > capped._subgraph(int(question.topic)).num_nodes
        assert ours.paths[0] == theirs.paths[0], question.question
        assert ours.top_answers() == theirs.top_answers(), question.question


def test_frontiers_outside_the_subgraph_do_not_break_prediction(capped, world, world_questions):
    """With a one-entity budget every path leaves the subgraph at once: predictions still come, exact and valid."""
    tiny = copy.copy(capped)
    tiny._subgraph = lambda topic: extract_subgraph(world, [topic], 2, max_neighbors=1, max_nodes=1)
    questions = world_questions.split("test")[:6]
    for dist in tiny.predict_batch(questions):
        assert dist.paths and dist.probs.sum() == pytest.approx(1.0)
        for path, ends in zip(dist.paths, dist.endpoints, strict=True):
            assert list(ends) == path_answers(world, dist.topic, path).tolist()


def test_a_whole_graph_gnn_folder_is_refused_with_one_clear_error(capped, world, tmp_path):
    folder = capped.save(tmp_path / "teacher")
    meta = json.loads((folder / "teacher.json").read_text())
    assert meta["state"]["format"] == 2
    del meta["state"]["format"]  # as the whole-graph gnn wrote it
    (folder / "teacher.json").write_text(json.dumps(meta))
    with pytest.raises(TeacherError, match=r"format 1 .*refit it with `kgpeft teacher fit`"):
        load_teacher(folder, world)


def test_cli_refuses_a_whole_graph_gnn_folder_in_one_line(capped, world_path, tmp_path, capsys):
    from kgpeft.cli import main

    folder = capped.save(tmp_path / "old")
    meta = json.loads((folder / "teacher.json").read_text())
    meta["state"]["format"] = 1
    meta["config"].update(pretrain_epochs=20, pretrain_batch_size=1024, num_bases=None)  # the old gnn's fields
    (folder / "teacher.json").write_text(json.dumps(meta))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(["teacher", "eval", "--kg", str(world_path), "--teacher-dir", str(folder)]) == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1 and "Traceback" not in err and f"{folder}: this gnn teacher was saved in format 1" in err
    )
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_subgraph_policy_is_deterministic_across_fits(capped, world, world_questions, teacher_options):
    topic = int(world_questions.split("test")[0].topic)
    again = get_teacher("gnn", **{**teacher_options("gnn"), "epochs": 1, **CAPS})
    again.fit(world, world_questions.split("train")[:8])
    ours, theirs = capped._subgraph(topic), again._subgraph(topic)
    assert np.array_equal(ours.nodes, theirs.nodes) and np.array_equal(ours.edge_index, theirs.edge_index)


def test_message_passing_leaves_no_file_in_tmpdir(tmp_path: Path) -> None:
    """PyG renders a layer's propagate into a temp file that it never deletes, unless told not to."""
    code = (
        "import torch; from kgpeft.teachers.gnn_net import RelationalConv; "
        "RelationalConv(4, 2)(torch.ones(3, 4), torch.tensor([[0, 1], [1, 2]]), torch.tensor([0, 1]))"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    # (torch itself may create its inductor cache folder there: not ours)
    assert not [p.name for p in tmp_path.iterdir() if "propagate" in p.name]
