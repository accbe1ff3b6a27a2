"""`kgpeft eval` end to end: a tiny adapter made in the test, a question file, any KG file."""

from __future__ import annotations

import json

from kgpeft.cli import main


def test_eval_with_question_file_writes_json_and_report(tmp_path, make_adapter, question_file, world_path, capsys):
    adapter = make_adapter(tmp_path / "student", alpha=0.5, teacher=True, seed=1)
    other = make_adapter(tmp_path / "hard", alpha=1.0, seed=2)
    out = tmp_path / "metrics" / "out.json"
    argv = ["eval", "--json", str(out), "--adapter", str(adapter), "--questions", str(question_file)]
    argv += ["--kg", str(world_path), "--compare", f"base,teacher,unconstrained,{other}"]
    argv += ["--num-paths", "2", "--max-hops", "1", "--fact-probes", "3", "--retention-tokens", "32", "--no-4bit"]
    assert main(argv) == 0
    assert "report:" in capsys.readouterr().out

    metrics = json.loads(out.read_text())
    assert list(metrics["systems"]) == ["student", "base", "teacher", "unconstrained", "hard"]
    student = metrics["systems"]["student"]
    assert student["alpha"] == 0.5 and student["metrics"]["path_validity"] == 1.0
    assert student["metrics"]["questions"] == 5 and student["metrics"]["labelled"] == 4
    assert student["metrics"]["retention_kl"] > 0 and metrics["systems"]["base"]["metrics"]["retention_kl"] == 0.0
    assert metrics["systems"]["teacher"]["metrics"]["hits@1"] == 1.0
    assert metrics["systems"]["hard"]["alpha"] == 1.0

    for name in ("report.json", "report.md", "metrics.png", "loss_curves.png"):
        assert (adapter / name).is_file(), name
    markdown = (adapter / "report.md").read_text()
    assert "alpha = 0.5 (student)" in markdown and "alpha = 1 (hard)" in markdown


def test_eval_rebuilds_the_recorded_split(tmp_path, make_adapter, capsys):
    adapter = make_adapter(tmp_path / "student")
    argv = ["eval", "--adapter", str(adapter), "--limit", "3", "--compare", "base", "--num-paths", "2"]
    argv += ["--max-hops", "1", "--fact-probes", "0", "--retention-tokens", "0", "--no-4bit"]
    assert main(argv) == 0
    report = json.loads((adapter / "report.json").read_text())
    assert report["systems"]["student"]["metrics"]["questions"] == 3
    assert "test split" in report["questions"]


def test_eval_routed_and_combined_with_another_domain(tmp_path, make_adapter, question_file, world_path, elements_path):
    adapter = make_adapter(tmp_path / "world", seed=1)
    elements = make_adapter(tmp_path / "elements", seed=2, kg=elements_path, domain="elements")
    out = tmp_path / "out.json"
    argv = ["eval", "--json", str(out), "--adapter", str(adapter), "--questions", str(question_file)]
    argv += ["--kg", str(world_path), "--route-with", str(elements), "--compare", "routed,combined"]
    argv += ["--num-paths", "2", "--max-hops", "1", "--fact-probes", "0", "--retention-tokens", "0", "--no-4bit"]
    argv += ["--report-dir", str(tmp_path / "reports" / "routing")]
    assert main(argv) == 0

    systems = json.loads(out.read_text())["systems"]
    assert list(systems) == ["student", "routed", "combined"]
    student, routed = systems["student"]["metrics"], systems["routed"]["metrics"]
    # Every question names a world entity: routing sends all of them home, where they are answered as alone
    assert routed["misrouted"] == 0.0
    for key in ("hits@1", "f1", "path_validity", "gold_path_match"):
        assert routed[key] == student[key], key
    assert systems["combined"]["description"] == "world + elements active at once"
    # The report went where asked; the adapter's own report (say, the demo's) is left alone
    assert "misrouted" in (tmp_path / "reports" / "routing" / "report.md").read_text()
    assert not (adapter / "report.md").exists()


def test_routed_and_combined_need_route_with(tmp_path, make_adapter, question_file, world_path, capsys):
    adapter = make_adapter(tmp_path / "world", seed=1)
    argv = ["eval", "--adapter", str(adapter), "--questions", str(question_file), "--compare", "routed", "--no-4bit"]
    assert main(argv) == 2
    assert "--route-with" in capsys.readouterr().err


def test_an_unwritable_report_folder_fails_before_evaluating(tmp_path, make_adapter, capsys):
    adapter = make_adapter(tmp_path / "student")
    (tmp_path / "taken").write_text("a file where the folder should go")
    capsys.readouterr()  # what making the adapter printed
    argv = ["eval", "--adapter", str(adapter), "--report-dir", str(tmp_path / "taken" / "reports"), "--no-4bit"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--report-dir" in err[0] and "taken" in err[0]
    assert not (adapter / "report.json").exists()


def test_eval_writes_per_question_results_and_hits_at_1_by_question_type(tmp_path, make_adapter, world_path, capsys):
    lines = [
        {
            "question": "Which region is Germany in?",
            "topic": "Germany",
            "answers": ["Western Europe"],
            "type": "region",
        },
        {"question": "Which region is Spain in?", "topic": "Spain", "answers": ["Southern Europe"], "type": "region"},
        {"question": "What is the capital of France?", "topic": "France", "answers": ["Paris"], "type": "capital"},
        {"question": "Which continent is Japan in?", "topic": "Japan", "answers": ["Asia"]},  # no type
    ]
    questions = tmp_path / "typed.jsonl"
    questions.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    adapter = make_adapter(tmp_path / "student", seed=1)
    argv = ["eval", "--adapter", str(adapter), "--questions", str(questions), "--kg", str(world_path)]
    argv += ["--compare", "base", "--num-paths", "2", "--fact-probes", "0", "--retention-tokens", "0", "--no-4bit"]
    assert main(argv) == 0
    capsys.readouterr()

    rows = [json.loads(line) for line in (adapter / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["system"], r["question"]) for r in rows] == [
        (s, q["question"]) for s in ("student", "base") for q in lines
    ]
    first = rows[0]
    assert first["type"] == "region" and rows[3]["type"] is None
    assert first["topic"]["label"] == "Germany" and [g["label"] for g in first["gold"]] == ["Western Europe"]
    assert first["paths"] and all({"text", "probability", "valid"} <= set(p) for p in first["paths"])
    # A hit is the top answer among the gold answers; the per-question hits make the metric
    for row in rows:
        gold = {g["iri"] for g in row["gold"]}
        assert row["hit"] == bool(row["answers"] and row["answers"][0]["iri"] in gold)
    report = json.loads((adapter / "report.json").read_text())
    for system in ("student", "base"):
        mine = [r for r in rows if r["system"] == system]
        assert report["systems"][system]["metrics"]["hits@1"] == sum(r["hit"] for r in mine) / len(mine)
        by_type = report["systems"][system]["by_type"]
        assert {k: v["questions"] for k, v in by_type.items()} == {"capital": 1.0, "region": 2.0}
        region = [r["hit"] for r in mine if r["type"] == "region"]
        assert by_type["region"]["hits@1"] == sum(region) / 2
    markdown = (adapter / "report.md").read_text()
    assert "## Hits@1 by question type" in markdown and "| region |" in markdown and "(n=2)" in markdown
