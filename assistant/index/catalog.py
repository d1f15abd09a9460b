"""The current index build opened for querying: chunks, documents, BM25 and the Chroma vector store.

Opened once per process and reopened when ``CURRENT`` moves to a new build, so questions keep being
answered from the last complete index while an update runs.
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
from assistant.index.embedding import CachedEmbedding, build_embedder
from assistant.index.layout import (
    IndexCorruptError,
    IndexMissingError,
    IndexOutdatedError,
    Layout,
    corrupt,
    node_from_row,
    read_jsonl,
)
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
    """Read-only view of one complete build."""

    def __init__(self, settings: Settings, build_id: str, embedder: CachedEmbedding) -> None:
        self.settings = settings
        self.build_id = build_id
        self.embedder = embedder
        layout = Layout(settings.index_dir)
        self.meta = layout.read_meta(build_id)
        bdir = layout.build_dir(build_id)
        try:
            rows = read_jsonl(bdir / "chunks.jsonl")
            doc_rows = read_jsonl(bdir / "documents.jsonl")
        except (OSError, ValueError) as exc:
            raise corrupt(settings.index_dir, f"{type(exc).__name__}") from None
        self.node_ids: list[str] = [r["id"] for r in rows]
        self.position: dict[str, int] = {nid: i for i, nid in enumerate(self.node_ids)}
        self.nodes: dict[str, TextNode] = {r["id"]: node_from_row(r) for r in rows}
        self.lifecycles: dict[str, Lifecycle] = _lifecycles(doc_rows)
        fields = [k for k in DocumentInfo.__dataclass_fields__ if k != "lifecycle"]
        self.documents: list[DocumentInfo] = [
            DocumentInfo(**{k: d[k] for k in fields}, lifecycle=self.lifecycles.get(d["doc_id"])) for d in doc_rows
        ]
        self._cleaned = {d["doc_id"]: d.get("cleaned_text", "") for d in doc_rows}
        self.doc_index = np.array([self.nodes[i].metadata["doc_id"] for i in self.node_ids])
        self.bm25 = self._open_bm25(bdir / "bm25")
        self.vector_store = self._open_vectors(bdir / "chroma")

    def _open_bm25(self, path: Path) -> Any:
        import bm25s

        try:
            return bm25s.BM25.load(str(path), show_progress=False, verbosity=0)
        except Exception as exc:
            raise corrupt(self.settings.index_dir, f"BM25: {type(exc).__name__}") from None

    def _open_vectors(self, path: Path) -> Any:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        client = store.connect(self.settings, path)
        try:
            collection = client.get_collection(self.meta["collection"])
        except Exception as exc:
            if store.server_configured(self.settings):
                raise store.StoreUnavailableError(
                    f"Chroma 服务器 {self.settings.chroma_host}:{self.settings.chroma_port} 上没有集合 "
                    f"{self.meta['collection']}（{type(exc).__name__}）。请运行 `policy-qa index --rebuild`。"
                ) from None
            raise corrupt(self.settings.index_dir, f"Chroma: {type(exc).__name__}") from None
        self.collection = collection  # raw Chroma collection: ids + distances without node rebuilding
        return ChromaVectorStore(chroma_collection=collection)

    def cleaned_text(self, doc_id: str) -> str:
        return self._cleaned.get(doc_id, "")

    def document(self, doc_id: str) -> DocumentInfo | None:
        return next((d for d in self.documents if d.doc_id == doc_id), None)


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
    build_id = layout.current_id()
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
    key = (str(settings.index_dir.resolve()), settings.chroma_host, settings.chroma_port)
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
        return cat
