"""The document records of a build's meta: all of them, or a base build's plus what changed since.

Every build names its documents (file, fingerprint, content hash, passages, segment), and writing all of
them per update costs the corpus's size (~10 ms and a dict per document at 8,600 documents) for a change of
one. So an update writes only the records that differ from a base build's (changed or new) and the ids it
no longer has, against the last build that wrote them all; once those pass ``indexing.meta_rewrite_share``
of the corpus, or on a full build or a merge, the build writes them all and becomes the next base. A reader
(``layout.read_meta``) puts them together, in corpus order, so nothing else sees the difference. The base
build stays while any kept build names it (``compose.referenced``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping
from typing import Any

BASE = "documents_base"  # the build whose meta holds every record this one starts from
CHANGED = "documents_changed"  # doc_id -> record, where it differs from the base's (or is new)
DROPPED = "documents_dropped"  # the base's documents this build no longer has
_BASE_RECORDS = "_base_documents"  # set when read, never written: the base's records, for the next update


def encode(documents: dict[str, dict[str, Any]], current: Mapping[str, Any] | None, *, rewrite: bool,
           share: float) -> dict[str, Any]:
    """The meta's document fields for a build with ``documents`` (corpus order) made from ``current``.

    A record unchanged since the base is the very object read from it (``build._record`` keeps it), so
    finding what changed is an identity test per document, not a comparison."""
    if rewrite or not current:
        return {"documents": documents}
    base = current.get(_BASE_RECORDS) if BASE in current else current.get("documents")
    if base is None:
        return {"documents": documents}
    changed = {d: r for d, r in documents.items() if base.get(d) is not r}
    dropped = [d for d in base if d not in documents]
    if len(changed) + len(dropped) > share * max(len(documents), 1):
        return {"documents": documents}
    return {BASE: current.get(BASE) or current["build_id"], CHANGED: changed, DROPPED: dropped}


def record(kept: dict[str, Any] | None, file: str, content_hash: str, fingerprint: str, placed: dict[str, Any]
           ) -> dict[str, Any]:
    """A document's record in a new build; a kept document's own object when nothing in it moved (so
    ``encode`` finds the changes by identity, and an update makes a dict per changed document only)."""
    if (kept is not None and kept["segment"] == placed["segment"] and kept["chunks"] == placed["chunks"]
            and kept.get("content_hash") and len(placed) == 2):
        return kept
    return {"file": file, "fingerprint": fingerprint, "content_hash": content_hash, **placed}


def resolve(meta: dict[str, Any], read_base: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """``meta`` with every record under ``documents``, in corpus order (sorted path parts, as listed)."""
    base_id = meta.get(BASE)
    if not base_id:
        return meta
    base = read_base(base_id)["documents"]
    changed: dict[str, dict[str, Any]] = meta.get(CHANGED, {})
    dropped = set(meta.get(DROPPED, ()))
    moved = {d for d, r in changed.items() if d not in base or base[d].get("file") != r.get("file")}
    merged = {d: changed.get(d, r) for d, r in base.items() if d not in dropped and d not in moved}
    if moved:  # new documents, and documents whose file moved, go where a listing puts them
        order = list(merged)
        file_of = {d: changed[d]["file"] for d in moved}
        for d in moved:  # a bisection compares the keys of log n documents, not n
            at = bisect_left(order, _order_key(file_of[d]),
                             key=lambda e: _order_key(file_of[e] if e in file_of else merged[e]["file"]))
            order.insert(at, d)
        merged = {d: changed.get(d) or merged[d] for d in order}
    meta["documents"] = merged
    meta[_BASE_RECORDS] = base
    return meta


def _order_key(file: str) -> tuple[str, ...]:
    return tuple(file.split("/"))
