"""Term counts of a segment's passages, as written to disk: jieba words and character n-grams.

A segment stores, per token, the passages that contain it and how often (a CSC matrix of counts), and
each passage's length. Nothing corpus-wide is baked in, so adding a document writes only its own
segment; ``assistant.index.sparse`` scores them with the statistics of a whole build.

Beside the jieba words, each segment keeps a second set of counts over character n-grams (``char_grams``):
the character leg, which finds a passage whatever way jieba cut the question's words or the passage's
(开办补贴 vs 开个小店…补贴). It is built, merged and scored exactly as the word counts are.

This module decides what a build writes, so it is one of the build's pipeline modules (a change re-chunks
every document); the scoring in ``sparse`` is not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from assistant.core.text import search_form

# Character n-gram sizes of the character leg. Unigrams let a one-character overlap count (店 in 小店 and
# 店铺); bigrams carry most of the signal. Changing them changes the index (a rebuild).
CHAR_SIZES = (1, 2)
CHAR_FOLDER = "char"  # the character counts, inside a segment's bm25/ folder
# a run of Han characters (each one unit) or of Latin letters and digits (one unit: 2023, r&d -> r, d)
_UNIT = re.compile(r"[\u3400-\u9fff]|[0-9a-z]+")
_BREAK = re.compile(r"[^\u3400-\u9fff0-9a-z]+")


def char_grams(text: str, sizes: tuple[int, ...] = CHAR_SIZES) -> list[str]:
    """Character n-grams of the search form (lower-cased), never across punctuation or spaces.

    A Han character is one unit and a run of Latin letters or digits another, so 2023年 gives
    ``2023``, ``年``, ``2023年``: the counts do not depend on how jieba segments a sentence.
    """
    grams: list[str] = []
    for run in _BREAK.split(search_form(text).lower()):
        units = _UNIT.findall(run)
        for n in sizes:
            grams.extend("".join(units[i : i + n]) for i in range(len(units) - n + 1))
    return grams


def compact_counts(counts: np.ndarray) -> np.ndarray:
    """Term counts in the narrowest unsigned type that holds them (nearly all fit a byte): at 100k passages
    the character leg alone holds ~60M counts."""
    top = int(counts.max()) if counts.size else 0
    dtype = np.uint8 if top <= np.iinfo(np.uint8).max else np.uint16 if top <= np.iinfo(np.uint16).max else np.int32
    return counts if counts.dtype == dtype else counts.astype(dtype)


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


@dataclass(frozen=True)
class Postings:
    """Term counts of one segment's passages: ``indptr``/``indices``/``counts`` is CSC (token x passage)."""

    vocab: list[str]
    indptr: np.ndarray  # int64, len(vocab) + 1
    indices: np.ndarray  # int32 passage rows
    counts: np.ndarray  # term frequency (uint8 where every count fits, as loaded: ``compact_counts``)
    lengths: np.ndarray  # int64 tokens per passage
    char: Postings | None = None  # the same passages' character n-gram counts (None: an index from before them)

    @property
    def rows(self) -> int:
        return len(self.lengths)

    @classmethod
    def from_tokens(cls, docs: Sequence[Sequence[str]], texts: Sequence[str] | None = None) -> Postings:
        """Passages as token lists (a passage with no token is ``[""]``, as bm25s indexes it); with ``texts``
        (the same passages' text), also their character n-gram counts."""
        if texts is not None:
            char = cls.from_tokens([char_grams(t) or [""] for t in texts])
            return cls.from_tokens(docs).with_char(char)
        vocab: dict[str, int] = {}
        rows, cols, counts = [], [], []
        for r, tokens in enumerate(docs):
            tf: dict[int, int] = {}
            for t in tokens:
                tid = vocab.setdefault(t, len(vocab))
                tf[tid] = tf.get(tid, 0) + 1
            rows.extend([r] * len(tf))
            cols.extend(tf)
            counts.extend(tf.values())
        lengths = np.array([len(t) for t in docs], dtype=np.int64)
        return cls._pack(list(vocab), np.array(rows, np.int64), np.array(cols, np.int64), np.array(counts), lengths)

    @classmethod
    def _pack(cls, vocab: list[str], rows: np.ndarray, cols: np.ndarray, counts: np.ndarray,
              lengths: np.ndarray) -> Postings:
        order = np.lexsort((rows, cols))
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(cols, minlength=len(vocab)), out=indptr[1:])
        return cls(vocab, indptr, rows[order].astype(np.int32), counts[order].astype(np.int32), lengths)

    def with_char(self, char: Postings | None) -> Postings:
        """These counts with ``char`` as their character counts (same passages, same order)."""
        if char is not None and char.rows != self.rows:
            raise ValueError(f"{char.rows} passages of character counts for {self.rows} passages")
        return Postings(self.vocab, self.indptr, self.indices, self.counts, self.lengths, char)

    def columns(self) -> np.ndarray:
        """The token id of every posting."""
        return np.repeat(np.arange(len(self.vocab), dtype=np.int64), np.diff(self.indptr))

    @classmethod
    def concat(cls, parts: Iterable[tuple[Postings, np.ndarray]]) -> Postings:
        """The rows ``sel`` of each part, in order, as one segment (a merge copies counts, never re-tokenizes);
        character counts too when every part has them."""
        parts = list(parts)
        words = cls._concat(parts)
        if all(p.char is not None for p, _ in parts):
            return words.with_char(cls._concat([(p.char, sel) for p, sel in parts]))  # type: ignore[misc]
        return words

    @classmethod
    def _concat(cls, parts: list[tuple[Postings, np.ndarray]]) -> Postings:
        vocab: dict[str, int] = {}
        rows, cols, counts, lengths = [], [], [], []
        base = 0
        for p, sel in parts:
            new_row = np.full(p.rows, -1, dtype=np.int64)
            new_row[sel] = np.arange(base, base + len(sel))
            keep = new_row[p.indices] >= 0
            remap = np.array([vocab.setdefault(t, len(vocab)) for t in p.vocab], dtype=np.int64)
            rows.append(new_row[p.indices[keep]])
            cols.append(remap[p.columns()[keep]] if len(p.vocab) else np.zeros(0, np.int64))
            counts.append(p.counts[keep])
            lengths.append(p.lengths[sel])
            base += len(sel)
        used = np.zeros(len(vocab), dtype=bool)
        c = _cat(cols, np.int64)
        used[c] = True  # drop tokens only dead passages had
        keep_ids = np.flatnonzero(used)
        old_to_new = np.full(len(vocab), -1, dtype=np.int64)
        old_to_new[keep_ids] = np.arange(len(keep_ids))
        names = list(vocab)
        return cls._pack([names[i] for i in keep_ids], _cat(rows, np.int64), old_to_new[c], _cat(counts, np.int32),
                         _cat(lengths, np.int64))

    @cached_property
    def lookup(self) -> dict[str, int]:
        """Token -> local id (built once per segment: segments never change)."""
        return {t: i for i, t in enumerate(self.vocab)}

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        np.savez(folder / "postings.npz", indptr=self.indptr, indices=self.indices,
                 counts=compact_counts(self.counts), lengths=self.lengths)
        if self.char is not None:
            self.char.save(folder / CHAR_FOLDER)

    @classmethod
    def load(cls, folder: Path) -> Postings:
        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        with np.load(folder / "postings.npz", allow_pickle=False) as z:
            p = cls(vocab, z["indptr"], z["indices"], compact_counts(z["counts"]), z["lengths"])
        if len(p.indptr) != len(vocab) + 1 or len(p.indices) != len(p.counts):
            raise ValueError("postings do not match their vocabulary")
        if (folder / CHAR_FOLDER / "vocab.json").is_file():
            p = p.with_char(cls.load(folder / CHAR_FOLDER))
        return p


