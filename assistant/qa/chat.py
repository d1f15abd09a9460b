"""Multi-turn chat: a follow-up ("那乐清呢？") is rewritten into a standalone question, then answered.

The offline rewrite carries the previous turn's place and topic over; with an LLM its condense prompt
rewrites first, the offline rewrite being the fallback. The follow-up words are data
(``data/language.toml`` [chat]).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.chat_engine.types import AgentChatResponse, BaseChatEngine, StreamingAgentChatResponse

from assistant.core.lexicon import pattern, words
from assistant.core.schema import Answer
from assistant.qa.context import Answerer
from assistant.qa.query_engine import Comparer, PolicyQueryEngine, build_query_engine
from assistant.qa.question import prepare_question
from assistant.retrieval.plan import plan_query
from assistant.retrieval.retriever import Filters, Retrieval, gazetteer_for
from assistant.settings import Settings, get_settings

logger = logging.getLogger(__name__)

# Openings and endings of a follow-up question ("那…", "…呢？").
FOLLOWUP = pattern("language", "chat.followup", re.I)
_LEVELS = words("language", "chat.levels")  # 国家级, 省级 …: "那市级的呢？" asks again at another level

# (earlier turns as (message, answer), the new message) -> the standalone question, e.g. the LLM's rewrite
Condenser = Callable[[list[tuple[str, str]], str], str]


@dataclass
class Turn:
    """One answered turn: what the user typed, the question it was answered as, and the answer's text."""

    message: str
    standalone: str
    answer: str = ""


class PolicyChatEngine(BaseChatEngine):
    """Multi-turn: a follow-up is rewritten into a standalone question before it is answered."""

    def __init__(self, engine: PolicyQueryEngine, condenser: Condenser | None = None) -> None:
        self.engine = engine
        self.condenser = condenser
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
        self.turns.append(Turn(message, text, ans.text))
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
            self.turns.append(Turn(message, question, final.text))

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
    cat = engine.retriever.catalog
    docs = [(d.doc_id, d.title, d.doc_number) for d in cat.documents]
    gz = gazetteer_for(cat)
    plan = plan_query(message, gz, docs, cat.bm25.vocabulary)
    prev_plan = plan_query(previous.standalone, gz, docs, cat.bm25.vocabulary)
    places = plan.places or plan.unknown_places  # "那杭州呢？" asks the same of a place we may not cover
    core = re.sub(r"[\s？?。！!，,]+", "", FOLLOWUP.sub("", message))
    for p in places:
        for alias in sorted({p, *[a for pl in gz.places if pl.name == p for a in pl.aliases]}, key=len, reverse=True):
            core = core.replace(alias, "")
    is_followup = bool(FOLLOWUP.search(message.strip())) or len(core) <= 4
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


def build_chat_engine(
    settings: Settings | None = None,
    *,
    filters: Filters | None = None,
    answerer: Answerer | None = None,
    comparer: Comparer | None = None,
) -> PolicyChatEngine:
    settings = settings or get_settings()
    engine = build_query_engine(settings, filters=filters, answerer=answerer, comparer=comparer)
    condenser: Condenser | None = None
    if settings.llm_enabled:
        from assistant.qa.llm_client import ChatClient, condense_question

        client = ChatClient(settings)
        condenser = lambda history, message: condense_question(client, history, message)  # noqa: E731
    return PolicyChatEngine(engine, condenser)
