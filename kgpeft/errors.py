"""Typed errors raised by library code. Only :mod:`kgpeft.cli` turns them into messages and exit codes."""

from __future__ import annotations


class KGPeftError(Exception):
    """Base class of every error kgpeft raises on bad input or a bad environment.

    The message is one line a user can act on: what is wrong, where, and what to do.
    """

    exit_code: int = 2


class KGLoadError(KGPeftError):
    """An RDF source could not be read or yields no usable graph (names file, line, column)."""


class DataError(KGPeftError):
    """A question file or dataset configuration is unusable (names file and line)."""


class ModelLoadError(KGPeftError):
    """A base model, tokenizer or adapter could not be resolved or loaded."""


class TeacherError(KGPeftError):
    """A teacher cannot be built, fitted or loaded (e.g. vocabulary mismatch)."""


class AdapterError(KGPeftError):
    """An adapter directory is missing, incompatible with the base model, or stale against its KG."""


class NotBuiltError(KGPeftError):
    """A command or feature that this version of kgpeft does not provide yet."""

    exit_code = 3


class OutputError(KGPeftError):
    """An output path cannot be written without losing something: not ours, a file, read-only, or an input."""


class StoreError(KGLoadError):
    """A SPARQL store is down, slow, refuses a query or answers something that is not SPARQL results."""
