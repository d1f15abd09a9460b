"""The outline grammar of a policy text: which numbered lines are headings, and which are items.

Chinese policy documents number both their sections (``三、``, ``（四）``) and their measures written
one per line; a heading starts a section in the citation path, an item is content. Chunking
(assistant/corpus/sections.py) asks this module which is which; cleaning (table cells), title detection
(assistant/corpus/metadata.py) and the number check (a marker before a claim) read the same grammar here.
"""

from __future__ import annotations

import re

LABEL_MAX = 40
ITEM_MIN_CHARS = 16  # a numbered one-sentence line this long (after its number) states a measure

_CN_NUM = "一二三四五六七八九十百零〇"
_HEADINGS = (  # (rank, pattern): a lower rank is a higher level
    (0, re.compile(rf"^第[{_CN_NUM}\d]+章")),
    (1, re.compile(rf"^[{_CN_NUM}]+、")),
    (1, re.compile(rf"^第[{_CN_NUM}\d]+条")),
    (2, re.compile(rf"^[（(][{_CN_NUM}]+[)）]")),
    (3, re.compile(r"^\d{1,2}[.．、](?![\d%％])")),
    (4, re.compile(r"^[（(]\d{1,2}[)）]")),
)
SECTION = _HEADINGS[1][1]  # 一、: a top-level section
SUBSECTION = _HEADINGS[3][1]  # （一）: a section under it
# A line that starts with any outline number, heading or item alike ("1.2023年…" too): never a document title.
NUMBERED = re.compile(rf"^(?:[{_CN_NUM}]+、|[（(][{_CN_NUM}\d]+[)）]|\d{{1,2}}[.．、]|第[{_CN_NUM}\d]+[章条])")
# A list marker a written sentence (an answer, a claim) may start with: spaced (``1 . ``) or bulleted (``- ``).
# It is looser than the headings above because it reads text people and models write, not cleaned corpus lines.
SENTENCE_MARKER = re.compile(
    r"^\s*(?:[（(]\s*[一二三四五六七八九十\d]+\s*[）)]|[一二三四五六七八九十]+\s*、|\d+\s*(?:[、．]|\.(?!\d))|[•·\-*]\s)\s*"
)
SENTENCE_ENDS = "。！？；!?;"  # what ends a sentence (or a clause that reads as one)
SENTENCE_MIN_CHARS = 25  # an unpunctuated line this long still states something
_LABEL_END = re.compile(f"[{SENTENCE_ENDS}]")
_SENTENCE_TAIL = re.compile(r"[。！？；!?;][”’」』)）]?$")
_CLAUSE_MARK = re.compile(r"[，,：:\d]")  # a clause break or a figure: more than a topic phrase
ATTACHMENT = re.compile(r"^附\s*件\s*\d*\s*(?:[:：]\s*(.{0,60}))?$")
DISTRIBUTION = re.compile(r"^(?:抄送|抄报|印发)[:：]|印发$")


def states_something(text: str) -> bool:
    """A sentence, or a line long enough to be one; shorter unpunctuated lines are titles, labels, counters."""
    return any(c in SENTENCE_ENDS for c in text) or len(text) >= SENTENCE_MIN_CHARS


def heading_rank(text: str) -> int | None:
    for rank, pattern in _HEADINGS:
        if pattern.match(text):
            return rank
    return None


def heading_label(text: str) -> str:
    """The heading sentence of a paragraph: up to the first 。 (at most ~40 chars)."""
    m = _LABEL_END.search(text)
    label = (text[: m.start()] if m else text).strip()
    if len(label) > LABEL_MAX:
        cut = max(label.rfind(c, 0, LABEL_MAX) for c in "，,、")
        label = label[: cut if cut > 8 else LABEL_MAX] + "…"
    return label


def heading_only(text: str) -> bool:
    m = _LABEL_END.search(text)
    return len(text) <= LABEL_MAX + 2 and (m is None or m.end() == len(text))


def _marker_end(text: str) -> int:
    """Length of the outline number (``一、``, ``（一）``, ``1.``, ``第一条``) a heading line starts with."""
    for _, pattern in _HEADINGS:
        m = pattern.match(text)
        if m:
            return m.end()
    return 0


def is_item(text: str, rank: int, following: str | None) -> bool:
    """A numbered line that is itself content (a measure written one per line), not a heading.

    It is a leaf of the outline (the next line is a sibling, a higher heading or the end), or it is
    a full sentence: it ends like one and reads as a clause (a comma, colon or figure, or long).
    Short phrases over sub-items (``（一）创业扶持友好。``) stay headings.
    """
    if following is None or ATTACHMENT.match(following) or DISTRIBUTION.search(following):
        return True
    next_rank = heading_rank(following)
    if next_rank is not None and next_rank <= rank:
        return True
    body = text[_marker_end(text) :].strip()
    if not _SENTENCE_TAIL.search(body):
        return False
    return len(body) >= ITEM_MIN_CHARS or bool(_CLAUSE_MARK.search(body))
