"""Typed results passed between retrieval, answering, the engine, the CLI, the UI and eval.

Chunks travel as LlamaIndex ``TextNode``s whose metadata follows ``CHUNK_METADATA_KEYS``; an answer
travels as ``Answer`` so every surface shows the same text, citations and passages.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, TypedDict, cast

from llama_index.core.schema import BaseNode, NodeWithScore

SECTION_SEPARATOR = " > "  # how chunking joins a heading path
PREAMBLE_SECTION = "正文"  # chunking's section name for text before the first heading
UNKNOWN_PLACE = "未知"  # chunking's jurisdiction for a document that states none
_ISSUING_NOTICE = re.compile(r"印发《(.+?)》的通知$")


def display_date(iso: str) -> str:
    """2023-11-23 -> 2023年11月23日; anything else unchanged."""
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", iso or "")
    return f"{m.group(1)}年{int(m.group(2))}月{int(m.group(3))}日" if m else (iso or "")


# One refusal phrase, shared by the prompts, the no-evidence path and the tests.
REFUSAL = "所收录的政策文件中没有找到与该问题直接相关的规定。"
# Heading of the closest passages a declined answer lists, so a user whose wording differs still finds the clause.
RELATED_HEADING = "可能相关的条款"

CHUNK_METADATA_KEYS = (
    "doc_id",  # stable id of the document (file stem)
    "file",  # file name inside the corpus folder
    "title",  # document title (manifest, else first heading/line)
    "issuer",  # issuing body, "" when unknown
    "jurisdiction",  # "浙江省/温州市/乐清市", "全国" for national documents
    "doc_number",  # 文号, "" when the text does not state it
    "date",  # "YYYY-MM-DD", "" when unknown
    "section",  # heading path joined by " > "
    "start",  # offset of the chunk text in the cleaned document text
    "end",  # cleaned_text[start:end] == node.text
    "kind",  # "text" | "table_row" | "practice"
    "city",  # city a paragraph speaks for (NDRC practices), else ""
    "practice_no",  # NDRC practice number, else 0
)


class ChunkMeta(TypedDict):
    """A chunk's metadata, as chunking writes it (the keys of ``CHUNK_METADATA_KEYS``, typed).

    Read it as ``meta(node)`` so a key typo is a type error rather than a silent ``""``.
    """

    doc_id: str
    file: str
    title: str
    issuer: str
    jurisdiction: str
    doc_number: str
    date: str
    section: str
    start: int
    end: int
    kind: str
    city: str
    practice_no: int


def meta(node: BaseNode | NodeWithScore) -> ChunkMeta:
    """The typed metadata of a chunk (a ``NodeWithScore`` or the node itself)."""
    inner = node.node if isinstance(node, NodeWithScore) else node
    return cast(ChunkMeta, inner.metadata)


@dataclass
class Citation:
    """One numbered source as shown to a user: [n] -> document, section, exact passage."""

    n: int
    node_id: str
    title: str
    section: str
    file: str
    start: int
    end: int
    text: str
    doc_number: str = ""
    date: str = ""
    jurisdiction: str = ""
    issuer: str = ""
    city: str = ""
    quote: str = ""  # the sentence(s) of the passage the answer relies on
    score: float = 0.0
    validity_state: str | None = None  # the document's state on the answer's date (``Lifecycle.state_on``)
    validity_notice: str | None = None  # e.g. 该文件有效期至2025年12月31日（已过期）; None when in force
    validity_evidence: str = ""  # the sentence the document's validity was read from

    @classmethod
    def from_node(cls, n: int, nws: NodeWithScore, quote: str = "") -> Citation:
        md = nws.node.metadata
        return cls(
            n=n,
            node_id=nws.node.node_id,
            title=str(md.get("title", "")),
            section=str(md.get("section", "")),
            file=str(md.get("file", "")),
            start=int(md.get("start", 0)),
            end=int(md.get("end", 0)),
            text=nws.node.get_content(),
            doc_number=str(md.get("doc_number", "")),
            date=str(md.get("date", "")),
            jurisdiction=str(md.get("jurisdiction", "")),
            issuer=str(md.get("issuer", "")),
            city=str(md.get("city", "")),
            quote=quote,
            score=float(nws.score or 0.0),
        )

    def document_title(self) -> str:
        """The title a reader cites: for a 印发《X》的通知, X itself once the passage is inside X."""
        m = _ISSUING_NOTICE.search(self.title)
        if m and self.section and not self.section.startswith(PREAMBLE_SECTION):
            return m.group(1)
        return self.title

    def clause_path(self) -> list[str]:
        """The passage's place in the document's own numbering, ending with the city a practice is from."""
        parts = [p.strip() for p in self.section.split(SECTION_SEPARATOR) if p.strip()]
        if self.city and not (parts and parts[-1].endswith(self.city)):
            parts.append(self.city)
        return parts

    def source_head(self) -> str:
        """《title》(文号，date): the document as a reader would cite it, dated so stale rules show."""
        title = self.document_title()
        head = f"《{title}》" if title else self.file
        extras = [x for x in (self.doc_number, display_date(self.date)) if x]
        return head + (f"（{'，'.join(extras)}）" if extras else "")

    def label(self) -> str:
        """Citation line in the document's own numbering: 《title》（文号，date） › 二、… › （一）…."""
        return " › ".join([self.source_head(), *self.clause_path()])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    """What every answerer returns; the engine wraps it into a LlamaIndex ``Response``."""

    text: str
    answerable: bool
    citations: list[Citation] = field(default_factory=list)
    passages: list[NodeWithScore] = field(default_factory=list)  # cited nodes, in marker order
    answerer: str = "extractive"
    notice: str = ""  # e.g. the LLM failed and the offline answer is shown
    prompt: str | None = None  # final LLM prompt, when an LLM answered
    timings: dict[str, float] = field(default_factory=dict)
    table: dict[str, Any] | None = None  # a comparison answered as a table: ``Comparison.to_dict()``
    as_of: str = ""  # YYYY-MM-DD the answer was given as of (documents' validity on that date)
    # On a decline: the closest retrieved passages (可能相关的条款), numbered 1..n apart from ``citations``;
    # the answer still declines (``answerable`` False, no markers, no citations).
    related: list[Citation] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "answerable": self.answerable,
            "answerer": self.answerer,
            "notice": self.notice,
            "as_of": self.as_of,
            "citations": [c.to_dict() for c in self.citations],
            "related": [c.to_dict() for c in self.related],
            "timings": self.timings,
            **({"table": self.table} if self.table else {}),
        }
