"""Build or update the index: corpus -> chunks -> vectors (Chroma) + BM25, written as a new build.

Incremental by document hash (unchanged documents keep their chunks), cached vectors by text hash,
and atomic: readers switch to the new build only when it is complete.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from assistant.core.text import search_form, tokenize
from assistant.corpus.loading import SUPPORTED_SUFFIXES, SkippedFile, SourceDocument, load_corpus
from assistant.index import store
from assistant.index.embedding import CachedEmbedding, build_embedder
from assistant.index.layout import (
    FORMAT_VERSION,
    IndexCorruptError,
    IndexOutdatedError,
    Layout,
    node_from_row,
    node_row,
    read_jsonl,
    write_jsonl,
)
from assistant.settings import Settings, get_settings

logger = logging.getLogger(__name__)

EMBED_BATCH = 16


class IndexBusyError(RuntimeError):
    """Another process is writing the index."""


class EmbedderMismatchError(RuntimeError):
    """The index was built with another embedder."""


class EmptyIndexError(ValueError):
    """The corpus gave no chunk at all, so there is nothing to index (the CLI exits 2 with the message)."""


def empty_index_error(corpus_dir: Path, documents: int, skipped: list[SkippedFile]) -> EmptyIndexError:
    """The error for a build with no chunks, naming why: no files, every file skipped, or no text."""
    if documents:
        why = f"{documents} 个文件都没有切出任何正文片段"
    elif skipped:
        why = f"{len(skipped)} 个文件全部被跳过（{'；'.join(f'{s.file}：{s.reason}' for s in skipped[:3])}）"
    else:
        why = f"目录中没有 {'/'.join(sorted(SUPPORTED_SUFFIXES))} 文件"
    return EmptyIndexError(
        f"语料目录 {corpus_dir} 中没有可索引的内容：{why}。请放入政策文件后重新运行 `policy-qa index`"
        "（已有的索引不受影响）。"
    )


@dataclass
class IndexReport:
    build_id: str
    documents: int
    chunks: int
    embedded: int = 0  # passages embedded now (cache misses)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unchanged: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pipeline_version() -> str:
    """Hash of the code that turns files into chunks: changing it re-chunks every document."""
    from assistant.core import outline, text
    from assistant.corpus import chunking, cleaning, loading, manifest, places

    h = hashlib.sha256(str(FORMAT_VERSION).encode())
    for mod in (loading, manifest, places, cleaning, chunking, outline, text):
        h.update(Path(mod.__file__).read_bytes())
    h.update(resources.files("assistant").joinpath("data/policy_terms.txt").read_bytes())
    return h.hexdigest()[:16]


def doc_fingerprint(doc: SourceDocument) -> str:
    fields = [doc.content_hash, doc.title, doc.issuer, doc.jurisdiction, doc.doc_number, doc.date, doc.file]
    if doc.lifecycle:  # a manifest lifecycle edit makes a new document row (the chunks stay)
        fields.append(json.dumps(doc.lifecycle, ensure_ascii=False, sort_keys=True))
    return hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()[:24]


def embed_text(node: TextNode) -> str:
    """What the dense leg embeds: title, heading path and text, in Simplified form."""
    md = node.metadata
    return search_form(f"{md.get('title', '')}\n{md.get('section', '')}\n{node.get_content()}")


def bm25_text(node: TextNode) -> str:
    """What the sparse leg indexes: also the place name, so '乐清…' questions reach 乐清's chunks."""
    md = node.metadata
    place = str(md.get("jurisdiction", "")).replace("/", " ")
    return f"{md.get('title', '')} {place} {md.get('city', '')}\n{md.get('section', '')}\n{node.get_content()}"


@contextmanager
def build_lock(layout: Layout, wait_seconds: float = 600.0) -> Iterator[None]:
    layout.index_dir.mkdir(parents=True, exist_ok=True)
    with open(layout.lock, "a+") as fh:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexBusyError(f"另一个进程正在更新索引 {layout.index_dir}，请稍后再试。") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _previous_rows(layout: Layout, meta: dict[str, Any] | None) -> tuple[dict[str, list], dict[str, dict]]:
    """Chunks and document rows of the current build, by doc_id (empty when unreadable)."""
    if not meta:
        return {}, {}
    bdir = layout.build_dir(meta["build_id"])
    try:
        rows = read_jsonl(bdir / "chunks.jsonl")
        docs = {d["doc_id"]: d for d in read_jsonl(bdir / "documents.jsonl")}
    except (OSError, ValueError):
        return {}, {}
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_doc.setdefault(row["metadata"]["doc_id"], []).append(row)
    return by_doc, docs


def update_index(
    settings: Settings | None = None,
    *,
    rebuild: bool = False,
    progress: bool = True,
    use_shipped_cache: bool = True,
    embedder: CachedEmbedding | None = None,
) -> IndexReport:
    """Bring the index in line with the corpus; return what was done. Safe to run while others query."""
    from assistant.corpus.chunking import chunk_document

    settings = settings or get_settings()
    started = time.perf_counter()
    layout = Layout(settings.index_dir)
    embedder = embedder or build_embedder(settings, use_shipped_cache=use_shipped_cache)
    with build_lock(layout):
        try:
            current = layout.current_meta()
        except IndexOutdatedError:
            current, rebuild = None, True
        except IndexCorruptError:
            if not rebuild:
                raise
            current = None
        if current and current.get("embedder_id") != embedder.embedder_id and not rebuild:
            raise EmbedderMismatchError(
                f"索引 {settings.index_dir} 使用嵌入模型 {current.get('embedder_id')} 构建，"
                f"当前配置为 {embedder.embedder_id}。请运行 `policy-qa index --rebuild`。"
            )
        docs, skipped = load_corpus(settings.corpus_dir)
        version = pipeline_version()
        fingerprints = {d.doc_id: doc_fingerprint(d) for d in docs}
        reusable = bool(current) and not rebuild and current.get("pipeline_version") == version
        old_docs: dict[str, Any] = current.get("documents", {}) if reusable else {}
        if (
            reusable
            and {k: v["fingerprint"] for k, v in old_docs.items()} == fingerprints
            and bool(current.get("server")) == store.server_configured(settings)
        ):
            return IndexReport(
                build_id=current["build_id"],
                documents=len(docs),
                chunks=current.get("chunks", 0),
                skipped=skipped,
                unchanged=True,
                seconds=time.perf_counter() - started,
            )

        report = IndexReport(build_id=layout.new_build_id(), documents=len(docs), chunks=0, skipped=skipped)
        prev_rows, prev_docs = _previous_rows(layout, current) if reusable else ({}, {})
        nodes: list[TextNode] = []
        doc_rows: list[dict[str, Any]] = []
        for doc in docs:
            old = old_docs.get(doc.doc_id)
            if old and old["fingerprint"] == fingerprints[doc.doc_id] and doc.doc_id in prev_docs:
                doc_nodes = [node_from_row(r) for r in prev_rows.get(doc.doc_id, [])]
                cleaned_text = prev_docs[doc.doc_id].get("cleaned_text")
            else:
                (report.changed if old else report.added).append(doc.file)
                cleaned, doc_nodes = chunk_document(doc)
                cleaned_text = cleaned.text
                report.warnings.extend(f"{doc.file}: {w}" for w in cleaned.warnings)
                if not doc_nodes:
                    report.warnings.append(f"{doc.file}: 没有切出任何正文片段，该文件不会被检索到")
            nodes.extend(doc_nodes)
            doc_rows.append(_document_row(doc, fingerprints[doc.doc_id], len(doc_nodes), cleaned_text))
        report.removed = sorted(v["file"] for k, v in old_docs.items() if k not in fingerprints)
        report.chunks = len(nodes)
        if not nodes:  # BM25 cannot be built over nothing; keep the previous index answering
            raise empty_index_error(settings.corpus_dir, len(docs), skipped)

        report.embedded = _embed_nodes(nodes, embedder, progress=progress)
        _write_build(settings, layout, report.build_id, nodes, doc_rows, embedder, version)
        layout.set_current(report.build_id)
        keep = {report.build_id} | ({current["build_id"]} if current else set())
        removed = layout.collect_garbage(keep)
        _drop_server_collections(settings, removed)
        embedder.cache.save()
        report.seconds = time.perf_counter() - started
        logger.info("index build %s: %d documents, %d chunks", report.build_id, len(docs), len(nodes))
        return report


def _document_row(doc: SourceDocument, fingerprint: str, chunks: int, cleaned_text: str | None) -> dict[str, Any]:
    return {
        "doc_id": doc.doc_id,
        "file": doc.file,
        "title": doc.title,
        "issuer": doc.issuer,
        "jurisdiction": doc.jurisdiction,
        "doc_number": doc.doc_number,
        "date": doc.date,
        "content_hash": doc.content_hash,
        "fingerprint": fingerprint,
        "chunks": chunks,
        "cleaned_text": cleaned_text or "",
        "lifecycle_manifest": doc.lifecycle,  # read by assistant.corpus.lifecycle when the catalog opens
    }


def _embed_nodes(nodes: list[TextNode], embedder: CachedEmbedding, *, progress: bool) -> int:
    texts = [embed_text(n) for n in nodes]
    missing = list(dict.fromkeys(embedder.missing(texts)))
    if missing:
        batches = range(0, len(missing), EMBED_BATCH)
        if progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc="嵌入向量", unit="批", total=len(batches))
        for i in batches:
            embedder.get_text_embedding_batch(missing[i : i + EMBED_BATCH])
    for node, text in zip(nodes, texts, strict=True):
        node.embedding = embedder.get_text_embedding(text)
    return len(missing)


def _write_build(
    settings: Settings,
    layout: Layout,
    build_id: str,
    nodes: list[TextNode],
    doc_rows: list[dict[str, Any]],
    embedder: CachedEmbedding,
    version: str,
) -> None:
    import bm25s

    bdir = layout.build_dir(build_id)
    bdir.mkdir(parents=True, exist_ok=True)

    client = store.connect(settings, bdir / "chroma")
    collection = client.get_or_create_collection(
        store.collection_name(build_id), metadata={"hnsw:space": "cosine"}
    )
    from llama_index.vector_stores.chroma import ChromaVectorStore

    vs = ChromaVectorStore(chroma_collection=collection)
    for node in nodes:  # LlamaIndex stores ref_doc_id under the "doc_id" key: make it ours
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=node.metadata["doc_id"])
    for i in range(0, len(nodes), 256):
        vs.add(nodes[i : i + 256])

    retriever = bm25s.BM25()
    retriever.index([tokenize(bm25_text(n)) or [""] for n in nodes], show_progress=False)
    retriever.save(str(bdir / "bm25"), show_progress=False)

    write_jsonl(bdir / "chunks.jsonl", [node_row(n) for n in nodes])
    write_jsonl(bdir / "documents.jsonl", doc_rows)
    meta = {
        "format": FORMAT_VERSION,
        "build_id": build_id,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "embedder_id": embedder.embedder_id,
        "pipeline_version": version,
        "corpus_dir": str(settings.corpus_dir),
        "server": f"{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else "",
        "collection": store.collection_name(build_id),
        "chunks": len(nodes),
        "documents": {r["doc_id"]: {k: r[k] for k in ("file", "fingerprint", "chunks")} for r in doc_rows},
    }
    (bdir / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")


def _drop_server_collections(settings: Settings, build_ids: list[str]) -> None:
    if not build_ids or not store.server_configured(settings):
        return
    try:
        client = store.connect(settings)
        for bid in build_ids:
            try:
                client.delete_collection(store.collection_name(bid))
            except Exception:  # already gone
                pass
    except store.StoreUnavailableError as exc:
        logger.warning("could not drop old collections: %s", exc)
