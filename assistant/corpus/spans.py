"""One section's span of cleaned text -> pieces of bounded length that start and end on sentence boundaries.

The sizes are tuned (``Settings.chunking``); where a piece may end is grammar: after a sentence end (and the
closing quotes that follow it), at a line end, and only as a last resort after a comma.
"""

from __future__ import annotations

from assistant.core.outline import SENTENCE_ENDS
from assistant.settings import ChunkingSettings

_CLOSERS = "”’」』)）"  # closing quotes and brackets stay with the sentence they close
_CLAUSE_ENDS = "，,、"  # where one over-long sentence is cut


def _split_points(text: str, start: int, end: int, hard: bool) -> list[int]:
    """Offsets inside [start, end) after which a chunk may end: sentence ends and line ends."""
    points = []
    for i in range(start, end):
        ch = text[i]
        if ch in SENTENCE_ENDS:
            j = i + 1
            while j < end and text[j] in _CLOSERS:
                j += 1
            points.append(j)
        elif ch == "\n":
            points.append(i)
        elif hard and ch in _CLAUSE_ENDS:
            points.append(i + 1)
    return sorted(set(p for p in points if start < p < end))


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _pack(points: list[int], start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Greedy: each piece runs to the last point that keeps it within ``max_chars``; the last one to ``end``."""
    pieces: list[tuple[int, int]] = []
    cur, last = start, start
    for p in points:
        if p - cur > max_chars and last > cur:
            pieces.append((cur, last))
            cur = last
        last = p
    pieces.append((cur, end))
    return pieces


def _hard_split(text: str, start: int, end: int, sizes: ChunkingSettings) -> list[tuple[int, int]]:
    points = _split_points(text, start, end, hard=True) + [end]
    out = [_trim(text, s, e) for s, e in _pack(points, start, end, sizes.max_chars)]
    return [(s, e) for s, e in out if e > s]


def split_span(text: str, start: int, end: int, sizes: ChunkingSettings) -> list[tuple[int, int]]:
    """Greedy sentence packing of one section's span into pieces of at most ``sizes.max_chars``."""
    start, end = _trim(text, start, end)
    if end - start <= sizes.max_chars:
        return [(start, end)] if end > start else []
    points = _split_points(text, start, end, hard=False) + [end]
    out: list[tuple[int, int]] = []
    for s, e in _pack(points, start, end, sizes.max_chars):
        s, e = _trim(text, s, e)
        if e - s > sizes.hard_max_chars:
            out.extend(_hard_split(text, s, e, sizes))
        elif e > s:
            out.append((s, e))
    if (
        len(out) > 1
        and out[-1][1] - out[-1][0] < sizes.min_chars // 2
        and out[-1][1] - out[-2][0] <= sizes.hard_max_chars
    ):
        out[-2:] = [(out[-2][0], out[-1][1])]  # no dangling scrap at the end of a section
    return out
