"""Sentence vectors: every answerable sentence of every chunk, embedded once at index time.

The fitted answerer weighs the e5 similarity of the question to each candidate sentence. Embedding
~60 sentences per question would cost seconds, so a build embeds them (through the index's cached
embedder, so the shipped cache of the default corpus holds them and unchanged text is never embedded
twice) and each segment stores them beside its chunks, never changed afterwards:

    builds/<segment>/sentences.npy      float16, one row per sentence, chunks' sentences contiguous
    builds/<segment>/sentence_rows.npy  int64, chunk row i's sentences are rows [rows[i], rows[i+1])

Readers open them with ``mmap_mode="r"``: memory stays flat however many passages the index holds.
The splitter is ``assistant.core.sentences``, the one the answerer's candidates use.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from llama_index.core.schema import NodeWithScore, TextNode

from assistant.core.sentences import answerable_sentences
from assistant.index.embedding import CachedEmbedding, text_key
from assistant.index.layout import Layout
from assistant.index.segments import SegmentFiles, finish_npy
from assistant.settings import Settings


class OpenBuild(Protocol):
    """What ``question_similarity`` reads of an open build (``assistant.index.catalog.Catalog``)."""

    settings: Settings
    build_id: str
    meta: dict[str, Any]
    embedder: CachedEmbedding

logger = logging.getLogger(__name__)

VECTORS_FILE = "sentences.npy"
ROWS_FILE = "sentence_rows.npy"


def node_sentences(node: TextNode) -> list[str]:
    """The sentences of a chunk that get a vector: exactly the answerer's candidate sentences."""
    return answerable_sentences(node.get_content())


def sentence_keys(nodes: Iterable[TextNode]) -> set[str]:
    """Cache keys of the chunks' sentence vectors (``policy-qa export-cache`` ships them with the corpus)."""
    return {text_key(s) for n in nodes for s in node_sentences(n)}


def add_sentence_vectors(settings: Settings, layout: Layout, segments: Iterable[str], embedder: CachedEmbedding,
                         *, progress: bool = False) -> tuple[int, float]:
    """Embed and store the sentences of a build's ``segments`` that have none yet; how many were embedded, and
    the seconds spent embedding them (an update reports the model's time apart from its own).

    Off (``answer_sentence_vectors`` false, or unset with the rules answering): nothing is written and the
    fitted answerer treats the similarity as missing.
    """
    wanted = settings.answer_sentence_vectors
    if not (wanted if wanted is not None else settings.answer_model == "fitted"):
        return 0, 0.0
    embedded, seconds = 0, 0.0
    for seg_id in segments:
        folder = layout.build_dir(seg_id)
        if not (folder / ROWS_FILE).is_file():
            n, s = _write_segment(folder, SegmentFiles(folder, seg_id).nodes, embedder,
                                  settings.indexing.build_batch_passages, progress)
            embedded, seconds = embedded + n, seconds + s
    return embedded, seconds


def _write_segment(folder: Path, nodes: Sequence[TextNode], embedder: CachedEmbedding, batch: int,
                   progress: bool) -> tuple[int, float]:
    """One segment's sentence vectors, ``batch`` chunks at a time, appended to a raw file: memory holds one
    batch's sentences, not the segment's (at 100k passages those would be ~500k vectors)."""
    part = folder / (VECTORS_FILE + ".part")
    counts: list[int] = []
    embedded, dim, seconds = 0, 0, 0.0
    with open(part, "wb") as out:
        for start in range(0, len(nodes), batch):
            per_node = [node_sentences(n) for n in nodes[start : start + batch]]
            texts = [s for sents in per_node for s in sents]
            started = time.perf_counter()
            embedded += _fill(embedder, texts, progress)
            seconds += time.perf_counter() - started
            for text in texts:
                vec = np.asarray(embedder.cache.get(text_key(text)), dtype=np.float16)
                dim = len(vec)
                out.write(vec.tobytes())
            counts.extend(len(s) for s in per_node)
    rows = np.zeros(len(counts) + 1, dtype=np.int64)
    rows[1:] = np.cumsum(counts)
    finish_npy(part, folder / (VECTORS_FILE + ".tmp.npy"), (int(rows[-1]), dim), "<f2")
    os.replace(folder / (VECTORS_FILE + ".tmp.npy"), folder / VECTORS_FILE)
    _save(folder / ROWS_FILE, rows)  # written last: its presence says the segment is complete
    return embedded, seconds


def _fill(embedder: CachedEmbedding, texts: Sequence[str], progress: bool) -> int:
    bar = None
    if progress and embedder.missing(texts):
        from tqdm import tqdm

        bar = tqdm(total=len(set(embedder.missing(texts))), desc="句子向量", unit="句")
    try:
        return embedder.fill(texts, on_batch=bar.update if bar else None)
    finally:
        if bar:
            bar.close()


def _save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, array, allow_pickle=False)
    os.replace(tmp, path)


class SentenceVectors:
    """One build's sentence vectors by chunk id, read from the segments' memory-mapped files."""

    def __init__(self, layout: Layout, meta: dict[str, Any]) -> None:
        self._where: dict[str, tuple[str, int]] = {}
        self._files: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for seg_id in meta["segments"]:
            folder = layout.build_dir(seg_id)
            if not (folder / ROWS_FILE).is_file():
                continue  # built with sentence vectors off, or before they existed: similarity missing
            self._files[seg_id] = (np.load(folder / VECTORS_FILE, mmap_mode="r", allow_pickle=False),
                                   np.load(folder / ROWS_FILE, allow_pickle=False))
            with open(folder / "chunks.jsonl", encoding="utf-8") as fh:
                for row, line in enumerate(x for x in fh if x.strip()):
                    self._where[str(json.loads(line)["id"])] = (seg_id, row)

    def __bool__(self) -> bool:
        return bool(self._files)

    def of(self, node: TextNode) -> dict[str, np.ndarray]:
        """Sentence text -> unit vector (float32) for one chunk; empty when the chunk has none stored."""
        where = self._where.get(node.node_id)
        if where is None:
            return {}
        vectors, rows = self._files[where[0]]
        a, b = int(rows[where[1]]), int(rows[where[1] + 1])
        sents = node_sentences(node)
        if len(sents) != b - a:  # a different splitter wrote them: treat as missing, never misalign
            return {}
        block = np.asarray(vectors[a:b], dtype=np.float32)
        return dict(zip(sents, block, strict=True))

    def similarities(self, query: np.ndarray, passages: Sequence[NodeWithScore]) -> dict[tuple[int, str], float]:
        """(1-based passage index, sentence) -> cosine similarity to the question's vector."""
        out: dict[tuple[int, str], float] = {}
        q = np.asarray(query, dtype=np.float32)
        q = q / (np.linalg.norm(q) + 1e-12)
        for k, nws in enumerate(passages, start=1):
            for text, vec in self.of(nws.node).items():
                out[(k, text)] = float(vec @ q / (np.linalg.norm(vec) + 1e-12))
        return out


_open: dict[tuple[str, str], SentenceVectors] = {}
_lock = threading.Lock()


def sentence_vectors(index_dir: Path, build_id: str, meta: dict[str, Any]) -> SentenceVectors:
    """The build's sentence vectors, opened once per process and build."""
    key = (str(index_dir), build_id)
    with _lock:
        found = _open.get(key)
        if found is None:
            for old in [k for k in _open if k[0] == key[0]]:
                del _open[old]
            found = _open[key] = SentenceVectors(Layout(index_dir), meta)
        return found


Similarity = Callable[[Sequence[NodeWithScore]], dict[tuple[int, str], float]]


def question_similarity(catalog: OpenBuild, query_text: str) -> Similarity | None:
    """The e5 similarity of a question to each stored sentence of some passages, computed when asked.

    ``query_text`` is the text the dense leg embedded, so the question's vector comes from the embedder's
    query cache (never embedded twice). None when the build has no sentence vectors.
    """
    layout = Layout(catalog.settings.index_dir)
    if not any((layout.build_dir(sid) / ROWS_FILE).is_file() for sid in catalog.meta["segments"]):
        return None

    def similarity(passages: Sequence[NodeWithScore]) -> dict[tuple[int, str], float]:
        vectors = sentence_vectors(catalog.settings.index_dir, catalog.build_id, catalog.meta)  # opened once
        return vectors.similarities(np.asarray(catalog.embedder.get_query_embedding(query_text)), passages)

    return similarity
