"""Segments: the immutable unit of an index. A build writes one segment for the documents it (re)chunked.

    builds/<id>/chunks.jsonl     chunk rows, documents contiguous, in the segment's document order
    builds/<id>/documents.jsonl  one row per document (with its cleaned text)
    builds/<id>/bm25/            term counts (assistant/index/sparse.py)
    builds/<id>/vectors.npy      one vector per chunk row
    builds/<id>/chroma/          sealed segments only: the vectors in a Chroma collection (embedded store;
                                 on a Chroma server the collection is named after the segment)

A small segment (one update) is searched by brute force from vectors.npy; a sealed one (a full build or
a merge) through Chroma's HNSW index. A merge copies rows, counts and vectors from older segments: it
never re-reads, re-chunks, re-tokenizes or re-embeds a document.
"""

from __future__ import annotations

import json
import shutil
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.schema import TextNode

from assistant.index import merging, store
from assistant.index.layout import node_from_row
from assistant.index.postings import Postings
from assistant.settings import Settings

CHROMA_BATCH = 256  # as the build always added them: the same HNSW graph for the same passages


class SegmentFiles:
    """An existing segment on disk, read lazily; raw lines are enough to copy documents into a merge."""

    def __init__(self, folder: Path, seg_id: str) -> None:
        self.folder = folder
        self.seg_id = seg_id

    @cached_property
    def chunk_lines(self) -> list[str]:
        with open(self.folder / "chunks.jsonl", encoding="utf-8") as fh:
            return [line.rstrip("\n") for line in fh if line.strip()]

    @cached_property
    def doc_lines(self) -> dict[str, str]:
        with open(self.folder / "documents.jsonl", encoding="utf-8") as fh:
            lines = [line.rstrip("\n") for line in fh if line.strip()]
        return {json.loads(line)["doc_id"]: line for line in lines}

    @cached_property
    def doc_rows(self) -> dict[str, dict[str, Any]]:
        return {doc_id: json.loads(line) for doc_id, line in self.doc_lines.items()}

    @cached_property
    def doc_range(self) -> dict[str, tuple[int, int]]:
        """Each document's rows: documents are contiguous, in documents.jsonl order."""
        out, start = {}, 0
        for doc_id, row in self.doc_rows.items():
            out[doc_id] = (start, start + int(row["chunks"]))
            start += int(row["chunks"])
        return out

    @cached_property
    def postings(self) -> Postings:
        return Postings.load(self.folder / "bm25")

    @cached_property
    def vectors(self) -> np.ndarray:
        return np.load(self.folder / "vectors.npy", mmap_mode="r", allow_pickle=False)

    @cached_property
    def nodes(self) -> list[TextNode]:
        return [node_from_row(json.loads(line)) for line in self.chunk_lines]

    @cached_property
    def row_of(self) -> dict[str, int]:
        return {n.node_id: i for i, n in enumerate(self.nodes)}

    @cached_property
    def row_doc(self) -> list[str]:
        return [str(n.metadata["doc_id"]) for n in self.nodes]

    def open_for_reading(self) -> SegmentFiles:
        """Read everything a query needs now, so damage is found when a build opens, not mid-answer; then drop
        the raw lines (a reader keeps the parsed nodes and rows only)."""
        rows = len(self.nodes)
        ends = max((b for _, b in self.doc_range.values()), default=0)
        if not (rows == ends == self.postings.rows == len(self.vectors)):
            raise ValueError(f"segment {self.seg_id}: {rows} chunks, {ends} by documents, "
                             f"{self.postings.rows} in BM25, {len(self.vectors)} vectors")
        self.row_of, self.row_doc, self.postings.lookup  # noqa: B018 - computed once, while the build opens
        for raw in ("chunk_lines", "doc_lines"):
            self.__dict__.pop(raw, None)
        return self


class SegmentWriter:
    """Writes a new segment while its documents are added in order (fresh ones just chunked, or copies from
    older segments): chunk and document rows and vectors go to disk at once, passages to Chroma by
    ``CHROMA_BATCH`` and term counts into one compact part per ``flush``, so a build of any size holds one
    batch of documents, not the corpus. ``write`` completes the files; until then nothing names them."""

    def __init__(self, settings: Settings, folder: Path, seg_id: str, *, sealed: bool) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.settings, self.folder, self.seg_id, self.sealed = settings, folder, seg_id, sealed
        self.rows, self.dim = 0, 0
        self._chunks = open(folder / "chunks.jsonl", "w", encoding="utf-8")  # noqa: SIM115 - closed by write
        self._docs = open(folder / "documents.jsonl", "w", encoding="utf-8")  # noqa: SIM115
        self._vectors = open(folder / VECTORS_PART, "wb")  # noqa: SIM115
        self._collection: Any = None
        self._chroma: list[tuple[str, str, np.ndarray]] = []  # passages not yet sent to Chroma
        self._parts: list[merging.Part] = []  # flushed batches (on disk) and copied documents
        self._batch: list[Postings] = []  # fresh documents' counts since the last flush

    def add_fresh(self, doc_row: dict[str, Any], nodes: list[TextNode], vectors: np.ndarray,
                  postings: Postings) -> None:
        lines = [json.dumps({"id": n.node_id, "text": n.get_content(), "metadata": dict(n.metadata)},
                            ensure_ascii=False) for n in nodes]
        self._add(json.dumps(doc_row, ensure_ascii=False), lines, [n.node_id for n in nodes],
                  str(doc_row["doc_id"]), vectors)
        self._batch.append(postings)

    def add_copy(self, seg: SegmentFiles, doc_id: str) -> None:
        a, b = seg.doc_range[doc_id]
        lines = seg.chunk_lines[a:b]
        self._add(seg.doc_lines[doc_id], lines, [json.loads(line)["id"] for line in lines], doc_id, seg.vectors[a:b])
        self.flush()
        self._parts.append((seg.postings, np.arange(a, b)))

    def _add(self, doc_line: str, chunk_lines: list[str], ids: list[str], doc_id: str, vectors: np.ndarray) -> None:
        vecs = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), -1) if ids else \
            np.zeros((0, self.dim), np.float32)  # a document without passages
        self.dim = vecs.shape[1]
        self._docs.write(doc_line + "\n")
        self._chunks.writelines(line + "\n" for line in chunk_lines)
        self._vectors.write(vecs.tobytes())
        self.rows += len(ids)
        if self.sealed:
            self._chroma.extend(zip(ids, [doc_id] * len(ids), vecs, strict=True))
            while len(self._chroma) >= CHROMA_BATCH:
                self._send(CHROMA_BATCH)

    def flush(self) -> None:
        """Fold the fresh documents' counts added since the last flush into one part, kept on disk until
        ``write`` merges the parts (call once per batch)."""
        if self._batch:
            part = merging.merge([(p, np.arange(p.rows)) for p in self._batch])
            spilled = merging.spill(part, self.folder / PARTS / f"{len(self._parts):05d}")
            self._parts.append((spilled, np.arange(part.rows)))
            self._batch = []

    def _send(self, n: int) -> None:
        if self._collection is None:
            self._collection = _new_collection(self.settings, self.folder, self.seg_id)
        batch, self._chroma = self._chroma[:n], self._chroma[n:]
        self._collection.add(ids=[i for i, _, _ in batch], embeddings=np.stack([v for _, _, v in batch]),
                             metadatas=[{"doc_id": d} for _, d, _ in batch])

    def write(self) -> dict[str, Any]:
        """Complete the segment's files (the last Chroma batch, BM25, vectors.npy); the descriptor the build's
        meta keeps for it."""
        self.flush()
        if self._chroma:
            self._send(len(self._chroma))
        for fh in (self._chunks, self._docs, self._vectors):
            fh.close()
        merging.merge(self._parts).save(self.folder / "bm25")
        self._parts = []
        shutil.rmtree(self.folder / PARTS, ignore_errors=True)  # the merged counts replace them
        _finish_vectors(self.folder, self.rows, self.dim)
        return {"rows": self.rows, "sealed": self.sealed}


VECTORS_PART = "vectors.f32.part"  # raw float32 rows while the segment is written
PARTS = "bm25.parts"  # each batch's term counts while the segment is written


def _finish_vectors(folder: Path, rows: int, dim: int) -> None:
    """vectors.npy from the raw rows, copied in blocks (never the whole matrix in memory)."""
    finish_npy(folder / VECTORS_PART, folder / "vectors.npy", (rows, dim if rows else 0), "<f4")


def finish_npy(part: Path, dest: Path, shape: tuple[int, int], descr: str) -> None:
    """``dest`` (.npy) from ``part``'s raw C-order rows: the header, then the bytes copied in blocks; ``part``
    is removed. Writers append rows to ``part`` as they go, so no writer holds a whole matrix."""
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    with open(part, "rb") as src, open(dest, "wb") as dst:
        np.lib.format.write_array_header_1_0(dst, header)
        shutil.copyfileobj(src, dst, 1 << 22)
    part.unlink()


def _new_collection(settings: Settings, folder: Path, seg_id: str) -> Any:
    client = store.connect(settings, folder / "chroma")
    name = store.collection_name(seg_id)
    try:  # a killed build may have left a half-filled collection of this name on a server
        client.delete_collection(name)
    except Exception:  # none there: the usual case
        pass
    return client.create_collection(name, metadata={"hnsw:space": "cosine"})
