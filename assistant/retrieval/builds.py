"""What retrieval derives from one index build, computed on the build's first question and freed with it.

Each value is kept in a ``WeakKeyDictionary`` keyed by the ``Catalog`` object (never by build id in a
module-level dict that only grows): when an update opens a new build and the old catalog is dropped, its
gazetteer, title tables and passage masks go with it. No value may hold a reference to its catalog.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import wraps
from typing import TypeVar
from weakref import WeakKeyDictionary

import numpy as np

from assistant.core.validity import AsOf, allowed_documents, history_documents
from assistant.index.catalog import Catalog
from assistant.index.sparse import SegmentedBM25, char_bm25
from assistant.retrieval.documents import DocumentNames
from assistant.retrieval.gazetteer import Gazetteer
from assistant.retrieval.scopes import PlaceIndex

T = TypeVar("T")
_DATES_KEPT = 32  # dates (with their validity choice) whose in-force documents are kept per build


def per_build(compute: Callable[[Catalog], T]) -> Callable[[Catalog], T]:
    """``compute(catalog)`` once per catalog object, kept while the catalog lives."""
    values: WeakKeyDictionary[Catalog, T] = WeakKeyDictionary()
    lock = threading.Lock()

    @wraps(compute)
    def cached(catalog: Catalog) -> T:
        found = values.get(catalog)
        if found is None:
            with lock:  # two first questions at once compute it once
                found = values.get(catalog)
                if found is None:
                    found = values[catalog] = compute(catalog)
        return found

    cached.values = values  # type: ignore[attr-defined]  # for tests: what is kept
    return cached


@per_build
def gazetteer_for(catalog: Catalog) -> Gazetteer:
    """The places of the build: its documents' jurisdictions and the cities its passages speak for."""
    cities = sorted({str(n.metadata.get("city", "")) for n in catalog.nodes.values()} - {""})
    return Gazetteer([d.jurisdiction for d in catalog.documents], cities)


@per_build
def document_names(catalog: Catalog) -> DocumentNames:
    """The build's titles and 文号 as lookup tables (abbreviations read with the catalog's settings)."""
    docs = [(d.doc_id, d.title, d.doc_number) for d in catalog.documents]
    min_chars = catalog.settings.retrieval.abbreviation_min_chars
    return DocumentNames(docs, gazetteer_for(catalog).chinese_aliases, min_chars)


@per_build
def char_leg(catalog: Catalog) -> SegmentedBM25 | None:
    """BM25 over character n-grams of the build's live passages (None: an index written before them)."""
    return char_bm25(catalog.bm25)


@per_build
def place_index(catalog: Catalog) -> PlaceIndex:
    """Each passage's document and city, and each place's documents, as codes."""
    cities = [str(catalog.nodes[i].metadata.get("city", "")) for i in catalog.node_ids]
    return PlaceIndex(
        [(d.doc_id, d.jurisdiction) for d in catalog.documents], catalog.doc_index.tolist(), cities
    )


@dataclass(frozen=True)
class OnDate:
    """The documents that count on a date: those a search may use (None = all), and with 包括历史文件 those
    not in force (ranked after the others); ``mask`` = the passages of ``in_force``."""

    in_force: set[str] | None
    history: set[str]
    mask: np.ndarray | None


@per_build
def _dates(catalog: Catalog) -> dict[tuple[date, str | None], OnDate]:
    return {}


def on_date(catalog: Catalog, when: AsOf) -> OnDate:
    """The documents in force on ``when``: every document's state, read once per date and build."""
    memo = _dates(catalog)
    key = (when.day, when.validity)
    found = memo.get(key)
    if found is None:
        if len(memo) >= _DATES_KEPT:
            memo.clear()
        in_force = allowed_documents(catalog, when)
        mask = None if in_force is None else place_index(catalog).passages_of(in_force)
        if mask is not None:
            mask.flags.writeable = False  # shared by every question on that date
        found = memo[key] = OnDate(in_force, history_documents(catalog, when), mask)
    return found
