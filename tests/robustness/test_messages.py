"""Issue 14 section 5: a damaged adapter, a bad number, an unusable cache, a record of the wrong shape, a
checkpoint that does not fit the run: each is one line on stderr naming the file and what to do, exit 2,
no traceback, nothing written, nothing lost."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest

from kgpeft.cli import main
from tests.adapters.conftest import adapters_root, alpha, make_adapter, session_kg
from tests.robustness.conftest import assert_refused, snapshot

# Fixtures re-used from the adapter tests (imported names are what pytest looks up).
__all__ = ["adapters_root", "alpha", "make_adapter", "session_kg"]

WORLD = Path(__file__).parents[1] / "inference" / "world.ttl"
QUESTION = "Which region is Germany in?"


@pytest.fixture
def place(tmp_path: Path, alpha: Path) -> Path:
    """A working folder holding a copy of the adapter ``alpha`` (``place / "adapter"``), free to damage."""
    shutil.copytree(alpha, tmp_path / "adapter")
    return tmp_path


def _commands(adapter: Path, place: Path) -> dict[str, list[str]]:
    """Every command that reads an adapter's weights or config."""
    return {
        "ask": ["ask", "--adapter", str(adapter), QUESTION],
        "eval": ["eval", "--adapter", str(adapter), "--report-dir", str(place / "report")],
        "merge": ["merge", "--adapter", str(adapter), "-o", str(place / "merged")],
        "adapters show": ["adapters", "show", str(adapter)],
    }


def _refused(argv: list[str], place: Path, capsys: pytest.CaptureFixture[str]) -> str:
    before = snapshot(place)
    return assert_refused(main(argv), capsys, place, before)


class _WritesAFile:
    """Unpickling this creates ``path``: proof that a pickle was opened."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.mark.parametrize("command", ["ask", "eval", "merge", "adapters show"])
@pytest.mark.parametrize("cut", [0, 7, 500, -1])
def test_truncated_weights_are_one_line_naming_the_file(place, capsys, command, cut):
    weights = place / "adapter" / "adapter_model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: cut if cut >= 0 else len(data) + cut])
    line = _refused(_commands(place / "adapter", place)[command], place, capsys)
    assert "adapter_model.safetensors" in line and "not a complete safetensors file" in line


@pytest.mark.parametrize("command", ["ask", "eval", "merge", "adapters show"])
def test_pickled_weights_are_refused_without_being_opened(place, capsys, command):
    adapter = place / "adapter"
    (adapter / "adapter_model.safetensors").unlink()
    marker = place / "unpickled"
    (adapter / "adapter_model.bin").write_bytes(pickle.dumps(_WritesAFile(marker)))
    line = _refused(_commands(adapter, place)[command], place, capsys)
    assert not marker.exists(), "the pickle was opened"
    assert "adapter_model.bin" in line and "safetensors" in line and "weights_only" not in line


@pytest.mark.parametrize(
    "argv",
    [
        ["ask", "--num-paths", "0"],
        ["ask", "--max-hops", "-1"],
        ["ask", "--max-hops", "0"],
        ["ask", "--num-paths", "two"],
        ["eval", "--limit", "0"],
        ["eval", "--num-paths", "0"],
        ["eval", "--max-hops", "0"],
        ["eval", "--batch-size", "0"],
        ["eval", "--fact-probes", "-1"],
        ["eval", "--retention-tokens", "-5"],
        ["eval", "--knowledge-probes", "-1"],
    ],
    ids=" ".join,
)
def test_out_of_range_numbers_are_refused_by_the_parser(place, capsys, argv):
    command, *flags = argv
    target = [QUESTION] if command == "ask" else []
    line = _refused([command, "--adapter", str(place / "adapter"), *flags, *target], place, capsys)
    assert line.startswith(f"kgpeft {command}: error: argument {flags[0]}")


def test_max_hops_is_used_as_given(place, capsys):
    """--max-hops 1 decodes one hop (an `or 3`-style default once turned a falsy value into 3)."""
    assert main(["ask", "--adapter", str(place / "adapter"), QUESTION, "--max-hops", "1", "--json"]) == 0
    paths = json.loads(capsys.readouterr().out)["paths"]
    assert paths and all(path["text"].count(" -> ") + path["text"].count(" <- ") <= 2 for path in paths)


@pytest.mark.parametrize("kind", ["file", "under a file", "read-only"])
def test_an_unusable_cache_is_one_line_naming_the_variable(tmp_path, session_kg, capsys, monkeypatch, kind):
    place = tmp_path / "place"
    place.mkdir()
    kg = Path(shutil.copy(session_kg, place / "tiny.ttl"))
    blocker = place / "cache-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    if kind == "read-only":
        cache = place / "read-only"
        cache.mkdir()
        cache.chmod(0o555)
        if os.access(cache, os.W_OK):
            pytest.skip("running as root: permissions do not stop writes")
    else:
        cache = blocker if kind == "file" else blocker / "sub"
    monkeypatch.setenv("KGPEFT_CACHE", str(cache))
    try:
        line = _refused(["kg", "stats", str(kg)], place, capsys)
    finally:
        if kind == "read-only":
            cache.chmod(0o755)  # so that pytest can remove it
    assert f"KGPEFT_CACHE={cache}" in line and "writable folder" in line


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_a_cache_where_no_folder_can_be_made_is_one_line(tmp_path, session_kg, capsys, monkeypatch):
    """A place no user may write to (the sure case when tests run as root, where permissions do not apply)."""
    kg = Path(shutil.copy(session_kg, tmp_path / "tiny.ttl"))
    monkeypatch.setenv("KGPEFT_CACHE", "/proc/self/kgpeft-cache")
    line = _refused(["kg", "stats", str(kg)], tmp_path, capsys)
    assert "KGPEFT_CACHE=/proc/self/kgpeft-cache" in line


RECORDS = {
    "a list": lambda record: [record],
    "a string format_version": lambda record: {**record, "format_version": "1"},
    "a number for domain": lambda record: {**record, "domain": 7},
    "a string for load_in_4bit": lambda record: {**record, "load_in_4bit": "yes"},
    "a list for metrics": lambda record: {**record, "metrics": [0.5]},
    "null": lambda record: None,
}


@pytest.mark.parametrize("damage", RECORDS)
def test_a_record_of_the_wrong_shape_is_one_line(place, capsys, damage):
    path = place / "adapter" / "kgpeft.json"
    path.write_text(json.dumps(RECORDS[damage](json.loads(path.read_text(encoding="utf-8")))), encoding="utf-8")
    for command in ("ask", "adapters show"):
        line = _refused(_commands(place / "adapter", place)[command], place, capsys)
        assert "kgpeft.json" in line


PEFT_CONFIGS = {
    "no r": lambda config: {k: v for k, v in config.items() if k != "r"},
    "r as a string": lambda config: {**config, "r": "4"},
    "no target_modules": lambda config: {k: v for k, v in config.items() if k != "target_modules"},
    "a list": lambda config: [config],
    "not JSON": None,
}


@pytest.mark.parametrize("damage", PEFT_CONFIGS)
def test_a_broken_peft_config_is_listed_as_broken_and_refused_by_other_commands(place, alpha, capsys, damage):
    shutil.copytree(alpha, place / "fine")
    path = place / "adapter" / "adapter_config.json"
    change = PEFT_CONFIGS[damage]
    path.write_text(
        "{ not json" if change is None else json.dumps(change(json.loads(path.read_text(encoding="utf-8")))),
        encoding="utf-8",
    )
    before = snapshot(place)
    assert main(["adapters", "list", str(place), "--no-kg-check", "--json"]) == 0
    entries = {Path(entry["path"]).name: entry for entry in json.loads(capsys.readouterr().out)}
    assert entries["fine"]["domain"] == "alpha", "the good adapter is listed"
    assert "adapter_config.json" in entries["adapter"]["broken"]
    assert main(["adapters", "list", str(place), "--no-kg-check"]) == 0
    broken = [line for line in capsys.readouterr().out.splitlines() if line.startswith("broken")]
    assert len(broken) == 1 and "adapter_config.json" in broken[0]
    assert snapshot(place) == before
    for command in ("ask", "adapters show", "merge"):
        assert "adapter_config.json" in _refused(_commands(place / "adapter", place)[command], place, capsys)


# --- fit --resume -----------------------------------------------------------------------------------


def _fit(kg: Path, base: Path, out: Path, *extra: str) -> int:
    argv = ["fit", "--kg", str(kg), "--base-model", str(base), "-o", str(out), "--teacher", "oracle"]
    return main([*argv, "--per-device-train-batch-size", "2", "--save-steps", "1", *extra])


@pytest.fixture(scope="module")
def checkpointed(tiny_checkpoint, tmp_path_factory) -> Path:
    """A folder with a `kgpeft fit` run of two steps at LoRA rank 2: ``world/`` and its checkpoints beside it."""
    folder = tmp_path_factory.mktemp("resume")
    kg = Path(shutil.copy(WORLD, folder / "world.ttl"))
    assert _fit(kg, tiny_checkpoint, folder / "world", "--max-steps", "2", "--lora-r", "2") == 0
    assert (folder / ".world.checkpoints" / "checkpoint-2").is_dir()
    return folder


@pytest.fixture
def resumable(checkpointed, tmp_path) -> Path:
    shutil.copytree(checkpointed, tmp_path / "run")
    return tmp_path / "run"


def test_resume_with_another_lora_rank_is_one_line(resumable, tiny_checkpoint, capsys):
    before = snapshot(resumable)
    code = _fit(
        resumable / "world.ttl", tiny_checkpoint, resumable / "world", "--max-steps", "3", "--lora-r", "4", "--resume"
    )
    line = assert_refused(code, capsys, resumable, before)
    assert "checkpoint-2" in line and "made with lora_r 2, this run asks 4" in line and "without --resume" in line


@pytest.mark.parametrize(
    "damage", ["truncated optimizer", "flipped byte in optimizer", "truncated weights", "bad state"]
)
def test_resume_from_a_damaged_checkpoint_is_one_line(resumable, tiny_checkpoint, capsys, damage):
    checkpoint = resumable / ".world.checkpoints" / "checkpoint-2"
    name = {"bad state": "trainer_state.json", "truncated weights": "adapter_model.safetensors"}.get(
        damage, "optimizer.pt"
    )
    data = bytearray((checkpoint / name).read_bytes())
    if damage.startswith("flipped"):
        data[len(data) // 2] ^= 0xFF
    else:
        data = data[: len(data) // 2]
    (checkpoint / name).write_bytes(bytes(data))
    before = snapshot(resumable)
    code = _fit(
        resumable / "world.ttl", tiny_checkpoint, resumable / "world", "--max-steps", "3", "--lora-r", "2", "--resume"
    )
    line = assert_refused(code, capsys, resumable, before)
    assert name in line and "damaged checkpoint" in line


# --- failures that are not the input's -------------------------------------------------------------


def test_a_full_disk_is_one_line_naming_the_file(session_kg, tmp_path, capsys, monkeypatch):
    import errno

    import kgpeft.kg.load

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "cache" / "entry"))

    monkeypatch.setattr(kgpeft.kg.load, "load_graph", full)
    monkeypatch.setattr("kgpeft.kg.load_graph", full, raising=False)
    before = snapshot(tmp_path)
    line = assert_refused(main(["kg", "stats", str(session_kg)]), capsys, tmp_path, before)
    assert line == f"kgpeft kg: error: {tmp_path / 'cache' / 'entry'}: No space left on device; nothing was replaced"


def test_a_bug_is_one_line_that_points_to_verbose_and_verbose_shows_the_traceback(session_kg, capsys, monkeypatch):
    import kgpeft.kg.load

    def broken(*args, **kwargs):
        raise RuntimeError("something kgpeft did not expect\nover two lines")

    monkeypatch.setattr(kgpeft.kg.load, "load_graph", broken)
    monkeypatch.setattr("kgpeft.kg.load_graph", broken, raising=False)
    assert main(["kg", "stats", str(session_kg)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert (
        len(lines) == 1 and "internal error: RuntimeError: something kgpeft did not expect over two lines" in lines[0]
    )
    assert "--verbose" in lines[0]
    with pytest.raises(RuntimeError):
        main(["--verbose", "kg", "stats", str(session_kg)])
