"""The ``[n]`` citation marker: one pattern for every stage that writes, checks or strips markers."""

from __future__ import annotations

import re

MARKER = re.compile(r"\[\d+\]")  # one marker, "[3]"
MARKER_NUMBER = re.compile(r"\[(\d+)\]")  # the same, capturing n
REPEATED_MARKER = re.compile(r"(\[\d+\])(?:\1)+")  # "[1][1]" left after merging duplicate sources


def marker_numbers(text: str) -> list[int]:
    """The n of every marker in ``text``, in order (repeats kept)."""
    return [int(n) for n in MARKER_NUMBER.findall(text)]


def strip_markers(text: str) -> str:
    """``text`` without its markers (for comparing wording with a passage)."""
    return MARKER.sub("", text)


def collapse_repeats(text: str) -> str:
    return REPEATED_MARKER.sub(r"\1", text)
