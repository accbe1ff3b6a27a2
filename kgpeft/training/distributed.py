"""Several training processes (``accelerate launch``, torchrun): what runs once, and how the ranks agree.

Every rank runs ``kgpeft fit`` from the top with the same arguments. Work that writes
shared state runs on the main process first: the output checks (and the deletion of an
earlier run's checkpoints), then the KG, questions, teacher and soft targets, which land
in the on-disk cache. The other ranks wait, then run the same code and find every
artefact in the cache (entries are written atomically with a checksum manifest, so a
waiting rank never reads half an entry): the teacher and soft targets are computed once.
When the main process fails, it reports the error and the others stop with the same exit
code without repeating it (:class:`MainProcessError`), instead of hanging at a barrier.
The adapter folder is written by the main process alone, after every rank has trained.

In one process (no ``WORLD_SIZE`` above 1) nothing here creates distributed state:
``on_main`` and ``main_first`` just call the work.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from kgpeft.errors import KGPeftError

if TYPE_CHECKING:
    from accelerate import PartialState

T = TypeVar("T")

# Where launchers put the world size and the global rank: torchrun and `accelerate launch`
# (WORLD_SIZE, RANK), Intel MPI / MPICH (PMI_*) and Open MPI (OMPI_COMM_WORLD_*), as accelerate reads them.
_SIZE_VARIABLES = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
_RANK_VARIABLES = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK")


def _env_int(names: tuple[str, ...], default: int) -> int:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return default


def world_size() -> int:
    """How many processes the launcher started for this run (1 when run directly)."""
    return _env_int(_SIZE_VARIABLES, 1)


def is_main_process() -> bool:
    """Whether this is the process that writes outputs and prints (rank 0; always true in one process)."""
    return _env_int(_RANK_VARIABLES, 0) == 0


class MainProcessError(KGPeftError):
    """Raised on the other ranks when the main process failed: it has already reported why, on one line."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def distributed_state() -> PartialState | None:
    """accelerate's process state when several processes run (None in one process).

    The first :class:`~kgpeft.training.KGDistillConfig` built sets it up (TrainingArguments
    does, on CPU when :func:`train_on_cpu`); it also picks each rank's GPU, which
    :func:`kgpeft.modeling.load_base_model` places the model on. Waits between ranks (the others
    wait while the main process fits the teacher) are bounded by the process group's timeout:
    ``train.ddp_timeout`` on GPUs, torch's 30 minutes for gloo on CPU.
    """
    if world_size() <= 1:
        return None
    from accelerate import PartialState

    return PartialState()


def train_on_cpu() -> bool:
    """Whether several processes were launched on a machine without a GPU (they then train on CPU, over gloo).

    accelerate starts several CPU processes only through mpirun; on a CPU machine they come from
    ``accelerate launch --multi_gpu`` (torchrun), and accelerate's state must then be told to use
    the CPU, or it would stay a single-process state in every rank, each training alone.
    """
    import torch

    return world_size() > 1 and not torch.cuda.is_available()


def _share_outcome(outcome: tuple[str, int] | None) -> tuple[str, int] | None:
    """The main process's outcome (None: it succeeded; else its message and exit code), on every rank."""
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([outcome], from_process=0)[0]


def on_main(work: Callable[[], T], state: PartialState | None) -> T | None:
    """``work()`` on the main process only (None elsewhere); every rank returns when it is done, or raises if it failed."""
    if state is None:
        return work()
    if state.is_main_process:
        try:
            result = work()
        except BaseException as err:  # the others must not wait for a broadcast that never comes
            code = err.exit_code if isinstance(err, KGPeftError) else 1
            _share_outcome((" ".join(str(err).splitlines()) or type(err).__name__, code))
            raise
        _share_outcome(None)
        return result
    failed = _share_outcome(None)
    if failed is not None:
        raise MainProcessError(*failed)
    return None


def main_first(work: Callable[[], T], state: PartialState | None) -> T:
    """``work()`` on the main process, then on the others (which find its cached results); its value on every rank.

    >>> teacher = main_first(lambda: fit_teacher("gnn", kg, train), state)  # doctest: +SKIP
    """
    result = on_main(work, state)
    if state is None or state.is_main_process:
        return result  # type: ignore[return-value]
    return work()


def wait_for_everyone(state: PartialState | None) -> None:
    """A barrier across the ranks (nothing in one process)."""
    if state is not None:
        state.wait_for_everyone()


def leave_process_group() -> None:
    """Destroy this process's process group, if one was made, before the process exits.

    Left to interpreter shutdown, gloo's threads can outlive it and the process aborts
    ("terminate called without an active exception"), turning a finished run into a failure.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
