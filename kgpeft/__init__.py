"""kgpeft: knowledge-graph path distillation into LoRA adapters for decoder LLMs."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
