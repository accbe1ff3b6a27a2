"""The one-way data flow of DESIGN.md, enforced on the source: a stage imports nothing from the stages after it.

Every import statement counts, at module level, inside functions (kgpeft imports heavy
modules lazily) and under ``TYPE_CHECKING``: a type-only import is still a dependency
of the design, and the easiest way for a cycle to creep back in.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import kgpeft

PACKAGE = Path(kgpeft.__file__).parent
LATER = ("data", "teachers", "training", "evaluation", "inference", "adapters", "cli")

# package -> the kgpeft packages it must never import
FORBIDDEN = {
    "kg": LATER,
    "data": LATER[1:],
    "teachers": ("training", "evaluation", "inference", "adapters", "cli"),
    **{name: ("cli",) for name in ("training", "evaluation", "inference", "adapters")},
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file; relative imports resolved against ``path``."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            # `from kgpeft import cli` imports the package kgpeft.cli: count the names too
            found += [(node.lineno, module)] + [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def violations(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    """``FILE:LINE: imports kgpeft.X`` for each line of ``paths`` importing a forbidden package (or a part of it)."""
    packages = [f"kgpeft.{other}" for other in forbidden]
    found = {
        (str(path.relative_to(PACKAGE.parent)), line, package)
        for path in paths
        for line, module in imported_modules(path)
        for package in packages
        if module == package or module.startswith(f"{package}.")
    }
    return [f"{file}:{line}: imports {package}" for file, line, package in sorted(found)]


def stage_violations(name: str) -> list[str]:
    return violations(sorted((PACKAGE / name).rglob("*.py")), FORBIDDEN[name])


@pytest.mark.parametrize("name", sorted(FORBIDDEN))
def test_a_stage_imports_nothing_from_later_stages(name):
    assert stage_violations(name) == []


def test_top_level_modules_never_import_the_cli():
    # __main__.py is the `python -m kgpeft` entry point: running the CLI is its job
    modules = [path for path in sorted(PACKAGE.glob("*.py")) if path.name != "__main__.py"]
    assert violations(modules, ("cli",)) == []


def test_the_check_sees_every_kind_of_import(tmp_path, monkeypatch):
    """A forbidden import is found wherever it is written: the test above could otherwise pass on nothing."""
    fake = tmp_path / "kgpeft"
    (fake / "kg").mkdir(parents=True)
    (fake / "kg" / "bad.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "import kgpeft.cli\n"
        "if TYPE_CHECKING:\n    from kgpeft.teachers import PathTeacher\n"
        "def f():\n    from ..training import rows\n    from kgpeft import evaluation\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert stage_violations("kg") == [
        "kgpeft/kg/bad.py:2: imports kgpeft.cli",
        "kgpeft/kg/bad.py:4: imports kgpeft.teachers",
        "kgpeft/kg/bad.py:6: imports kgpeft.training",
        "kgpeft/kg/bad.py:7: imports kgpeft.evaluation",
    ]
