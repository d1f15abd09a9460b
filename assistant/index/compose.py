"""Which segment an update writes: only the changed documents, or a merge when the old ones cost too much.

An update writes a small segment with the documents it re-chunked (its cost is theirs). Small segments
are searched by brute force and every segment by its own BM25 postings, so they are folded together
when there are more than ``indexing.max_delta_segments``; and when the passages outside sealed segments
plus those sealed segments hold for replaced or removed documents pass ``indexing.merge_share`` of the
corpus (and ``indexing.merge_min_passages``), one sealed segment is written anew from all live
documents (rows, counts and vectors copied, nothing re-embedded). That merge costs the whole corpus
but comes once per that share of changed passages, so its cost per changed passage stays constant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from llama_index.core.schema import TextNode

from assistant.index.layout import Layout
from assistant.index.postings import Postings
from assistant.index.segments import SegmentFiles, SegmentWriter
from assistant.settings import Settings


@dataclass
class FreshDoc:
    """A document chunked by this update: its row, nodes, their vectors and BM25 term counts."""

    row: dict[str, Any]
    nodes: list[TextNode]
    postings: Postings  # its passages' term counts (arrays, not token lists: a cold build holds them all)
    vectors: np.ndarray | None = None  # set once embedded


@dataclass
class Plan:
    """The new build's documents (in corpus order) and where each is read from."""

    order: list[str]
    kept: dict[str, dict[str, Any]]  # doc_id -> the current build's record (fingerprint, chunks, segment)
    fresh: dict[str, FreshDoc | None]  # None: chunked when written (a full build holds one batch at a time)
    segments: dict[str, dict[str, Any]] = field(default_factory=dict)  # current build's segment descriptors


def choose(plan: Plan, settings: Settings, *, full: bool) -> tuple[str, set[str]]:
    """("sealed" | "delta" | "none", ids of kept documents to copy into the new segment)."""
    if full:
        return "sealed", set(plan.kept)
    live: dict[str, int] = {}
    for rec in plan.kept.values():
        live[rec["segment"]] = live.get(rec["segment"], 0) + int(rec["chunks"])
    fresh_rows = sum(len(f.nodes) for f in plan.fresh.values() if f is not None)  # all chunked unless full
    sealed = {s for s in live if plan.segments[s]["sealed"]}
    outside = fresh_rows + sum(n for s, n in live.items() if s not in sealed)
    dead = sum(plan.segments[s]["rows"] - live[s] for s in sealed)
    total = fresh_rows + sum(live.values())
    opts = settings.indexing
    if outside + dead > max(opts.merge_min_passages, opts.merge_share * total):
        return "sealed", set(plan.kept)
    deltas = [s for s in live if s not in sealed]
    if len(deltas) + (1 if plan.fresh else 0) > opts.max_delta_segments:
        return "delta", {d for d, rec in plan.kept.items() if rec["segment"] in deltas}
    return ("delta" if plan.fresh else "none"), set()


def write(plan: Plan, settings: Settings, layout: Layout, build_id: str, *, full: bool,
          chunk: Callable[[str], FreshDoc], embed: Callable[[list[FreshDoc]], None]
          ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Write the new segment (if any); where each document is (its chunks and segment: a kept document left
    where it was is given as its current record itself) and the segment descriptors.

    Fresh documents not chunked yet (``None`` in ``plan.fresh``: a full build) are chunked with ``chunk``;
    every ``indexing.build_batch_passages`` passages are embedded with ``embed``, written and dropped.
    """
    kind, copied = choose(plan, settings, full=full)
    docs: dict[str, dict[str, Any]] = {}
    segments: dict[str, dict[str, Any]] = {}
    writer = SegmentWriter(settings, layout.build_dir(build_id), build_id, sealed=kind == "sealed") \
        if kind != "none" else None
    sources: dict[str, SegmentFiles] = {}
    batch: list[tuple[str, FreshDoc]] = []

    def flush() -> None:
        if not batch:
            return
        embed([fresh for _, fresh in batch])
        for doc_id, fresh in batch:
            writer.add_fresh(fresh.row, fresh.nodes, fresh.vectors, fresh.postings)  # type: ignore[union-attr]
            docs[doc_id] = {"chunks": len(fresh.nodes), "segment": build_id}
        if writer is not None:
            writer.flush()
        batch.clear()

    for doc_id in plan.order:
        if doc_id in plan.fresh:
            fresh = plan.fresh[doc_id] or chunk(doc_id)
            plan.fresh[doc_id] = None  # held by the batch only: written, then dropped
            batch.append((doc_id, fresh))
            if sum(len(f.nodes) for _, f in batch) >= settings.indexing.build_batch_passages:
                flush()
            continue
        rec = plan.kept[doc_id]
        if doc_id in copied:
            flush()  # documents stay in corpus order (the same HNSW graph as a fresh build)
            seg = sources.setdefault(rec["segment"], SegmentFiles(layout.build_dir(rec["segment"]), rec["segment"]))
            writer.add_copy(seg, doc_id)  # type: ignore[union-attr]
            docs[doc_id] = {"chunks": rec["chunks"], "segment": build_id}
        else:
            docs[doc_id] = rec  # where it was: its own record (``build`` keeps it by identity)
            segments[rec["segment"]] = plan.segments[rec["segment"]]
    flush()
    if writer is not None:
        segments[build_id] = writer.write()
    return docs, segments


def referenced(meta: Mapping[str, Any] | None) -> set[str]:
    """The build and every segment it reads (what garbage collection must keep for its readers)."""
    if not meta:
        return set()
    base = meta.get("documents_base")  # the build whose meta holds the records this one starts from
    return {str(meta["build_id"]), *map(str, meta.get("segments", {})), *([str(base)] if base else [])}


def segment_kind(meta: Mapping[str, Any]) -> str:
    """The segment a build wrote: "sealed" (full or merge), "delta", or "" (none, e.g. a removal)."""
    own = meta["segments"].get(meta["build_id"])
    return "" if own is None else ("sealed" if own["sealed"] else "delta")
