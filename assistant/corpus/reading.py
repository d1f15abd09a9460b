"""A file's bytes -> text: decoded (UTF-8, GB18030 or Big5, judged by the text) or extracted (.pdf, .docx, .html).

Short Chinese texts defeat statistical detectors, so legacy codecs are judged by how many common characters
each decoding yields; a file that is none of these raises ``LoadError`` with a reason a person can act on.
"""

from __future__ import annotations

from pathlib import Path

from assistant.corpus.cleaning import page_text
from assistant.corpus.manifest import LoadError

_SAMPLE_BYTES = 200_000  # legacy codecs are judged on this much of the file
_NUL_SCAN_BYTES = 8192  # a NUL byte in this much of the file means binary


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
    """Bytes -> (text, encoding): UTF-8 (BOM or not) first, then the best of GB18030 and Big5."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if b"\x00" in data[:_NUL_SCAN_BYTES]:
        raise LoadError("binary file (contains NUL bytes), not a text document")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    sample = data[:_SAMPLE_BYTES]
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


def extract_text(path: Path, data: bytes) -> tuple[str, str]:
    """(text, encoding or format) of a file whose bytes are ``data``; raises ``LoadError``."""
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
        text = page_text(text)
    return text, encoding
