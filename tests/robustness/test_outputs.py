"""Issue 14 section 2: an output folder is replaced only when it is kgpeft's own, of the same kind, and asked.

For every command that writes a folder (fit, merge, adapters combine, teacher fit) and the
files eval writes: a foreign folder is refused even with --overwrite and keeps its content;
an output of the same kind is refused without --overwrite and replaced whole with it; a
file, a path under a file, a read-only folder, or a path that is or lies inside an input
is refused with one line; and a replacement interrupted at any step leaves the old or
the new folder at the path, never neither.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kgpeft.cli import main
from kgpeft.errors import OutputError
from kgpeft.io import atomic_dir, check_output_dir, check_output_file
from tests.adapters.conftest import _tests_on_one_thread, adapters_root, alpha, beta, make_adapter, session_kg
from tests.robustness.conftest import assert_refused, snapshot
from tests.training.test_fit import _fit, tiny_kg

# Fixtures re-used from the adapter and fit tests (imported names are what pytest looks up).
__all__ = ["_tests_on_one_thread", "adapters_root", "alpha", "beta", "make_adapter", "session_kg", "tiny_kg"]

MARKER = "kgpeft.json"


# ---- the atomic replacement ------------------------------------------------------------------


def _folder(path: Path, **files: str) -> Path:
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)
    return path


class _Interrupt:
    """Stands in for a rename step: on call number ``when`` (1-based) KeyboardInterrupt, before or after the step."""

    def __init__(self, step: Callable[[Path, Path], object], when: int, after: bool = False) -> None:
        self.step, self.when, self.after, self.calls = step, when, after, 0

    def __call__(self, src, dst) -> object:
        self.calls += 1
        if self.calls == self.when and not self.after:
            raise KeyboardInterrupt
        result = self.step(src, dst)
        if self.calls == self.when:
            raise KeyboardInterrupt
        return result


# (the step interrupted, before or after it ran, the folder then expected at the path)
_INTERRUPTIONS = {
    "before-the-swap": ("exchange", 1, False, "old"),
    "after-the-swap": ("exchange", 1, True, "new"),
    "before-parking-the-old-one": ("replace", 1, False, "old"),
    "between-the-two-renames": ("replace", 2, False, "old"),
    "after-the-second-rename": ("replace", 2, True, "new"),
}


@pytest.mark.parametrize("moment", list(_INTERRUPTIONS))
def test_an_interrupted_replacement_leaves_a_whole_folder_at_its_path(tmp_path, monkeypatch, moment):
    import kgpeft.io

    step, when, after, expected = _INTERRUPTIONS[moment]
    target = _folder(tmp_path / "adapter", **{MARKER: "old", "weights": "old"})
    old = snapshot(tmp_path)
    if step == "exchange":
        monkeypatch.setattr(kgpeft.io, "_exchange", _Interrupt(kgpeft.io._exchange, when, after))
    else:  # as on a system without renameat2
        monkeypatch.setattr(kgpeft.io, "_exchange", lambda a, b: False)
        monkeypatch.setattr(kgpeft.io.os, "replace", _Interrupt(os.rename, when, after))
    with pytest.raises(KeyboardInterrupt), atomic_dir(target) as tmp:
        (tmp / MARKER).write_text("new")
    if expected == "old":
        assert snapshot(tmp_path) == old  # no temporary or parked folder left either
    else:
        assert (target / MARKER).read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["adapter"]


def test_the_swap_replaces_the_old_folder_whole(tmp_path):
    target = _folder(tmp_path / "adapter", **{MARKER: "old", "stale": "old"})
    with atomic_dir(target) as tmp:
        (tmp / MARKER).write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]  # the old folder gone with the swap
    assert sorted(p.name for p in target.iterdir()) == [MARKER] and (target / MARKER).read_text() == "new"


_KILLED_BETWEEN_RENAMES = """
import os, sys
import kgpeft.io
kgpeft.io._exchange = lambda a, b: False  # as on a system without renameat2
calls = []
def replace(src, dst):
    calls.append(src)
    if len(calls) == 2:
        os._exit(9)  # killed: no except clause, no finally
    os.rename(src, dst)
kgpeft.io.os.replace = replace
with kgpeft.io.atomic_dir(sys.argv[1]) as tmp:
    (tmp / "kgpeft.json").write_text("new")
"""


def test_a_process_killed_between_the_two_renames_loses_nothing(tmp_path):
    target = _folder(tmp_path / "adapter", **{MARKER: "old"})
    done = subprocess.run([sys.executable, "-c", _KILLED_BETWEEN_RENAMES, str(target)], check=False)
    assert done.returncode == 9 and not target.exists()  # the moment the issue describes
    with pytest.raises(OutputError, match="pass --overwrite"):  # the next command finds it back first
        check_output_dir(target, marker=MARKER, what="adapter folder")
    assert (target / MARKER).read_text() == "old"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".old")]


# ---- every command that writes a folder --------------------------------------------------------


def _merge(adapter: Path, out: Path, *extra: str) -> int:
    return main(["merge", "--adapter", str(adapter), "-o", str(out), *extra])


def _combine(adapter: Path, other: Path, out: Path, *extra: str) -> int:
    return main(["adapters", "combine", str(adapter), str(other), "-o", str(out), *extra])


@pytest.fixture
def commands(alpha, beta, tiny_kg, tiny_checkpoint) -> dict[str, tuple[Callable[..., int], str, Path]]:
    """name -> (run(out, *extra) -> exit code, marker of its output, an input folder or file it reads)."""
    return {
        "fit": (lambda out, *extra: _fit(tiny_kg, tiny_checkpoint, out, "--max-steps", "1", *extra), MARKER, tiny_kg),
        "merge": (lambda out, *extra: _merge(alpha, out, *extra), "kgpeft-merge.json", alpha),
        "combine": (lambda out, *extra: _combine(alpha, beta, out, *extra), MARKER, alpha),
    }


COMMANDS = ["fit", "merge", "combine"]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_folder_that_is_not_ours_is_refused_even_with_overwrite(commands, command, tmp_path, capsys):
    run, marker, _ = commands[command]
    out = tmp_path / "p"
    _folder(out / "src", **{"notes.txt": "x"})
    before = snapshot(tmp_path)
    for extra in ((), ("--overwrite",)):
        line = assert_refused(run(out, *extra), capsys, tmp_path, before)
        assert f"{out}: exists and is not a" in line and marker in line and "even with --overwrite" in line


@pytest.mark.parametrize("command", COMMANDS)
def test_an_output_of_the_same_kind_needs_overwrite(commands, command, tmp_path, capsys):
    run, marker, _ = commands[command]
    out = _folder(tmp_path / "p", **{marker: "{}", "notes.txt": "old"})
    before = snapshot(tmp_path)
    line = assert_refused(run(out), capsys, tmp_path, before)
    assert line.endswith(
        f"{out}: a {'merged model' if command == 'merge' else 'adapter folder'} exists here; pass --overwrite to replace it"
    )


def test_fit_resume_replaces_an_adapter_only_when_it_continues_its_checkpoints(commands, tmp_path, capsys):
    run, _, _ = commands["fit"]
    out = _folder(tmp_path / "p", **{MARKER: "{}"})
    before = snapshot(tmp_path)
    # No checkpoint beside it: --resume would start from scratch, which is no licence to replace it
    assert "pass --overwrite" in assert_refused(run(out, "--resume"), capsys, tmp_path, before)


def test_a_fresh_fit_never_mixes_its_checkpoints_with_an_earlier_runs(commands, tmp_path, capsys):
    run, _, _ = commands["fit"]
    out = tmp_path / "p"
    stale = _folder(tmp_path / ".p.checkpoints" / "checkpoint-7", **{"trainer_state.json": "{}"})
    before = snapshot(tmp_path)
    line = assert_refused(run(out), capsys, tmp_path, before)  # an unfinished run: continue it or start afresh
    assert "--resume to continue it" in line and "--overwrite" in line
    assert run(out, "--overwrite") == 0
    assert not stale.exists() and (tmp_path / ".p.checkpoints" / "checkpoint-1").is_dir()


@pytest.mark.parametrize("command", COMMANDS)
def test_overwrite_replaces_the_output_whole_and_an_interruption_keeps_the_old_one(
    commands, command, tmp_path, capsys, monkeypatch
):
    import kgpeft.io

    run, marker, _ = commands[command]
    out = _folder(tmp_path / "p", **{marker: "{}", "notes.txt": "old"})
    before = snapshot(out)

    def interrupted(a, b):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:  # interrupted at the swap itself, after all the work
        patch.setattr(kgpeft.io, "_exchange", interrupted)
        assert run(out, "--overwrite") == 130
    assert snapshot(out) == before and _beside(out) == []
    capsys.readouterr()

    assert run(out, "--overwrite") == 0
    assert not (out / "notes.txt").exists() and json.loads((out / marker).read_text())  # a new, whole folder
    assert _beside(out) == []


def _beside(out: Path) -> list[str]:
    """Hidden temporary or parked folders left beside ``out`` (fit's checkpoints belong there)."""
    return [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.") and p.suffix != ".checkpoints"]


@pytest.mark.parametrize("command", COMMANDS)
def test_an_empty_folder_may_be_used(commands, command, tmp_path):
    run, marker, _ = commands[command]
    out = _folder(tmp_path / "p")
    assert run(out) == 0 and (out / marker).is_file()


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", ["file", "under-a-file", "the-input", "in-or-around-the-input", "read-only"])
def test_outputs_that_cannot_be_written_are_refused_with_one_line(commands, command, case, tmp_path, capsys):
    run, _, source = commands[command]
    work = tmp_path / "work"
    work.mkdir()
    watched = source.parent if "input" in case else tmp_path
    if case == "file":
        out = work / "p"
        out.write_text("mine")
        expected = "exists and is a file, not a folder"
    elif case == "under-a-file":
        (work / "f").write_text("mine")
        out = work / "f" / "p"
        expected = "is a file, not a folder"
    elif case == "the-input":
        out, expected = source, "the output is the input"
    elif case == "in-or-around-the-input":
        if source.is_dir():  # an adapter: the output would land among its files
            out, expected = source / "merged", "the output lies inside the input"
        else:  # a KG file: replacing a folder around it would delete it
            out, expected = source.parent, "the output holds the input"
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders; the under-a-file case covers an unwritable parent")
        out = work / "sub" / "p"
        work.chmod(0o555)
        expected = "cannot write in"
    before = snapshot(watched)
    try:
        line = assert_refused(run(out, "--overwrite"), capsys, watched, before)
    finally:
        work.chmod(0o755)
    assert expected in line


# ---- teacher fit and the files eval writes -----------------------------------------------------


def test_teacher_fit_refuses_a_foreign_folder_and_replaces_only_with_overwrite(tiny_kg, tmp_path, capsys):
    out = _folder(tmp_path / "t" / "src", **{"notes.txt": "x"}).parent
    before = snapshot(tmp_path)
    argv = ["teacher", "fit", "--kg", str(tiny_kg), "--teacher", "oracle", "-o", str(out)]
    assert "not a teacher folder" in assert_refused(main([*argv, "--overwrite"]), capsys, tmp_path, before)
    shutil.rmtree(out / "src")
    assert main(argv) == 0 and (out / "teacher.json").is_file()
    capsys.readouterr()
    before = snapshot(tmp_path)
    assert "pass --overwrite" in assert_refused(main(argv), capsys, tmp_path, before)
    assert main([*argv, "--overwrite"]) == 0


def test_json_outputs_replace_only_kgpeft_results(tmp_path):
    ours = tmp_path / "metrics.json"
    ours.write_text(json.dumps({"systems": {}}))
    assert check_output_file(ours, key="systems", what="kgpeft eval result") == ours
    for name, content in (("notes.json", '{"mine": 1}'), ("notes.txt", "mine"), ("list.json", "[1]")):
        (tmp_path / name).write_text(content)
        with pytest.raises(OutputError, match="exists and is not a kgpeft eval result"):
            check_output_file(tmp_path / name, key="systems", what="kgpeft eval result")
    with pytest.raises(OutputError, match="is a folder, not a file"):
        check_output_file(tmp_path, key="systems", what="kgpeft eval result")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_eval_refuses_a_json_file_it_did_not_write_before_evaluating(alpha, session_kg, tmp_path, capsys):
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": 1}')
    before = snapshot(tmp_path)
    code = main(["eval", "--adapter", str(alpha), "--kg", str(session_kg), "--json", str(notes)])
    assert "exists and is not a kgpeft eval result" in assert_refused(code, capsys, tmp_path, before)


def test_eval_refuses_a_report_dir_holding_reports_it_did_not_write(alpha, session_kg, tmp_path, capsys):
    (tmp_path / "report.md").write_text("my own report")
    before = snapshot(tmp_path)
    code = main(["eval", "--adapter", str(alpha), "--kg", str(session_kg), "--report-dir", str(tmp_path)])
    assert "report.md" in assert_refused(code, capsys, tmp_path, before)


def test_a_symbolic_link_at_the_output_keeps_pointing_at_the_replaced_folder(tmp_path):
    real = _folder(tmp_path / "store" / "adapter", **{MARKER: "old"})
    link = tmp_path / "adapter"
    link.symlink_to(real)
    check_output_dir(link, marker=MARKER, what="adapter folder", overwrite=True)
    with atomic_dir(link) as tmp:
        (tmp / MARKER).write_text("new")
    assert link.is_symlink() and (real / MARKER).read_text() == "new"
    broken = tmp_path / "broken"
    broken.symlink_to(tmp_path / "nowhere")
    with pytest.raises(OutputError, match="broken symbolic link"):
        check_output_dir(broken, marker=MARKER, what="adapter folder")
