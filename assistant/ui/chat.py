"""One chat session of the UI: its engine (conversation memory), the turns it shows, the time budget.

The question is capped at ``max_question_chars`` on entry, so the capped text is what the engine answers,
what the sources panel echoes and what the chat history sends back to the browser.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from assistant.core.schema import Answer
from assistant.core.validity import InvalidDateError
from assistant.qa.engine import InvalidQuestionError
from assistant.retrieval.retriever import UnknownFilterError
from assistant.settings import Settings
from assistant.ui.deadline import TIMEOUT_MESSAGE, DeadlineExceeded, Runner
from assistant.ui.render import Turn, render_answer, render_question

log = logging.getLogger(__name__)


class ChatEngine(Protocol):
    """The part of the engine contract the UI uses."""

    def stream_answer(self, message: str) -> Iterator[str | Answer]: ...
    def reset(self) -> None: ...
    def set_filters(self, filters: Any) -> None: ...


ChatEngineFactory = Callable[..., ChatEngine]  # factory(settings=..., filters=...)
TurnHook = Callable[["ChatSession", Turn], None]  # called once per answered turn (history recording)


def make_filters(
    jurisdictions: Sequence[str], documents: Sequence[str], as_of: str | None = None, validity: str | None = None
) -> Any:
    """Filters from the UI's fields; the date only when given (``InvalidDateError`` for a malformed one)."""
    from assistant.retrieval.retriever import Filters

    if not as_of and not validity:  # the fields of every filter the UI had before dates
        return Filters(jurisdictions=list(jurisdictions), documents=list(documents))
    from assistant.core.validity import parse_date, parse_validity

    mode = None if validity == "default" else parse_validity(validity)
    return Filters(list(jurisdictions), list(documents), as_of=parse_date(as_of), validity=mode)


def cap_question(message: str, limit: int) -> tuple[str, str]:
    """The question cut to ``limit`` characters, and the notice to show when it was cut ("" otherwise)."""
    if len(message) <= limit:
        return message, ""
    return message[:limit], f"问题过长，已截取前 {limit} 个字符。"


class EngineSource:
    """Builds engines; ``prewarm`` builds one ahead so the first question does not pay the load."""

    def __init__(self, factory: ChatEngineFactory, settings: Settings) -> None:
        self._factory = factory
        self.settings = settings
        self._spare: ChatEngine | None = None
        self._lock = threading.Lock()

    def prewarm(self) -> None:
        try:
            engine = self._factory(settings=self.settings, filters=None)
        except Exception:  # the first question will show the error to the user
            log.exception("warm-up of the chat engine failed")
            return
        with self._lock:
            if self._spare is None:
                self._spare = engine

    def get(self, filters: Any) -> ChatEngine:
        with self._lock:
            engine, self._spare = self._spare, None
        if engine is None:
            return self._factory(settings=self.settings, filters=filters)
        engine.set_filters(filters)
        return engine


@dataclass
class _Ready:
    """First item of a worker's stream: the engine it answers with (the session adopts it)."""

    engine: ChatEngine


class _Chunks:
    """Text the worker has produced and the handler has not shown yet. The worker runs ahead of the handler
    (an extractive answer is all there at once), so the handler takes everything pending in one go and
    shows one update instead of one per 12-character chunk; a real token stream still shows each chunk.
    ``finished``: the engine has handed over its answer, so pending text needs no update of its own (the
    answer's update shows it): a ready answer costs the page one update, not two."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: list[str] = []
        self.finished = False

    def put(self, text: str) -> None:
        with self._lock:
            self._parts.append(text)

    def finish(self) -> None:
        self.finished = True

    def take(self) -> str:
        with self._lock:
            text, self._parts = "".join(self._parts), []
        return text


_PENDING = object()  # the worker's marker for "more text in the session's _Chunks"


class ChatSession:
    """One browser (or API client) session: its own engine and the turns it has shown."""

    def __init__(self, source: EngineSource, runner: Runner | None = None, on_answer: TurnHook | None = None) -> None:
        self._source = source
        self.settings = source.settings
        self._runner = runner or Runner(self.settings.request_timeout, self.settings.ui_workers)
        self.on_answer = on_answer
        self.engine: ChatEngine | None = None
        self.turns: list[Turn] = []
        self.conversation_id = uuid.uuid4().hex
        self.owner: str | None = None  # whose history this is ("ui:<login>"), set by the handlers
        self.pending_feedback: str | None = None  # turn id of a 👎 still waiting for its reason
        self._applied: tuple[tuple[str, ...], tuple[str, ...]] | None = None
        self._stale = False  # the engine's memory is not this session's turns (a reopened conversation)

    def _work(
        self,
        message: str,
        jurisdictions: Sequence[str],
        documents: Sequence[str],
        when: tuple[str, str] = ("", ""),
        chunks: _Chunks | None = None,
    ) -> Callable[[], Iterator]:
        """The job for the worker: get (or re-filter) the engine, give it the turns so far, stream its answer."""
        engine, applied = self.engine, self._applied
        wanted = (tuple(jurisdictions), tuple(documents), when)
        earlier = [(t.question, t.answer.text) for t in self.turns[:-1] if t.answer is not None]
        restore = earlier if (engine is None or self._stale) and earlier else None

        def run() -> Iterator[Any]:
            current = engine
            if current is None:
                current = self._source.get(make_filters(jurisdictions, documents, *when))
            elif wanted != applied:
                current.set_filters(make_filters(jurisdictions, documents, *when))
            if restore is not None:
                restore_engine(current, restore)
            yield _Ready(current)
            for item in current.stream_answer(message):
                if chunks is not None and isinstance(item, str):
                    chunks.put(item)
                    item = _PENDING
                elif chunks is not None:  # the answer: set before the handler reads the text ahead of it
                    chunks.finish()
                yield item

        return run

    def ask(
        self,
        message: str,
        jurisdictions: Sequence[str],
        documents: Sequence[str],
        filters_text: str,
        as_of: str | None = None,
        validity: str | None = None,
    ) -> Iterator[Turn]:
        """Yield the turn as it streams; the last yield has ``answer`` (or ``error``) set.

        ``as_of``: YYYY-MM-DD to answer as of ("" = today); ``validity``: "current" / "all" ("" = default)."""
        when = ((as_of or "").strip(), "" if validity in (None, "default") else str(validity))
        message, notice = cap_question(message, self.settings.max_question_chars)
        turn = Turn(number=len(self.turns) + 1, question=message, filters=filters_text, notice=notice)
        self.turns.append(turn)
        started = time.perf_counter()
        deadline = self._runner.deadline()
        chunks = _Chunks()
        yield turn
        try:
            for item in self._runner.stream(self._work(message, jurisdictions, documents, when, chunks), deadline):
                if isinstance(item, _Ready):
                    self.engine, self._applied = item.engine, (tuple(jurisdictions), tuple(documents), when)
                    self._stale = False
                elif isinstance(item, Answer):
                    turn.answer, turn.text = item, item.text
                elif item is _PENDING:
                    text = chunks.take()
                    if text and turn.answer is None:  # empty: an earlier update already showed it
                        turn.text += text
                        if not chunks.finished:  # else the answer, already there, is the next update
                            yield turn
                else:
                    turn.text += item
                    yield turn
            if turn.answer is None:
                turn.error = "回答没有完成，请重试。"
        except DeadlineExceeded:
            log.warning("chat turn exceeded the %.1f s budget", deadline.seconds)
            self.engine, self._applied = None, None  # the late worker keeps the old engine; start afresh
            turn.error, turn.user_error = TIMEOUT_MESSAGE, True
        except (InvalidQuestionError, UnknownFilterError, InvalidDateError) as exc:  # the user's to fix: say so
            log.info("question rejected: %s", exc)
            turn.error, turn.user_error = str(exc), True
        except Exception as exc:
            log.exception("answering failed")
            turn.error = str(exc) or type(exc).__name__
        turn.seconds = time.perf_counter() - started
        if turn.answer is not None and self.on_answer is not None:
            hook = self.on_answer
            try:  # its own budget: a locked database must not hang the page either
                self._runner.call(lambda: hook(self, turn), self._runner.deadline())
            except Exception as exc:  # recording must never cost the user the answer
                log.error("recording the turn failed: %s", type(exc).__name__)
        yield turn

    def reset(self) -> None:
        if self.engine is not None:
            self.engine.reset()
        self.turns = []
        self.conversation_id = uuid.uuid4().hex
        self.pending_feedback = None
        self._stale = False

    def load(self, conversation_id: str, turns: list[Turn]) -> None:
        """Show a past conversation and continue it: the next question goes to the same conversation, and
        the engine gets these turns as its memory first (follow-ups such as 那杭州呢？ work)."""
        self.reset()
        self.turns, self.conversation_id, self._stale = turns, conversation_id, True


def restore_engine(engine: ChatEngine, pairs: list[tuple[str, str]]) -> None:
    """Give the engine the earlier (question, answer) pairs; the API rebuilds its conversations the same way."""
    from assistant.api.engines import restore_history

    restore_history(engine, pairs)


def chat_messages(session: ChatSession) -> list[dict[str, str]]:
    """The chatbot's value: each question as escaped text, each answer as the HTML built by ``ui_render``."""
    messages: list[dict[str, str]] = []
    for turn in session.turns:
        messages.append({"role": "user", "content": render_question(turn.question)})
        messages.append({"role": "assistant", "content": render_answer(turn)})
    return messages
