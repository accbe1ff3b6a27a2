"""Per-domain adapters: the ``kgpeft.json`` record, registry, loading several, combining, merging.

Heavy work (torch, peft) happens inside the functions, so importing this package is cheap.
"""

from kgpeft.adapters.combine import METHODS, combine_adapters
from kgpeft.adapters.loading import adapter_names, adapter_tokenizer, load_adapters
from kgpeft.adapters.merge import MergeResult, merge_adapters
from kgpeft.adapters.record import RECORD_FILE, AdapterRecord
from kgpeft.adapters.registry import AdapterInfo, find_adapters, kg_state, read_adapter

__all__ = [
    "METHODS",
    "RECORD_FILE",
    "AdapterInfo",
    "AdapterRecord",
    "MergeResult",
    "adapter_names",
    "adapter_tokenizer",
    "combine_adapters",
    "find_adapters",
    "kg_state",
    "load_adapters",
    "merge_adapters",
    "read_adapter",
]
