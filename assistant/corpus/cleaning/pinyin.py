"""Pinyin annotations (``區(qū)``) that web pages add after characters: dropped, real parentheses kept.

The mojibake repair reads the same notes (a document's own ``字(pinyin)`` pairs tell which character a
damaged span held), so the note grammar lives here once.
"""

from __future__ import annotations

import re

TONED = "\u00e0-\u01dc\u00fc"  # toned vowels and ü
_PINYIN_SYLLABLE = re.compile(rf"^(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?[aeiouv{TONED}]+(?:ng|n|r)?$")
PINYIN_NOTE = re.compile(rf"(?<=[\u3400-\u9fff])\(([a-z{TONED}]{{1,7}})\)")
# A pinyin fragment whose "(" was eaten by mojibake: needs a tone mark to be told from real text.
_ORPHAN_PINYIN = re.compile(rf"(?<=[\u3400-\u9fff?])([a-z{TONED}]{{0,6}}[{TONED}][a-z{TONED}]{{0,6}})\)")
PINYIN_CHARS = rf"[a-z{TONED}]{{1,7}}"


def remove_pinyin(text: str) -> str:
    """Drop ``區(qū)``-style annotations; real parentheses such as ``(市、區)`` or ``(2023)`` stay."""

    def note(m: re.Match[str]) -> str:
        return "" if _PINYIN_SYLLABLE.match(m.group(1)) else m.group(0)

    text = PINYIN_NOTE.sub(note, text)
    return _ORPHAN_PINYIN.sub(lambda m: "" if _PINYIN_SYLLABLE.match(m.group(1)) else m.group(0), text)
