"""Several domain adapters on one base: which one answers a question, and which are active while it does.

A question goes to the adapter whose KG contains its topic entity (the explicit topic,
else the best-scoring linked entity over all the KGs), and is grounded in that KG.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from kgpeft.inference.linking import LinkingError

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from kgpeft.inference.reasoner import KGReasoner

T = TypeVar("T", bound=tuple)


def route(question: str, topic: str | None, domains: Sequence[T]) -> T:
    """The domain (a tuple whose second item is its :class:`KGReasoner`) whose graph best links the question.

    Ties go to the earlier domain. When no graph links it, the first graph's linking error is raised.

    >>> route("Which region is Germany in?", None, [("countries", r1), ("elements", r2)])[0]  # doctest: +SKIP
    'countries'
    """
    if len(domains) == 1:
        return domains[0]
    best: T | None = None
    best_score = -1.0
    first_error: LinkingError | None = None
    for domain in domains:
        reasoner: KGReasoner = domain[1]
        try:
            choice = reasoner.link(question, topic)
        except LinkingError as err:
            first_error = first_error or err
            continue
        if choice.score > best_score:
            best, best_score = domain, choice.score
    if best is None:
        assert first_error is not None
        raise first_error
    return best


@contextlib.contextmanager
def activate(model: PreTrainedModel, adapters: Sequence[str | None]) -> Iterator[None]:
    """Within the block, exactly ``adapters`` are active (``[None]`` or ``[]``: every adapter disabled).

    The previously active adapters are restored afterwards.

    >>> with activate(model, ["countries", "elements"]):  # doctest: +SKIP
    ...     reasoner.ask("...")
    """
    names = [name for name in adapters if name is not None]
    if not hasattr(model, "peft_config"):  # a plain model: it is the base already
        yield
        return
    if not names:
        with model.disable_adapter():
            yield
        return
    previous = list(model.active_adapters)
    model.base_model.set_adapter(names if len(names) > 1 else names[0], inference_mode=True)
    try:
        yield
    finally:
        model.base_model.set_adapter(previous if len(previous) > 1 else previous[0], inference_mode=True)
