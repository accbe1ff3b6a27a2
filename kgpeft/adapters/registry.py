"""Reading adapter folders: one adapter (record + PEFT config), or every adapter under a folder.

An adapter folder is what `kgpeft fit` writes: ``adapter_config.json`` and the weights
(plain PEFT), the tokenizer, and ``kgpeft.json`` (:class:`AdapterRecord`). The registry
also says whether each KG an adapter learned still has the content it was trained on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kgpeft.adapters.record import RECORD_FILE, AdapterRecord
from kgpeft.errors import AdapterError
from kgpeft.types import StrPath

PEFT_CONFIG_FILE = "adapter_config.json"
# The report `kgpeft eval` writes into an adapter folder, and the name of the evaluated adapter in it
REPORT_FILE = "report.json"
STUDENT_SYSTEM = "student"
EVAL_METRICS = ("hits@1", "f1", "path_validity")  # the student's figures `kgpeft adapters list` leads with

KGState = Literal["ok", "changed", "missing"]


def kg_sha256(path: StrPath) -> str:
    """The KG's content hash, the one `kgpeft fit` records (independent of triple order and syntax).

    Cheap after the first call: ``load_graph`` caches the parsed index keyed by the file.
    """
    from kgpeft.kg import load_graph

    return load_graph(path).sha256


def kg_state(path: str, sha256: str) -> KGState:
    """Whether the KG file at ``path`` (relative to the working directory) still hashes to ``sha256``."""
    if not path or not Path(path).is_file():
        return "missing"
    return "ok" if kg_sha256(path) == sha256 else "changed"


@dataclass
class AdapterInfo:
    """One adapter folder as read from disk: its ``kgpeft.json`` record and its PEFT config."""

    path: Path
    record: AdapterRecord
    peft_config: dict[str, Any]

    @property
    def rank(self) -> int:
        """The largest LoRA rank in the adapter (a rank pattern can raise some modules' ranks)."""
        return max([self.peft_config["r"], *(self.peft_config.get("rank_pattern") or {}).values()])

    @property
    def target_modules(self) -> list[str] | str:
        """Module names as a sorted list, or PEFT's regex string when the adapter was configured by one."""
        modules = self.peft_config.get("target_modules") or []
        return modules if isinstance(modules, str) else sorted(modules)

    def kg_states(self) -> list[tuple[str, KGState]]:
        """(path, state) for each KG the adapter learned; hashing them is what makes this slow-ish."""
        return [(path, kg_state(path, sha256)) for path, sha256 in self.record.kgs()]

    def eval_metrics(self) -> dict[str, float]:
        """The student's headline figures from the folder's last `kgpeft eval` report, as ``eval.<name>``.

        Empty when the adapter was never evaluated, or its report is unreadable (it is optional).
        """
        try:
            report = json.loads((self.path / REPORT_FILE).read_text(encoding="utf-8"))
            metrics = report["systems"][STUDENT_SYSTEM]["metrics"]
        except (OSError, ValueError, KeyError, TypeError):
            return {}
        return {f"eval.{k}": metrics[k] for k in EVAL_METRICS if isinstance(metrics.get(k), int | float)}

    def summary(self, *, check_kg: bool = True) -> dict[str, Any]:
        """A JSON-able listing entry, as `kgpeft adapters list --json` prints it."""
        record = self.record
        kgs = self.kg_states() if check_kg else [(path, "unchecked") for path, _ in record.kgs()]
        return {
            "domain": record.domain,
            "path": str(self.path),
            "base_model": record.base_model,
            "load_in_4bit": record.load_in_4bit,
            "rank": self.rank,
            "target_modules": self.target_modules,
            "kgs": [{"path": path, "state": state} for path, state in kgs],
            "metrics": {**self.eval_metrics(), **flat_metrics(record.metrics)},
            "combination": record.combination.get("method", ""),
        }


def flat_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric metrics, nested dicts flattened with dots: ``{"test": {"hits@1": 0.6}} -> {"test.hits@1": 0.6}``."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_metrics(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = value
    return flat


def read_adapter(folder: StrPath) -> AdapterInfo:
    """Read one adapter folder; :class:`AdapterError` with the reason when it is not a kgpeft adapter.

    >>> read_adapter("adapters/countries").record.domain  # doctest: +SKIP
    'countries'
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AdapterError(f"{folder}: no such adapter folder")
    record = AdapterRecord.load(folder)  # also checks that adapter_config.json is there
    config_path = folder / PEFT_CONFIG_FILE
    try:
        peft_config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise AdapterError(f"{config_path}: unreadable ({err}); retrain or restore the adapter") from err
    if peft_config.get("peft_type") != "LORA":
        raise AdapterError(f"{folder}: a {peft_config.get('peft_type')} adapter; kgpeft handles LoRA adapters only")
    return AdapterInfo(path=folder, record=record, peft_config=peft_config)


def find_adapters(root: StrPath) -> list[AdapterInfo]:
    """Every adapter folder under ``root`` (``root`` itself included), sorted by path.

    Hidden folders are skipped: the atomic writers build adapters in ``.name.*.tmp`` folders,
    which are unfinished by definition.

    >>> [a.record.domain for a in find_adapters("adapters")]  # doctest: +SKIP
    ['countries', 'elements']
    """
    root = Path(root)
    if not root.is_dir():
        raise AdapterError(f"{root}: no such folder; adapters are written by `kgpeft fit` (default adapters/)")
    folders = sorted(
        record_file.parent
        for record_file in root.rglob(RECORD_FILE)
        if (record_file.parent / PEFT_CONFIG_FILE).is_file()
        and not any(part.startswith(".") for part in record_file.relative_to(root).parts)
    )
    return [read_adapter(folder) for folder in folders]
