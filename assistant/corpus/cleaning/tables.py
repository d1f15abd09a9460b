"""Tab-separated tables (with HTML inside cells) -> one ``表头：值；表头：值`` record per row.

A row is the unit people ask about, so it becomes one record the chunker keeps whole. Flattened tables
(one cell per line) are rebuilt by ``flat_tables.py``, which shares the header-cell rule below.
"""

from __future__ import annotations

from collections.abc import Callable

from assistant.core.lexicon import pattern
from assistant.corpus.cleaning.page import RULE_LINE

HEADER_CELL = pattern("corpus", "cleaning.tables.header_cell")
_LABEL_SPACE = pattern("corpus", "cleaning.tables.label_space")
_SHORT_CELL_CHARS = 40  # a one-paragraph cell up to this long joins the record's first line
_TINY_CELL_CHARS = 12  # a cell up to this long joins it even when it has several paragraphs


def _is_header_row(cells: list[str]) -> bool:
    return len(cells) >= 3 and all(HEADER_CELL.match(c) for c in cells)


def _tsv_record(header: list[str], cells: list[str], to_text: Callable[[str], str]) -> list[str]:
    """One tab-separated row -> a record: short cells on the first line, long cells below."""
    cells = (cells + [""] * len(header))[: len(header)]
    paras = [[_LABEL_SPACE.sub(r"\1", p.strip()) for p in to_text(c).split("\n") if p.strip()] for c in cells]
    filled = [i for i, p in enumerate(paras) if p]
    if len(filled) == 1 and filled[0] <= 1:  # a section row such as "\t一、…\t\t"
        return ["", " ".join(paras[filled[0]]), ""]
    out: list[str] = []
    short: list[str] = []
    for name, cell in zip(header, paras, strict=True):
        if not cell:
            continue
        joined = " ".join(cell)
        if len(cell) == 1 and len(joined) <= _SHORT_CELL_CHARS or len(joined) <= _TINY_CELL_CHARS:
            short.append(f"{name}：{joined}")
            continue
        if short:
            out.append("；".join(short))
            short = []
        if len(cell) == 1:
            out.append(f"{name}：{cell[0]}")
        else:
            out.append(f"{name}：")
            out.extend(cell)
    if short:
        out.append("；".join(short))
    return [""] + out + [""]


def rebuild_tsv_tables(lines: list[str], to_text: Callable[[str], str]) -> list[str]:
    """Tab-separated tables (with HTML inside cells) -> records; rule rows such as ``---\t---`` go."""
    out: list[str] = []
    header: list[str] | None = None
    for line in lines:
        if "\t" in line:
            if RULE_LINE.match(line):
                continue
            cells = [c.strip() for c in line.split("\t")]
            if header is None and _is_header_row(cells):
                header = cells
            elif header is None:
                out.append(line.replace("\t", " "))
            else:
                out.extend(_tsv_record(header, cells, to_text))
            continue
        if header is not None and line.strip() and not RULE_LINE.match(line):
            header = None
        out.append(line)
    return out
