"""Per-domain adapters: the ``kgpeft.json`` record, registry, routing, combining, merging."""

from kgpeft.adapters.record import RECORD_FILE, AdapterRecord

__all__ = ["RECORD_FILE", "AdapterRecord"]
