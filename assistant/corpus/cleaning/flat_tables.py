"""Tables flattened to one cell per line (a header run, then rows that start with their number) -> records.

Task lists (任务清单) arrive this way: 序号 / 总体任务 / 重点工作 / items … / 实施阶段 / 责任单位 / 分管领导. Each
row is rebuilt into one ``表头：值；…`` record; the section headings of a row (``一、`` and ``（一）`` cells, read
with the outline grammar) carry over to the rows below them, and a row split by a page break is merged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.core.lexicon import pattern, words
from assistant.core.outline import SECTION, SUBSECTION
from assistant.corpus.cleaning.tables import HEADER_CELL

_ROW_NO = re.compile(r"^\d{1,3}$")
_ITEM_NO = re.compile(r"^(\d{1,2})(?:[.．、]|(?=[^\d.．、%％]))")
_NUMBER_HEADERS = words("corpus", "cleaning.tables.number_headers")
_STAGE = pattern("corpus", "cleaning.tables.stage")
_STAGE_TAIL = pattern("corpus", "cleaning.tables.stage_tail")
_LEADER = pattern("corpus", "cleaning.tables.leader")
_RANGE_DASHES = "-—–~至"  # a stage cell ending in one of these continues in the next cell ("2023-" "2027年")
_MIN_COLUMNS = 4  # a header run shorter than this is not a table
_TAIL_COLUMNS = 3  # 实施阶段, 责任单位, 分管领导 after the items
_HEAD_COLUMNS = 3  # 序号, 总体任务, 重点工作 before the items
_MAX_LEADER_CELLS = 5  # leader cells read after the stage of the last row


@dataclass
class _Row:
    no: int
    heads: dict[int, str]
    items: list[list[str]] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)


def _item_groups(cells: list[str]) -> list[list[str]]:
    """Split a cell run into columns: an empty cell, a numbering restart or jump starts a new one."""
    groups: list[list[str]] = []
    prev: int | None = None
    for cell in cells:
        if not cell:
            if groups and groups[-1]:
                groups.append([])
            prev = None
            continue
        m = _ITEM_NO.match(cell)
        number = int(m.group(1)) if m else None
        new = not groups or (number is not None and (prev is None or number != prev + 1) and groups[-1])
        if number is None and prev is not None and groups and groups[-1]:
            groups[-1][-1] += cell  # an unnumbered line after an item continues it
            continue
        if new and groups and not groups[-1]:
            new = False
        if new:
            groups.append([])
        groups[-1].append(cell)
        prev = number
    return [g for g in groups if g]


def _leading_heads(cells: list[str]) -> tuple[dict[int, str], int]:
    """The ``一、`` / ``（一）`` heading cells a row starts with (after blanks), and where its items start."""
    heads: dict[int, str] = {}
    i = 0
    while i < len(cells) and not cells[i]:
        i += 1
    while i < len(cells) and len(heads) < 2:
        if SECTION.match(cells[i]):
            heads[1] = cells[i]
        elif SUBSECTION.match(cells[i]):
            heads[2] = cells[i]
        else:
            break
        i += 1
    return heads, i


def _stage_end(cells: list[str], stage_at: int) -> tuple[str, int]:
    """The stage cell at ``stage_at`` (joined with its year when split over two cells) and the next index."""
    stage, j = cells[stage_at], stage_at + 1
    if j < len(cells) and not _STAGE.match(stage + "x") and _STAGE_TAIL.match(cells[j]) and stage[-1] in _RANGE_DASHES:
        stage, j = stage + cells[j], j + 1
    return stage, j


def _split_tail(cells: list[str], start: int) -> tuple[list[str], list[str]]:
    """(item cells, [stage, unit, leaders]) of a row's cells after its headings; no tail without a stage."""
    stage_at = next((j for j in range(start, len(cells)) if _STAGE.match(cells[j])), None)
    if stage_at is None:
        return cells[start:], []
    stage, j = _stage_end(cells, stage_at)
    unit = cells[j] if j < len(cells) else ""
    return cells[start:stage_at], [stage, unit, "、".join(c for c in cells[j + 1 :] if c)]


class _FlatTable:
    """A table flattened to one cell per line: header cells, then rows starting with their number."""

    def __init__(self, header: list[str]) -> None:
        self.header = header
        self.rows: list[_Row] = []

    def parse_row(self, number: int, cells: list[str]) -> None:
        n_cols = len(self.header)
        heads, start = _leading_heads(cells)
        content, tail = _split_tail(cells, start)
        prev = self.rows[-1] if self.rows else None
        row = _Row(number, {level: heads.get(level) or (prev.heads[level] if prev else "") for level in (1, 2)})
        n_items = max(1, n_cols - _HEAD_COLUMNS - _TAIL_COLUMNS) if tail else max(1, n_cols - _HEAD_COLUMNS)
        groups = _item_groups(content)
        if prev and prev.no == number and len(groups) < n_items:
            self._continue(prev, groups, tail)
            return
        while len(groups) > n_items:
            groups[-2:] = [groups[-2] + groups[-1]]
        if len(groups) < n_items:
            groups = [[] for _ in range(n_items - len(groups))] + groups  # one list per column, never aliased
        row.items, row.tail = groups, tail
        if prev and prev.no == number:
            for k, g in enumerate(groups):
                prev.items[k] += [c for c in g if c not in prev.items[k]]
            return
        self.rows.append(row)

    @staticmethod
    def _continue(prev: _Row, groups: list[list[str]], tail: list[str]) -> None:
        """A page-break continuation row: append each group to the column its numbering continues."""
        for g in groups:
            m = _ITEM_NO.match(g[0])
            first = int(m.group(1)) if m else None
            target = len(prev.items) - 1
            for k, col in enumerate(prev.items):
                last = _ITEM_NO.match(col[-1]) if col else None
                if first is not None and last and int(last.group(1)) + 1 == first:
                    target = k
                    break
            prev.items[target] += [c for c in g if c not in prev.items[target]]
        if tail and not prev.tail:
            prev.tail = tail

    def records(self) -> list[str]:
        out = []
        for row in self.rows:
            values = [str(row.no), row.heads[1], row.heads[2]]
            values += [" ".join(g) for g in row.items]
            values += row.tail
            fields = [f"{n}：{v}" for n, v in zip(self.header, values, strict=False) if v]
            out += ["", "；".join(fields), ""]
        return out


def _cell_stream(lines: list[str]) -> list[tuple[int, str]]:
    """(line index, cell) for every non-blank line; a line of only non-breaking spaces is an empty cell."""
    out = []
    for idx, line in enumerate(lines):
        if line == "" or not line.strip(" \t"):
            continue
        out.append((idx, line.strip()))
    return out


def _last_row_body(body: list[str]) -> list[str]:
    """The last row has no next number to end it: it stops after its stage, unit and leader cells."""
    stage_at = next((t for t, c in enumerate(body) if _STAGE.match(c)), None)
    if stage_at is None:
        return body
    t = stage_at + 1
    if t < len(body) and _STAGE_TAIL.match(body[t]) and body[stage_at][-1] in _RANGE_DASHES:
        t += 1
    t += 1
    while t < len(body) and _LEADER.match(body[t]) and t - stage_at <= _MAX_LEADER_CELLS:
        t += 1
    return body[:t]


def _header_at(cells: list[tuple[int, str]], h: int) -> int:
    """Length of the header run starting at cell ``h`` that row number 1 follows, else 0."""
    run = 0
    while h + run < len(cells) and cells[h + run][1] and HEADER_CELL.match(cells[h + run][1]):
        run += 1
    if run < _MIN_COLUMNS or h + run >= len(cells) or cells[h + run][1] != "1":
        return 0
    return run


def rebuild_flat_tables(lines: list[str]) -> list[str]:
    """Find a header run (>= 4 short cells followed by row number 1) and rebuild its rows as records."""
    cells = _cell_stream(lines)
    for h in range(len(cells)):
        run = _header_at(cells, h)
        if not run:
            continue
        names = [c for _, c in cells[h : h + run]]
        first = next((k for k, c in enumerate(names) if c in _NUMBER_HEADERS), 0)
        if run - first < _MIN_COLUMNS:
            continue
        h, run = h + first, run - first  # a caption line just above the header is not a column
        table = _FlatTable([c for _, c in cells[h : h + run]])
        k, number, end = h + run, 1, h + run
        while k < len(cells) and cells[k][1] == str(number):
            j = k + 1
            while j < len(cells) and not (
                _ROW_NO.match(cells[j][1]) and int(cells[j][1]) in (number, number + 1) and j > k + 2
            ):
                j += 1
            body = [c for _, c in cells[k + 1 : j]]
            if j >= len(cells):
                body = _last_row_body(body)
            table.parse_row(number, body)
            end = k + len(body)
            k = j
            if k < len(cells) and _ROW_NO.match(cells[k][1]):
                number = int(cells[k][1])
        first_line, last_line = cells[h][0], cells[end][0]
        rest = rebuild_flat_tables(lines[last_line + 1 :])
        return lines[:first_line] + table.records() + rest
    return lines
