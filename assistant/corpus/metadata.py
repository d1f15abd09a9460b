"""What a document's text states about itself: title, 文号, date and issuing body (when no manifest says so).

The phrasing each detector looks for is data (``data/corpus.toml`` [metadata]); only lines near the top or a
line that is nothing but the value count, so a number or date cited inside a sentence is not taken.
"""

from __future__ import annotations

import re

from assistant.core.lexicon import pattern
from assistant.core.outline import NUMBERED
from assistant.corpus.places import guess_jurisdiction

_CRUMB = pattern("corpus", "metadata.crumb")
_ADDRESSEE = pattern("corpus", "metadata.addressee")
_TITLE_LINE = pattern("corpus", "metadata.title_line")
_MD_TITLE = pattern("corpus", "metadata.markdown_title")
_DOC_NUMBER = pattern("corpus", "metadata.doc_number")
_DOC_NUMBER_LABEL = pattern("corpus", "metadata.doc_number_label")
_DATE_LABEL = pattern("corpus", "metadata.date_label")
_DATE_LINE = pattern("corpus", "metadata.date_line")
_ISSUER = pattern("corpus", "metadata.issuer")
_SPACES = re.compile(r"\s+")

_TITLE_LINES = 60  # a title is read from the first lines only
_DOC_NUMBER_LINES = 80  # likewise a 文号
_TITLE_CHARS = (6, 80)  # an explicit title line is this long
_FIRST_LINE_CHARS = 60  # a first line taken as the title is cut here
_NUMBER_LINE_SLACK = 6  # a 文号 line may hold this many characters besides the number


def _lines(text: str) -> list[str]:
    return [ln.strip().lstrip("•·●").strip() for ln in text.splitlines() if ln.strip()]


def detect_title(text: str) -> str:
    """An explicit 《…》的通知 / …意见 title line, else a markdown heading, else the first meaningful line."""
    lines = _lines(text)[:_TITLE_LINES]
    lo, hi = _TITLE_CHARS
    for line in lines:
        if lo <= len(line) <= hi and "。" not in line and not NUMBERED.match(line) and _TITLE_LINE.search(line):
            return line
    for raw in text.splitlines()[:_TITLE_LINES]:
        m = _MD_TITLE.match(raw.strip())
        if m:
            return m.group(1).strip()
    for line in lines:
        if len(line) < 4 or _CRUMB.match(line) or _ADDRESSEE.match(line) or line.endswith((":", "：")):
            continue
        return line[:_FIRST_LINE_CHARS]
    return ""


def detect_doc_number(text: str) -> str:
    """A 文号 stated on its own line or after a 文号 label near the top; a cited number inside a sentence is not this document's."""
    for line in _lines(text)[:_DOC_NUMBER_LINES]:
        m = _DOC_NUMBER.search(line)
        if m and (len(line) <= len(m.group(0)) + _NUMBER_LINE_SLACK or _DOC_NUMBER_LABEL.match(line)):
            return _SPACES.sub("", m.group(0))
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
