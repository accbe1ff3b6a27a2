"""The config tree of `kgpeft fit`: one owner per setting, the defaults a run uses are the ones --help shows."""

from __future__ import annotations

import dataclasses
import re

import pytest

from kgpeft.cli import main
from kgpeft.cli.fit import _FLAGS
from kgpeft.training.config import FitConfig, KGDistillConfig


@pytest.fixture
def captured(monkeypatch):
    """Runs `kgpeft fit` up to the pipeline call and returns the FitConfig it would have used."""
    import kgpeft.training.pipeline as pipeline

    seen = {}

    def fake_fit(kg, **kwargs):
        seen.update(kwargs)
        raise KeyboardInterrupt  # stop before any work; main turns it into exit code 130

    monkeypatch.setattr(pipeline, "fit", fake_fit)

    def run(*argv: str) -> FitConfig:
        assert main(["fit", "--kg", "kg.ttl", *argv]) == 130
        return seen["config"]

    return run


def _field_defaults(config: object):
    for f in dataclasses.fields(config):
        if f.default is not dataclasses.MISSING:
            yield f.name, f.default


def test_a_run_without_flags_uses_every_field_default(captured):
    config = captured()
    for section in ("model", "data", "teacher"):
        for name, default in _field_defaults(getattr(config, section)):
            assert getattr(getattr(config, section), name) == default, f"{section}.{name}"
    own = {f.name for f in dataclasses.fields(KGDistillConfig)} - {
        f.name for f in dataclasses.fields(KGDistillConfig.__mro__[1])
    }
    redeclared = {"max_steps", "per_device_train_batch_size", "learning_rate", "gradient_checkpointing"}
    for name, default in _field_defaults(config.train):
        if name in own | redeclared | set(_FLAGS["train"]):
            assert getattr(config.train, name) == default, f"train.{name}"
    assert (config.train.max_steps, config.train.learning_rate) == (120, 1e-3)
    assert config.teacher_name == "gnn" and (config.data.max_hops, config.data.infill_ratio) == (3, 0.1)


def test_help_prints_the_defaults_a_run_uses(captured, capsys):
    config = captured()
    try:
        assert main(["fit", "--help"]) == 0
    except SystemExit as exit_:  # argparse exits after printing help
        assert exit_.code == 0
    text = re.sub(r"\s+", " ", capsys.readouterr().out)
    for section, names in _FLAGS.items():
        for name in names:
            value = getattr(getattr(config, section), name)
            flag = "--" + name.replace("_", "-")
            assert flag in text, flag
            if value not in (None, ""):
                help_ = text.rsplit(flag, 1)[1].removeprefix(f", --no-{flag[2:]}").split(" --", 1)[0]
                assert f"(default: {value})" in help_, (flag, value, help_)
    assert "--skip-bad-lines" in text and "--teacher.model" in text and "--teacher.epochs" in text


def test_flags_and_sections_reach_their_one_owner(captured, tmp_path):
    run_file = tmp_path / "run.yaml"
    run_file.write_text(
        "data: {max_hops: 2, infill_ratio: 0.0}\nteacher: {name: oracle, top_n: 3}\ntrain: {alpha: 0.25}\nlora_r: 4\n"
    )
    config = captured(
        "--config", str(run_file), "--max-steps", "7", "--teacher.max-candidates", "5", "--skip-bad-lines"
    )
    assert (config.data.max_hops, config.data.infill_ratio, config.data.skip_bad_lines) == (2, 0.0, True)
    assert config.teacher_name == "oracle" and (config.teacher.top_n, config.teacher.max_candidates) == (3, 5)
    assert (config.train.alpha, config.train.max_steps, config.model.lora_r) == (0.25, 7, 4)


def test_flat_run_files_of_before_still_work(captured, tmp_path):
    run_file = tmp_path / "run.yaml"
    run_file.write_text("max_hops: 2\ninfill_ratio: 0.2\nteacher: oracle\nseed: 5\nalpha: 0.7\n")
    config = captured("--config", str(run_file), "--seed", "6")
    assert (config.data.max_hops, config.data.infill_ratio, config.teacher_name, config.train.alpha) == (
        2,
        0.2,
        "oracle",
        0.7,
    )
    assert config.data.seed == config.train.seed == 6  # a flag wins over the file, for every owner


@pytest.mark.parametrize(
    ("args", "text", "message"),
    [
        ((), "bogus: 1\ntrain: {nope: 2}\n", "unknown option(s) bogus, train.nope"),
        (
            ("--teacher", "oracle", "--teacher.epochs", "3"),
            "",
            "option --teacher.epochs does not apply to the oracle teacher",
        ),
        (("--teacher", "llm"), "", "model must name the teacher LM"),
        (("--max-hops", "0"), "", "max_hops must be a positive integer"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, capsys, args, text, message):
    run_file = tmp_path / "run.yaml"
    run_file.write_text(text)
    out = tmp_path / "out"
    assert main(["fit", "--kg", "kg.ttl", "--config", str(run_file), "-o", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_the_tree_round_trips_through_json():
    config = FitConfig.from_dict({"data": {"max_hops": 2}, "teacher": {"name": "oracle", "top_n": 3}, "alpha": 0.3})
    again = FitConfig.from_dict(config.to_dict())
    assert again.to_dict() == config.to_dict()
    assert again.teacher_name == "oracle" and again.teacher.top_n == 3 and again.train.alpha == 0.3
