"""The dense leg over a build's segments, behind Chroma's ``collection.query`` signature.

Sealed segments are Chroma collections (HNSW); passages of theirs that a later build replaced or removed
stay in them (segments never change) and are skipped here, asking Chroma for more when some came back.
The small segments written by updates are searched exactly with numpy. The best of both, by cosine
distance, is what one collection holding just the build's live passages would return.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SealedPart:
    collection: Any  # chromadb Collection
    row_of: dict[str, int]  # passage id -> row in the segment
    row_doc: list[str]  # doc_id per row
    live: np.ndarray  # bool per row: live in this build
    live_docs: dict[str, int]  # doc_id -> its rows here, for documents live in this segment
    rows: int

    @cached_property
    def dead(self) -> int:
        """Rows of replaced or removed documents (asked on every query: counted once)."""
        return self.rows - sum(self.live_docs.values())

    def keeps(self, passage_id: str, allowed: set[str] | None) -> bool:
        row = self.row_of.get(passage_id)
        return row is not None and bool(self.live[row]) and (allowed is None or self.row_doc[row] in allowed)


@dataclass(frozen=True)
class DeltaPart:
    vectors: np.ndarray  # (n, dim) float32, unit rows
    ids: list[str]
    docs: np.ndarray  # doc_id per row


def _allowed(where: dict[str, Any] | None) -> set[str] | None:
    """The doc ids a ``{"doc_id": {"$in": [...]}}`` (or ``{"doc_id": x}``) filter allows; None = all."""
    if not where:
        return None
    cond = where.get("doc_id")
    if len(where) != 1 or cond is None:
        raise ValueError(f"unsupported filter: {where}")
    if isinstance(cond, dict):
        if set(cond) != {"$in"}:
            raise ValueError(f"unsupported filter: {where}")
        return {str(d) for d in cond["$in"]}
    return {str(cond)}


class SegmentedCollection:
    """``query`` over sealed (Chroma) and delta (numpy) parts, skipping passages not live in the build.

    A doc_id filter naming at most ``filter_docs`` documents is Chroma's to apply; a longer one (a place's
    hundreds of documents) costs Chroma more than skipping passages of other documents here.
    """

    def __init__(self, sealed: Sequence[SealedPart], delta: DeltaPart | None, filter_docs: int = 64) -> None:
        self.sealed = list(sealed)
        self.delta = delta if delta is not None and delta.ids else None
        self.filter_docs = filter_docs

    def count(self) -> int:
        return sum(int(p.live.sum()) for p in self.sealed) + (len(self.delta.ids) if self.delta else 0)

    def query(self, query_embeddings: Sequence[Sequence[float]], n_results: int = 10,
              where: dict[str, Any] | None = None, include: Sequence[str] = ("distances",)) -> dict[str, Any]:
        """Ids and cosine distances of the ``n_results`` nearest live passages, per query embedding."""
        allowed = _allowed(where)
        short = allowed is None or len(allowed) <= self.filter_docs
        if len(self.sealed) == 1 and not self.sealed[0].dead and self.delta is None and short:  # Chroma's own
            res = self.sealed[0].collection.query(query_embeddings=list(query_embeddings), n_results=n_results,
                                                  where=where, include=["distances"])
            return {"ids": res["ids"], "distances": res["distances"]}
        ids_out, dist_out = [], []
        for q in query_embeddings:
            hits: list[tuple[float, str]] = []
            for part in self.sealed:
                hits.extend(self._sealed_hits(part, q, n_results, where if short else None, allowed))
            if self.delta is not None:
                hits.extend(self._delta_hits(np.asarray(q, dtype=np.float32), n_results, allowed))
            hits.sort()
            ids_out.append([i for _, i in hits[:n_results]])
            dist_out.append([d for d, _ in hits[:n_results]])
        return {"ids": ids_out, "distances": dist_out}

    @staticmethod
    def _sealed_hits(part: SealedPart, q: Sequence[float], n: int, where: dict[str, Any] | None,
                     allowed: set[str] | None) -> list[tuple[float, str]]:
        """The n nearest live (and allowed) passages of one sealed segment, asking for more while passages of
        replaced documents (or, with ``where`` None, of documents the filter leaves out) fill the answer."""
        share = 1.0
        if allowed is not None:
            wanted = sum(part.live_docs.get(d, 0) for d in allowed)
            if not wanted:
                return []
            share = 1.0 if where is not None else wanted / part.rows
        fetch = min(int(n / share) + min(part.dead, n), part.rows)
        while True:
            res = part.collection.query(query_embeddings=[q], n_results=fetch, where=where, include=["distances"])
            ids, dists = res["ids"][0], res["distances"][0]
            hits = [(float(d), i) for i, d in zip(ids, dists, strict=False) if part.keeps(i, allowed)]
            if len(hits) >= n or len(ids) < fetch or fetch >= part.rows:
                return hits[:n]
            fetch = min(fetch * 2, part.rows)

    def _delta_hits(self, q: np.ndarray, n: int, allowed: set[str] | None) -> list[tuple[float, str]]:
        delta = self.delta
        assert delta is not None
        q = q / (np.linalg.norm(q) + 1e-12)
        dist = 1.0 - delta.vectors @ q
        if allowed is not None:  # a few rows against a set: never the whole allowed list as an array
            dist = np.where(np.fromiter((d in allowed for d in delta.docs.tolist()), bool, len(delta.ids)), dist,
                            np.inf)
        top = np.argsort(dist, kind="stable")[:n]
        return [(float(dist[i]), delta.ids[i]) for i in top if np.isfinite(dist[i])]


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1, as Chroma's cosine space compares them."""
    v = np.asarray(vectors, dtype=np.float32)
    return v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-12)
