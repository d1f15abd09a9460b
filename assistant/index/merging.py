"""BM25 counts of many parts (batches of a build, documents copied from older segments) as one segment's.

``Postings.concat`` gathers every part's postings as int64 (row, column, count) triples and sorts them
all: at 100,000 passages that transient is several times the counts themselves. Here each part is
placed straight into the output: a column's postings are its parts' postings in part order, and rows
grow part by part, so the result is the one ``concat`` gives (same vocabulary order, same arrays) with
only the output and one part's offsets in memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.index.postings import Postings

_ARRAYS = ("indptr", "indices", "counts", "lengths")


@dataclass(frozen=True)
class Spilled:
    """A batch's counts on disk until the segment's are merged: a build holds none of them meanwhile."""

    folder: Path
    legs: tuple[str, ...]  # "words", and "char" when the batch has character counts

    def load(self, leg: str) -> Postings:
        vocab = json.loads((self.folder / f"{leg}.json").read_text(encoding="utf-8"))
        with np.load(self.folder / f"{leg}.npz", allow_pickle=False) as z:
            return Postings(vocab, *(z[name] for name in _ARRAYS))


def spill(p: Postings, folder: Path) -> Spilled:
    """Write ``p`` (and its character counts) under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    legs = {"words": p, "char": getattr(p, "char", None)}
    for leg, counts in legs.items():
        if counts is not None:
            (folder / f"{leg}.json").write_text(json.dumps(counts.vocab, ensure_ascii=False), encoding="utf-8")
            np.savez(folder / f"{leg}.npz", **{name: getattr(counts, name) for name in _ARRAYS})
    return Spilled(folder, tuple(leg for leg, counts in legs.items() if counts is not None))


Part = tuple[Postings | Spilled, np.ndarray]  # counts (in memory or spilled) and the rows ``sel`` taken


def merge(parts: Sequence[Part]) -> Postings:
    """The rows ``sel`` (ascending) of each part, in order; character counts too when every part has them.
    Spilled parts are read one at a time (twice: to size the output, then to fill it)."""
    words = _merge([(_getter(p, "words"), sel) for p, sel in parts])
    if hasattr(words, "with_char") and all(_has_char(p) for p, _ in parts):
        return words.with_char(_merge([(_getter(p, "char"), sel) for p, sel in parts]))
    return words


def _has_char(p: Postings | Spilled) -> bool:
    return "char" in p.legs if isinstance(p, Spilled) else getattr(p, "char", None) is not None


def _getter(p: Postings | Spilled, leg: str) -> Callable[[], Postings]:
    if isinstance(p, Spilled):
        return lambda: p.load(leg)
    return (lambda: p) if leg == "words" else (lambda: p.char)  # type: ignore[attr-defined,return-value]


def _merge(parts: Sequence[tuple[Callable[[], Postings], np.ndarray]]) -> Postings:
    vocab: dict[str, int] = {}
    remaps, kept, sizes, rows = [], [], [], 0
    lengths = []
    for get, sel in parts:
        p = get()
        remaps.append(np.array([vocab.setdefault(t, len(vocab)) for t in p.vocab], dtype=np.int64))
        new_row = np.full(p.rows, -1, dtype=np.int64)
        new_row[sel] = np.arange(rows, rows + len(sel))
        kept.append(new_row)
        sizes.append(_kept_per_column(p, new_row) if len(p.vocab) else np.zeros(0, np.int64))
        lengths.append(p.lengths[sel])
        rows += len(sel)
    per_token = np.zeros(len(vocab), dtype=np.int64)
    for remap, n in zip(remaps, sizes, strict=True):
        per_token[remap] += n  # a part's tokens are distinct
    used = np.flatnonzero(per_token)  # tokens only dead passages had are dropped, as concat drops them
    new_id = np.full(len(vocab), -1, dtype=np.int64)
    new_id[used] = np.arange(len(used))
    indptr = np.zeros(len(used) + 1, dtype=np.int64)
    np.cumsum(per_token[used], out=indptr[1:])
    indices = np.empty(int(indptr[-1]), dtype=np.int32)
    counts = np.empty(int(indptr[-1]), dtype=np.int32)
    cursor = indptr[:-1].copy()
    for (get, _), remap, new_row, n in zip(parts, remaps, kept, sizes, strict=True):
        if not len(n):
            continue
        p = get()
        keep = new_row[p.indices] >= 0
        has = n > 0
        cols = new_id[remap][has]
        rank = np.arange(int(n.sum())) - np.repeat(np.cumsum(n)[has] - n[has], n[has])
        dest = np.repeat(cursor[cols], n[has]) + rank
        indices[dest] = new_row[p.indices[keep]]
        counts[dest] = p.counts[keep]
        cursor[cols] += n[has]
    names = list(vocab)
    return Postings([names[i] for i in used], indptr, indices, counts,
                    np.concatenate(lengths).astype(np.int64) if lengths else np.zeros(0, np.int64))


def _kept_per_column(p: Postings, new_row: np.ndarray) -> np.ndarray:
    """Postings per local column whose row is selected."""
    keep = new_row[p.indices] >= 0
    if keep.all():
        return np.diff(p.indptr)
    return np.bincount(p.columns()[keep], minlength=len(p.vocab))
