"""The pipelines compared by ``python -m eval run``, behind one small interface.

``hybrid`` is the product as users get it; ``vector`` and ``bm25`` are what a plain LlamaIndex
set-up gives on the same raw corpus text (default ``SentenceSplitter``, no cleaning), answered by the
same extractive answerer, so differences come from indexing and retrieval. Heavy imports stay inside
the builders so metric tests need no embeddings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Protocol

from llama_index.core.schema import BaseNode, NodeWithScore, TextNode

from assistant.settings import Settings
from eval.dataset import Question

logger = logging.getLogger(__name__)

TOP_K = 10
PIPELINE_NAMES = ("hybrid", "vector", "bm25")


@dataclass
class PipelineResult:
    """What one pipeline did for one question; ``cited`` are the passages behind the [n] markers."""

    retrieved: list[NodeWithScore]
    answer_text: str
    answerable: bool
    cited: list[NodeWithScore]
    retrieval_ms: float | None
    total_ms: float
    extra: dict[str, Any] = field(default_factory=dict)


class Pipeline(Protocol):
    name: str

    def ask(self, question: Question) -> PipelineResult: ...


def _ms(start: float) -> float:
    return (perf_counter() - start) * 1000.0


class ProductPipeline:
    """The assistant's own engine; follow-up questions (``history``) go through its chat engine."""

    name = "hybrid"

    def __init__(self, settings: Settings, *, engine: Any = None, chat_engine: Any = None) -> None:
        import assistant

        self._settings = settings
        self._engine = engine or assistant.build_query_engine(settings=settings)
        self._chat: Any = chat_engine

    def _chat_engine(self) -> Any:
        if self._chat is None:
            import assistant

            self._chat = assistant.build_chat_engine(settings=self._settings)
        return self._chat

    def ask(self, question: Question) -> PipelineResult:
        if question.history:
            chat = self._chat_engine()
            chat.reset()
            try:
                for turn in question.history:
                    chat.chat(turn)
                start = perf_counter()
                resp = chat.chat(question.question)
                total = _ms(start)
            finally:
                chat.reset()
        else:
            start = perf_counter()
            resp = self._engine.query(question.question)
            total = _ms(start)
        md = resp.metadata or {}
        timings = dict(md.get("timings") or {})
        answer = md.get("answer")
        return PipelineResult(
            retrieved=list(md.get("retrieved") or []),
            answer_text=str(resp.response or ""),
            answerable=bool(md.get("answerable", True)),
            cited=list(resp.source_nodes or []),
            retrieval_ms=timings.get("retrieval_ms"),
            total_ms=total,
            extra={
                "engine_timings": timings,
                "asked": md.get("question", question.question),  # the standalone form of a follow-up
                "notice": getattr(answer, "notice", ""),
            },
        )


class BaselinePipeline:
    """Plain retrieval + the product's extractive answerer. Baselines have no conversation memory:
    a follow-up question is asked on its own, as a plain index would see it."""

    def __init__(self, name: str, retrieve: Callable[[str], list[NodeWithScore]], answerer: Any) -> None:
        self.name = name
        self._retrieve = retrieve
        self._answerer = answerer

    def ask(self, question: Question) -> PipelineResult:
        start = perf_counter()
        nodes = self._retrieve(question.question)
        retrieval_ms = _ms(start)
        answer = self._answerer.answer(question.question, nodes)
        return PipelineResult(
            retrieved=list(nodes),
            answer_text=answer.text,
            answerable=answer.answerable,
            cited=list(answer.passages),
            retrieval_ms=retrieval_ms,
            total_ms=_ms(start),
        )


def plain_nodes(settings: Settings) -> list[TextNode]:
    """The corpus's RAW text split by the default ``SentenceSplitter``, ids stable across runs."""
    from llama_index.core import Document
    from llama_index.core.node_parser import SentenceSplitter

    from assistant.corpus.loading import load_corpus

    docs, skipped = load_corpus(settings.corpus_dir)
    if skipped:
        logger.warning("Baselines skip %d unreadable file(s): %s", len(skipped), skipped)
    documents = [
        Document(text=d.raw_text, id_=f"plain:{d.file}", metadata={"file": d.file, "title": d.title})
        for d in docs
    ]
    splitter = SentenceSplitter(id_func=lambda i, doc: f"{doc.id_}#{i}")
    return [n for n in splitter.get_nodes_from_documents(documents) if isinstance(n, TextNode)]


def vector_retriever(
    nodes: Sequence[BaseNode], settings: Settings, *, use_shipped_cache: bool = True
) -> Callable[[str], list[NodeWithScore]]:
    """A default in-memory ``VectorStoreIndex`` with the product's embedder (no LLM involved)."""
    from llama_index.core import VectorStoreIndex

    from assistant.index.embedding import build_embedder

    embedder = build_embedder(settings, use_shipped_cache=use_shipped_cache)
    index = VectorStoreIndex(list(nodes), embed_model=embedder)
    embedder.cache.save()  # the next run skips re-embedding the raw chunks
    return index.as_retriever(similarity_top_k=TOP_K).retrieve


class BM25Retriever:
    """bm25s over ``assistant.core.text.tokenize`` tokens; passages sharing no token are not returned."""

    def __init__(self, nodes: Sequence[BaseNode], top_k: int = TOP_K) -> None:
        import bm25s

        from assistant.core.text import tokenize

        self._tokenize = tokenize
        self._nodes = list(nodes)
        self._top_k = top_k
        self._bm25 = bm25s.BM25()
        self._bm25.index([tokenize(n.get_content()) or [""] for n in self._nodes], show_progress=False)

    def __call__(self, query: str) -> list[NodeWithScore]:
        import numpy as np

        tokens = self._tokenize(query)
        if not tokens or not self._nodes:
            return []
        scores = self._bm25.get_scores(tokens)
        order = np.argsort(-scores, kind="stable")[: self._top_k]
        return [NodeWithScore(node=self._nodes[i], score=float(scores[i])) for i in order if scores[i] > 0]


def build_pipelines(names: Sequence[str], settings: Settings) -> list[Pipeline]:
    """Pipelines in the order asked for; the plain chunks are split once and shared by both baselines."""
    unknown = [n for n in names if n not in PIPELINE_NAMES]
    if unknown:
        raise ValueError(f"unknown pipeline(s) {unknown}; choose from {', '.join(PIPELINE_NAMES)}")
    pipelines: list[Pipeline] = []
    nodes: list[TextNode] | None = None
    answerer: Any = None
    for name in names:
        if name == "hybrid":
            pipelines.append(ProductPipeline(settings))
            continue
        if nodes is None:
            from assistant.qa.extractive import ExtractiveAnswerer

            nodes = plain_nodes(settings)
            answerer = ExtractiveAnswerer()
        retrieve = vector_retriever(nodes, settings) if name == "vector" else BM25Retriever(nodes)
        pipelines.append(BaselinePipeline(name, retrieve, answerer))
    return pipelines
