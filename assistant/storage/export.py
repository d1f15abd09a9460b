"""Writing exported turns as JSONL or CSV, and reading a ``--since`` date.

CSV cells go through ``assistant.core.tables.csv_cell`` (formula-looking text gets a leading '), and a CSV
file starts with a UTF-8 BOM so that Excel reads the Chinese text correctly.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any, TextIO

from assistant.core.tables import csv_cell
from assistant.storage.history import EXPORT_COLUMNS


def parse_since(text: str) -> datetime:
    """``YYYY-MM-DD`` -> midnight of that day in this machine's time zone (aware)."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"日期 {text!r} 无效，应为 YYYY-MM-DD，例如 2025-01-31") from None
    return datetime.combine(day, time()).astimezone()


def write_jsonl(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    """One JSON object per line; returns the number of rows."""
    count = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    """A header of ``EXPORT_COLUMNS`` then one safe row per turn; returns the number of rows."""
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([csv_cell(_cell(row.get(col))) for col in EXPORT_COLUMNS])
        count += 1
    return count


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


WRITERS = {"jsonl": write_jsonl, "csv": write_csv}
