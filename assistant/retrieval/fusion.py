"""Weighted reciprocal-rank fusion, score adjustments and the round-robin over places: pure functions.

Nothing here knows about passages, indexes or settings, so the arithmetic that orders every answer's
sources is tested on plain tables (tests/test_fusion.py).
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Weights:
    """The numbers of one fusion: RRF constant, a weight per leg (dense, words, characters) and the
    adjustments after it (``assistant.settings.RetrievalSettings``; fitted by ``python -m eval fit-fusion``)."""

    rrf_k: float
    legs: tuple[float, ...]
    named_document_boost: float
    exact_place_factor: float
    superseded_weight: float


def weighted_rrf(rankings: Sequence[Sequence[K]], weights: Sequence[float], k: float) -> dict[K, float]:
    """Each key's sum over the rankings of ``weight / (k + rank)``, rank counted from 1.

    Keys come out in order of first appearance, ranking by ranking, so equal scores keep that order when
    sorted.
    """
    fused: dict[K, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, key in enumerate(ranking):
            fused[key] = fused.get(key, 0.0) + weight / (k + rank + 1)
    return fused


@dataclass(frozen=True)
class Adjustment:
    """``score + add``, then ``* factor``, for the keys in ``keys``."""

    keys: Collection[Hashable]
    add: float = 0.0
    factor: float = 1.0


def adjusted(scores: dict[K, float], adjustments: Sequence[Adjustment]) -> dict[K, float]:
    """The scores with each adjustment applied in turn to the keys it holds (order matters: + then *)."""
    out = dict(scores)
    for key in out:
        for adj in adjustments:
            if key in adj.keys:
                if adj.add:
                    out[key] += adj.add
                if adj.factor != 1.0:
                    out[key] *= adj.factor
    return out


def ranked(scores: dict[K, float]) -> list[tuple[K, float]]:
    """Best first; equal scores keep the dict's order."""
    return sorted(scores.items(), key=lambda x: -x[1])


def interleave(lists: Sequence[Sequence[tuple[K, float]]]) -> list[tuple[K, float]]:
    """Round-robin over ranked lists (one per place compared) so each gets its share of the top k; a key
    already taken from an earlier list is skipped."""
    if len(lists) == 1:
        return list(lists[0])
    out: list[tuple[K, float]] = []
    seen: set[K] = set()
    for rank in range(max((len(x) for x in lists), default=0)):
        for lst in lists:
            if rank < len(lst) and lst[rank][0] not in seen:
                seen.add(lst[rank][0])
                out.append(lst[rank])
    return out
