"""The retrieval legs: dense (Chroma cosine search), BM25 over jieba words and BM25 over character n-grams,
each giving a ranking of passage positions for the fusion."""

from __future__ import annotations

from itertools import takewhile

import numpy as np

from assistant.core.text import tokenize
from assistant.index import store
from assistant.index.catalog import Catalog
from assistant.index.postings import char_grams
from assistant.retrieval.builds import char_leg, place_index
from assistant.retrieval.plan import QueryPlan
from assistant.settings import Settings


def bm25_scores(catalog: Catalog, plan: QueryPlan) -> np.ndarray:
    """BM25 score of every passage for the question and its glossary expansions (0 when no word is indexed)."""
    tokens = [t for t in tokenize(plan.bm25_text) if t in catalog.bm25.vocabulary]
    if not tokens:
        return np.zeros(len(catalog.node_ids), dtype=np.float32)
    return np.asarray(catalog.bm25.get_scores(tokens), dtype=np.float32)


def char_scores(catalog: Catalog, plan: QueryPlan) -> np.ndarray | None:
    """BM25 over character n-grams of the question and its expansions, each n-gram once (None: no such leg
    in this index). Robust to segmentation: 开个小店 and 个体工商户 share 个, 小店 and 店铺 share 店."""
    leg = char_leg(catalog)
    if leg is None:
        return None
    grams = [g for g in dict.fromkeys(char_grams(plan.bm25_text)) if g in leg.vocabulary]
    if not grams:
        return np.zeros(len(catalog.node_ids), dtype=np.float32)
    return np.asarray(leg.get_scores(grams), dtype=np.float32)


def dense_scores(
    catalog: Catalog, settings: Settings, qvec: list[float], mask: np.ndarray, top_k: int
) -> dict[str, float]:
    """Cosine similarity of the nearest passages inside the mask, by node id (Chroma's order)."""
    n = int(mask.sum())
    if n == 0:
        return {}
    where = None
    if n < len(mask):
        where = {"doc_id": {"$in": place_index(catalog).doc_ids_under(mask)}}
    tuned = settings.retrieval
    k = min(max(top_k * tuned.dense_candidates, tuned.dense_min_candidates), n)
    # ids and distances only: rebuilding 50 nodes from Chroma's JSON costs more than the search
    try:
        result = catalog.collection.query(
            query_embeddings=[qvec], n_results=k, where=where, include=["distances"]
        )
    except Exception as exc:
        if not store.server_configured(settings):
            raise
        host, port = settings.chroma_host, settings.chroma_port
        raise store.StoreUnavailableError(
            f"Chroma 服务器 {host}:{port} 没有响应（{type(exc).__name__}）。请确认服务器正在运行；恢复后可直接重试。"
        ) from None
    out = {}
    for node_id, dist in zip(result["ids"][0], result["distances"][0], strict=False):
        if node_id in catalog.nodes:
            out[node_id] = 1.0 - float(dist)  # cosine space: distance = 1 - cosine
    return out


def dense_ranking(catalog: Catalog, dense: dict[str, float], mask: np.ndarray, depth: int) -> list[int]:
    """Positions of the dense hits inside the mask, most similar first (ties in Chroma's order)."""
    index = catalog.position
    hits = sorted(((index[i], s) for i, s in dense.items() if mask[index[i]]), key=lambda x: -x[1])
    return [i for i, _ in hits[:depth]]


def sparse_ranking(scores: np.ndarray, mask: np.ndarray, depth: int) -> list[int]:
    """Positions of the passages inside the mask with a positive BM25 score, best first."""
    masked = np.where(mask, scores, -1.0)
    order = np.argsort(-masked)[:depth]
    return [int(i) for i in takewhile(lambda i: masked[i] > 0, order)]
