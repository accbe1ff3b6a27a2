"""Reading adapter folders: one adapter (record + PEFT config), or every adapter under a folder.

An adapter folder is what `kgpeft fit` writes: ``adapter_config.json`` and the weights
(plain PEFT), the tokenizer, and ``kgpeft.json`` (:class:`AdapterRecord`). The registry
also says whether each KG an adapter learned still has the content it was trained on.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kgpeft.adapters.record import RECORD_FILE, AdapterRecord
from kgpeft.errors import AdapterError, KGPeftError, StoreError
from kgpeft.io import read_user_file
from kgpeft.types import StrPath

PEFT_CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
# PEFT's legacy format: a torch pickle, which can run any code when loaded, so kgpeft never opens it
PICKLED_WEIGHTS_FILE = "adapter_model.bin"
# The report `kgpeft eval` writes into an adapter folder, and the name of the evaluated adapter in it
REPORT_FILE = "report.json"
STUDENT_SYSTEM = "student"
EVAL_METRICS = ("hits@1", "f1", "path_validity")  # the student's figures `kgpeft adapters list` leads with

KGState = Literal["ok", "changed", "missing", "unreadable", "unreachable"]


def kg_sha256(path: StrPath) -> str:
    """The KG's content hash, the one `kgpeft fit` records (independent of triple order and syntax).

    Cheap after the first call: ``load_graph`` caches the parsed index keyed by the file.
    """
    from kgpeft.kg import load_graph

    return load_graph(path).sha256


def kg_state(path: str, sha256: str) -> KGState:
    """Whether the KG file at ``path`` (relative to the working directory) still hashes to ``sha256``.

    A SPARQL store's URL is checked by its identity (one aggregate query, the one every load
    sends), asked once per process: "unreachable" when the store does not answer.
    """
    from kgpeft.kg.sparql import is_store_url

    if is_store_url(path):
        try:
            return "ok" if _store_sha256(path) == sha256 else "changed"
        except StoreError:
            return "unreachable"
    if not path or not Path(path).is_file():
        return "missing"
    try:
        return "ok" if kg_sha256(path) == sha256 else "changed"
    except KGPeftError:  # e.g. edited into something that no longer parses: the listing goes on
        return "unreadable"


@functools.cache
def _store_sha256(url: str) -> str:
    from kgpeft.kg.sparql import SparqlClient, store_identity

    return store_identity(SparqlClient(url))


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
    peft_config = read_peft_config(folder / PEFT_CONFIG_FILE)
    check_weights(folder)
    return AdapterInfo(path=folder, record=record, peft_config=peft_config)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_modules(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(m, str) for m in value))


# What a LoRA adapter_config.json must hold for its weights to load as trained: PEFT fills a
# missing key with its default (r=8, the architecture's default target modules), which either
# fails on shapes deep inside PEFT or, worse, silently drops the weights of other modules.
_PEFT_FIELDS = {
    "r": (_is_count, "a positive integer"),
    "lora_alpha": (_is_number, "a number"),
    "target_modules": (_is_modules, "a module name pattern or a list of module names"),
}
_PEFT_PATTERNS = {"rank_pattern": _is_count, "alpha_pattern": _is_number}


def read_peft_config(path: Path) -> dict[str, Any]:
    """The LoRA config in an ``adapter_config.json``; :class:`AdapterError` naming the file and key when unusable."""
    try:
        config = json.loads(read_user_file(path, error=AdapterError, what="a PEFT adapter_config.json"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AdapterError(f"{path}: unreadable ({err}); restore the adapter folder or retrain it") from err
    if not isinstance(config, dict):
        raise AdapterError(f"{path}: not a PEFT config (a JSON object expected); restore it or retrain the adapter")
    if config.get("peft_type") != "LORA":
        raise AdapterError(f"{path}: a {config.get('peft_type')} adapter; kgpeft handles LoRA adapters only")
    for key, (valid, expected) in _PEFT_FIELDS.items():
        if key not in config:
            raise AdapterError(f"{path}: no '{key}' ({expected}); restore the file or retrain the adapter")
        if not valid(config[key]):
            raise AdapterError(f"{path}: '{key}' is {config[key]!r}, not {expected}; restore the file or retrain")
    for key, valid in _PEFT_PATTERNS.items():
        pattern = config.get(key) or {}
        if not isinstance(pattern, dict) or not all(valid(v) for v in pattern.values()):
            raise AdapterError(f"{path}: '{key}' must map module names to numbers; restore the file or retrain")
    return config


def check_weights(folder: Path) -> None:
    """Refuse weights that cannot load: missing, pickled, or not a complete safetensors file.

    Only the header is read (safetensors checks that it covers the file exactly, which a
    truncated or padded file fails), so listing many adapters stays cheap.
    """
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        if (folder / PICKLED_WEIGHTS_FILE).is_file():
            raise AdapterError(
                f"{folder / PICKLED_WEIGHTS_FILE}: adapter weights in a pickle file, which kgpeft does not open "
                "(loading a pickle can run code); re-save the adapter as safetensors from a source you trust"
            )
        raise AdapterError(f"{folder}: no {WEIGHTS_FILE}; restore the adapter folder or retrain it")
    problem = safetensors_problem(weights)
    if problem:
        raise AdapterError(f"{weights}: {problem}; restore the adapter folder or retrain it")


def safetensors_problem(path: Path) -> str | None:
    """Why the safetensors file at ``path`` cannot load (None if it can), from its header alone."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="numpy"):
            return None
    except (SafetensorError, OSError) as err:
        return f"not a complete safetensors file ({err})"


def find_adapters(root: StrPath) -> list[AdapterInfo | BrokenAdapter]:
    """Every adapter folder under ``root`` (``root`` itself included), sorted by path.

    Hidden folders are skipped: the atomic writers build adapters in ``.name.*.tmp`` folders,
    which are unfinished by definition. A folder that :func:`read_adapter` refuses is a
    :class:`BrokenAdapter` in the list, with the reason.

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
    return [_read_or_broken(folder) for folder in folders]


@dataclass
class BrokenAdapter:
    """An adapter folder that cannot be used, and why: listed as such, so one bad folder hides no other."""

    path: Path
    reason: str

    def summary(self, *, check_kg: bool = True) -> dict[str, Any]:
        return {"path": str(self.path), "broken": self.reason}


def _read_or_broken(folder: Path) -> AdapterInfo | BrokenAdapter:
    try:
        return read_adapter(folder)
    except KGPeftError as err:
        return BrokenAdapter(folder, str(err))
