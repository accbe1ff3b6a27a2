"""``LengthBucketSampler``: batches of similar lengths, in random order, every row once per epoch."""

from __future__ import annotations

import random

from kgpeft.training.sampler import CHUNK_BATCHES, LengthBucketSampler


def _lengths(n: int = 1000, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.choice([70, 90, 130]) + rng.randrange(10) for _ in range(n)]


def _batches(sampler: LengthBucketSampler) -> list[list[int]]:
    order = list(sampler)
    return [order[i : i + sampler.batch_size] for i in range(0, len(order), sampler.batch_size)]


def test_every_row_once_and_full_batches_first():
    lengths = _lengths(1003)
    sampler = LengthBucketSampler(lengths, batch_size=8, seed=1)
    order = list(sampler)
    assert sorted(order) == list(range(len(lengths)))
    batches = _batches(sampler)
    assert all(len(b) == 8 for b in batches[:-1]) and len(batches[-1]) == 1003 % 8


def test_batches_carry_far_less_padding_than_random_ones():
    lengths = _lengths()

    def padded(batches: list[list[int]]) -> int:
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    shuffled = list(range(len(lengths)))
    random.Random(0).shuffle(shuffled)
    random_batches = [shuffled[i : i + 8] for i in range(0, len(shuffled), 8)]
    bucketed = _batches(LengthBucketSampler(lengths, batch_size=8))
    assert padded(bucketed) < 0.85 * padded(random_batches)
    assert padded(bucketed) < 1.05 * sum(lengths)


def test_batch_order_is_not_a_length_curriculum():
    # transformers' group_by_length walks each megabatch longest first; here the batch
    # lengths of the first and the second half of an epoch have about the same mean.
    lengths = _lengths(8 * CHUNK_BATCHES * 4)
    batches = _batches(LengthBucketSampler(lengths, batch_size=8, seed=3))
    means = [sum(lengths[i] for i in b) / len(b) for b in batches]
    half = len(means) // 2
    first, second = sum(means[:half]) / half, sum(means[half:]) / (len(means) - half)
    assert abs(first - second) < 10


def test_deterministic_per_seed_and_epoch():
    lengths = _lengths()
    a, b = LengthBucketSampler(lengths, 8, seed=5), LengthBucketSampler(lengths, 8, seed=5)
    assert list(a) == list(b)
    b.set_epoch(1)
    assert list(a) != list(b)
    a.set_epoch(1)
    assert list(a) == list(b)
