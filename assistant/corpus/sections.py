"""The heading path of cleaned text: paragraphs walked in order, body runs cut into pieces per section.

Answers cite a section, so a piece never spans two sections and carries its path (``三、… > （四）…``). The
outline grammar (which numbered lines are headings) is ``assistant.core.outline``; this module keeps the
path as the walk goes and emits the pieces.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.core.lexicon import pattern
from assistant.core.outline import states_something
from assistant.core.schema import PREAMBLE_SECTION, SECTION_SEPARATOR
from assistant.corpus.spans import split_span
from assistant.settings import ChunkingSettings

_META_LINE = pattern("corpus", "sections.meta_line")
_META_BLOCK_LINES = 3  # this many metadata lines in a row are a header block, not body text


@dataclass
class Para:
    """One non-empty line of the cleaned text, with its offsets."""

    start: int
    end: int
    text: str
    after_blank: bool


def paragraphs(text: str) -> list[Para]:
    out, pos, blank = [], 0, True
    for line in text.split("\n"):
        if line.strip():
            out.append(Para(pos, pos + len(line), line, blank))
            blank = False
        else:
            blank = True
        pos += len(line) + 1
    return out


@dataclass
class Piece:
    """A chunk to be: a span of the cleaned text and where it sits."""

    start: int
    end: int
    section: str
    kind: str = "text"
    city: str = ""
    practice_no: int = 0


def _without_metadata_block(run: list[Para]) -> list[list[Para]]:
    """``索引号:…`` / ``成文日期:…`` header blocks (3+ lines) are document metadata, not body text:
    the run is cut around them so no chunk spans them."""
    groups: list[list[Para]] = [[]]
    i = 0
    while i < len(run):
        j = i
        while j < len(run) and _META_LINE.match(run[j].text):
            j += 1
        if j - i >= _META_BLOCK_LINES:
            groups.append([])
            i = j
            continue
        groups[-1].extend(run[i : max(j, i + 1)])
        i = max(j, i + 1)
    return [g for g in groups if g]


class Sectioner:
    """Walks paragraphs, tracking the heading path; emits body runs and records as pieces."""

    def __init__(self, text: str, sizes: ChunkingSettings) -> None:
        self.text = text
        self.sizes = sizes
        self.stack: list[tuple[int, str]] = []
        self.root = ""
        self.pieces: list[Piece] = []
        self.run: list[Para] = []
        self.run_section = ""
        self.seen_heading = False

    def section(self) -> str:
        if self.stack:
            return SECTION_SEPARATOR.join(label for _, label in self.stack)
        return self.root or PREAMBLE_SECTION

    def split(self, start: int, end: int) -> list[tuple[int, int]]:
        return split_span(self.text, start, end, self.sizes)

    def flush(self) -> None:
        run, self.run = self.run, []
        if not run:
            return
        groups = [run]
        if not self.seen_heading and not self.root:
            groups = _without_metadata_block(run)
        for group in groups:
            body = "".join(p.text for p in group)
            if not states_something(body):
                continue  # stray link titles, counters: not content
            for s, e in self.split(group[0].start, group[-1].end):
                self.pieces.append(Piece(s, e, self.run_section))

    def add_body(self, para: Para) -> None:
        section = self.section()
        if self.run and section != self.run_section:
            self.flush()
        self.run_section = section
        self.run.append(para)

    def push_heading(self, rank: int, label: str) -> None:
        self.flush()
        self.seen_heading = True
        while self.stack and self.stack[-1][0] >= rank:
            self.stack.pop()
        self.stack.append((rank, label))

    def set_root(self, label: str) -> None:
        self.flush()
        self.stack = []
        self.root = label
