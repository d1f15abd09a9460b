"""Safe cells for the table exports (comparison and eligibility results as CSV and Markdown).

Cell text comes from the corpus, the user or a model, so an export must not turn it into something
active: a CSV cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel and LibreOffice (OWASP "CSV injection": prefix it with ``'``), and raw HTML or a ``|`` in a
Markdown cell would run as markup or break the table when the file is rendered.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable

__all__ = ["csv_cell", "csv_text", "md_cell", "md_text"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """``value`` as a spreadsheet reads it literally: text that would start a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_text(header: Iterable[object], rows: Iterable[Iterable[object]]) -> str:
    """CSV with every cell made safe by ``csv_cell`` (the caller adds a BOM when writing a file for Excel)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(v) for v in header])
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()


def md_text(text: object) -> str:
    """Text for a Markdown line: HTML special characters escaped, so ``<img onerror=…>`` shows as text."""
    return html.escape(str(text), quote=False)


def md_cell(text: object) -> str:
    """Text for a Markdown table cell: ``md_text``, pipes escaped and line breaks folded into spaces."""
    flat = " ".join(md_text(text).splitlines())
    return flat.replace("|", "\\|")
