"""Cleaned policy text -> ``TextNode`` chunks that follow the document's own structure.

Answers cite a section, so every chunk carries its heading path (``三、… > （四）…``), never spans two
sections, starts and ends on sentence boundaries, and is an exact slice of the cleaned text
(``cleaned.text[start:end] == node.text``) so a citation can be shown in place. Table rows and NDRC
practices stay whole records (split per city paragraph), because a row is the unit people ask about.
The walk is here; the heading path is ``sections.py``, records ``records.py``, piece sizes ``spans.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_index.core.node_parser import NodeParser
from llama_index.core.schema import BaseNode, Document, NodeRelationship, TextNode

from assistant.core.outline import (
    ATTACHMENT,
    DISTRIBUTION,
    heading_label,
    heading_only,
    heading_rank,
    is_item,
)
from assistant.core.schema import CHUNK_METADATA_KEYS, PREAMBLE_SECTION, UNKNOWN_PLACE, ChunkMeta
from assistant.corpus.cleaning import CleanedDocument, clean_text
from assistant.corpus.loading import SourceDocument
from assistant.corpus.records import RECORD, record_pieces
from assistant.corpus.sections import Piece, Sectioner, paragraphs
from assistant.settings import ChunkingSettings, get_settings

_CAPTION_MAX_CHARS = 60  # the line after a bare 附件 heading is its caption when this short and not a sentence


def _pieces(text: str, sizes: ChunkingSettings) -> list[Piece]:
    paras = paragraphs(text)
    sec = Sectioner(text, sizes)
    i = 0
    expect_caption = False
    while i < len(paras):
        para = paras[i]
        line = para.text
        if RECORD.match(line):
            j = i + 1
            while j < len(paras) and not paras[j].after_blank and not RECORD.match(paras[j].text):
                j += 1
            record_pieces(sec, paras[i:j])
            i, expect_caption = j, False
            continue
        att = ATTACHMENT.match(line)
        if att:
            caption = (att.group(1) or "").strip()
            sec.set_root(f"附件：{caption}" if caption else "附件")
            expect_caption = not caption
            i += 1
            continue
        rank = heading_rank(line)
        if expect_caption and rank is None and len(line) <= _CAPTION_MAX_CHARS and "。" not in line:
            sec.set_root(f"附件：{line}")
            expect_caption = False
            i += 1
            continue
        expect_caption = False
        if DISTRIBUTION.search(line):
            sec.flush()
            i += 1
            continue
        if rank is not None:
            sec.push_heading(rank, heading_label(line))
            following = paras[i + 1].text if i + 1 < len(paras) else None
            if not heading_only(line) or is_item(line, rank, following):
                sec.add_body(para)
        else:
            sec.add_body(para)
        i += 1
    sec.flush()
    return sec.pieces


def _node_id(doc_id: str, start: int, end: int, text: str) -> str:
    return hashlib.sha1(f"{doc_id}|{start}|{end}|{text}".encode()).hexdigest()[:16]


def _node(doc: SourceDocument, text: str, piece: Piece) -> TextNode:
    chunk = text[piece.start : piece.end]
    metadata = ChunkMeta(
        doc_id=doc.doc_id,
        file=doc.file,
        title=doc.title or doc.doc_id,
        issuer=doc.issuer or "",
        jurisdiction=doc.jurisdiction or UNKNOWN_PLACE,
        doc_number=doc.doc_number or "",
        date=doc.date or "",
        section=piece.section or PREAMBLE_SECTION,
        start=piece.start,
        end=piece.end,
        kind=piece.kind,
        city=piece.city,
        practice_no=piece.practice_no,
    )
    keys = list(CHUNK_METADATA_KEYS)
    return TextNode(
        id_=_node_id(doc.doc_id, piece.start, piece.end, chunk),
        text=chunk,
        metadata=dict(metadata),
        excluded_embed_metadata_keys=keys,
        excluded_llm_metadata_keys=keys,
    )


def chunk_document(
    doc: SourceDocument, sizes: ChunkingSettings | None = None
) -> tuple[CleanedDocument, list[TextNode]]:
    """Clean one document and cut it into section-aware nodes with the shared metadata schema."""
    sizes = sizes or get_settings().chunking
    cleaned = clean_text(doc.raw_text, file=doc.file)
    return cleaned, [_node(doc, cleaned.text, piece) for piece in _pieces(cleaned.text, sizes)]


def source_from_document(document: Document) -> SourceDocument:
    """A LlamaIndex ``Document`` whose metadata carries the ``SourceDocument`` fields."""
    md = document.metadata or {}
    text = document.get_content()
    file = str(md.get("file") or md.get("file_name") or document.doc_id)
    return SourceDocument(
        doc_id=str(md.get("doc_id") or Path(file).stem),
        file=file,
        path=Path(str(md.get("path") or file)),
        raw_text=text,
        content_hash=str(md.get("content_hash") or hashlib.sha256(text.encode("utf-8")).hexdigest()),
        title=str(md.get("title") or ""),
        issuer=str(md.get("issuer") or ""),
        jurisdiction=str(md.get("jurisdiction") or ""),
        doc_number=str(md.get("doc_number") or ""),
        date=str(md.get("date") or ""),
        encoding=str(md.get("encoding") or "utf-8"),
    )


class PolicyNodeParser(NodeParser):
    """``chunk_document`` behind LlamaIndex's node-parser interface (same nodes, same metadata)."""

    include_metadata: bool = False  # nodes already carry exactly CHUNK_METADATA_KEYS
    sizes: ChunkingSettings | None = None  # None: the process settings' chunk sizes

    @classmethod
    def class_name(cls) -> str:
        return "PolicyNodeParser"

    def _parse_nodes(self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any) -> list[BaseNode]:
        out: list[BaseNode] = []
        for node in nodes:
            document = node if isinstance(node, Document) else Document(text=node.get_content(), metadata=node.metadata)
            _, chunks = chunk_document(source_from_document(document), self.sizes)
            for chunk in chunks:
                chunk.relationships[NodeRelationship.SOURCE] = node.as_related_node_info()
            out.extend(chunks)
        return out
