"""Corpus folder -> ``SourceDocument``s with text and metadata; bad files become ``SkippedFile``s.

One unreadable, binary, empty or duplicate file must never stop the rest of the corpus from loading,
so every per-file problem is caught here, logged, and reported with a reason a person can act on.
Metadata comes from ``manifest.toml`` when present, else from what the text itself states.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from assistant.core.text import to_simplified
from assistant.corpus.manifest import (
    LIFECYCLE_FIELDS,
    MANIFEST_NAME,
    LoadError,
    manifest_lifecycle,
    read_manifest,
)
from assistant.corpus.places import guess_jurisdiction, most_named_place

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


# --- decoding ------------------------------------------------------------------------------------


def _common_han(ch: str) -> bool:
    """Level-1 (most frequent) characters of GB2312 (Simplified) or Big5 (Traditional)."""
    if not "\u4e00" <= ch <= "\u9fff":
        return False
    for codec, lo, hi in (("gb2312", 0xB0A1, 0xD7FE), ("big5", 0xA440, 0xC67E)):
        try:
            code = int.from_bytes(ch.encode(codec), "big")
        except UnicodeEncodeError:
            continue
        if lo <= code <= hi:
            return True
    return False


def _score(text: str) -> int:
    """Plausibility of a decoding: common Chinese characters minus damage."""
    bad = sum(1 for c in text if c == "\ufffd" or "\ue000" <= c <= "\uf8ff")
    return sum(1 for c in text if _common_han(c)) - 10 * bad


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Bytes -> (text, encoding): UTF-8 (BOM or not) first, then the best of GB18030 and Big5.

    Short Chinese texts defeat statistical detectors, so legacy codecs are judged by how many
    common characters each decoding yields.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if b"\x00" in data[:8192]:
        raise LoadError("binary file (contains NUL bytes), not a text document")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    sample = data[:200_000]
    candidates = []
    for codec in ("gb18030", "big5"):
        text = sample.decode(codec, errors="replace")
        candidates.append((_score(text), codec))
    score, codec = max(candidates)
    if score <= 0:
        try:
            from charset_normalizer import from_bytes

            best = from_bytes(data).best()
        except Exception:  # detector failure is just "no answer"
            best = None
        if best is None:
            raise LoadError("undecodable bytes: not UTF-8, GB18030 or Big5 text")
        return str(best), best.encoding
    return data.decode(codec, errors="replace"), codec


class _HtmlExtractor(HTMLParser):
    _BLOCK = {"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "title", "table", "section"}
    _SKIP = {"script", "style", "noscript", "template"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
        elif tag in {"td", "th"}:
            self.parts.append("\t")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _html_text(markup: str) -> str:
    parser = _HtmlExtractor()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join((page.extract_text() or "") for page in PdfReader(path).pages)


def _docx_text(path: Path) -> str:
    import docx

    document = docx.Document(str(path))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append("\t".join(cell.text.strip() for cell in row.cells))
    return "\n".join(lines)


def _extract(path: Path, data: bytes) -> tuple[str, str]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            return _pdf_text(path), "pdf"
        if suffix == ".docx":
            return _docx_text(path), "docx"
    except Exception as exc:  # third-party parsers raise many types on damaged files
        raise LoadError(f"cannot extract text from {suffix} file: {exc}") from exc
    text, encoding = decode_bytes(data)
    if suffix in {".html", ".htm"}:
        text = _html_text(text)
    return text, encoding


# --- metadata from the text ----------------------------------------------------------------------

_CRUMB = re.compile(r"^(?:您现在的位置|您現在的位置|当前位置|當前位置|首页|首頁|>)")
_ADDRESSEE = re.compile(r"^[^。]{2,80}(?:人民政府|单位|單位|部门|部門|机构|機構|管委会|办事处|辦事處)[^。]{0,40}[:：]$")
_OUTLINE = re.compile(r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|\d{1,2}[.．、]|第[一二三四五六七八九十百]+[章条])")
# "《…》的通知" is read from the start of its 》-delimited stretch (the first 《 in it), so a search stays
# linear on a long run of 《 (tests/test_patterns.py).
_TITLE_LINE = re.compile(r"(?:(?:^|》)[^》《]*+《[^》]+》的通知|(?:意见|意見|措施|举措|舉措|办法|辦法|通知|方案|规定|規定|细则|細則|条例|條例|做法))$")
_MD_TITLE = re.compile(r"^#{1,6}\s+(.+)$")
_DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,12}[〔\[［【（(]\s*(?:19|20)\d{2}\s*[〕\]］】）)]\s*第?\s*\d{1,4}\s*[号號]")
_DATE_LABEL = re.compile(
    r"(?:成文日期|发布日期|發布日期|印发日期|发文日期)\s*[:：]?[\s•·]*(\d{4})\s*[-年./]\s*(\d{1,2})\s*[-月./]\s*(\d{1,2})"
)
_DATE_LINE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$")
_ISSUER = re.compile(
    r"^[\u4e00-\u9fff]{2,20}?(?:人民政府办公室|人民政府辦公室|人民政府办公厅|人民政府辦公廳|人民政府"
    r"|办公室|辦公室|办公厅|辦公廳|委员会|委員會|发展和改革委员会|局|厅|廳)$"
)


def _lines(text: str) -> list[str]:
    return [ln.strip().lstrip("•·●").strip() for ln in text.splitlines() if ln.strip()]


def detect_title(text: str) -> str:
    """An explicit 《…》的通知 / …意见 title line, else a markdown heading, else the first meaningful line."""
    lines = _lines(text)[:60]
    for line in lines:
        if 6 <= len(line) <= 80 and "。" not in line and not _OUTLINE.match(line) and _TITLE_LINE.search(line):
            return line
    for raw in text.splitlines()[:60]:
        m = _MD_TITLE.match(raw.strip())
        if m:
            return m.group(1).strip()
    for line in lines:
        if len(line) < 4 or _CRUMB.match(line) or _ADDRESSEE.match(line) or line.endswith((":", "：")):
            continue
        return line[:60]
    return ""


def detect_doc_number(text: str) -> str:
    """A 文号 stated on its own line or after a 文号 label near the top; a cited number inside a sentence is not this document's."""
    for line in _lines(text)[:80]:
        m = _DOC_NUMBER.search(line)
        if m and (len(line) <= len(m.group(0)) + 6 or re.match(r"^(?:文号|文號|发文字号)", line)):
            return re.sub(r"\s+", "", m.group(0))
    return ""


def detect_date(text: str) -> str:
    """成文/发布日期 when labelled, else a standalone signature date line; YYYY-MM-DD or ""."""
    m = _DATE_LABEL.search(text)
    if not m:
        m = next((d for d in map(_DATE_LINE.match, _lines(text)) if d), None)
    if not m:
        return ""
    year, month, day = (int(g) for g in m.groups())
    if not (1949 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31):
        return ""
    return f"{year:04d}-{month:02d}-{day:02d}"


def detect_issuer(text: str) -> str:
    """A signature or header line that is just an issuing body, e.g. ``XX市人民政府办公室``."""
    candidates = [line for line in _lines(text) if _ISSUER.match(line)]
    named = [line for line in candidates if guess_jurisdiction(line)]  # "市政府办公室" names no place
    return (named or candidates or [""])[0]


# --- loading -------------------------------------------------------------------------------------


def load_document(path: Path, manifest_entry: dict | None = None, *, doc_id: str | None = None,
                  file: str | None = None) -> SourceDocument:
    """Read, decode and describe one file; raises ``LoadError`` with a reason."""
    path = Path(path)
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
    if not data.strip():
        raise LoadError("empty file (no text)")
    text, encoding = _extract(path, data)
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


def _corpus_files(corpus_dir: Path) -> list[Path]:
    files = []
    for path in sorted(corpus_dir.rglob("*")):
        rel = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in rel.parts) or path.name == MANIFEST_NAME:
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES or path.name.upper().startswith("README"):
            continue
        if path.is_dir():
            continue
        files.append(path)
    return files


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
