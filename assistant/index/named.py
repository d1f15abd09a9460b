"""An update told which files changed (``policy-qa index FILE…``): the folder is not listed.

A rescan lists and stats every file of the corpus to find what changed, ~10 µs a file (0.1 s at 8,600
files) whatever the change. A caller that knows what changed (an upload hook, a file watcher, a person)
names the files instead: only they are stat-ed and read, and every other document is the current build's
record, in the order and with the id a rescan gives. Where a rescan's rules need the whole folder, this
gives up (None) and the caller rescans: a new file whose stem another document already has (ids then
follow folder order), bytes identical to another document's, or a changed ``manifest.toml``. Files that
were not named are as the last build saw them; a rescan (``policy-qa index`` alone) catches up on anything
changed without being named.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.corpus.loading import SUPPORTED_SUFFIXES, SkippedFile, link_problem, load_document
from assistant.corpus.manifest import MANIFEST_NAME, LoadError, read_manifest
from assistant.index.documents import doc_fingerprint, fingerprint
from assistant.index.scan import (
    CorpusFile,
    append_scan,
    entry_hash,
    file_stat,
    read_scan,
    scan_corpus,
    write_scan,
)


class NamedFileError(ValueError):
    """A named file lies outside the corpus folder (the CLI exits 2 with the message)."""


def relative_names(corpus_dir: Path, paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Each named file relative to the corpus folder, with "/" (relative names are taken from the working
    folder, as a shell gives them)."""
    out = []
    for p in paths:
        rel = _inside(os.path.abspath(corpus_dir), os.path.abspath(p))
        if rel is None:  # the folder or the file reached through a link: compare where they really are
            rel = _inside(os.path.realpath(corpus_dir), os.path.join(os.path.realpath(os.path.dirname(
                os.path.abspath(p))), os.path.basename(p)))
        if rel is None:
            raise NamedFileError(f"{p} 不在语料目录 {corpus_dir} 中：只能更新语料目录里的文件。")
        out.append(Path(rel).as_posix())
    return list(dict.fromkeys(out))


def _inside(root: str, path: str) -> str | None:
    rel = os.path.relpath(path, root)
    return None if rel == "." or rel == ".." or rel.startswith(".." + os.sep) else rel


def _listable(rel: str) -> bool:
    """Whether a rescan would consider the file at all (the listing's rules)."""
    parts = rel.split("/")
    name = parts[-1]
    if any(p.startswith(".") for p in parts) or name == MANIFEST_NAME or name.upper().startswith("README"):
        return False
    return os.path.splitext(name)[1].lower() in SUPPORTED_SUFFIXES


def _order_key(rel: str) -> tuple[str, ...]:
    return tuple(rel.split("/"))  # the listing's order: sorted path parts


def scan_named(corpus_dir: Path, names: list[str], documents: Mapping[str, Mapping[str, Any]]
               ) -> tuple[list[CorpusFile], list[SkippedFile], set[str], list[CorpusFile]] | None:
    """The corpus's documents after re-reading only ``names`` (relative to the folder), what was skipped, the
    documents that went and the files read; None: rescan instead.

    ``documents``: the current build's records (doc_id -> file, fingerprint, content hash …) in corpus order;
    the documents not named keep them (they are not read, and the last scan's records are not needed)."""
    corpus_dir = Path(corpus_dir)
    if MANIFEST_NAME in names:
        return None
    by_file = {r["file"]: d for d, r in documents.items()}
    hashes = {r.get("content_hash") or "": d for d, r in documents.items()}
    if "" in hashes or len(hashes) < len(documents):  # a build before content hashes were recorded (the duplicate
        return None  # rule needs them)
    manifest = read_manifest(corpus_dir)
    fresh: dict[str, CorpusFile] = {}  # doc_id -> re-read now
    gone: set[str] = set()
    skipped: list[SkippedFile] = []
    for rel in names:
        doc_id = by_file.get(rel)
        path = corpus_dir / rel
        if not _listable(rel) or (not os.path.lexists(path) or path.is_dir()):
            if doc_id is not None:
                gone.add(doc_id)
            elif not os.path.lexists(path):
                skipped.append(SkippedFile(rel, "文件不存在，索引中也没有这个文件"))
            else:
                skipped.append(SkippedFile(rel, "不会被索引：文件夹、隐藏文件、README 或不支持的格式"))
            continue
        if doc_id is None:
            doc_id = Path(rel).stem
            if doc_id in documents or any(c.doc_id == doc_id for c in fresh.values()):
                return None  # the id depends on which of the two comes first in the folder
        problem = link_problem(path, corpus_dir)
        entry = manifest.get(rel) or manifest.get(path.name)
        stat = file_stat(path)
        try:
            if problem:
                raise LoadError(problem)
            doc = load_document(path, entry, doc_id=doc_id, file=rel)
        except LoadError as exc:
            skipped.append(SkippedFile(rel, exc.reason))
            if doc_id in documents:
                gone.add(doc_id)
            continue
        if hashes.get(doc.content_hash, doc_id) != doc_id or any(c.content_hash == doc.content_hash
                                                                 for c in fresh.values()):
            return None  # identical bytes to another document: which one is kept depends on folder order
        fresh[doc_id] = CorpusFile(doc_id, rel, stat, entry_hash(entry), doc.content_hash, doc)
    read = list(fresh.values())
    files = [fresh.pop(d, None) or _as_recorded(d, r) for d, r in documents.items() if d not in gone]
    for f in fresh.values():  # new documents, where a listing puts them (keys of log n files compared, not n)
        files.insert(bisect_left(files, _order_key(f.file), key=lambda g: _order_key(g.file)), f)
    return files, skipped, gone, read


def _as_recorded(doc_id: str, record: Mapping[str, Any]) -> CorpusFile:
    """A document that was not named: as the current build records it (not read; its scan record, which
    holds its stat, is left as it is)."""
    return CorpusFile(doc_id, str(record["file"]), [], "", str(record["content_hash"]))


@dataclass
class Scanned:
    """The corpus's documents as an update sees them, and how to record what it read."""

    files: list[CorpusFile]
    skipped: list[SkippedFile]
    fingerprints: dict[str, str]
    seen: dict[str, dict[str, Any]]  # the last scan's records (a rescan), or {} (named files)
    dropped: list[str] | None = None  # named files: the documents that went (None: a rescan)
    read: frozenset[str] = frozenset()  # named files: the documents read now (their text is dropped once chunked)

    def unchanged(self, documents: Mapping[str, Mapping[str, Any]]) -> bool:
        """Whether the build's ``documents`` already are these files (named: only the ones read are compared)."""
        if self.dropped is not None:
            return not self.dropped and all(
                d in documents and documents[d]["fingerprint"] == self.fingerprints[d] for d in self.read)
        return {k: v["fingerprint"] for k, v in documents.items()} == self.fingerprints

    def record(self, index_dir: Path, version: str) -> None:
        """Keep the scan records: all of them after a rescan, one appended line after named files."""
        if self.dropped is None:
            write_scan(index_dir, version, self.files, self.fingerprints, self.seen)
        else:
            append_scan(index_dir, version, [f for f in self.files if f.doc_id in self.read], self.fingerprints,
                        self.dropped)


def scan(corpus_dir: Path, index_dir: Path, version: str, *, rebuild: bool,
         documents: Mapping[str, Mapping[str, Any]], names: list[str] | None) -> Scanned:
    """Named files when given and the current build can be updated from them (``documents``), else a rescan."""
    if names is not None and documents:
        named = scan_named(corpus_dir, names, documents)
        if named is not None:
            files, skipped, gone, read = named
            fingerprints = {d: str(r["fingerprint"]) for d, r in documents.items() if d not in gone}
            fingerprints.update({f.doc_id: doc_fingerprint(f.doc) for f in read})  # type: ignore[arg-type]
            return Scanned(files, skipped, fingerprints, {}, [d for d in documents if d in gone] if gone else [],
                           frozenset(f.doc_id for f in read))
    seen = read_scan(index_dir, version) if not rebuild else {}
    files, skipped = scan_corpus(corpus_dir, seen)
    return Scanned(files, skipped, {f.doc_id: fingerprint(f, seen) for f in files}, seen)
