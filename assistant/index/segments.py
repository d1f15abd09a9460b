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
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.schema import TextNode

from assistant.index import store
from assistant.index.layout import node_from_row
from assistant.index.sparse import Postings
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


@dataclass
class SegmentWriter:
    """Collects a new segment's documents in order: fresh ones (just chunked) or copies from older segments."""

    chunk_lines: list[str] = field(default_factory=list)
    doc_lines: list[str] = field(default_factory=list)
    node_ids: list[str] = field(default_factory=list)
    node_docs: list[str] = field(default_factory=list)
    _vectors: list[np.ndarray] = field(default_factory=list)
    _parts: list[tuple[Postings, np.ndarray]] = field(default_factory=list)

    def add_fresh(self, doc_row: dict[str, Any], nodes: list[TextNode], vectors: np.ndarray,
                  postings: Postings) -> None:
        self.doc_lines.append(json.dumps(doc_row, ensure_ascii=False))
        for node in nodes:
            row = {"id": node.node_id, "text": node.get_content(), "metadata": dict(node.metadata)}
            self.chunk_lines.append(json.dumps(row, ensure_ascii=False))
            self.node_ids.append(node.node_id)
            self.node_docs.append(str(doc_row["doc_id"]))
        self._vectors.append(np.asarray(vectors, dtype=np.float32).reshape(len(nodes), -1))
        self._parts.append((postings, np.arange(postings.rows)))

    def add_copy(self, seg: SegmentFiles, doc_id: str) -> None:
        a, b = seg.doc_range[doc_id]
        self.doc_lines.append(seg.doc_lines[doc_id])
        self.chunk_lines.extend(seg.chunk_lines[a:b])
        self.node_ids.extend(json.loads(line)["id"] for line in seg.chunk_lines[a:b])
        self.node_docs.extend([doc_id] * (b - a))
        self._vectors.append(np.asarray(seg.vectors[a:b], dtype=np.float32))
        self._parts.append((seg.postings, np.arange(a, b)))

    @property
    def rows(self) -> int:
        return len(self.chunk_lines)

    def write(self, settings: Settings, folder: Path, seg_id: str, *, sealed: bool) -> dict[str, Any]:
        """Write every file of the segment; the descriptor the build's meta keeps for it."""
        folder.mkdir(parents=True, exist_ok=True)
        vectors = np.concatenate(self._vectors) if self._vectors else np.zeros((0, 0), np.float32)
        Postings.concat(self._parts).save(folder / "bm25")
        np.save(folder / "vectors.npy", vectors, allow_pickle=False)
        for name, lines in (("chunks.jsonl", self.chunk_lines), ("documents.jsonl", self.doc_lines)):
            with open(folder / name, "w", encoding="utf-8") as fh:
                fh.writelines(line + "\n" for line in lines)
        if sealed:
            self._write_chroma(settings, folder, seg_id, vectors)
        return {"rows": self.rows, "sealed": sealed}

    def _write_chroma(self, settings: Settings, folder: Path, seg_id: str, vectors: np.ndarray) -> None:
        client = store.connect(settings, folder / "chroma")
        name = store.collection_name(seg_id)
        try:  # a killed build may have left a half-filled collection of this name on a server
            client.delete_collection(name)
        except Exception:  # none there: the usual case
            pass
        collection = client.create_collection(name, metadata={"hnsw:space": "cosine"})
        for i in range(0, self.rows, CHROMA_BATCH):
            j = min(i + CHROMA_BATCH, self.rows)
            collection.add(ids=self.node_ids[i:j], embeddings=vectors[i:j],
                           metadatas=[{"doc_id": d} for d in self.node_docs[i:j]])
