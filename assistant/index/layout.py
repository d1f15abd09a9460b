"""On-disk layout of an index directory, and the atomic pointer to the current build.

    <index_dir>/CURRENT              id of the complete build readers use (replaced atomically)
    <index_dir>/builds/<id>/meta.json    the build: its documents in corpus order, each read from one segment
    <index_dir>/builds/<id>/         the segment this build wrote, if any (assistant/index/segments.py):
                                     chunks.jsonl, documents.jsonl, bm25/, vectors.npy, chroma/ (sealed)
    <index_dir>/vectors/<embedder>.vec   vector cache by text hash, append-only (assistant/index/vectorlog.py)
    <index_dir>/.build.lock          one writer at a time

A build writes only what changed (a new segment for the documents it re-chunked) and names the
segments of earlier builds for the rest; nothing is modified once written. It becomes visible only
when CURRENT names it, after every file of it is written, so a failed or killed build leaves the
previous index answering, and a reader sees one build or the next, never a mix.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llama_index.core.schema import TextNode

from assistant.index import docmeta

FORMAT_VERSION = 3  # 3: segments (a build names the segments of earlier builds)


class IndexMissingError(RuntimeError):
    """No complete index yet."""


class IndexCorruptError(RuntimeError):
    """The index directory cannot be read; the message names it and the fix."""


class IndexOutdatedError(IndexCorruptError):
    """Written by an older version: rebuilt automatically (vectors come from the cache)."""


def corrupt(index_dir: Path, detail: str) -> IndexCorruptError:
    return IndexCorruptError(
        f"索引目录 {index_dir} 无法读取（{detail}）。请运行 `policy-qa index --rebuild` 重建索引。"
    )


@dataclass(frozen=True)
class Layout:
    index_dir: Path

    @property
    def builds(self) -> Path:
        return self.index_dir / "builds"

    @property
    def pointer(self) -> Path:
        return self.index_dir / "CURRENT"

    @property
    def lock(self) -> Path:
        return self.index_dir / ".build.lock"

    def build_dir(self, build_id: str) -> Path:
        return self.builds / build_id

    def new_build_id(self) -> str:
        return time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]

    def current_id(self) -> str | None:
        try:
            value = self.pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise corrupt(self.index_dir, f"{type(exc).__name__}: {exc.strerror or exc}") from None
        return value or None

    def set_current(self, build_id: str) -> None:
        tmp = self.pointer.with_name(f"CURRENT.{os.getpid()}.tmp")
        tmp.write_text(build_id, encoding="utf-8")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.pointer)

    def read_meta(self, build_id: str) -> dict[str, Any]:
        """A build's meta, with every document record (an update's meta may hold only what changed)."""
        return docmeta.resolve(self._read_meta_file(build_id), self._read_meta_file)

    def _read_meta_file(self, build_id: str) -> dict[str, Any]:
        path = self.build_dir(build_id) / "meta.json"
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise corrupt(self.index_dir, f"构建 {build_id} 缺少 meta.json") from None
        except (OSError, ValueError) as exc:
            raise corrupt(self.index_dir, f"meta.json: {type(exc).__name__}") from None
        if meta.get("format") != FORMAT_VERSION:
            raise IndexOutdatedError(
                f"索引目录 {self.index_dir} 的格式 {meta.get('format')} 与当前版本 {FORMAT_VERSION} 不符，"
                "请运行 `policy-qa index --rebuild`。"
            )
        return meta

    def current_meta(self) -> dict[str, Any] | None:
        build_id = self.current_id()
        return self.read_meta(build_id) if build_id else None

    def collect_garbage(self, keep: set[str]) -> list[str]:
        """Remove build folders other than ``keep`` (the current and previous builds and their segments)."""
        removed = []
        if not self.builds.exists():
            return removed
        for child in self.builds.iterdir():
            if child.name not in keep:
                shutil.rmtree(child, ignore_errors=True)
                removed.append(child.name)
        return removed


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: a reader (or a kill) sees the old file or the new one."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def node_from_row(row: dict[str, Any]) -> TextNode:
    """A chunk as stored in chunks.jsonl -> TextNode (metadata kept out of LlamaIndex's own text).

    Metadata keys and string values are interned: a document's chunks repeat its title, issuer, file and
    dates, and one copy of each instead of one per chunk saves ~1.3 KB per chunk in a reader (~125 MB at
    100k passages)."""
    meta = {sys.intern(k): sys.intern(v) if isinstance(v, str) else v for k, v in row["metadata"].items()}
    keys = list(meta)
    return TextNode(
        id_=row["id"],
        text=row["text"],
        metadata=meta,
        excluded_embed_metadata_keys=keys,
        excluded_llm_metadata_keys=keys,
    )


class IndexBusyError(RuntimeError):
    """Another process is writing the index."""


@contextmanager
def build_lock(layout: Layout, wait_seconds: float = 600.0) -> Iterator[None]:
    """One writer at a time: a second update waits up to ``wait_seconds``, then says the index is busy."""
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
