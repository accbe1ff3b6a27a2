"""kgpeft: knowledge-graph path distillation into LoRA adapters for decoder LLMs.

>>> import kgpeft
>>> result = kgpeft.fit("kg/countries.ttl")  # doctest: +SKIP
>>> result.adapter_dir, result.metrics["train_loss"]  # doctest: +SKIP
>>> report = kgpeft.evaluate(result.adapter_dir, compare=["base", "teacher"])  # doctest: +SKIP
>>> {r.name: r.metrics["hits@1"] for r in report.results}  # doctest: +SKIP
{'student': 0.93, 'base': 0.24, 'teacher': 1.0}
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"


def _no_phoning_home() -> None:
    """Turn off what the Hugging Face stack sends or checks over the network on its own.

    huggingface_hub reads these variables once, when it is first imported (TRL pings the hub
    for telemetry each time a trainer is built), so they are set here, before any kgpeft module
    imports it. ``setdefault``: a user's own setting wins. Hub ids passed by the user still
    download; nothing is forced offline.
    """
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_UPDATE_CHECK", "1")  # the `hf` CLI's PyPI check
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # not network: a fork warning per run
    # A program that imported huggingface_hub before kgpeft: its constants are already read.
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None and os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1":
        constants.HF_HUB_DISABLE_TELEMETRY = True
    # Compiled kernels from the Hub (the `kernels` package, which transformers >= 5.25 installs):
    # transformers then loads every model with `use_kernels` on unless USE_HUB_KERNELS says no, and
    # bitsandbytes' CPU backend, on a CPU with AVX512-BF16, downloads a 4-bit matmul when it is
    # imported (no switch). kgpeft downloads nothing at run time: transformers' switch is set, and
    # the package is hidden (its import fails, so bitsandbytes keeps its own kernels) unless the
    # program imported it before kgpeft or USE_HUB_KERNELS=YES asks for Hub kernels.
    os.environ.setdefault("USE_HUB_KERNELS", "NO")
    if os.environ["USE_HUB_KERNELS"].upper() in ("NO", "0", "FALSE", "OFF"):
        sys.modules.setdefault("kernels", None)  # type: ignore[arg-type]


_no_phoning_home()

if TYPE_CHECKING:
    from kgpeft.evaluation.api import evaluate_adapter as evaluate
    from kgpeft.kg import load_graph
    from kgpeft.training.pipeline import fit

# Imported on first use: `import kgpeft` (and `kgpeft --help`) must not pay for torch.
# name -> (module, attribute): `kgpeft.evaluate` is evaluation's adapter-level entry point.
_LAZY = {
    "evaluate": ("kgpeft.evaluation.api", "evaluate_adapter"),
    "fit": ("kgpeft.training.pipeline", "fit"),
    "load_graph": ("kgpeft.kg", "load_graph"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'kgpeft' has no attribute {name!r}")


__all__ = ["__version__", "evaluate", "fit", "load_graph"]
