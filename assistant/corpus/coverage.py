"""How much of each document reaches the index: the share of its sentence lines found in some chunk.

Text that no chunk holds can never be retrieved or cited, so this is the bar "every sentence of
every document reaches some chunk". A line of the cleaned text reaches a chunk when every
non-space character of it lies inside some chunk's ``[start, end)`` span, or when it is a heading
whose words are part of some chunk's section path (the path is embedded and searched with the
chunk). Only lines that state something are counted: a line with a sentence end, or a long one;
short unpunctuated lines (titles, ``文号:`` fields, signatures, counters) are not sentences.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llama_index.core.schema import TextNode

from assistant.core.outline import states_something
from assistant.core.schema import SECTION_SEPARATOR, meta

_NOT_WORD = re.compile(r"[\W_]+")


@dataclass
class DocumentCoverage:
    """Counts for one document; ``missed`` lists the counted lines no chunk reaches."""

    doc_id: str
    file: str
    lines: int  # non-empty lines of the cleaned text
    counted: int  # of which sentence lines
    in_text: int  # counted lines inside a chunk's text
    in_heading: int  # counted lines that reach a chunk only through its section path
    missed: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return (self.in_text + self.in_heading) / self.counted if self.counted else 1.0


def is_sentence_line(line: str) -> bool:
    """A line that states something (``outline.states_something``): the lines coverage counts."""
    line = line.strip()
    return bool(line) and states_something(line)


def _covered_mask(length: int, nodes: Sequence[TextNode]) -> bytearray:
    mask = bytearray(length + 1)
    for node in nodes:
        start, end = int(meta(node)["start"]), int(meta(node)["end"])
        mask[start:end] = b"\x01" * (end - start)
    return mask


def document_coverage(doc_id: str, file: str, text: str, nodes: Sequence[TextNode]) -> DocumentCoverage:
    """Coverage of one cleaned text by its chunks (offsets index into ``text``)."""
    mask = _covered_mask(len(text), nodes)
    steps = {_NOT_WORD.sub("", s) for n in nodes for s in meta(n)["section"].split(SECTION_SEPARATOR)}
    steps.discard("")
    report = DocumentCoverage(doc_id, file, 0, 0, 0, 0)
    pos = 0
    for line in text.split("\n"):
        if line.strip():
            report.lines += 1
            if is_sentence_line(line):
                report.counted += 1
                words = _NOT_WORD.sub("", line)
                if all(mask[pos + i] for i, ch in enumerate(line) if not ch.isspace()):
                    report.in_text += 1
                elif words and any(words in step for step in steps):
                    report.in_heading += 1
                else:
                    report.missed.append(line.strip())
        pos += len(line) + 1
    return report


def corpus_coverage(corpus_dir: Path) -> tuple[list[DocumentCoverage], list[str]]:
    """Load and chunk a corpus folder (no embedding); per-document coverage and the skipped files."""
    from assistant.corpus.chunking import chunk_document
    from assistant.corpus.loading import load_corpus

    docs, skipped = load_corpus(Path(corpus_dir))
    out = []
    for doc in docs:
        cleaned, nodes = chunk_document(doc)
        out.append(document_coverage(doc.doc_id, doc.file, cleaned.text, nodes))
    return out, [f"{s.file}: {s.reason}" for s in skipped]


def overall_share(reports: Iterable[DocumentCoverage]) -> float:
    """Covered sentence lines over all counted lines of all documents (1.0 when there are none)."""
    reports = list(reports)
    counted = sum(r.counted for r in reports)
    return sum(r.in_text + r.in_heading for r in reports) / counted if counted else 1.0
