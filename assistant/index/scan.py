"""Reading the corpus folder for an update: only files that changed since the last build are read.

``assistant.corpus.loading.load_corpus`` reads, decodes and describes every file (title, 文号, place
from jieba's tags...), which at tens of thousands of files costs minutes. An update needs that only for
files whose bytes or manifest entry changed: the others are known by their (size, mtime, ctime, inode)
and manifest entry, recorded in the build's meta. This is ``load_corpus``'s loop (same order, same
ids, same skips and duplicate rule; tests/test_indexing.py checks they agree) with that reuse added.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.corpus.loading import SkippedFile, SourceDocument, corpus_listing, link_problem, load_document
from assistant.corpus.manifest import LoadError, read_manifest
from assistant.index.layout import write_atomic

logger = logging.getLogger(__name__)

SCAN_FILE = "files.json"  # <index_dir>/files.json: each corpus file's stat and fingerprint when last read
SCAN_LOG = "files.log"  # records appended by updates of named files since files.json was written


@dataclass(slots=True)  # one per document and update: tens of thousands
class CorpusFile:
    """One document of the folder: read now (``doc``), or unchanged since the build that last read it."""

    doc_id: str
    file: str
    stat: list[int]
    entry: str  # hash of its manifest entry
    content_hash: str
    doc: SourceDocument | None = None  # None: unchanged, not read

    def record(self, fingerprint: str) -> dict[str, Any]:
        """What the build's meta keeps to recognise the file next time."""
        return {"file": self.file, "fingerprint": fingerprint, "stat": self.stat, "entry": self.entry,
                "content_hash": self.content_hash}


def file_stat(path: Path | str) -> list[int]:
    """Size, mtime, ctime and inode: any write or replacement changes one ([] when it cannot be read)."""
    try:
        st = os.stat(path)
    except OSError:
        return []
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


_NO_ENTRY = hashlib.sha256(b"{}").hexdigest()[:16]  # entry_hash({}), as json.dumps({}) gives it


def entry_hash(entry: Mapping[str, Any] | None) -> str:
    if not entry:  # most files have no manifest entry: one hash, not one json.dumps per file and update
        return _NO_ENTRY
    text = json.dumps(entry, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def scan_corpus(corpus_dir: Path, known: Mapping[str, Mapping[str, Any]]) -> tuple[list[CorpusFile], list[SkippedFile]]:
    """The folder's documents in ``load_corpus`` order; ``known`` (the last build's records by doc_id)
    lets unchanged files go unread."""
    corpus_dir = Path(corpus_dir)
    manifest = read_manifest(corpus_dir)
    files: list[CorpusFile] = []
    skipped: list[SkippedFile] = []
    seen_hashes: dict[str, str] = {}
    seen_ids: set[str] = set()
    plain = _PlainFolders(corpus_dir)
    for listed in corpus_listing(corpus_dir):
        rel = listed.rel
        if listed.is_link or not plain.holds(listed.folder):
            problem = link_problem(Path(listed.path), corpus_dir)
            if problem:
                _skip(skipped, rel, problem)
                continue
        doc_id = listed.stem if listed.stem not in seen_ids else f"{listed.stem}_{listed.suffix.lstrip('.')}"
        entry = (manifest.get(rel) or manifest.get(listed.name)) if manifest else None
        stat = file_stat(listed.path)  # before reading: a file changed while being read is read again next time
        found = _known(known.get(doc_id), doc_id, rel, stat, entry_hash(entry) if entry else _NO_ENTRY)
        if found is None:
            try:  # load_document words every reading problem (a vanished file, no permission...)
                doc = load_document(Path(listed.path), entry, doc_id=doc_id, file=rel)
            except LoadError as exc:
                _skip(skipped, rel, exc.reason)
                continue
            found = CorpusFile(doc_id, rel, stat, entry_hash(entry), doc.content_hash, doc)
        if found.content_hash in seen_hashes:
            _skip(skipped, rel, f"duplicate of {seen_hashes[found.content_hash]} (identical bytes)")
            continue
        seen_hashes[found.content_hash] = rel
        seen_ids.add(doc_id)
        files.append(found)
    return files, skipped


class _PlainFolders:
    """Folders reached without any symlink (each folder up to the corpus root is real): a file in one that is not
    a link itself has no ``link_problem``, so checking costs one realpath per folder, not two per file (seconds
    over tens of thousands of files). The listing says which entries are links."""

    def __init__(self, root: Path) -> None:
        self.root = os.path.realpath(root)
        self.base = os.fspath(root)
        self.folders: dict[str, bool] = {}

    def holds(self, folder: str) -> bool:
        ok = self.folders.get(folder)
        if ok is None:
            rel = os.path.relpath(folder, self.base)
            ok = self.folders[folder] = os.path.realpath(folder) == os.path.normpath(os.path.join(self.root, rel))
        return ok


def _known(prev: Mapping[str, Any] | None, doc_id: str, rel: str, stat: list[int], entry: str) -> CorpusFile | None:
    """The file as the last build recorded it, when neither its bytes nor its manifest entry changed (a file
    that could not be stat-ed is read)."""
    if not prev or not stat or prev.get("stat") != stat or prev.get("file") != rel or prev.get("entry") != entry:
        return None
    content_hash = prev.get("content_hash")
    return CorpusFile(doc_id, rel, stat, entry, str(content_hash)) if content_hash else None


def read_scan(index_dir: Path, version: str) -> dict[str, dict[str, Any]]:
    """What each file was when last read, if read by this pipeline version (else nothing is known): the
    records of the last rescan, then the lines an update of named files appended since."""
    try:
        data = json.loads((index_dir / SCAN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("pipeline_version") != version:
        return {}
    records: dict[str, dict[str, Any]] = data.get("files", {})
    try:
        lines = (index_dir / SCAN_LOG).read_text(encoding="utf-8").splitlines()
    except OSError:
        return records
    for line in lines:
        try:  # a line cut short by a kill is only a forgotten record: that file is read again
            step = json.loads(line)
        except ValueError:
            continue
        if isinstance(step, dict) and step.get("pipeline_version") == version:
            records.update(step.get("files", {}))
            for doc_id in step.get("dropped", []):
                records.pop(doc_id, None)
    return records


def write_scan(index_dir: Path, version: str, files: list[CorpusFile], fingerprints: dict[str, str],
               seen: Mapping[str, Mapping[str, Any]]) -> None:
    """Record the files as read now (only when something differs from what was known); the appended lines
    are folded in."""
    records = {f.doc_id: f.record(fingerprints[f.doc_id]) for f in files}
    if records != seen:
        index_dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"pipeline_version": version, "files": records}, ensure_ascii=False)  # C encoder: no indent
        write_atomic(index_dir / SCAN_FILE, text)
        (index_dir / SCAN_LOG).unlink(missing_ok=True)  # a kill before this: its records are older, hence misses


def append_scan(index_dir: Path, version: str, read: list[CorpusFile], fingerprints: dict[str, str],
                dropped: list[str]) -> None:
    """Record only the files an update of named files read or dropped: one line, not the corpus's records."""
    step = {"pipeline_version": version, "files": {f.doc_id: f.record(fingerprints[f.doc_id]) for f in read},
            "dropped": dropped}
    with open(index_dir / SCAN_LOG, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(step, ensure_ascii=False) + "\n")


def _skip(skipped: list[SkippedFile], rel: str, reason: str) -> None:
    skipped.append(SkippedFile(rel, reason))
    logger.warning("skipped %s: %s", rel, reason)
