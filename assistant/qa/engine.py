"""The LlamaIndex query and chat engines: validate the question, retrieve, answer, wrap as a Response."""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.base.response.schema import Response
from llama_index.core.chat_engine.types import AgentChatResponse, BaseChatEngine, StreamingAgentChatResponse
from llama_index.core.schema import QueryBundle

from assistant.core.schema import Answer, Citation
from assistant.core.validity import Validity, in_force_verdict
from assistant.qa.extractive import Answerer, ExtractiveAnswerer, idf_from_bm25, refusal
from assistant.qa.notices import annotate, annotate_citation, lapsed_reason
from assistant.retrieval.retriever import Filters, HybridRetriever, Retrieval
from assistant.settings import Settings, get_settings

logger = logging.getLogger(__name__)


# "各地…" asks every place; "哪个城市做了…" asks for one place and is answered as a normal question.
_ALL_PLACES = re.compile(r"各地|各城市|各个城市|各市|each city|every city|across (?:the )?cities", re.I)


class InvalidQuestionError(ValueError):
    """The question cannot be asked as given; the message says why in words a user can act on."""


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")


def prepare_question(question: object, settings: Settings) -> tuple[str, str]:
    """Clean user input: strip control characters, refuse empty input, truncate very long input."""
    if not isinstance(question, str):
        raise InvalidQuestionError("问题必须是文本。")
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", question)).strip()
    text = re.sub(r"\s+", " ", text)
    if not text:
        raise InvalidQuestionError("请输入问题。")
    notice = ""
    if len(text) > settings.max_question_chars:
        text = text[: settings.max_question_chars]
        notice = f"问题过长，已截取前 {settings.max_question_chars} 个字符。"
    searchable = re.sub(r"<[^>]{0,200}>", " ", text)  # markup carries no question
    if not re.search(r"[\u3400-\u9fff]|[A-Za-z]{2,}", searchable):
        raise InvalidQuestionError("没有识别到可以检索的文字，请用中文或英文描述您的问题。")
    han_latin = len(re.findall(r"[\u3400-\u9fffA-Za-z]", searchable))
    other = sum(1 for ch in searchable if ch.isalpha() and not re.match(r"[\u3400-\u9fffA-Za-z]", ch))
    if other > han_latin:
        raise InvalidQuestionError("目前只支持中文（简体或繁体）和英文提问。Please ask in Chinese or English.")
    return text, notice


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

    def _context(self, retrieval: Retrieval) -> dict[str, Any]:
        cat = self.retriever.catalog
        context = {"plan": retrieval.plan, "idf": idf_from_bm25(cat.bm25, len(cat.node_ids))}
        if retrieval.when is not None:  # a disagreement notice says which document is in force that day
            day = retrieval.when.day
            context["in_force"] = lambda doc_ids: in_force_verdict(cat, doc_ids, day)
        return context

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
        return self.answerer.answer(text, retrieval.nodes, **self._context(retrieval))

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
            for item in self.answerer.stream(text, retrieval.nodes, **self._context(retrieval)):
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


# -- follow-ups ------------------------------------------------------------------------------------------

_FOLLOWUP = re.compile(
    r"^(那|那么|那末|还有|另外|此外|再|同样|它|他们|它们|其|这个|这些|该|上述|对于|关于|and\b|what about|how about)|呢[？?]?$",
    re.IGNORECASE,
)


_LEVELS = ("国家级", "省级", "市级", "县级", "区级")


@dataclass
class Turn:
    message: str
    standalone: str
    places: list[str] = field(default_factory=list)
    answer: str = ""


class PolicyChatEngine(BaseChatEngine):
    """Multi-turn: a follow-up is rewritten into a standalone question before it is answered."""

    def __init__(self, engine: PolicyQueryEngine, condenser: Any | None = None) -> None:
        self.engine = engine
        self.condenser = condenser  # callable(history, message) -> standalone, e.g. the LLM's
        self.turns: list[Turn] = []

    def set_filters(self, filters: Filters | None) -> None:
        self.engine.filters = filters or Filters()

    def reset(self) -> None:
        self.turns = []

    @property
    def chat_history(self) -> list[ChatMessage]:
        out: list[ChatMessage] = []
        for t in self.turns:
            out.append(ChatMessage(role=MessageRole.USER, content=t.message))
            out.append(ChatMessage(role=MessageRole.ASSISTANT, content=t.answer))
        return out

    def standalone(self, message: str) -> str:
        """Offline: carry over the place and topic of the previous turn; LLM: its condense prompt."""
        if not self.turns:
            return message
        if self.condenser is not None:
            try:
                rewritten = self.condenser([(t.message, t.answer) for t in self.turns], message)
                if rewritten and rewritten.strip() != message.strip():
                    return rewritten
            except Exception as exc:  # the offline rewrite is a fine fallback
                logger.warning("condense failed: %s", type(exc).__name__)
        return rewrite_followup(self.turns[-1], message, self.engine)

    def _answer(self, message: str) -> tuple[Answer, Retrieval, str, str]:
        message, _ = prepare_question(message, self.engine.settings)  # reject garbage before any rewrite
        question = self.standalone(message)
        ans, retrieval, text = self.engine.answer(question)
        self.turns.append(Turn(message, text, list(retrieval.plan.places), ans.text))
        return ans, retrieval, text, message

    def chat(self, message: str, chat_history: list[ChatMessage] | None = None) -> AgentChatResponse:
        ans, retrieval, text, _ = self._answer(message)
        resp = PolicyQueryEngine.to_response(ans, retrieval, text)
        return AgentChatResponse(response=ans.text, source_nodes=resp.source_nodes, metadata=resp.metadata)

    def stream_answer(self, message: str) -> Iterator[str | Answer]:
        message, _ = prepare_question(message, self.engine.settings)
        question = self.standalone(message)
        final: Answer | None = None
        for item in self.engine.stream_answer(question):
            if isinstance(item, Answer):
                final = item
            yield item
        if final is not None:
            self.turns.append(Turn(message, question, [], final.text))

    def stream_chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> StreamingAgentChatResponse:
        resp = self.chat(message, chat_history)
        return StreamingAgentChatResponse(
            response=resp.response, source_nodes=resp.source_nodes, is_dummy_stream=True, metadata=resp.metadata
        )

    async def achat(self, message: str, chat_history: list[ChatMessage] | None = None) -> AgentChatResponse:
        return self.chat(message, chat_history)

    async def astream_chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> StreamingAgentChatResponse:
        return self.stream_chat(message, chat_history)


def rewrite_followup(previous: Turn, message: str, engine: PolicyQueryEngine) -> str:
    """'那乐清呢？' after '温州对首次小升规企业奖励多少？' -> '乐清对首次小升规企业奖励多少？'."""
    from assistant.retrieval.plan import plan_query
    from assistant.retrieval.retriever import gazetteer_for

    cat = engine.retriever.catalog
    docs = [(d.doc_id, d.title, d.doc_number) for d in cat.documents]
    gz = gazetteer_for(cat)
    plan = plan_query(message, gz, docs, cat.bm25.vocab_dict)
    prev_plan = plan_query(previous.standalone, gz, docs, cat.bm25.vocab_dict)
    places = plan.places or plan.unknown_places  # "那杭州呢？" asks the same of a place we may not cover
    core = re.sub(r"[\s？?。！!，,]+", "", _FOLLOWUP.sub("", message))
    for p in places:
        for alias in sorted({p, *[a for pl in gz.places if pl.name == p for a in pl.aliases]}, key=len, reverse=True):
            core = core.replace(alias, "")
    is_followup = bool(_FOLLOWUP.search(message.strip())) or len(core) <= 4
    if not is_followup:
        return message
    level = next((lv for lv in _LEVELS if lv in core), None)
    old_level = next((lv for lv in _LEVELS if lv in previous.standalone and lv != level), None)
    if level and old_level and not places:  # "那市级的呢？" after a 国家级 question: same question, other level
        return previous.standalone.replace(old_level, level)
    prev_places = prev_plan.places or prev_plan.unknown_places
    if places and prev_places:
        text = previous.standalone
        for old in prev_places:
            aliases = sorted({old, *[a for pl in gz.places if pl.name == old for a in pl.aliases]}, key=len, reverse=True)
            for a in aliases:
                if a in text:
                    text = text.replace(a, "、".join(places), 1)
                    break
        text = re.sub(r"(、[^、]+)\1+", r"\1", text)
        return f"{text} {core}".strip() if core else text
    if places:
        return f"{'、'.join(places)} {previous.standalone}"
    return f"{'、'.join(prev_places)} {message} （{previous.standalone}）".strip()


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


def build_chat_engine(
    settings: Settings | None = None,
    *,
    filters: Filters | None = None,
    answerer: Answerer | None = None,
    comparer: Comparer | None = None,
) -> PolicyChatEngine:
    settings = settings or get_settings()
    engine = build_query_engine(settings, filters=filters, answerer=answerer, comparer=comparer)
    condenser = None
    if settings.llm_enabled:
        from assistant.qa.llm_client import ChatClient, condense_question

        client = ChatClient(settings)
        condenser = lambda history, message: condense_question(client, history, message)  # noqa: E731
    return PolicyChatEngine(engine, condenser)
