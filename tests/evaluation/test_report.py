"""The report files, and the alpha comparison stated in words."""

from __future__ import annotations

import json

from kgpeft.evaluation import SystemResult, alpha_comparison, write_report

METRICS = {"hits@1": 0.8, "f1": 0.7, "path_validity": 1.0, "gold_path_match": 0.6, "fact_probe": None}


def test_report_files_are_written(tmp_path):
    log = [{"step": 1, "hard_loss": 2.0, "soft_loss": 1.0}, {"step": 2, "hard_loss": 1.5, "soft_loss": 0.8}]
    results = [
        SystemResult("student", METRICS, "adapters/x", alpha=0.5, training_log=log),
        SystemResult("base", {**METRICS, "hits@1": 0.1}, "no adapter"),
    ]
    written = write_report(tmp_path, results, {"split": "test"})
    assert set(written) == {"report.json", "report.md", "metrics.png", "loss_curves.png"}
    for path in written.values():
        assert path.stat().st_size > 0
    assert (tmp_path / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["systems"]["student"]["metrics"]["hits@1"] == 0.8 and report["split"] == "test"
    markdown = (tmp_path / "report.md").read_text()
    assert "| student (adapters/x) | 0.50 | 0.800 |" in markdown and "![metrics.png](metrics.png)" in markdown
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_no_loss_plot_without_training_logs(tmp_path):
    written = write_report(tmp_path, [SystemResult("base", METRICS)], {})
    assert "loss_curves.png" not in written


def test_alpha_comparison_says_which_did_better():
    soft = SystemResult("student", {"hits@1": 0.8, "f1": 0.7}, alpha=0.5)
    hard = SystemResult("alpha1", {"hits@1": 0.85, "f1": 0.7}, alpha=1.0)
    text = alpha_comparison([soft, hard])
    assert "Hard labels only (alpha = 1, alpha1) did better than distillation (alpha = 0.5, student)" in text
    assert "Hits@1 -0.050" in text
    tie = alpha_comparison([soft, SystemResult("alpha1", {"hits@1": 0.8, "f1": 0.7}, alpha=1.0)])
    assert "did equally well" in tie
    assert alpha_comparison([soft]).startswith("Only one alpha was evaluated")
