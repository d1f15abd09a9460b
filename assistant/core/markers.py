"""The ``[n]`` citation marker: one pattern for every stage that writes, checks or strips markers.

Answers are written with ``[n]`` (``MARKER``). A model's draft may cite in looser forms, which are read
with ``WRITTEN_MARKER`` before the draft is renumbered into ``[n]``.
"""

from __future__ import annotations

import re

MARKER = re.compile(r"\[\d+\]")  # one marker, "[3]"
MARKER_NUMBER = re.compile(r"\[(\d+)\]")  # the same, capturing n
REPEATED_MARKER = re.compile(r"(\[\d+\])(?:\1)+")  # "[1][1]" left after merging duplicate sources
# A marker as a model may write it: full-width brackets, a list or a range ("[1,3]", "［2-4］", "【1、2】");
# group 1 is the list of numbers (``marker_list``).
WRITTEN_MARKER = re.compile(r"[\[［【]\s*(\d+(?:\s*[-,，、;；]\s*\d+)*)\s*[\]］】]")
_LIST_SEPARATOR = re.compile(r"(?:(?<!\s)\s++)?[,，、;；]\s*+")


def marker_numbers(text: str) -> list[int]:
    """The n of every marker in ``text``, in order (repeats kept)."""
    return [int(n) for n in MARKER_NUMBER.findall(text)]


def marker_list(body: str) -> list[int]:
    """The numbers of one written marker's list ("1, 3", "2-4"; a range of at most 20), in order."""
    numbers: list[int] = []
    for part in _LIST_SEPARATOR.split(body.strip()):
        lo, _, hi = part.partition("-")
        if hi and lo.strip().isdigit() and hi.strip().isdigit() and 0 <= int(hi) - int(lo) < 20:
            numbers.extend(range(int(lo), int(hi) + 1))
        elif part.strip().isdigit():
            numbers.append(int(part))
    return numbers


def strip_markers(text: str) -> str:
    """``text`` without its markers (for comparing wording with a passage)."""
    return MARKER.sub("", text)


def collapse_repeats(text: str) -> str:
    """"[1][1]" -> "[1]": two sources merged into one leave the same marker twice in a row."""
    return REPEATED_MARKER.sub(r"\1", text)
