"""`kgpeft teacher fit` and `kgpeft teacher eval`, and their one-line errors."""

from __future__ import annotations

import json

import pytest

from kgpeft.cli import main

FAST_GNN = ["--max-hops", "2", "--hidden-dim", "16", "--epochs", "1", "--no-progress"]


@pytest.fixture(scope="module")
def gnn_dir(world_path, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli") / "gnn"
    assert main(["teacher", "fit", "--kg", str(world_path), "-o", str(folder), *FAST_GNN]) == 0
    return folder


def test_fit_saves_a_loadable_teacher(gnn_dir, world):
    from kgpeft.teachers import load_teacher

    teacher = load_teacher(gnn_dir, world)
    assert teacher.name == "gnn" and teacher.config.hidden_dim == 16 and teacher.max_hops == 2
    assert teacher.info["data"]["max_hops"] == 2


def test_eval_prints_a_table_and_writes_json(gnn_dir, world_path, tmp_path, capsys):
    out = tmp_path / "metrics.json"
    args = ["teacher", "eval", "--kg", str(world_path), "--teacher-dir", str(gnn_dir), "--json", str(out)]
    assert main(args) == 0
    metrics = json.loads(out.read_text())
    assert metrics["teacher"] == "gnn" and metrics["split"] == "test"
    assert metrics["path_validity"] == 1.0 and 0 <= metrics["hits@1"] <= 1
    assert "hits@1" in capsys.readouterr().out


def test_oracle_fit_and_eval(world_path, tmp_path, capsys):
    folder = tmp_path / "oracle"
    assert (
        main(["teacher", "fit", "--kg", str(world_path), "--teacher", "oracle", "--max-hops", "2", "-o", str(folder)])
        == 0
    )
    assert (
        main(["teacher", "eval", "--kg", str(world_path), "--teacher-dir", str(folder), "--split", "validation"]) == 0
    )
    assert "1.0000" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--teacher", "oracle", "--epochs", "3"], "option --epochs does not apply to the oracle teacher"),
        (["--teacher", "nope"], "unknown teacher 'nope'"),
        (["--max-hops", "0"], "max_hops must be a positive integer"),
    ],
)
def test_bad_fit_options_are_one_line_errors(world_path, args, message, capsys):
    assert main(["teacher", "fit", "--kg", str(world_path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_missing_graph_and_mismatched_teacher_are_one_line_errors(gnn_dir, tmp_path, capsys):
    assert main(["teacher", "fit", "--kg", str(tmp_path / "missing.ttl"), "--teacher", "oracle"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    other = tmp_path / "other.ttl"
    other.write_text("@prefix : <http://example.org/> .\n:a :r :b .\n")
    assert main(["teacher", "eval", "--kg", str(other), "--teacher-dir", str(gnn_dir)]) == 2
    err = capsys.readouterr().err
    assert "another knowledge graph" in err and err.count("\n") == 1
    assert main(["teacher", "eval", "--kg", str(other), "--teacher-dir", str(tmp_path)]) == 2
    assert "not a teacher folder" in capsys.readouterr().err


def test_teacher_without_action_prints_help(capsys):
    assert main(["teacher"]) == 1
    assert "fit" in capsys.readouterr().out


def test_fit_and_eval_take_skip_bad_lines(world_path, tmp_path, capsys):
    """A question file with a bad line is refused whole, naming the flag that drops it; the flag works."""
    lines = [
        json.dumps({"question": f"Which region is {country} in?", "topic": country, "answers": ["Western Europe"]})
        for country in ("France", "Belgium", "Austria")
    ]
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join([*lines, '{"question": ']) + "\n")
    fit = ["teacher", "fit", "--kg", str(world_path), "--teacher", "oracle", "--questions", str(questions)]
    assert main([*fit, "-o", str(tmp_path / "refused")]) == 2
    assert "--skip-bad-lines" in capsys.readouterr().err and not (tmp_path / "refused").exists()
    folder = tmp_path / "oracle"
    assert main([*fit, "--skip-bad-lines", "-o", str(folder)]) == 0
    evaluate = ["teacher", "eval", "--kg", str(world_path), "--teacher-dir", str(folder), "--questions", str(questions)]
    assert main(evaluate) == 2
    assert main([*evaluate, "--skip-bad-lines"]) == 0
