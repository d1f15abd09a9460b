"""HTML to text: one parser for a whole ``.html`` page (loading) and for fragments inside a text (cleaning).

Which tags break a paragraph, separate table cells or hide their text is data (``data/corpus.toml``):
a page keeps its table cells tab-separated so the table rebuild (``tables.py``) sees the columns.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from assistant.core.lexicon import words

_HTML_TAG = re.compile(r"</?(?:p|br|b|strong|i|em|u|span|div|font|a|li|ul|ol|table|tr|td|th|h[1-6]|img)\b[^>]*>", re.I)
# Spaces around a line break. No match starts inside a run of spaces (one that could would have started at the
# run's first space), so a long run without a line break is scanned once, not once per space (test_patterns.py).
_LINE_BREAK_SPACE = re.compile(r"(?:(?<![ \t])|(?![ \t]))[ \t]*\n[ \t]*")
_FRAGMENT_BLOCKS = frozenset(words("corpus", "cleaning.html.fragment_blocks"))
_PAGE_BLOCKS = frozenset(words("corpus", "cleaning.html.page_blocks"))
_PAGE_CELLS = frozenset(words("corpus", "cleaning.html.page_cells"))
_PAGE_SKIPPED = frozenset(words("corpus", "cleaning.html.page_skipped"))


class _HtmlText(HTMLParser):
    """Collect text: block tags become line breaks, cell tags tabs; skipped tags' text is dropped."""

    def __init__(self, blocks: frozenset[str], cells: frozenset[str], skipped: frozenset[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks, self.cells, self.skipped = blocks, cells, skipped
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.skipped:
            self._skip += 1
        elif tag in self.blocks:
            self.parts.append("\n")
        elif tag in self.cells:
            self.parts.append("\t")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.skipped:
            self._skip = max(0, self._skip - 1)
        elif tag in self.blocks:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _text(markup: str, blocks: frozenset[str], cells: frozenset[str], skipped: frozenset[str]) -> str:
    parser = _HtmlText(blocks, cells, skipped)
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def page_text(markup: str) -> str:
    """The text of an HTML page: scripts and styles dropped, table cells tab-separated."""
    return _text(markup, _PAGE_BLOCKS, _PAGE_CELLS, _PAGE_SKIPPED)


def html_to_text(text: str) -> str:
    """Strip markup and unescape entities; ``<p>``/``<br>`` become line breaks."""
    if not _HTML_TAG.search(text) and "&" not in text:
        return text
    out = _text(text, _FRAGMENT_BLOCKS, frozenset(), frozenset())
    return _LINE_BREAK_SPACE.sub("\n", out)
