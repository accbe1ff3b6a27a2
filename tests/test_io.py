from __future__ import annotations

import os
import stat

import pytest

from kgpeft.io import atomic_dir, atomic_file, write_json


def test_atomic_file_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_file(target) as handle:
        handle.write("half")
        raise RuntimeError("crash")
    assert target.read_text().strip().startswith("{") and list(tmp_path.iterdir()) == [target]


def test_atomic_dir_replaces_a_whole_folder_or_nothing(tmp_path):
    target = tmp_path / "adapter"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "b").write_text("2")
        raise RuntimeError("crash")
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]


def test_outputs_get_the_usual_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        with atomic_dir(tmp_path / "adapter") as tmp, atomic_file(tmp / "f") as handle:
            handle.write("x")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "adapter").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "adapter" / "f").stat().st_mode) == 0o644
