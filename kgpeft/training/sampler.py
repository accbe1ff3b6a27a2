"""Length-bucketed batches in random order: less padding without a length curriculum.

Path rows differ in length by hop count (a 1-hop row is ~70 tokens, a 3-hop row ~130), and
the collator pads every row to the longest in its batch, so random batches spend about a
third of their compute on padding. transformers' ``group_by_length`` removes the padding but
walks each 400-row megabatch from the longest batch to the shortest: in a run of a few
hundred steps that is a 3-hop -> 1-hop curriculum ending on the easiest rows. This sampler
sorts rows by length within large random chunks, cuts batches, then shuffles the batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

CHUNK_BATCHES = 64
"""Batches per sorted chunk: large enough that neighbours in a chunk have nearly equal lengths."""


class LengthBucketSampler(Sampler[int]):
    """Indices such that every ``batch_size`` consecutive ones have similar lengths; batches come in random order.

    ``batch_size`` is the rows of one optimiser step; with gradient accumulation its
    micro-batches are consecutive slices of a bucket, so they are homogeneous as well.

    Deterministic for a ``seed`` and an epoch (:meth:`set_epoch`), so resuming replays the same order.

    >>> sampler = LengthBucketSampler([5, 1, 4, 2, 3, 6], batch_size=2, seed=0)
    >>> batches = [sorted(list(sampler)[i : i + 2]) for i in range(0, 6, 2)]
    >>> sorted(batches)  # rows of neighbouring lengths share a batch
    [[0, 2], [1, 3], [4, 5]]
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, *, seed: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.lengths = torch.as_tensor(list(lengths), dtype=torch.long)
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by the Trainer (through accelerate) at the start of each epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator)
        batches: list[torch.Tensor] = []
        for chunk in order.split(self.batch_size * CHUNK_BATCHES):
            # A stable sort keeps the random order among rows of equal length
            chunk = chunk[torch.sort(self.lengths[chunk], stable=True).indices]
            batches.extend(chunk.split(self.batch_size))
        # Only the last chunk can end in a short batch; it stays last so that the DataLoader's
        # cuts every batch_size indices fall on batch boundaries.
        tail = batches.pop() if len(batches[-1]) < self.batch_size else None
        for i in torch.randperm(len(batches), generator=generator).tolist():
            yield from batches[i].tolist()
        if tail is not None:
            yield from tail.tolist()
