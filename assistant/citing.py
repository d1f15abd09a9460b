"""Citation markers shared by both answerers: sentence splitting, [n] parsing, renumbering, number checks.

Markers ``[k]`` in a draft answer point at ``passages[k-1]``; what the user sees is renumbered 1..n in
order of first use, so the citation list never has gaps, and no sentence survives with a number that
its cited passages do not contain.
"""

from __future__ import annotations

import re

from llama_index.core.schema import NodeWithScore

from assistant.answers import Citation
from assistant.numbers import extract_numbers, unsupported_numbers

__all__ = ["cited_markers", "passage_check_text", "renumber", "split_sentences", "verify_numbers"]

_ENDS = "。！？；!?\n"
_CLOSERS = "”’」』）)》\"'"
_MARKER = re.compile(r"[\[［【]\s*(\d+(?:\s*[-,，、;；]\s*\d+)*)\s*[\]］】]")
_MARKER_RUN = re.compile(rf"(?:[ \t]*{_MARKER.pattern})+")


def _pieces(text: str) -> list[str]:
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
                elif text[j] in _CLOSERS:
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
    return [p.strip() for p in _pieces(text) if p.strip()]


def _marker_numbers(body: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*[,，、;；]\s*", body.strip()):
        lo, _, hi = part.partition("-")
        if hi and lo.strip().isdigit() and hi.strip().isdigit() and 0 <= int(hi) - int(lo) < 20:
            numbers.extend(range(int(lo), int(hi) + 1))
        elif part.strip().isdigit():
            numbers.append(int(part))
    return numbers


def cited_markers(sentence: str) -> list[int]:
    """Passage numbers a sentence cites, in order, once each: "[1][3]", "[1,3]", "[1、3]" -> [1, 3]."""
    found: list[int] = []
    for m in _MARKER.finditer(sentence):
        for k in _marker_numbers(m.group(1)):
            if k not in found:
                found.append(k)
    return found


def renumber(
    text: str, passages: list[NodeWithScore], quotes: dict[int, str] | None = None
) -> tuple[str, list[Citation], list[NodeWithScore]]:
    """Renumber markers 1..n by first use; drop out-of-range ones.

    ``quotes`` maps an original marker k (1-based index into ``passages``) to the sentence(s) of that
    passage the answer relies on. Two markers pointing at the same node share one number.
    """
    quotes = quotes or {}
    new_of_node: dict[str, int] = {}
    cited: list[NodeWithScore] = []
    citations: list[Citation] = []

    def number_of(k: int) -> int | None:
        if not 1 <= k <= len(passages):
            return None
        nws = passages[k - 1]
        node_id = nws.node.node_id
        if node_id not in new_of_node:
            new_of_node[node_id] = len(cited) + 1
            cited.append(nws)
            citations.append(Citation.from_node(new_of_node[node_id], nws, quote=quotes.get(k, "")))
        return new_of_node[node_id]

    def replace(m: re.Match[str]) -> str:
        numbers: list[int] = []
        for k in _marker_numbers(m.group(1)):
            new = number_of(k)
            if new is not None and new not in numbers:
                numbers.append(new)
        return "".join(f"[{n}]" for n in numbers)

    out = _MARKER.sub(replace, text)
    out = re.sub(r"(\[\d+\])(?:\1)+", r"\1", out)  # "[1][1]" after merging duplicates
    return out, citations, cited


def passage_check_text(nws: NodeWithScore) -> str:
    """What a number may be checked against: the passage text plus the header the reader saw."""
    md = nws.node.metadata
    header = " ".join(str(md.get(key, "")) for key in ("title", "doc_number", "date", "section"))
    return f"{header}\n{nws.node.get_content()}"


def verify_numbers(text: str, passages: list[NodeWithScore]) -> tuple[str, list[str]]:
    """Drop each sentence stating a number that none of the passages it cites contains.

    A sentence with a number and no valid marker is dropped too. Returns (kept text, removed sentences).
    """
    kept: list[str] = []
    removed: list[str] = []
    for piece in _pieces(text):
        if not extract_numbers(piece):
            kept.append(piece)
            continue
        sources = [
            passage_check_text(passages[k - 1]) for k in cited_markers(piece) if 1 <= k <= len(passages)
        ]
        if sources and not unsupported_numbers(piece, sources):
            kept.append(piece)
        else:
            removed.append(piece.strip())
            if piece.endswith("\n") and kept and not kept[-1].endswith("\n"):
                kept[-1] = kept[-1].rstrip() + "\n"
    return "".join(kept).strip(), removed
