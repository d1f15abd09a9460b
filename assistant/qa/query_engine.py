"""The LlamaIndex query engine: validate the question, retrieve, answer, wrap as a Response.

A comparison question goes to the ``comparer`` the product gives the engine (``decisions.router``); qa
itself never imports the decisions stage.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.response.schema import Response
from llama_index.core.schema import QueryBundle

from assistant.core.lexicon import pattern
from assistant.core.schema import Answer, Citation
from assistant.core.validity import Validity, in_force_verdict
from assistant.index.sentences import question_similarity
from assistant.qa.context import AnswerContext, Answerer
from assistant.qa.extractive import ExtractiveAnswerer, idf_from_bm25, refusal
from assistant.qa.notices import annotate, annotate_citation, lapsed_reason
from assistant.qa.question import prepare_question
from assistant.retrieval.retriever import Filters, HybridRetriever, Retrieval
from assistant.settings import Settings, get_settings

# "各地…" asks every place; "哪个城市做了…" asks for one place and is answered as a normal question.
_ALL_PLACES = pattern("language", "chat.each_place", re.I)

def build_answerer(settings: Settings | None = None) -> Answerer:
    """Offline extractive answerer, or the configured LLM with the extractive one as its fallback."""
    settings = settings or get_settings()
    extractive = ExtractiveAnswerer(max_passages=settings.answer_passages + 1)
    if settings.answer_model == "fitted":  # the model file's choice and decline threshold (eval fit-answerer)
        from assistant.qa.fitted import FittedAnswerer

        extractive = FittedAnswerer(max_passages=settings.answer_passages + 1)
    if not settings.llm_enabled:
        return extractive
    from assistant.qa.llm_answerer import LLMAnswerer

    return LLMAnswerer(settings, fallback=extractive)


# A comparison question's answer: (question, places or None for every place, engine, as-of day, validity).
Comparer = Callable[[str, "list[str] | None", "PolicyQueryEngine", "date | None", "Validity | None"], Answer]


class PolicyQueryEngine(BaseQueryEngine):
    """Question -> cited answer. ``response.source_nodes[n-1]`` is the passage of marker [n]."""

    def __init__(
        self,
        retriever: HybridRetriever,
        answerer: Answerer,
        settings: Settings,
        filters: Filters | None = None,
        comparer: Comparer | None = None,
    ) -> None:
        super().__init__(callback_manager=None)
        self.retriever = retriever
        self.answerer = answerer
        self.settings = settings
        self.filters = filters or Filters()
        self.comparer = comparer  # comparison questions go here (``decisions.router``); None: the answerer

    # -- core ---------------------------------------------------------------------------------------

    def answer_context(self, retrieval: Retrieval) -> AnswerContext:
        """What the answerer is told besides the passages: the plan, the index's term weights, and (for a
        disagreement notice) which document is in force on the day searched."""
        cat = self.retriever.catalog
        idf = idf_from_bm25(cat.bm25, len(cat.node_ids))
        # the question's vector is the one the dense leg embedded (same text, the embedder's query cache)
        similarity = question_similarity(cat, retrieval.plan.text[: self.settings.retrieval.query_embed_chars])
        if retrieval.when is None:
            return AnswerContext(plan=retrieval.plan, idf=idf, similarity=similarity)
        day = retrieval.when.day
        return AnswerContext(
            plan=retrieval.plan, idf=idf, in_force=lambda doc_ids: in_force_verdict(cat, doc_ids, day),
            similarity=similarity,
        )

    def retrieve_for(self, question: str, filters: Filters | None = None) -> Retrieval:
        return self.retriever.retrieve_detailed(question, filters if filters is not None else self.filters)

    def _retrieve(self, question: str, filters: Filters | None) -> tuple[str, str, Retrieval, Answer | None]:
        """Cleaned question, input notice, retrieval, and the refusal when it names only places we lack."""
        text, notice = prepare_question(question, self.settings)
        retrieval = self.retrieve_for(text, filters)
        plan = retrieval.plan
        declined = refusal(f"文件不涉及{'、'.join(plan.unknown_places)}") if plan.unknown_places and not plan.places else None
        if declined is None and retrieval.lapsed and retrieval.when is not None:  # only out-of-force documents
            declined = refusal(lapsed_reason(self.retriever.catalog, retrieval.lapsed, retrieval.when))
        return text, notice, retrieval, declined

    def _finish(self, ans: Answer, notice: str, retrieval: Retrieval, t0: float, t1: float) -> Answer:
        ans.notice = "；".join(x for x in (notice, ans.notice) if x)
        annotate(ans, self.retriever.catalog, retrieval.when)  # validity of what it cites, on the answer's date
        t2 = time.perf_counter()
        ans.timings = {
            **{k: round(v, 2) for k, v in retrieval.timings.items()},
            "retrieval_ms": round((t1 - t0) * 1000, 2),
            "answer_ms": round((t2 - t1) * 1000, 2),
            "total_ms": round((t2 - t0) * 1000, 2),
        }
        return ans

    def _add_related(self, ans: Answer, retrieval: Retrieval) -> Answer:
        """A decline after retrieval lists the closest passages (可能相关的条款) with their citations, so a
        user whose wording differs from the documents still reaches the clause; the answer stays a decline.

        Called for any answerer's decline (offline or LLM), never for input or places the corpus lacks."""
        limit = self.settings.related_passages
        if ans.answerable or ans.related or ans.table or limit <= 0:
            return ans
        seen: set[str] = set()
        for nws in retrieval.nodes:
            if len(ans.related) >= limit:
                break
            if nws.node.node_id not in seen:
                seen.add(nws.node.node_id)
                ans.related.append(Citation.from_node(len(ans.related) + 1, nws))
        if retrieval.when is not None:  # an expired document's clause says so, as a cited one does
            for c in ans.related:
                annotate_citation(self.retriever.catalog, c, retrieval.when.day)
        return ans

    def comparison_places(self, text: str, retrieval: Retrieval, filters: Filters | None) -> list[str] | None:
        """None for a question to answer in prose; else the places of its table, [] = those the question
        names (and 全国 when it asks for the national practices), or with 各地 every place."""
        filters = filters if filters is not None else self.filters
        if filters.documents:
            return None
        plan = retrieval.plan
        if len(plan.places) >= 2 and "comparison" in plan.kinds:
            return []
        if not plan.places and not plan.unknown_places and _ALL_PLACES.search(text):
            return list(filters.jurisdictions)
        return None

    def _answer(self, text: str, retrieval: Retrieval, filters: Filters | None) -> Answer:
        places = self.comparison_places(text, retrieval, filters) if self.comparer is not None else None
        if places is not None and self.comparer is not None:
            when = retrieval.when
            as_of = when.day if when is not None and when.source != "today" else None
            return self.comparer(text, places or None, self, as_of, when.validity if when else None)
        return self.answerer.answer(text, retrieval.nodes, self.answer_context(retrieval))

    def answer(self, question: str, filters: Filters | None = None) -> tuple[Answer, Retrieval, str]:
        """The answer, the retrieval behind it, and the cleaned question."""
        t0 = time.perf_counter()
        text, notice, retrieval, declined = self._retrieve(question, filters)
        t1 = time.perf_counter()
        ans = declined or self._add_related(self._answer(text, retrieval, filters), retrieval)
        return self._finish(ans, notice, retrieval, t0, t1), retrieval, text

    def stream_answer(self, question: str, filters: Filters | None = None) -> Iterator[str | Answer]:
        """Text pieces as they are verified, then the final ``Answer``, whose text is their concatenation.

        Only verified text is ever yielded (the LLM answerer streams a sentence once its cited passage
        supports it), so a client may show the pieces as they come and never has to take any back.
        """
        t0 = time.perf_counter()
        text, notice, retrieval, final = self._retrieve(question, filters)
        t1 = time.perf_counter()
        searched = final is None  # not declined before the answerer (places the corpus lacks, lapsed documents)
        if final is None and self.comparison_places(text, retrieval, filters) is not None:
            final = self._answer(text, retrieval, filters)
        if final is not None:
            yield final.text
        else:
            for item in self.answerer.stream(text, retrieval.nodes, self.answer_context(retrieval)):
                if isinstance(item, Answer):
                    final = item
                else:
                    yield item
            if final is None:  # an answerer that ended without its Answer: decline, visibly
                final = refusal()
                yield final.text
        if searched:
            self._add_related(final, retrieval)
        yield self._finish(final, notice, retrieval, t0, t1)

    @staticmethod
    def to_response(ans: Answer, retrieval: Retrieval | None, question: str) -> Response:
        return Response(
            response=ans.text,
            source_nodes=list(ans.passages),
            metadata={
                "answerable": ans.answerable,
                "answer": ans,
                "answerer": ans.answerer,
                "notice": ans.notice,
                "question": question,
                "retrieved": list(retrieval.nodes) if retrieval else [],
                "places": list(retrieval.plan.places) if retrieval else [],
                "timings": ans.timings,
                "citations": [c.to_dict() for c in ans.citations],
                "related": [c.to_dict() for c in ans.related],
            },
        )

    # -- LlamaIndex interface --------------------------------------------------------------------------

    def _query(self, query_bundle: QueryBundle) -> Response:
        ans, retrieval, text = self.answer(query_bundle.query_str)
        return self.to_response(ans, retrieval, text)

    async def _aquery(self, query_bundle: QueryBundle) -> Response:
        return self._query(query_bundle)

    def _get_prompt_modules(self) -> dict[str, Any]:
        return {}


def build_query_engine(
    settings: Settings | None = None,
    *,
    filters: Filters | None = None,
    answerer: Answerer | None = None,
    similarity_top_k: int | None = None,
    comparer: Comparer | None = None,
) -> PolicyQueryEngine:
    """A query engine; builds the index on first use when it is missing.

    The product's engine (``assistant.build_query_engine``) is this one with comparisons routed to
    ``decisions.comparing`` (``decisions.router``); qa itself never imports the decisions stage.
    """
    settings = settings or get_settings()
    retriever = HybridRetriever(settings, similarity_top_k=similarity_top_k or settings.top_k, filters=filters)
    retriever.catalog  # noqa: B018 - open (or build) the index now, not inside the first question
    return PolicyQueryEngine(retriever, answerer or build_answerer(settings), settings, filters, comparer)
