"""Type aliases shared across kgpeft.

Relation paths use one integer id space for both directions, as R-GCN does with inverse
relations: for a graph with ``R`` relations, a *step* ``s`` in ``[0, R)`` follows relation
``s`` forward (subject -> object) and ``s`` in ``[R, 2R)`` follows relation ``s - R``
backwards (object -> subject). A relation path is a tuple of steps.
"""

from __future__ import annotations

from os import PathLike

Step = int
"""A relation id in ``[0, 2R)``: forward below ``R``, inverse of ``s - R`` from ``R`` on."""

RelationPath = tuple[Step, ...]
"""A sequence of steps followed from a topic entity."""

EntityId = int
StrPath = str | PathLike[str]
