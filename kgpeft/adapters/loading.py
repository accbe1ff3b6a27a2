"""Several domain adapters on one base model, each validated against the base and its KG.

Each adapter is loaded under its domain as the PEFT adapter name, so that callers switch
between domains with ``model.set_adapter("countries")`` or activate several at once with
``model.base_model.set_adapter(["countries", "elements"])``.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from kgpeft.adapters.registry import WEIGHTS_FILE, AdapterInfo, read_adapter
from kgpeft.errors import AdapterError
from kgpeft.modeling import base_model_fingerprint, base_weights_fingerprint, load_base_model, load_tokenizer
from kgpeft.types import StrPath

if TYPE_CHECKING:
    from peft import PeftModel
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

logger = logging.getLogger(__name__)


def adapter_names(infos: Sequence[AdapterInfo]) -> list[str]:
    """The PEFT adapter name of each adapter: its domain, made unique with ``_2``, ``_3``, ...

    PEFT stores adapters in ``ModuleDict``s, whose keys may not contain dots.

    >>> adapter_names([a, b])  # doctest: +SKIP   (both trained for "countries")
    ['countries', 'countries_2']
    """
    names: list[str] = []
    for info in infos:
        stem = re.sub(r"\W", "_", info.record.domain) or "adapter"
        name, n = stem, 1
        while name in names:
            n += 1
            name = f"{stem}_{n}"
        names.append(name)
    return names


def check_kgs(info: AdapterInfo, *, strict: bool = False) -> None:
    """Warn (or, when ``strict``, raise) when a KG the adapter learned is gone or has changed."""
    for path, state in info.kg_states():
        if state in ("missing", "unreachable"):
            logger.warning("adapter %s: its KG %s is %s; answers cannot be verified against it", info.path, path, state)
        elif state == "changed":
            message = (
                f"adapter {info.path}: the content of its KG {path} changed since training "
                "(sha256 differs); retrain the adapter or restore the KG"
            )
            if strict:
                raise AdapterError(message)
            logger.warning(message)


def check_base(info: AdapterInfo, model: PreTrainedModel) -> None:
    """Refuse an adapter trained on another base model (different architecture or sizes)."""
    fingerprint = base_model_fingerprint(model.config)
    if info.record.base_model_fingerprint != fingerprint:
        loaded = getattr(model.config, "name_or_path", "") or "the given model"
        raise AdapterError(
            f"adapter {info.path} was trained on base model '{info.record.base_model}' (fingerprint "
            f"{info.record.base_model_fingerprint}), not on {loaded} (fingerprint {fingerprint}); "
            f"load it with --base-model {info.record.base_model}"
        )
    _check_base_weights(info, model)


def _check_base_weights(info: AdapterInfo, model: PreTrainedModel) -> None:
    """Refuse a base with the adapter's architecture but other weights: its answers would be garbage."""
    recorded = info.record.base_weights_fingerprint
    location = getattr(model, "name_or_path", "") or ""
    if not recorded:  # written before kgpeft recorded it: nothing to compare with
        logger.debug("adapter %s records no base weights fingerprint; not checked", info.path)
        return
    found = base_weights_fingerprint(location) if location else ""
    if not found:  # a model built in memory, or a hub id missing from the local cache: no files to read
        logger.debug("no weight files found for the base %r; adapter %s not checked against it", location, info.path)
        return
    if found != recorded:
        raise AdapterError(
            f"adapter {info.path} was trained on base model '{info.record.base_model}' (weights fingerprint "
            f"{recorded}), but the base loaded from {location} has other weights (fingerprint {found}) with the "
            f"same architecture; pass --base-model with the base the adapter was trained on"
        )


def default_load_in_4bit(infos: Sequence[AdapterInfo]) -> bool:
    """Load the base as the first adapter was trained (4-bit or not); say so when the others differ."""
    first = infos[0].record.load_in_4bit
    if any(info.record.load_in_4bit != first for info in infos):
        logger.warning(
            "adapters were trained on 4-bit and full-precision bases; loading the base %s, as %s was trained",
            "in 4-bit" if first else "in full precision",
            infos[0].path,
        )
    return first


def adapter_tokenizer(info: AdapterInfo) -> PreTrainedTokenizerBase:
    """The tokenizer saved in the adapter folder, else the base model's."""
    from transformers import AutoTokenizer

    if not (info.path / "tokenizer_config.json").is_file():
        return load_tokenizer(info.record.base_model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(info.path)
    except Exception as err:  # tokenizers' Rust errors share no base class below Exception
        raise AdapterError(
            f"{info.path}: its tokenizer files do not load ({first_line(err)}); restore them or delete them to use the base "
            "model's tokenizer"
        ) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def first_line(err: BaseException) -> str:
    """The first non-blank line of an error's message (PyTorch's run to dozens), for a one-line report."""
    return next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)


@contextlib.contextmanager
def _loading(info: AdapterInfo) -> Iterator[None]:
    """PEFT's errors on weights that read_adapter's checks let through (a tensor of the wrong shape,
    a damaged file), as one line naming the adapter's weights file."""
    from safetensors import SafetensorError

    try:
        yield
    except (SafetensorError, RuntimeError, ValueError, OSError) as err:
        raise AdapterError(
            f"{info.path / WEIGHTS_FILE}: cannot load these adapter weights ({first_line(err)}); "
            "restore the adapter folder or retrain it"
        ) from None


def load_adapters(
    base: str | PreTrainedModel | None,
    adapter_dirs: Sequence[StrPath],
    *,
    load_in_4bit: bool | None = None,
    kg_check: bool = True,
    strict_kg: bool = False,
) -> PeftModel:
    """Load a base model and every adapter in ``adapter_dirs`` on it, each named after its domain.

    ``base`` is a model spec (hub id, folder, .gguf, alias), an already loaded model, or None
    for the first adapter's recorded base. ``load_in_4bit`` defaults to how the first adapter
    was trained. The first adapter is the active one.

    >>> model = load_adapters(None, ["adapters/countries", "adapters/elements"])  # doctest: +SKIP
    >>> list(model.peft_config)  # doctest: +SKIP
    ['countries', 'elements']
    """
    from peft import PeftModel

    if not adapter_dirs:
        raise AdapterError("no adapter given")
    infos = [read_adapter(folder) for folder in adapter_dirs]
    if kg_check:
        for info in infos:
            check_kgs(info, strict=strict_kg)
    if base is None or isinstance(base, str):
        if load_in_4bit is None:
            load_in_4bit = default_load_in_4bit(infos)
        base, _ = load_base_model(base or infos[0].record.base_model, load_in_4bit=load_in_4bit)
    # Checked before any weights are loaded: PEFT would fail on shapes with a less useful message,
    # or, worse, load an adapter of a same-shaped but different base without complaint.
    for info in infos:
        check_base(info, base)

    names = adapter_names(infos)
    with _loading(infos[0]):
        model = PeftModel.from_pretrained(base, str(infos[0].path), adapter_name=names[0])
    for info, name in zip(infos[1:], names[1:], strict=True):
        with _loading(info):
            model.load_adapter(str(info.path), adapter_name=name)
    model.eval()  # from_pretrained leaves the first adapter active and every adapter frozen
    return model
