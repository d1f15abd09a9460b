"""Cleaned policy text -> ``TextNode`` chunks that follow the document's own structure.

Answers cite a section, so every chunk carries its heading path (``三、… > （四）…``), never spans two
sections, starts and ends on sentence boundaries, and is an exact slice of the cleaned text
(``cleaned.text[start:end] == node.text``) so a citation can be shown in place. Table rows and NDRC
practices stay whole records (split per city paragraph), because a row is the unit people ask about.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
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
from assistant.core.schema import CHUNK_METADATA_KEYS, PREAMBLE_SECTION, SECTION_SEPARATOR
from assistant.corpus.cleaning import CleanedDocument, clean_text
from assistant.corpus.loading import SourceDocument

MIN_CHARS = 150  # shorter runs of one section are merged with their neighbours
MAX_CHARS = 600  # longer runs are split at sentence ends
HARD_MAX_CHARS = 900  # a single sentence longer than this is split at a comma as a last resort
SECTION_SEP = SECTION_SEPARATOR
PREAMBLE = PREAMBLE_SECTION
UNKNOWN = "未知"

_SENTENCE_END = "。！？；!?;"
_RECORD = re.compile(r"^(?:序号|序號|编号|編號)[：:]\s*(\d+)(?:[；;]|$)")
_CITY_PARA = re.compile(r"^([\u4e00-\u9fff]{2,8}?(?:市|县|縣|区|區|州|盟|省))[：:]")
_META_LINE = re.compile(r"^[\u4e00-\u9fff]{2,6}[:：][^。，,]{0,60}$")
_NAME_FIELDS = ("名称", "名稱", "做法名称", "案例名称")
_SOURCE_FIELDS = ("来源", "來源")


@dataclass
class _Para:
    start: int
    end: int
    text: str
    after_blank: bool


def _paragraphs(text: str) -> list[_Para]:
    out, pos, blank = [], 0, True
    for line in text.split("\n"):
        if line.strip():
            out.append(_Para(pos, pos + len(line), line, blank))
            blank = False
        else:
            blank = True
        pos += len(line) + 1
    return out


def _split_points(text: str, start: int, end: int, hard: bool) -> list[int]:
    """Offsets inside [start, end) after which a chunk may end: sentence ends and line ends."""
    points = []
    for i in range(start, end):
        ch = text[i]
        if ch in _SENTENCE_END:
            j = i + 1
            while j < end and text[j] in "”’」』)）":
                j += 1
            points.append(j)
        elif ch == "\n":
            points.append(i)
        elif hard and ch in "，,、":
            points.append(i + 1)
    return sorted(set(p for p in points if start < p < end))


def split_span(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Greedy sentence packing of one section's span into pieces of at most ``MAX_CHARS``."""
    start, end = _trim(text, start, end)
    if end - start <= MAX_CHARS:
        return [(start, end)] if end > start else []
    points = _split_points(text, start, end, hard=False) + [end]
    pieces: list[tuple[int, int]] = []
    cur, last = start, start
    for p in points:
        if p - cur > MAX_CHARS and last > cur:
            pieces.append((cur, last))
            cur = last
        last = p
    pieces.append((cur, end))
    out: list[tuple[int, int]] = []
    for s, e in pieces:
        s, e = _trim(text, s, e)
        if e - s > HARD_MAX_CHARS:
            out.extend(_hard_split(text, s, e))
        elif e > s:
            out.append((s, e))
    if len(out) > 1 and out[-1][1] - out[-1][0] < MIN_CHARS // 2 and out[-1][1] - out[-2][0] <= HARD_MAX_CHARS:
        out[-2:] = [(out[-2][0], out[-1][1])]  # no dangling scrap at the end of a section
    return out


def _hard_split(text: str, start: int, end: int) -> list[tuple[int, int]]:
    points = _split_points(text, start, end, hard=True) + [end]
    out, cur, last = [], start, start
    for p in points:
        if p - cur > MAX_CHARS and last > cur:
            out.append(_trim(text, cur, last))
            cur = last
        last = p
    out.append(_trim(text, cur, end))
    return [(s, e) for s, e in out if e > s]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


@dataclass
class _Piece:
    start: int
    end: int
    section: str
    kind: str = "text"
    city: str = ""
    practice_no: int = 0


class _Sectioner:
    """Walks paragraphs, tracking the heading path; emits body runs and records as pieces."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.stack: list[tuple[int, str]] = []
        self.root = ""
        self.pieces: list[_Piece] = []
        self.run: list[_Para] = []
        self.run_section = ""
        self.seen_heading = False

    def section(self) -> str:
        if self.stack:
            return SECTION_SEP.join(label for _, label in self.stack)
        return self.root or PREAMBLE

    def flush(self) -> None:
        run, self.run = self.run, []
        if not run:
            return
        groups = [run]
        if not self.seen_heading and not self.root:
            groups = self._without_metadata_block(run)
        for group in groups:
            body = "".join(p.text for p in group)
            if len(body) < 25 and not any(c in _SENTENCE_END for c in body):
                continue  # stray link titles, counters: not content
            for s, e in split_span(self.text, group[0].start, group[-1].end):
                self.pieces.append(_Piece(s, e, self.run_section))

    @staticmethod
    def _without_metadata_block(run: list[_Para]) -> list[list[_Para]]:
        """``索引号:…`` / ``成文日期:…`` header blocks (3+ lines) are document metadata, not body text:
        the run is cut around them so no chunk spans them."""
        groups: list[list[_Para]] = [[]]
        i = 0
        while i < len(run):
            j = i
            while j < len(run) and _META_LINE.match(run[j].text):
                j += 1
            if j - i >= 3:
                groups.append([])
                i = j
                continue
            groups[-1].extend(run[i : max(j, i + 1)])
            i = max(j, i + 1)
        return [g for g in groups if g]

    def add_body(self, para: _Para) -> None:
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


def _record_fields(line: str) -> dict[str, str]:
    fields = {}
    for part in re.split(r"[；;]", line):
        name, sep, value = part.partition("：")
        if not sep:
            name, sep, value = part.partition(":")
        if sep and name.strip():
            fields[name.strip()] = value.strip()
    return fields


def _record_pieces(sec: _Sectioner, paras: list[_Para]) -> None:
    """A table record: practices split per city paragraph, other rows kept as one (split if long)."""
    text = sec.text
    fields = _record_fields(paras[0].text)
    number = int(_RECORD.match(paras[0].text).group(1))
    name = next((fields[k] for k in _NAME_FIELDS if fields.get(k)), "")
    sec.flush()
    if name:
        section = f"{sec.section()}{SECTION_SEP}典型做法 第{number}项 {name}"
        if not sec.stack and not sec.root:
            section = f"典型做法 第{number}项 {name}"
        cities = [i for i, p in enumerate(paras) if i and _CITY_PARA.match(p.text)]
        source = next((fields[k] for k in _SOURCE_FIELDS if fields.get(k)), "")
        if not source:
            src_line = next((p.text for p in paras if p.text.startswith(_SOURCE_FIELDS)), "")
            source = re.sub(r"^[^：:]+[：:]", "", src_line).strip()
        units: list[tuple[int, int, str]] = []
        if cities:
            for n, i in enumerate(cities):
                s = paras[0].start if n == 0 else paras[i].start
                e = paras[-1].end if n == len(cities) - 1 else paras[cities[n + 1] - 1].end
                units.append((s, e, _CITY_PARA.match(paras[i].text).group(1)))
        else:
            single = source if re.fullmatch(r"[\u4e00-\u9fff]{2,8}?(?:市|县|縣|区|區|州|省)", source) else ""
            units.append((paras[0].start, paras[-1].end, single))
        for s, e, city in units:
            for ps, pe in split_span(text, s, e):
                sec.pieces.append(_Piece(ps, pe, section, "practice", city, number))
        return
    heads = [v for k, v in fields.items() if heading_rank(v) in (1, 2)]
    top = [h for h in heads if heading_rank(h) == 1]
    key = next((h for h in heads if heading_rank(h) == 2), "")
    parts = [sec.section()] + top[:1] + [f"序号{number} {heading_label(key)}".strip()]
    section = SECTION_SEP.join(parts)
    for s, e in split_span(text, paras[0].start, paras[-1].end):
        sec.pieces.append(_Piece(s, e, section, "table_row"))


def _pieces(text: str) -> list[_Piece]:
    paras = _paragraphs(text)
    sec = _Sectioner(text)
    i = 0
    expect_caption = False
    while i < len(paras):
        para = paras[i]
        line = para.text
        if _RECORD.match(line):
            j = i + 1
            while j < len(paras) and not paras[j].after_blank and not _RECORD.match(paras[j].text):
                j += 1
            _record_pieces(sec, paras[i:j])
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
        if expect_caption and rank is None and len(line) <= 60 and "。" not in line:
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


def chunk_document(doc: SourceDocument) -> tuple[CleanedDocument, list[TextNode]]:
    """Clean one document and cut it into section-aware nodes with the shared metadata schema."""
    cleaned = clean_text(doc.raw_text, file=doc.file)
    text = cleaned.text
    base = {
        "doc_id": doc.doc_id,
        "file": doc.file,
        "title": doc.title or doc.doc_id,
        "issuer": doc.issuer or "",
        "jurisdiction": doc.jurisdiction or UNKNOWN,
        "doc_number": doc.doc_number or "",
        "date": doc.date or "",
    }
    keys = list(CHUNK_METADATA_KEYS)
    nodes = []
    for piece in _pieces(text):
        chunk = text[piece.start : piece.end]
        metadata: dict[str, Any] = {
            **base,
            "section": piece.section or PREAMBLE,
            "start": piece.start,
            "end": piece.end,
            "kind": piece.kind,
            "city": piece.city,
            "practice_no": piece.practice_no,
        }
        nodes.append(
            TextNode(
                id_=_node_id(doc.doc_id, piece.start, piece.end, chunk),
                text=chunk,
                metadata={k: metadata[k] for k in keys},
                excluded_embed_metadata_keys=keys,
                excluded_llm_metadata_keys=keys,
            )
        )
    return cleaned, nodes


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

    @classmethod
    def class_name(cls) -> str:
        return "PolicyNodeParser"

    def _parse_nodes(self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any) -> list[BaseNode]:
        out: list[BaseNode] = []
        for node in nodes:
            document = node if isinstance(node, Document) else Document(text=node.get_content(), metadata=node.metadata)
            _, chunks = chunk_document(source_from_document(document))
            for chunk in chunks:
                chunk.relationships[NodeRelationship.SOURCE] = node.as_related_node_info()
            out.extend(chunks)
        return out
