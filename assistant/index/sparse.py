"""BM25 over segments: each segment keeps raw term counts; scores use the whole build's statistics.

A segment stores, per token, the passages that contain it and how often (a CSC matrix of counts), and
each passage's length. Nothing corpus-wide is baked in, so adding a document writes only its own
segment, and a query still scores with the IDF and average length of every passage live in the build:
the same numbers, to the bit, as ``bm25s`` (method "lucene", k1=1.5, b=0.75) over all live passages in
build order (tests/test_indexing.py checks it against bm25s).

Beside the jieba words, each segment keeps a second set of counts over character n-grams (``char_grams``):
the character leg, which finds a passage whatever way jieba cut the question's words or the passage's
(开办补贴 vs 开个小店…补贴). It is built, merged and scored exactly as the word counts are.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from assistant.core.text import search_form

K1 = 1.5  # bm25s's defaults, which the product has always used
B = 0.75
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


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


@dataclass(frozen=True)
class Postings:
    """Term counts of one segment's passages: ``indptr``/``indices``/``counts`` is CSC (token x passage)."""

    vocab: list[str]
    indptr: np.ndarray  # int64, len(vocab) + 1
    indices: np.ndarray  # int32 passage rows
    counts: np.ndarray  # int32 term frequency
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
        np.savez(folder / "postings.npz", indptr=self.indptr, indices=self.indices, counts=self.counts,
                 lengths=self.lengths)
        if self.char is not None:
            self.char.save(folder / CHAR_FOLDER)

    @classmethod
    def load(cls, folder: Path) -> Postings:
        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        with np.load(folder / "postings.npz", allow_pickle=False) as z:
            p = cls(vocab, z["indptr"], z["indices"], z["counts"], z["lengths"])
        if len(p.indptr) != len(vocab) + 1 or len(p.indices) != len(p.counts):
            raise ValueError("postings do not match their vocabulary")
        if (folder / CHAR_FOLDER / "vocab.json").is_file():
            p = p.with_char(cls.load(folder / CHAR_FOLDER))
        return p


@dataclass(frozen=True)
class LiveSegment:
    """A segment as one build sees it: which rows are live there, and their positions in the build."""

    postings: Postings
    vocab: dict[str, int]  # token -> local id
    live: np.ndarray  # bool per row
    position: np.ndarray  # int64 per row: position in the build (-1 when not live)
    all_live: bool


class SegmentedBM25:
    """The sparse leg over a build's segments: ``vocab_dict``, ``get_scores`` and ``scores["indptr"]``
    behave as bm25s's do over the build's live passages (the retriever and answerer use those)."""

    def __init__(self, segments: Sequence[LiveSegment], num_docs: int) -> None:
        self.segments = list(segments)
        self.num_docs = num_docs
        lengths = np.zeros(num_docs, dtype=np.int64)
        df: dict[str, int] = {}
        for seg in self.segments:
            lengths[seg.position[seg.live]] = seg.postings.lengths[seg.live]
            if seg.all_live:
                local_df = np.diff(seg.postings.indptr)
            else:
                local_df = np.bincount(seg.postings.columns()[seg.live[seg.postings.indices]],
                                       minlength=len(seg.postings.vocab))
            for tok, n in zip(seg.postings.vocab, local_df.tolist(), strict=True):
                if n:
                    df[tok] = df.get(tok, 0) + n
        self.vocab_dict: dict[str, int] = {tok: i for i, tok in enumerate(df)}
        self.vocab_dict.setdefault("", len(self.vocab_dict))  # as bm25s: the empty token is always known
        self._df = np.array([*df.values(), *([0] if len(self.vocab_dict) > len(df) else [])], dtype=np.int64)
        self.scores = {"indptr": np.concatenate([[0], np.cumsum(self._df)]), "num_docs": num_docs}
        self.avg_len = lengths.mean() if num_docs else 1.0

    def document_frequency(self, token: str) -> int:
        """Live passages that contain ``token`` (0 when none)."""
        tid = self.vocab_dict.get(token)
        return int(self._df[tid]) if tid is not None else 0

    def get_scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 of every live passage, in build order; unknown tokens are skipped, repeated ones count again."""
        scores = np.zeros(self.num_docs, dtype=np.float32)
        n = self.num_docs
        for tok in tokens:
            df = self.document_frequency(tok)
            if not df:
                continue
            idf = np.float32(math.log(1 + (n - df + 0.5) / (df + 0.5)))
            for seg in self.segments:
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
                tfc = tf / (K1 * ((1 - B) + B * p.lengths[rows].astype(np.float64) / self.avg_len) + tf)
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
