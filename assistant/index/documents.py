"""One document's way into a build: its fingerprint, the texts its passages are searched by, its chunks."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from llama_index.core.schema import TextNode

from assistant.core.text import search_form, tokenize
from assistant.corpus.loading import SourceDocument, load_document
from assistant.index.compose import FreshDoc
from assistant.index.postings import Postings
from assistant.index.scan import CorpusFile
from assistant.settings import Settings


def doc_fingerprint(doc: SourceDocument) -> str:
    fields = [doc.content_hash, doc.title, doc.issuer, doc.jurisdiction, doc.doc_number, doc.date, doc.file]
    if doc.lifecycle:  # a manifest lifecycle edit makes a new document row (the chunks stay)
        fields.append(json.dumps(doc.lifecycle, ensure_ascii=False, sort_keys=True))
    return hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()[:24]


def embed_text(node: TextNode) -> str:
    """What the dense leg embeds: title, heading path and text, in Simplified form."""
    md = node.metadata
    return search_form(f"{md.get('title', '')}\n{md.get('section', '')}\n{node.get_content()}")


def bm25_text(node: TextNode) -> str:
    """What the sparse leg indexes: also the place name, so '乐清…' questions reach 乐清's chunks."""
    md = node.metadata
    place = str(md.get("jurisdiction", "")).replace("/", " ")
    return f"{md.get('title', '')} {place} {md.get('city', '')}\n{md.get('section', '')}\n{node.get_content()}"


def fingerprint(f: CorpusFile, seen: dict[str, dict[str, Any]]) -> str:
    return doc_fingerprint(f.doc) if f.doc is not None else str(seen[f.doc_id]["fingerprint"])


def chunk_file(f: CorpusFile, fingerprint: str, settings: Settings, warnings: list[str]) -> FreshDoc:
    """Read (when the scan did not), clean and chunk one document."""
    from assistant.corpus.chunking import chunk_document

    doc = f.doc or load_document(settings.corpus_dir / f.file, _manifest_entry(settings, f), doc_id=f.doc_id,
                                 file=f.file)
    cleaned, nodes = chunk_document(doc, settings.chunking)
    warnings.extend(f"{doc.file}: {w}" for w in cleaned.warnings)
    if not nodes:
        warnings.append(f"{doc.file}: 没有切出任何正文片段，该文件不会被检索到")
    texts = [bm25_text(n) for n in nodes]
    postings = Postings.from_tokens([tokenize(t) or [""] for t in texts], texts)  # words and character n-grams
    row = document_row(doc, fingerprint, len(nodes), cleaned.text)
    return FreshDoc(row, nodes, postings)


def _manifest_entry(settings: Settings, f: CorpusFile) -> dict | None:
    from assistant.corpus.manifest import read_manifest

    manifest = read_manifest(settings.corpus_dir)
    return manifest.get(f.file) or manifest.get(Path(f.file).name)


def document_row(doc: SourceDocument, fingerprint: str, chunks: int, cleaned_text: str | None) -> dict[str, Any]:
    return {
        "doc_id": doc.doc_id,
        "file": doc.file,
        "title": doc.title,
        "issuer": doc.issuer,
        "jurisdiction": doc.jurisdiction,
        "doc_number": doc.doc_number,
        "date": doc.date,
        "content_hash": doc.content_hash,
        "fingerprint": fingerprint,
        "chunks": chunks,
        "cleaned_text": cleaned_text or "",
        "lifecycle_manifest": doc.lifecycle,  # read by assistant.corpus.lifecycle when the catalog opens
    }
