"""``kgpeft fit --resume``: a checkpoint is resumed only if it is intact and was made with this run's LoRA.

The trainer would otherwise fail deep inside PEFT or PyTorch with a traceback (a rank that
changed gives a shape mismatch; a truncated optimizer state an unpickling error), or, for
a same-shaped change such as ``lora_alpha``, silently continue a different adapter.
Nothing here unpickles: ``.pt`` files are checked as the zip archives ``torch.save`` writes.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgpeft.adapters.registry import PEFT_CONFIG_FILE, read_peft_config, safetensors_problem
from kgpeft.errors import AdapterError, KGPeftError
from kgpeft.types import StrPath

if TYPE_CHECKING:
    from peft import PeftConfig

# PEFT config keys that decide the adapter's shapes or scale, named as `kgpeft fit` names the option.
COMPARED = {
    "base_model_name_or_path": "base_model",
    "r": "lora_r",
    "lora_alpha": "lora_alpha",
    "target_modules": "target_modules",
    "rank_pattern": "rank_pattern",
    "alpha_pattern": "alpha_pattern",
    "use_rslora": "use_rslora",
    "use_dora": "use_dora",
}
_ZIPPED = (".pt", ".pth", ".bin")  # torch.save's format


def check_checkpoint(checkpoint: StrPath | None, lora: PeftConfig) -> None:
    """Refuse to resume ``checkpoint`` (None: nothing to resume) when damaged or made with other LoRA options.

    ``lora`` is this run's LoRA config: called with the configured one before any work (so a
    refusal costs nothing), and with the live model's, whose module patterns PEFT has resolved.

    >>> check_checkpoint(".countries.checkpoints/checkpoint-40", trainer.model.active_peft_config)  # doctest: +SKIP
    """
    if checkpoint is None:
        return
    folder = Path(checkpoint)
    saved = _read_intact(folder)
    wanted = lora.to_dict()
    for key, option in COMPARED.items():
        was, now = _comparable(saved.get(key)), _comparable(wanted.get(key))
        if _known_yet(key, was, now) and was != now:
            raise KGPeftError(
                f"{folder}: this checkpoint was made with {option} {_shown(was)}, this run asks {_shown(now)}; "
                "rerun without --resume or with the same options"
            )


def _known_yet(key: str, was: Any, now: Any) -> bool:
    """Whether this run's value can be compared yet: PEFT fills in the base model's name, and resolves
    module patterns ("all-linear") into names, only when it wraps the model."""
    if key == "base_model_name_or_path":
        return now is not None
    if key == "target_modules":
        return isinstance(was, str) == isinstance(now, str)
    return True


def _read_intact(folder: Path) -> dict[str, Any]:
    """The checkpoint's PEFT config, after checking that every file the trainer will load is whole."""
    advice = f"delete {folder} to resume from the checkpoint before it, or rerun without --resume"
    try:
        config = read_peft_config(folder / PEFT_CONFIG_FILE)
    except AdapterError as err:
        raise KGPeftError(f"{err} (a damaged checkpoint); {advice}") from None
    for path in sorted(folder.iterdir()):
        problem = _file_problem(path)
        if problem:
            raise KGPeftError(f"{path}: {problem} (a damaged checkpoint); {advice}")
    return config


def _file_problem(path: Path) -> str | None:
    try:
        if path.suffix == ".safetensors":
            return safetensors_problem(path)
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix in _ZIPPED:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()  # CRC of every member: the whole file is read, nothing unpickled
            if bad is not None:
                return f"member {bad} fails its checksum"
    except (OSError, UnicodeDecodeError, ValueError, zipfile.BadZipFile) as err:
        return f"unreadable ({err})"
    return None


def _comparable(value: Any) -> Any:
    """Saved and live configs differ in form only: lists vs sets of module names, None vs empty."""
    if isinstance(value, list | set | tuple):
        return sorted(value)
    if isinstance(value, int | float):  # bools too: False is a setting, not an absence
        return value
    return value or None


def _shown(value: Any) -> str:
    if isinstance(value, list) and len(value) > 4:
        return f"{len(value)} modules ({', '.join(value[:3])}, ...)"
    return str(value)
