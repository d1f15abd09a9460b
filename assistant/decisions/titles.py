"""The short name of a measure or a comparison cell: the item heading the passage sits under.

Shared by the comparison table (the 措施 column) and the eligibility check (a measure's title). The heading
numbers stripped here are not the outline grammar of ``core.outline``: table rows and practices also write
"序号 3", leading spaces and "3 ." with a space (``[titles]`` in ``data/eligibility.toml``).
"""

from __future__ import annotations

from collections.abc import Mapping

from assistant.core.lexicon import pattern

__all__ = ["NUMBERING", "PRACTICE_HEAD", "heading_of", "measure_title"]

NUMBERING = pattern("eligibility", "titles.numbering")  # "（三）", "十二、", "3.", "序号 3 (一)"
PRACTICE_HEAD = pattern("eligibility", "titles.practice_head")  # "典型做法 第 3 项"
_ITEM_START = pattern("eligibility", "titles.item_start")
_ITEM_HEAD = pattern("eligibility", "titles.item_head")


def heading_of(section: str) -> str:
    """The last heading of a citation path, without its number or practice label."""
    return PRACTICE_HEAD.sub("", NUMBERING.sub("", section.split(" > ")[-1]))


def measure_title(md: Mapping[str, object], text: str, offset: int) -> str:
    """The item heading; a table row's 重点工作 (with its numbered sub-item's head); a practice's name and city."""
    last = str(md.get("section", "")).split(" > ")[-1].strip()
    kind = md.get("kind", "text")
    if kind == "practice":
        name = PRACTICE_HEAD.sub("", last)
        city = str(md.get("city", ""))
        return f"{name}（{city}）" if city else name
    title = NUMBERING.sub("", last) or last
    if kind == "table_row":
        items = [m for m in _ITEM_START.finditer(text) if m.start() <= offset]
        if items:
            head = _ITEM_HEAD.match(text[items[-1].end() :])
            if head:
                title = f"{title} › {head.group(1)}"
    return title
