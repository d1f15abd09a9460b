"""BM25 over a build's segments: each segment's raw term counts (``assistant.index.postings``), scored with
the whole build's statistics.

A query scores with the IDF and average length of every passage live in the build: the same numbers, to
the bit, as ``bm25s`` (method "lucene", k1=1.5, b=0.75) over all live passages in build order
(tests/test_indexing.py checks it against bm25s). The word leg and the character leg score alike.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.index.postings import Postings

K1 = 1.5  # bm25s's defaults, which the product has always used
B = 0.75


@dataclass(frozen=True)
class LiveSegment:
    """A segment as one build sees it: which rows are live there, and their positions in the build."""

    postings: Postings
    vocab: dict[str, int]  # token -> local id
    live: np.ndarray  # bool per row
    position: np.ndarray  # int64 per row: position in the build (-1 when not live)
    all_live: bool

    def live_df(self) -> np.ndarray:
        """Per local token, the live rows that contain it. Dead rows are few (an update's leftovers), so their
        postings are found and subtracted: no corpus-sized temporary beyond one bool per posting."""
        p = self.postings
        df = np.diff(p.indptr).astype(np.int32)
        if not self.all_live:
            dead = np.flatnonzero(~self.live[p.indices])
            df -= np.bincount(np.searchsorted(p.indptr, dead, side="right") - 1,
                              minlength=len(p.vocab)).astype(np.int32)
        return df


class Vocabulary(Container[str]):
    """The tokens of a build's live passages, read from the segments' own lookups (a corpus-sized dict of
    its own would cost ~100 bytes per token: a million character n-grams at 100k passages)."""

    def __init__(self, segments: Sequence[LiveSegment], dfs: Sequence[np.ndarray]) -> None:
        self._parts = list(zip(segments, dfs, strict=True))

    def __contains__(self, token: object) -> bool:
        if token == "":
            return True  # as bm25s: the empty token is always known
        for seg, df in self._parts:
            lid = seg.vocab.get(token)  # type: ignore[arg-type]
            if lid is not None and df[lid]:
                return True
        return False

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = {""}
        yield ""
        for seg, df in self._parts:
            for tok in (seg.postings.vocab[i] for i in np.flatnonzero(df).tolist()):
                if tok not in seen:
                    seen.add(tok)
                    yield tok


class SegmentedBM25:
    """The sparse leg over a build's segments: ``get_scores`` gives what bm25s's would over the build's live
    passages; ``vocabulary`` and ``document_frequency`` answer from the segments' own tables."""

    def __init__(self, segments: Sequence[LiveSegment], num_docs: int) -> None:
        self.segments = list(segments)
        self.num_docs = num_docs
        lengths = np.zeros(num_docs, dtype=np.int64)
        for seg in self.segments:
            lengths[seg.position[seg.live]] = seg.postings.lengths[seg.live]
        self.avg_len = lengths.mean() if num_docs else 1.0
        self._df = [seg.live_df() for seg in self.segments]
        self.vocabulary = Vocabulary(self.segments, self._df)
        # each row's length part of the denominator, computed once (the same float64 operations as per query)
        self._norm = [K1 * ((1 - B) + B * seg.postings.lengths.astype(np.float64) / self.avg_len)
                      for seg in self.segments]

    def document_frequency(self, token: str) -> int:
        """Live passages that contain ``token`` (0 when none)."""
        total = 0
        for seg, df in zip(self.segments, self._df, strict=True):
            lid = seg.vocab.get(token)
            if lid is not None:
                total += int(df[lid])
        return total

    def get_scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 of every live passage, in build order; unknown tokens are skipped, repeated ones count again."""
        scores = np.zeros(self.num_docs, dtype=np.float32)
        n = self.num_docs
        for tok in tokens:
            df = self.document_frequency(tok)
            if not df:
                continue
            idf = np.float32(math.log(1 + (n - df + 0.5) / (df + 0.5)))
            for seg, norm in zip(self.segments, self._norm, strict=True):
                lid = seg.vocab.get(tok)
                if lid is None:
                    continue
                p = seg.postings
                rows, tf = p.indices[p.indptr[lid] : p.indptr[lid + 1]], p.counts[p.indptr[lid] : p.indptr[lid + 1]]
                if not seg.all_live:
                    keep = seg.live[rows]
                    rows, tf = rows[keep], tf[keep]
                tf = tf.astype(np.float64)
                # the same operations, in the same precision, as bm25s's lucene scorer at index time
                tfc = tf / (norm[rows] + tf)
                scores[seg.position[rows]] += (idf * tfc).astype(np.float32)
        return scores


def live_segment(postings: Postings, live: np.ndarray, position: np.ndarray) -> LiveSegment:
    return LiveSegment(postings, postings.lookup, live, position, bool(live.all()))


def char_bm25(words: SegmentedBM25) -> SegmentedBM25 | None:
    """The character leg over the same live passages as the word leg; None when a segment has no
    character counts (an index written before them: ``policy-qa index --rebuild`` adds them)."""
    chars = [seg.postings.char for seg in words.segments]
    if any(c is None for c in chars):
        return None
    return SegmentedBM25(
        [live_segment(c, seg.live, seg.position) for c, seg in zip(chars, words.segments, strict=True)],  # type: ignore[arg-type]
        words.num_docs,
    )
