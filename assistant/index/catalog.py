"""The current index build opened for querying: chunks, documents, BM25 and the vector search.

Opened once per process and reopened when ``CURRENT`` moves to a new build, so questions keep being
answered from the last complete index while an update runs. Reopening after an update reads only the
new segment: the others are cached (they never change).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.schema import TextNode

from assistant.corpus.lifecycle import Lifecycle
from assistant.index import store
from assistant.index.dense import DeltaPart, SealedPart, SegmentedCollection, unit_rows
from assistant.index.embedding import CachedEmbedding, build_embedder
from assistant.index.layout import IndexCorruptError, IndexMissingError, IndexOutdatedError, Layout, corrupt
from assistant.index.segments import SegmentFiles
from assistant.index.sparse import SegmentedBM25, live_segment
from assistant.settings import Settings, get_settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DocumentInfo:
    doc_id: str
    file: str
    title: str
    issuer: str
    jurisdiction: str
    doc_number: str
    date: str
    chunks: int
    lifecycle: Lifecycle | None = None  # validity, supersession, delegation (assistant/corpus/lifecycle.py)


class Catalog:
    """Read-only view of one complete build, assembled from its segments (shared with the builds before it)."""

    def __init__(self, settings: Settings, build_id: str, embedder: CachedEmbedding) -> None:
        self.settings = settings
        self.build_id = build_id
        self.embedder = embedder
        layout = Layout(settings.index_dir)
        self.meta = layout.read_meta(build_id)
        try:
            segments = {sid: _segment(layout, sid) for sid in self.meta["segments"]}
        except (OSError, ValueError, KeyError) as exc:
            raise corrupt(settings.index_dir, f"{type(exc).__name__}") from None
        records = self.meta["documents"]
        doc_rows = [segments[r["segment"]].doc_rows[d] for d, r in records.items()]
        self.node_ids: list[str] = []
        self.nodes: dict[str, TextNode] = {}
        live = {sid: np.zeros(len(seg.nodes), dtype=bool) for sid, seg in segments.items()}
        position = {sid: np.full(len(seg.nodes), -1, dtype=np.int64) for sid, seg in segments.items()}
        for doc_id, rec in records.items():
            seg = segments[rec["segment"]]
            a, b = seg.doc_range[doc_id]
            live[rec["segment"]][a:b] = True
            position[rec["segment"]][a:b] = np.arange(len(self.node_ids), len(self.node_ids) + b - a)
            for node in seg.nodes[a:b]:
                self.node_ids.append(node.node_id)
                self.nodes[node.node_id] = node
        self.position: dict[str, int] = {nid: i for i, nid in enumerate(self.node_ids)}
        self.lifecycles: dict[str, Lifecycle] = _lifecycles(doc_rows)
        fields = [k for k in DocumentInfo.__dataclass_fields__ if k != "lifecycle"]
        self.documents: list[DocumentInfo] = [
            DocumentInfo(**{k: d[k] for k in fields}, lifecycle=self.lifecycles.get(d["doc_id"])) for d in doc_rows
        ]
        self._by_id = {d.doc_id: d for d in self.documents}
        self._cleaned = {d["doc_id"]: d.get("cleaned_text", "") for d in doc_rows}
        self.doc_index = np.array([self.nodes[i].metadata["doc_id"] for i in self.node_ids])
        self.bm25 = SegmentedBM25(
            [live_segment(seg.postings, live[sid], position[sid]) for sid, seg in segments.items()], len(self.node_ids)
        )
        self.collection = self._open_vectors(layout, segments, live)

    def _open_vectors(self, layout: Layout, segments: dict[str, SegmentFiles], live: dict[str, np.ndarray]
                      ) -> SegmentedCollection:
        """Chroma for sealed segments, one numpy matrix for the live passages of the small ones."""
        sealed, vecs, ids, docs = [], [], [], []
        for sid, seg in segments.items():
            if self.meta["segments"][sid]["sealed"]:
                docs_here = {d: int(r["chunks"]) for d, r in self.meta["documents"].items() if r["segment"] == sid}
                sealed.append(SealedPart(self._collection(layout, sid), seg.row_of, seg.row_doc, live[sid], docs_here,
                                         len(seg.nodes)))
            elif live[sid].any():
                rows = np.flatnonzero(live[sid])
                vecs.append(np.asarray(seg.vectors[rows], dtype=np.float32))
                ids.extend(seg.nodes[i].node_id for i in rows)
                docs.extend(seg.nodes[i].metadata["doc_id"] for i in rows)
        delta = DeltaPart(unit_rows(np.concatenate(vecs)), ids, np.array(docs)) if ids else None
        return SegmentedCollection(sealed, delta, self.settings.indexing.chroma_filter_docs)

    def _collection(self, layout: Layout, seg_id: str) -> Any:
        name = store.collection_name(seg_id)
        client = store.connect(self.settings, layout.build_dir(seg_id) / "chroma")
        try:
            return client.get_collection(name)
        except Exception as exc:
            if store.server_configured(self.settings):
                raise store.StoreUnavailableError(
                    f"Chroma 服务器 {self.settings.chroma_host}:{self.settings.chroma_port} 上没有集合 "
                    f"{name}（{type(exc).__name__}）。请运行 `policy-qa index --rebuild`。"
                ) from None
            raise corrupt(self.settings.index_dir, f"Chroma: {type(exc).__name__}") from None

    def cleaned_text(self, doc_id: str) -> str:
        return self._cleaned.get(doc_id, "")

    def document(self, doc_id: str) -> DocumentInfo | None:
        return self._by_id.get(doc_id)


# Segments never change, so each is read once per process and shared by the builds that name it.
_segments: dict[tuple[str, str], SegmentFiles] = {}


def _segment(layout: Layout, seg_id: str) -> SegmentFiles:
    key = (str(layout.index_dir), seg_id)
    seg = _segments.get(key)
    if seg is None:
        seg = _segments[key] = SegmentFiles(layout.build_dir(seg_id), seg_id).open_for_reading()
    return seg


def _forget_segments(index_dir: Path, keep: set[str]) -> None:
    """Drop cached segments of ``index_dir`` that the open build no longer names."""
    for key in [k for k in _segments if k[0] == str(index_dir) and k[1] not in keep]:
        del _segments[key]


def _lifecycles(doc_rows: list[dict[str, Any]]) -> dict[str, Lifecycle]:
    """Every document's lifecycle, from the stored cleaned texts: cheap, so computed when a build opens."""
    from assistant.index.lifecycles import build_lifecycles

    try:
        return build_lifecycles(doc_rows)
    except Exception:  # a lifecycle bug must not stop questions being answered: the documents read as 未知
        logger.exception("lifecycle extraction failed; every document reads as 未知")
        return {str(d["doc_id"]): Lifecycle(str(d["doc_id"])) for d in doc_rows}


_cache: dict[tuple[str, str | None, int], Catalog] = {}
_lock = threading.Lock()


def open_catalog(
    settings: Settings | None = None, *, build_if_missing: bool = True, embedder: CachedEmbedding | None = None
) -> Catalog:
    """The current build (built first when there is none); cached until ``CURRENT`` changes."""
    settings = settings or get_settings()
    layout = Layout(settings.index_dir)
    key = (str(settings.index_dir.resolve()), settings.chroma_host, settings.chroma_port)
    build_id = layout.current_id()
    cat = _cache.get(key)
    if cat is not None and build_id is not None and cat.build_id == build_id:
        return cat  # every question asks: one small file read, not the build's meta
    if build_id is not None and build_if_missing:
        try:
            layout.read_meta(build_id)
        except IndexOutdatedError:
            build_id = None
    if build_id is None:
        if not build_if_missing:
            raise IndexMissingError(f"索引 {settings.index_dir} 尚未建立。请运行 `policy-qa index`。")
        from assistant.index.build import update_index

        build_id = update_index(settings, progress=False).build_id
    with _lock:
        cat = _cache.get(key)
        if cat is not None and cat.build_id == build_id:
            return cat
        try:
            cat = Catalog(settings, build_id, embedder or (cat.embedder if cat else build_embedder(settings)))
        except (IndexCorruptError, store.StoreUnavailableError):
            raise
        except Exception as exc:
            raise corrupt(settings.index_dir, f"{type(exc).__name__}: {exc}") from None
        if cat.meta.get("embedder_id") != cat.embedder.embedder_id:
            raise IndexCorruptError(
                f"索引 {settings.index_dir} 使用嵌入模型 {cat.meta.get('embedder_id')} 构建，"
                f"当前配置为 {cat.embedder.embedder_id}。请运行 `policy-qa index --rebuild`。"
            )
        _cache[key] = cat
        _forget_segments(layout.index_dir, set(cat.meta["segments"]))
        return cat
