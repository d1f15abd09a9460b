"""Corpus folder -> ``SourceDocument``s with text and metadata; bad files become ``SkippedFile``s.

One unreadable, binary, empty or duplicate file must never stop the rest of the corpus from loading,
so every per-file problem is caught here, logged, and reported with a reason a person can act on.
Metadata comes from ``manifest.toml`` when present, else from what the text itself states
(``metadata.py``); bytes become text in ``reading.py``.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from assistant.core.text import to_simplified
from assistant.corpus.manifest import (
    LIFECYCLE_FIELDS,
    MANIFEST_NAME,
    LoadError,
    manifest_lifecycle,
    read_manifest,
)
from assistant.corpus.metadata import detect_date, detect_doc_number, detect_issuer, detect_title
from assistant.corpus.places import guess_jurisdiction, most_named_place
from assistant.corpus.reading import extract_text

logger = logging.getLogger(__name__)

MAX_TEXT_BYTES = 20 * 1024 * 1024  # larger files are skipped: not a policy document, or a dump
MIB = 1024 * 1024
TEXT_SUFFIXES = frozenset({".txt", ".md"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | {".html", ".htm", ".pdf", ".docx"}


@dataclass
class SourceDocument:
    doc_id: str  # file stem, stable
    file: str  # file name relative to the corpus dir
    path: Path
    raw_text: str  # decoded text (for .html/.pdf/.docx: extracted text)
    content_hash: str  # sha256 hex of the file bytes
    title: str
    issuer: str
    jurisdiction: str
    doc_number: str
    date: str
    encoding: str
    lifecycle: dict[str, str | list[str]] = field(default_factory=dict)  # manifest lifecycle keys, checked


@dataclass
class SkippedFile:
    file: str
    reason: str  # human sentence naming the problem


def _read_bytes(path: Path) -> bytes:
    """The file's bytes; every way reading can fail becomes a ``LoadError`` with its reason."""
    try:
        size = path.stat().st_size
        if size > MAX_TEXT_BYTES:
            raise LoadError(f"file too large ({size / MIB:.1f} MiB > {MAX_TEXT_BYTES / MIB:.3g} MiB limit)")
        data = path.read_bytes()
    except FileNotFoundError as exc:
        if path.is_symlink():
            raise LoadError(f"链接目标不存在：{path.name} 指向 {_link_target(path)}") from exc
        raise LoadError("file disappeared while the corpus was being read") from exc
    except PermissionError as exc:
        raise LoadError("permission denied: the file cannot be read") from exc
    except IsADirectoryError as exc:
        raise LoadError("is a directory, not a file") from exc
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or exc}") from exc
    return data


def load_document(path: Path, manifest_entry: dict | None = None, *, doc_id: str | None = None,
                  file: str | None = None) -> SourceDocument:
    """Read, decode and describe one file; raises ``LoadError`` with a reason."""
    path = Path(path)
    data = _read_bytes(path)
    if not data.strip():
        raise LoadError("empty file (no text)")
    text, encoding = extract_text(path, data)
    if not text.strip():
        raise LoadError("no text could be extracted (empty or whitespace only)")
    if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
        raise LoadError(f"extracted text exceeds the {MAX_TEXT_BYTES / MIB:.3g} MiB limit")
    lifecycle = manifest_lifecycle(manifest_entry or {})
    entry = {k: str(v) for k, v in (manifest_entry or {}).items() if k not in LIFECYCLE_FIELDS}
    title = entry.get("title") or detect_title(text)
    issuer = entry["issuer"] if "issuer" in entry else detect_issuer(text)
    return SourceDocument(
        doc_id=doc_id or path.stem,
        file=file or path.name,
        path=path,
        raw_text=text,
        content_hash=hashlib.sha256(data).hexdigest(),
        title=title or path.stem,
        issuer=issuer,
        jurisdiction=to_simplified(
            entry.get("jurisdiction") or guess_jurisdiction(issuer, title) or most_named_place(text)
        ),
        doc_number=entry["doc_number"] if "doc_number" in entry else detect_doc_number(text),
        date=entry["date"] if "date" in entry else detect_date(text),
        encoding=encoding,
        lifecycle=lifecycle,
    )


def _link_target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def link_problem(path: Path, root: Path) -> str | None:
    """Why a corpus entry that is (or passes through) a symlink must not be read, else None.

    A link may point anywhere (``/etc/passwd``); only targets inside the corpus folder are documents.
    """
    loop = f"符号链接无法解析（循环链接）：{path.name}"
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:  # a plain file that vanished is load_document's to report
        return f"链接目标不存在：{path.name} 指向 {_link_target(path)}" if path.is_symlink() else None
    except RuntimeError:  # symlink loop, Python < 3.13
        return loop
    except OSError as exc:
        return loop if exc.errno == errno.ELOOP else None
    if not target.is_relative_to(root.resolve()):
        return f"符号链接指向语料目录之外（{target}），出于安全考虑已跳过"
    return None


class ListedFile(NamedTuple):
    """A candidate document of the folder, as the listing saw it (no further system call needed)."""

    path: str  # the corpus folder joined with ``rel``
    rel: str  # relative to the corpus folder, with "/"
    name: str
    stem: str  # ``name`` without its suffix, as ``Path.stem``
    suffix: str  # lower case, with its dot
    is_link: bool  # the entry itself is a symlink
    folder: str  # its folder's path


def corpus_listing(corpus_dir: Path) -> list[ListedFile]:
    """The folder's candidate documents in sorted path order (``sorted(rglob("*"))``'s), one ``scandir`` per folder.

    Hidden names and the manifest are left out; symlinked folders are listed but not entered (their targets
    are checked file by file). Costs one directory read per folder, not a ``Path`` and a ``stat`` per file:
    an update lists every file to find what changed, so this is paid at every corpus size.
    """
    files: list[ListedFile] = []
    _list_folder(os.fspath(corpus_dir), "", files)
    return files


def _list_folder(folder: str, prefix: str, out: list[ListedFile]) -> None:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:  # unreadable or vanished: rglob skips it too
        return
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:  # a symlink loop: listed, so the reading step can say why it is skipped (as rglob does)
            is_dir = False
        is_link = entry.is_symlink()
        if is_dir and not is_link:
            _list_folder(entry.path, f"{prefix}{name}/", out)
            continue
        if is_dir or name == MANIFEST_NAME or name.upper().startswith("README"):
            continue
        stem, suffix = os.path.splitext(name)
        if suffix.lower() in SUPPORTED_SUFFIXES:
            out.append(ListedFile(entry.path, prefix + name, name, stem, suffix.lower(), is_link, folder))


def _corpus_files(corpus_dir: Path) -> list[Path]:
    return [Path(f.path) for f in corpus_listing(corpus_dir)]


def load_corpus(corpus_dir: Path) -> tuple[list[SourceDocument], list[SkippedFile]]:
    """All documents of a folder (sorted, so ids and order are stable) and the files skipped, with reasons."""
    corpus_dir = Path(corpus_dir)
    manifest = read_manifest(corpus_dir)
    docs: list[SourceDocument] = []
    skipped: list[SkippedFile] = []
    seen_hashes: dict[str, str] = {}
    seen_ids: set[str] = set()
    for path in _corpus_files(corpus_dir):
        rel = path.relative_to(corpus_dir).as_posix()
        problem = link_problem(path, corpus_dir)
        if problem:
            skipped.append(SkippedFile(rel, problem))
            logger.warning("skipped %s: %s", rel, problem)
            continue
        doc_id = path.stem if path.stem not in seen_ids else f"{path.stem}_{path.suffix.lstrip('.').lower()}"
        try:
            doc = load_document(path, manifest.get(rel) or manifest.get(path.name), doc_id=doc_id, file=rel)
        except LoadError as exc:
            skipped.append(SkippedFile(rel, exc.reason))
            logger.warning("skipped %s: %s", rel, exc.reason)
            continue
        if doc.content_hash in seen_hashes:
            reason = f"duplicate of {seen_hashes[doc.content_hash]} (identical bytes)"
            skipped.append(SkippedFile(rel, reason))
            logger.warning("skipped %s: %s", rel, reason)
            continue
        seen_hashes[doc.content_hash] = rel
        seen_ids.add(doc.doc_id)
        docs.append(doc)
    return docs, skipped
