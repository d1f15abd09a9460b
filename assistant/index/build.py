"""Build or update the index: corpus -> chunks -> vectors + BM25 postings, written as a new build.

An update costs what changed: only files whose bytes or manifest entry changed are read
(``assistant.index.scan``), only changed documents are chunked and embedded (vectors are cached by
text hash), and the new build writes one segment with just those documents, naming earlier segments
for the rest (``assistant.index.compose``). Told which files changed (``paths``), it does not even list
the folder (``assistant.index.named``). Atomic: readers switch when ``CURRENT`` names the new build, after
all of it is written; a build killed at any point leaves the previous one answering.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from assistant.corpus.loading import SUPPORTED_SUFFIXES, SkippedFile
from assistant.index import compose, docmeta, store
from assistant.index.documents import bm25_text, chunk_file, doc_fingerprint, embed_text
from assistant.index.embedding import CachedEmbedding, build_embedder, text_key
from assistant.index.layout import (
    FORMAT_VERSION,
    IndexBusyError,
    IndexCorruptError,
    IndexOutdatedError,
    Layout,
    build_lock,
    write_atomic,
)
from assistant.index.named import relative_names, scan
from assistant.index.scan import CorpusFile
from assistant.index.sentences import add_sentence_vectors
from assistant.settings import Settings, get_settings

logger = logging.getLogger(__name__)

__all__ = ["EmbedderMismatchError", "EmptyIndexError", "IndexBusyError", "IndexReport", "bm25_text", "doc_fingerprint",
           "embed_text", "pipeline_version", "update_index"]

# What turns files into chunks: a change to any of these re-chunks every document (a package counts whole).
PIPELINE_MODULES = (
    "assistant.corpus.loading", "assistant.corpus.manifest", "assistant.corpus.places", "assistant.corpus.postag",
    "assistant.corpus.metadata", "assistant.corpus.reading", "assistant.corpus.records", "assistant.corpus.cleaning",
    "assistant.corpus.chunking", "assistant.corpus.sections", "assistant.corpus.spans", "assistant.core.outline",
    "assistant.core.text",
    "assistant.index.postings",  # the word and character counts: an index without the character leg is rebuilt
)
PIPELINE_DATA = ("policy_terms.txt", "corpus.toml", "text.toml")  # under assistant/data/


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
    embed_seconds: float = 0.0  # of ``seconds``, spent embedding
    segment: str = ""  # the segment this build wrote: "sealed" (full or merge), "delta" or "" (none)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unchanged: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pipeline_version(settings: Settings | None = None) -> str:
    """Hash of the code, data and chunk sizes that turn files into chunks: a change re-chunks every document."""
    settings = settings or get_settings()
    h = hashlib.sha256(f"{FORMAT_VERSION}\n{settings.chunking.model_dump_json()}".encode())
    for name in PIPELINE_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            logger.warning("pipeline module %s not found: PIPELINE_MODULES needs updating", name)
            h.update(f"missing:{name}".encode())
            continue
        origin = Path(spec.origin)
        files = sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
        for path in files:
            h.update(path.relative_to(origin.parent).as_posix().encode() + path.read_bytes())
    data = resources.files("assistant").joinpath("data")
    for name in PIPELINE_DATA:
        item = data.joinpath(name)
        h.update(item.read_bytes() if item.is_file() else f"missing:{name}".encode())
    return h.hexdigest()[:16]


def update_index(
    settings: Settings | None = None,
    *,
    rebuild: bool = False,
    progress: bool = True,
    use_shipped_cache: bool = True,
    embedder: CachedEmbedding | None = None,
    paths: Iterable[str | os.PathLike[str]] | None = None,
) -> IndexReport:
    """Bring the index in line with the corpus; return what was done. Safe to run while others query.

    ``paths``: only these files were added, edited or deleted, so the folder is not listed and the update
    costs what they do (``assistant.index.named``; it rescans when their names cannot decide)."""
    settings = settings or get_settings()
    started = time.perf_counter()
    layout = Layout(settings.index_dir)
    names = relative_names(settings.corpus_dir, paths) if paths is not None else None  # outside the folder: now
    embedder = embedder or build_embedder(settings, use_shipped_cache=use_shipped_cache)
    with build_lock(layout):
        current, rebuild, version, reusable = _baseline(settings, layout, embedder, rebuild)
        old: dict[str, Any] = current.get("documents", {}) if reusable else {}
        scanned = scan(settings.corpus_dir, layout.index_dir, version, rebuild=rebuild, documents=old, names=names)
        files, skipped, fingerprints = scanned.files, scanned.skipped, scanned.fingerprints
        if reusable and scanned.unchanged(old):
            scanned.record(layout.index_dir, version)
            return IndexReport(build_id=current["build_id"], documents=len(files), chunks=current.get("chunks", 0),
                               skipped=skipped, unchanged=True, seconds=time.perf_counter() - started)

        report = IndexReport(build_id=layout.new_build_id(), documents=len(files), chunks=0, skipped=skipped)
        plan, changed = _plan(files, fingerprints, old, dict(current.get("segments", {})) if reusable else {}, report)

        def chunk(doc_id: str) -> compose.FreshDoc:
            fresh = chunk_file(changed[doc_id], fingerprints[doc_id], settings, report.warnings)
            changed[doc_id].doc = None  # its text lives in the chunks now
            return fresh

        if reusable:  # an update chunks now, to choose the segment it writes; a full build a batch at a time
            plan.fresh.update({doc_id: chunk(doc_id) for doc_id in changed})
        if reusable and not _chunks(plan):  # nothing to search: keep the previous index answering
            raise empty_index_error(settings.corpus_dir, len(files), skipped)

        embed = _Embedding(embedder, progress)
        try:
            meta = _write_build(
                settings, layout, report.build_id, plan, embed, version, current=current, full=not reusable,
                fingerprints=fingerprints, files=files, chunk=chunk)
        finally:
            embed.close()
        report.segment, report.chunks = compose.segment_kind(meta), meta["chunks"]
        report.embedded, report.embed_seconds = embed.embedded, embed.seconds
        if not report.chunks:  # a full build of documents without text: never made current, removed
            shutil.rmtree(layout.build_dir(report.build_id), ignore_errors=True)
            raise empty_index_error(settings.corpus_dir, len(files), skipped)
        report.embed_seconds += add_sentence_vectors(settings, layout, meta["segments"], embedder, progress=progress)[1]
        _publish(settings, layout, meta, current)
        scanned.record(layout.index_dir, version)
        report.seconds = time.perf_counter() - started
        logger.info("index build %s: %d documents, %d chunks", report.build_id, len(files), report.chunks)
        return report


def _baseline(settings: Settings, layout: Layout, embedder: CachedEmbedding, rebuild: bool
              ) -> tuple[dict[str, Any] | None, bool, str, bool]:
    """The current build's meta (None when there is none or it is unreadable and ``rebuild``), ``rebuild``,
    the pipeline version, and whether the current build can be updated (else everything is built anew)."""
    current, rebuild = _current(layout, embedder, rebuild)
    version = pipeline_version(settings)
    reusable = (current is not None and not rebuild and current.get("pipeline_version") == version
                and bool(current.get("server")) == store.server_configured(settings))
    return current, rebuild, version, reusable


def _current(layout: Layout, embedder: CachedEmbedding, rebuild: bool) -> tuple[dict[str, Any] | None, bool]:
    try:
        current = layout.current_meta()
    except IndexOutdatedError:
        return None, True
    except IndexCorruptError:
        if not rebuild:
            raise
        return None, True
    if current and current.get("embedder_id") != embedder.embedder_id and not rebuild:
        raise EmbedderMismatchError(
            f"索引 {layout.index_dir} 使用嵌入模型 {current.get('embedder_id')} 构建，"
            f"当前配置为 {embedder.embedder_id}。请运行 `policy-qa index --rebuild`。"
        )
    return current, rebuild


def _plan(files: list[CorpusFile], fingerprints: dict[str, str], old: dict[str, Any],
          segments: dict[str, dict[str, Any]], report: IndexReport) -> tuple[compose.Plan, dict[str, CorpusFile]]:
    """The new build's documents: kept from the current build, or fresh (not chunked yet); the changed files."""
    plan = compose.Plan([f.doc_id for f in files], {}, {}, segments)
    changed: dict[str, CorpusFile] = {}
    for f in files:
        prev = old.get(f.doc_id)
        if prev and prev["fingerprint"] == fingerprints[f.doc_id]:
            plan.kept[f.doc_id] = prev
            continue
        (report.changed if prev else report.added).append(f.file)
        changed[f.doc_id] = f
        plan.fresh[f.doc_id] = None
    report.removed = sorted(v["file"] for k, v in old.items() if k not in fingerprints)
    return plan, changed


def _chunks(plan: compose.Plan) -> int:
    """Passages of an update's build (its fresh documents are chunked already)."""
    return sum(int(r["chunks"]) for r in plan.kept.values()) + sum(len(d.nodes) for d in plan.fresh.values() if d)


class _Embedding:
    """Embeds a batch of fresh documents' passages (cache misses only) and attaches each document's vectors."""

    def __init__(self, embedder: CachedEmbedding, progress: bool) -> None:
        self.embedder, self.progress = embedder, progress
        self.embedded, self.seconds = 0, 0.0
        self._bar: Any = None

    def __call__(self, docs: list[compose.FreshDoc]) -> None:
        started = time.perf_counter()
        texts = [embed_text(n) for d in docs for n in d.nodes]
        if self.progress and self._bar is None and self.embedder.missing(texts):
            from tqdm import tqdm

            self._bar = tqdm(desc="嵌入向量", unit="段")
        self.embedded += self.embedder.fill(texts, on_batch=self._bar.update if self._bar else None)
        for d in docs:
            vecs = [self.embedder.cache.get(text_key(embed_text(n))) for n in d.nodes]
            d.vectors = np.stack(vecs) if vecs else np.zeros((0, 0), np.float32)
        self.seconds += time.perf_counter() - started

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _write_build(settings: Settings, layout: Layout, build_id: str, plan: compose.Plan, embed: _Embedding,
                 version: str, *, current: dict[str, Any] | None, full: bool, fingerprints: dict[str, str],
                 files: list[CorpusFile], chunk: Callable[[str], compose.FreshDoc]) -> dict[str, Any]:
    """The new segment (if any) and meta.json, written before anything points at them; the meta."""
    bdir = layout.build_dir(build_id)
    bdir.mkdir(parents=True, exist_ok=True)
    docs, segments = compose.write(plan, settings, layout, build_id, full=full, chunk=chunk, embed=embed)
    meta = {
        "format": FORMAT_VERSION,
        "build_id": build_id,
        "previous": current["build_id"] if current else "",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "embedder_id": embed.embedder.embedder_id,
        "pipeline_version": version,
        "corpus_dir": str(settings.corpus_dir),
        "server": f"{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else "",
        "chunks": sum(int(r["chunks"]) for r in docs.values()),
        "segments": segments,
    }
    by_id: dict[str, CorpusFile] = {}

    def record(d: str) -> dict[str, Any]:  # a document the build wrote (or moved): its record, made anew
        if not by_id:
            by_id.update((f.doc_id, f) for f in files)
        placed = {"chunks": docs[d]["chunks"], "segment": docs[d]["segment"]}
        return docmeta.record(plan.kept.get(d), by_id[d].file, by_id[d].content_hash, fingerprints[d], placed)

    kept = plan.kept  # a kept document ``compose.write`` left where it was is its own record: an identity test
    documents = {d: docs[d] if docs[d] is kept.get(d) and docs[d].get("content_hash") else record(d)
                 for d in plan.order}
    meta.update(docmeta.encode(documents, current, rewrite=full or build_id in segments and segments[build_id]["sealed"],
                               share=settings.indexing.meta_rewrite_share))
    # one line: json's C encoder (any indent means its pure-Python one, ~0.3 s at 8,600 documents per update)
    write_atomic(bdir / "meta.json", json.dumps(meta, ensure_ascii=False))
    return {**meta, "documents": documents}


def _publish(settings: Settings, layout: Layout, meta: dict[str, Any], current: dict[str, Any] | None) -> None:
    """Make the build current, then drop what neither it nor the build before it references."""
    layout.set_current(meta["build_id"])
    removed = layout.collect_garbage(compose.referenced(meta) | compose.referenced(current))
    store.drop_collections(settings, removed)
