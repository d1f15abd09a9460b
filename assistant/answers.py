"""Typed results passed between retrieval, answering, the engine, the CLI, the UI and eval.

Chunks travel as LlamaIndex ``TextNode``s whose metadata follows ``CHUNK_METADATA_KEYS``; an answer
travels as ``Answer`` so every surface shows the same text, citations and passages.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from llama_index.core.schema import NodeWithScore

# One refusal phrase, shared by the prompts, the no-evidence path and the tests.
REFUSAL = "所收录的政策文件中没有找到与该问题直接相关的规定。"

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

    def label(self) -> str:
        """Human citation line: 《title》(文号) › section."""
        head = f"《{self.title}》" if self.title else self.file
        if self.doc_number:
            head += f"({self.doc_number})"
        return f"{head} › {self.section}" if self.section else head

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "answerable": self.answerable,
            "answerer": self.answerer,
            "notice": self.notice,
            "citations": [c.to_dict() for c in self.citations],
            "timings": self.timings,
        }
