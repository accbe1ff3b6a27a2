"""``kgpeft.json``: what an adapter folder records beside the plain PEFT files.

The record says which base model and which KG (by content hash) an adapter was trained
for, how (teacher, loss settings), on how much data, and how well it did, so that using
it with another base or a changed KG is detected, and a registry can list adapters.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from kgpeft.errors import AdapterError, KGPeftError
from kgpeft.fields import dataclass_from_dict, known_items
from kgpeft.io import read_user_file, write_json
from kgpeft.types import StrPath

if TYPE_CHECKING:
    from kgpeft.data.dataset import DataConfig
    from kgpeft.modeling import ModelConfig
    from kgpeft.training.config import FitConfig

T = TypeVar("T")

RECORD_FILE = "kgpeft.json"
FORMAT_VERSION = 2  # 2: one typed config tree (FitConfig) instead of teacher/loss/lora/data dicts
_VERSIONED_PACKAGES = ("kgpeft", "torch", "transformers", "peft", "trl", "bitsandbytes")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in _VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


# Field types a kgpeft.json must have; a file that breaks them is refused with one line, not a traceback.
_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "domain": str,
    "base_model": str,
    "base_model_fingerprint": str,
    "base_weights_fingerprint": str,
    "load_in_4bit": bool,
    "kg_path": str,
    "kg_sha256": str,
    "config": dict,
    "sizes": dict,
    "train_rows": int,
    "metrics": dict,
    "versions": dict,
    "combination": dict,
    "timings": dict,
    "peak_memory_mb": dict,
}


@dataclass
class AdapterRecord:
    """The content of ``kgpeft.json``. Unknown keys in a file are ignored, like PEFT configs do.

    ``config`` is the run's :class:`~kgpeft.training.config.FitConfig` as nested sections
    (``model``, ``data``, ``teacher``, ``train``); read it typed with :meth:`fit_config`,
    :meth:`model_config` and :meth:`data_config`. Its ``model`` section leaves out
    ``base_model`` and ``load_in_4bit``, which the record holds once, at its top level.
    """

    domain: str
    base_model: str
    base_model_fingerprint: str
    load_in_4bit: bool
    kg_path: str
    kg_sha256: str
    # modeling.base_weights_fingerprint of the base's files; "" in records written before it existed.
    base_weights_fingerprint: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    train_rows: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    # Seconds and peak resident memory (MB) of each stage of `kgpeft fit` but saving
    # (kg, data, teacher, soft_targets, train); empty in records written before they were kept.
    timings: dict[str, float] = field(default_factory=dict)
    peak_memory_mb: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=package_versions)
    format_version: int = FORMAT_VERSION
    # Only for an adapter made by `kgpeft adapters combine` (kg_path and kg_sha256 are then
    # empty): method, weights, density, sources [{domain, path}], kgs [{path, sha256}].
    combination: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_fit(cls, fit_config: FitConfig, **fields_: Any) -> AdapterRecord:
        """The record of a run configured by ``fit_config`` (base model and 4-bit taken from it)."""
        tree = fit_config.to_dict()
        model = tree["model"]
        base_model, load_in_4bit = model.pop("base_model"), model.pop("load_in_4bit")
        return cls(base_model=base_model, load_in_4bit=load_in_4bit, config=tree, **fields_)

    @property
    def teacher(self) -> str:
        """Name of the teacher the adapter was distilled from ("" when none, e.g. a combined adapter)."""
        return str(self.config.get("teacher", {}).get("name", ""))

    def model_config(self) -> ModelConfig:
        """The base model and LoRA settings the adapter was trained (or combined) with."""
        from kgpeft.modeling import ModelConfig

        return self._section(
            ModelConfig,
            {**self.config.get("model", {}), "base_model": self.base_model, "load_in_4bit": self.load_in_4bit},
        )

    def data_config(self) -> DataConfig | None:
        """How the adapter's questions were built (None for a combined adapter, which has no data of its own)."""
        if "data" not in self.config:
            return None
        from kgpeft.data.dataset import DataConfig

        return self._section(DataConfig, self.config["data"])

    def max_hops(self, default: int = 3) -> int:
        """The longest path the adapter was trained on (``default`` when it records no data config)."""
        data = self.data_config()
        return data.max_hops if data is not None else default

    def fit_config(self) -> FitConfig | None:
        """The whole run's configuration, typed (None for a combined adapter: it was not trained by `fit`)."""
        if "train" not in self.config:
            return None
        from kgpeft.training.config import FitConfig

        tree = {**self.config, "model": dataclasses.asdict(self.model_config())}
        try:
            return FitConfig.from_dict(tree, strict=False)
        except (TypeError, ValueError, KGPeftError) as err:
            raise AdapterError(f"{RECORD_FILE} of {self.domain}: invalid config ({err}); retrain the adapter") from err

    def _section(self, cls: type[T], values: Mapping[str, Any]) -> T:
        try:
            return dataclass_from_dict(cls, values)
        except (TypeError, ValueError) as err:
            raise AdapterError(
                f"{RECORD_FILE} of {self.domain}: invalid {cls.__name__} ({err}); retrain the adapter"
            ) from err

    def kgs(self) -> list[tuple[str, str]]:
        """(path, sha256) of every KG the adapter learned: its own, or its sources' when combined.

        >>> AdapterRecord("countries", "m", "f", True, "kg/countries.ttl", "ab12").kgs()
        [('kg/countries.ttl', 'ab12')]
        """
        if self.combination:
            return [(kg["path"], kg["sha256"]) for kg in self.combination["kgs"]]
        return [(self.kg_path, self.kg_sha256)]

    def save(self, folder: StrPath) -> None:
        write_json(Path(folder) / RECORD_FILE, asdict(self))

    @classmethod
    def from_dict(cls, data: Any, source: StrPath = RECORD_FILE) -> AdapterRecord:
        """A record from parsed ``kgpeft.json`` content, migrated to the current format and type-checked.

        >>> AdapterRecord.from_dict({"format_version": "2"})
        Traceback (most recent call last):
        kgpeft.errors.AdapterError: kgpeft.json: format_version must be an integer, got '2'; retrain or restore the adapter
        """
        fix = "retrain or restore the adapter"
        if not isinstance(data, dict):
            raise AdapterError(f"{source}: must hold a JSON object, not a {type(data).__name__}; {fix}")
        version = data.get("format_version", 1)
        if not isinstance(version, int) or isinstance(version, bool):
            raise AdapterError(f"{source}: format_version must be an integer, got {version!r}; {fix}")
        if version > FORMAT_VERSION:
            raise AdapterError(
                f"{source}: format version {version} is newer than this kgpeft understands ({FORMAT_VERSION}); "
                "upgrade kgpeft"
            )
        if version < 2:
            data = _migrate_v1(data)
        for name, kind in _FIELD_TYPES.items():
            value = data.get(name)
            if name in data and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
                expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
                raise AdapterError(f"{source}: field {name} must be {expected}, got {value!r:.60}; {fix}")
        sections = data.get("config", {})
        for name, value in sections.items():
            if not isinstance(value, dict):
                raise AdapterError(f"{source}: config.{name} must be a JSON object, got {value!r:.60}; {fix}")
        missing = sorted(
            f.name for f in fields(cls) if f.name not in data and f.default is MISSING and f.default_factory is MISSING
        )
        if missing:
            raise AdapterError(f"{source}: missing field(s) {', '.join(missing)}; {fix}")
        return cls(**known_items(cls, {**data, "format_version": FORMAT_VERSION}))

    @classmethod
    def load(cls, folder: StrPath) -> AdapterRecord:
        path = Path(folder) / RECORD_FILE
        if not (Path(folder) / "adapter_config.json").is_file():
            raise AdapterError(f"{folder}: not an adapter folder (no adapter_config.json); train one with `kgpeft fit`")
        if not path.is_file():
            raise AdapterError(f"{folder}: no {RECORD_FILE}; this adapter was not trained by kgpeft fit")
        try:
            data = json.loads(read_user_file(path, error=AdapterError, what=f"a {RECORD_FILE}"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise AdapterError(f"{path}: unreadable ({err}); retrain or restore the adapter") from err
        return cls.from_dict(data, path)


def _migrate_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A format-1 record (flat ``teacher``, ``teacher_config``, ``loss``, ``lora``, ``data``) as format 2.

    >>> _migrate_v1({"teacher": "oracle", "loss": {"alpha": 0.5}, "lora": {"lora_r": 4}})["config"]["train"]
    {'alpha': 0.5}
    """
    data = dict(data)
    old_data = data.pop("data", None) or {}
    if not isinstance(old_data, dict):
        old_data = {"config": old_data}  # type-checked as config.data below
    config: dict[str, Any] = {"model": data.pop("lora", None) or {}}
    if "config" in old_data:
        config["data"] = old_data["config"]
    teacher, teacher_config = data.pop("teacher", ""), data.pop("teacher_config", None) or {}
    if teacher:
        # max_hops and seed moved out of teacher configs: the data config and the trainer own them
        own = (
            {k: v for k, v in teacher_config.items() if k not in ("max_hops", "seed")}
            if isinstance(teacher_config, dict)
            else teacher_config
        )
        config["teacher"] = own if not isinstance(own, dict) else {"name": teacher, **own}
    loss = data.pop("loss", None)
    if loss:
        config["train"] = loss
    data["config"] = config
    if "sizes" in old_data:
        data["sizes"] = old_data["sizes"]
    if "train_rows" in old_data:
        data["train_rows"] = old_data["train_rows"]
    return data
