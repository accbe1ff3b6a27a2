"""Loading what answering needs: the base model with zero or more adapters, and the graph to verify against.

Adapters are loaded through :func:`kgpeft.adapters.load_adapters` (plain PEFT, with its
checks against the base model and the KG), each under its domain as the PEFT adapter
name; without adapters the base model alone answers (still KG-constrained).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kgpeft.errors import AdapterError
from kgpeft.types import StrPath

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from kgpeft.adapters import AdapterInfo
    from kgpeft.kg import KnowledgeGraph

logger = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """A model ready to answer: ``adapters`` pairs each PEFT adapter name with its folder's record, in load order."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    adapters: list[tuple[str, AdapterInfo]] = field(default_factory=list)


def load_model(
    adapter_dirs: Sequence[StrPath] = (), *, base_model: str | None = None, load_in_4bit: bool | None = None
) -> LoadedModel:
    """The base model (from the first adapter's record unless ``base_model``) with every adapter loaded.

    >>> loaded = load_model(["adapters/countries"])  # doctest: +SKIP
    >>> [name for name, _ in loaded.adapters]  # doctest: +SKIP
    ['countries']
    """
    from kgpeft.adapters import adapter_names, adapter_tokenizer, load_adapters, read_adapter
    from kgpeft.modeling import load_base_model

    if not adapter_dirs:
        if not base_model:
            raise AdapterError("give an adapter folder (--adapter) or a base model (--base-model)")
        model, tokenizer = load_base_model(base_model, load_in_4bit=True if load_in_4bit is None else load_in_4bit)
        return LoadedModel(model.eval(), tokenizer)
    infos = [read_adapter(folder) for folder in adapter_dirs]
    model = load_adapters(base_model, adapter_dirs, load_in_4bit=load_in_4bit)
    return LoadedModel(model.eval(), adapter_tokenizer(infos[0]), list(zip(adapter_names(infos), infos, strict=True)))


def load_kg(path: StrPath | None, info: AdapterInfo | None = None) -> KnowledgeGraph:
    """The graph at ``path``, else the one the adapter was trained on; a warning when it is not that graph.

    >>> load_kg(None, read_adapter("adapters/countries")).source  # doctest: +SKIP
    '/work/kg/countries.ttl'
    """
    from kgpeft.kg import load_graph

    if path is None:
        if info is None or not info.record.kg_path:
            raise AdapterError("no knowledge graph given: pass --kg FILE")
        path = info.record.kg_path
    kg = load_graph(path)
    if info is not None and kg.sha256 not in {sha for _, sha in info.record.kgs()}:
        logger.warning(
            "the graph %s is not the one adapter %s was trained on; answers are verified against %s",
            path,
            info.path,
            path,
        )
    return kg
