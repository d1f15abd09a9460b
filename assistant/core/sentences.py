"""Sentence splitting shared by the index (sentence vectors) and the answerers (candidate sentences).

One splitter on both sides: a sentence vector computed at index time is found again at question time
by the exact sentence text the answerer reads.
"""

from __future__ import annotations

import re

from assistant.core.markers import WRITTEN_MARKER

_ENDS = "。！？；!?\n"
CLOSERS = "”’」』）)》\"'"
# Spaces are taken from where their run starts (possessively), so a search over long runs stays linear.
_MARKER_RUN = re.compile(rf"(?:(?:(?<![ \t])[ \t]++)?{WRITTEN_MARKER.pattern})+")


def sentence_pieces(text: str) -> list[str]:
    """Sentences with their trailing markers and whitespace, so that ``"".join(pieces) == text``."""
    pieces: list[str] = []
    start = i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        end = ch in _ENDS
        if ch == "." and (i + 1 == n or text[i + 1].isspace()):
            line = text[max(start, text.rfind("\n", 0, i) + 1) : i]
            end = not line.strip().isdigit()  # "1. " opens a list item, it ends nothing
        if not end:
            i += 1
            continue
        j = i + 1
        if ch != "\n":
            while j < n:
                marker = _MARKER_RUN.match(text, j)
                if marker:
                    j = marker.end()
                elif text[j] in CLOSERS:
                    j += 1
                else:
                    break
        while j < n and text[j].isspace():
            j += 1
        pieces.append(text[start:j])
        start = i = j
    if start < n:
        pieces.append(text[start:])
    return pieces


def split_sentences(text: str) -> list[str]:
    """Sentences ending at 。！？；, a newline, or . ? ! before a space; the end mark and markers kept."""
    return [p.strip() for p in sentence_pieces(text) if p.strip()]


MIN_SENTENCE_CHARS = 6  # shorter pieces (a bare number, "一、") never answer; they get no candidate or vector


def answerable_sentences(text: str) -> list[str]:
    """The sentences of ``text`` long enough to answer (non-space characters >= ``MIN_SENTENCE_CHARS``)."""
    return [s for s in split_sentences(text) if len(re.sub(r"\s", "", s)) >= MIN_SENTENCE_CHARS]
