"""``kgpeft.json``: what an adapter folder records beside the plain PEFT files.

The record says which base model and which KG (by content hash) an adapter was trained
for, how (teacher, loss settings), on how much data, and how well it did, so that using
it with another base or a changed KG is detected, and a registry can list adapters.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from importlib import metadata
from pathlib import Path
from typing import Any

from kgpeft.errors import AdapterError
from kgpeft.io import write_json
from kgpeft.types import StrPath

RECORD_FILE = "kgpeft.json"
FORMAT_VERSION = 1
_VERSIONED_PACKAGES = ("kgpeft", "torch", "transformers", "peft", "trl", "bitsandbytes")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in _VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclass
class AdapterRecord:
    """The content of ``kgpeft.json``. Unknown keys in a file are ignored, like PEFT configs do."""

    domain: str
    base_model: str
    base_model_fingerprint: str
    load_in_4bit: bool
    kg_path: str
    kg_sha256: str
    teacher: str = ""
    teacher_config: dict[str, Any] = field(default_factory=dict)
    loss: dict[str, Any] = field(default_factory=dict)
    lora: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=package_versions)
    format_version: int = FORMAT_VERSION
    # Only for an adapter made by `kgpeft adapters combine` (kg_path and kg_sha256 are then
    # empty): method, weights, density, sources [{domain, path}], kgs [{path, sha256}].
    combination: dict[str, Any] = field(default_factory=dict)

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
    def load(cls, folder: StrPath) -> AdapterRecord:
        path = Path(folder) / RECORD_FILE
        if not (Path(folder) / "adapter_config.json").is_file():
            raise AdapterError(f"{folder}: not an adapter folder (no adapter_config.json); train one with `kgpeft fit`")
        if not path.is_file():
            raise AdapterError(f"{folder}: no {RECORD_FILE}; this adapter was not trained by kgpeft fit")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise AdapterError(f"{path}: unreadable ({err}); retrain or restore the adapter") from err
        if data.get("format_version", 0) > FORMAT_VERSION:
            raise AdapterError(
                f"{path}: format version {data['format_version']} is newer than this kgpeft "
                f"understands ({FORMAT_VERSION}); upgrade kgpeft"
            )
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as err:
            raise AdapterError(f"{path}: missing fields ({err}); retrain the adapter") from err
