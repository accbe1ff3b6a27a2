"""kgpeft: knowledge-graph path distillation into LoRA adapters for decoder LLMs.

>>> import kgpeft
>>> result = kgpeft.fit("kg/countries.ttl")  # doctest: +SKIP
>>> result.adapter_dir, result.metrics["train_loss"]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from kgpeft.kg import load_graph
    from kgpeft.training.pipeline import fit

# Imported on first use: `import kgpeft` (and `kgpeft --help`) must not pay for torch.
_LAZY = {"fit": "kgpeft.training.pipeline", "load_graph": "kgpeft.kg"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kgpeft' has no attribute {name!r}")


__all__ = ["__version__", "fit", "load_graph"]
