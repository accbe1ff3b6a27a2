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
