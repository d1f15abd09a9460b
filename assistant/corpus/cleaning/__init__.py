"""Raw document text -> display text the chunker can trust.

Web-scraped policy documents arrive with HTML, markdown/table debris, pinyin annotations, GBK
mojibake and tables flattened to one cell per line. Each defect gets a general rule (one module per
defect here) so unseen documents with the same defects come out clean; what cannot be repaired is
dropped with a warning. Tables are rebuilt into one ``字段：值；…`` record per row so a row stays
together in one chunk.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from assistant.corpus.cleaning.flat_tables import rebuild_flat_tables
from assistant.corpus.cleaning.html import html_to_text, page_text
from assistant.corpus.cleaning.mojibake import PUA, repair_mojibake
from assistant.corpus.cleaning.page import drop_chrome, normalise_lines
from assistant.corpus.cleaning.pinyin import remove_pinyin
from assistant.corpus.cleaning.tables import rebuild_tsv_tables

__all__ = [
    "CleanedDocument",
    "clean_text",
    "html_to_text",
    "page_text",
    "rebuild_flat_tables",
    "rebuild_tsv_tables",
    "remove_pinyin",
    "repair_mojibake",
]

logger = logging.getLogger(__name__)

_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


@dataclass
class CleanedDocument:
    """Display text in the original script, plus what could not be repaired."""

    text: str
    warnings: list[str] = field(default_factory=list)


def clean_text(raw: str, *, file: str = "") -> CleanedDocument:
    """Repair one document's text; deterministic and fast (no I/O, regexes and small lookups only)."""
    warnings: list[str] = []
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    text, moji_warnings = repair_mojibake(text)
    warnings.extend(moji_warnings)
    pua = PUA.findall(text)
    if pua:
        warnings.append(f"dropped {len(pua)} private-use character(s) that could not be decoded")
        text = PUA.sub("", text)
    text = remove_pinyin(text)
    lines = text.split("\n")
    lines = rebuild_tsv_tables(lines, html_to_text)
    text = html_to_text("\n".join(lines))
    lines = drop_chrome(text.split("\n"))
    lines = rebuild_flat_tables(lines)
    cleaned = normalise_lines(lines)
    for w in warnings:
        logger.warning("%s: %s", file or "<text>", w)
    return CleanedDocument(text=cleaned, warnings=warnings)
