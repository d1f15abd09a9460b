"""``POST /v1/chat/completions``: the request's messages -> one cited answer, whole or streamed (SSE).

Extra fields on OpenAI's objects (clients that do not know them ignore them):
- request: ``as_of`` (YYYY-MM-DD) and ``validity`` ("current" | "all"), top level or inside ``filters``;
- response: top-level ``citations`` (each with ``validity_state``/``validity_notice``), ``answerable``, ``notice``,
  ``as_of``, ``conversation_id``; the same ``citations``
  and ``answerable`` inside ``choices[0].message``; ``system_fingerprint`` = the index build id;
  ``related`` (top level and in the message): on a decline, the closest passages (可能相关的条款) as citations
  numbered 1..n on their own (no ``[n]`` marker in the text), else ``[]``;
- stream: the last chunk before ``[DONE]`` (``finish_reason: "stop"``) carries top-level ``citations``,
  ``related``, ``answerable``, ``notice``, ``conversation_id``.
Citation ``n`` is the number of the ``[n]`` marker in the text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool

from assistant.api.engines import EngineFactory, build_id_of, restore_history
from assistant.api.errors import ApiError, invalid, to_api_error
from assistant.api.schemas import MODEL_ID, ChatCompletionRequest, FiltersBody
from assistant.core.schema import Answer, Citation
from assistant.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class ChatTurn:
    """One request made ready to answer."""

    id: str
    question: str
    history: list[tuple[str, str]]
    conversation_id: str
    filters: Any
    owner: str | None
    arrived: float = field(default_factory=time.perf_counter)
    created: int = field(default_factory=lambda: int(time.time()))


@dataclass
class Outcome:
    answer: Answer
    build_id: str
    timings: dict[str, float]


def request_date(value: str | None, param: str = "as_of") -> Any:
    """The request's ``as_of`` as a date (None = today); a clear 400 for anything but YYYY-MM-DD."""
    from assistant.core.validity import InvalidDateError, parse_date

    try:
        return parse_date(value)
    except InvalidDateError as exc:
        raise invalid(f"{exc} / 'as_of' must be a date YYYY-MM-DD.", code="invalid_date", param=param) from None


def make_filters(body: FiltersBody | None, as_of: str | None = None, validity: str | None = None) -> Any:
    """Filters of a request: the body's ``filters`` with the top-level ``as_of``/``validity`` as defaults."""
    day = request_date(body.as_of if body and body.as_of else as_of, "filters.as_of" if body and body.as_of else "as_of")
    mode = (body.validity if body else None) or validity
    if (body is None or not (body.jurisdictions or body.documents)) and day is None and mode is None:
        return None
    from assistant.retrieval.retriever import Filters

    return Filters(
        jurisdictions=list(body.jurisdictions) if body else [],
        documents=list(body.documents) if body else [],
        as_of=day,
        validity=mode,  # type: ignore[arg-type]
    )


def parse_request(body: ChatCompletionRequest, settings: Settings, owner: str | None) -> ChatTurn:
    """The question (last user message), earlier (user, assistant) pairs and the conversation id; 400s."""
    from assistant.qa.engine import prepare_question

    if body.messages[-1].role != "user":
        message = "最后一条消息必须是用户的问题。/ The last message must have role 'user'."
        raise invalid(message, code="invalid_messages", param="messages")
    pairs: list[list[str]] = []
    for m in body.messages:
        if m.role == "user":
            pairs.append([m.text(), ""])
        elif m.role == "assistant" and pairs:
            pairs[-1][1] = (pairs[-1][1] + "\n" + m.text()).strip()
    question = pairs[-1][0]
    limit = settings.max_question_chars
    if len(question.strip()) > limit:
        raise invalid(
            f"问题过长（{len(question.strip())} 个字符），请控制在 {limit} 个字符以内。"
            f"/ The question is too long (limit {limit} characters).",
            code="question_too_long",
            param="messages",
        )
    prepare_question(question, settings)  # empty or unreadable: 400 before taking a worker
    keep = settings.api_history_turns
    history = [(u, a) for u, a in pairs[:-1]][-keep:] if keep else []
    conversation = body.conversation_id or body.user
    if not conversation:
        seed = f"{owner or ''}\n{pairs[0][0]}".encode()
        conversation = "conv-" + hashlib.sha256(seed).hexdigest()[:24]
    return ChatTurn(
        id="chatcmpl-" + uuid.uuid4().hex,
        question=question,
        history=history,
        conversation_id=conversation,
        filters=make_filters(body.filters, body.as_of, body.validity),
        owner=owner,
    )


def citation_dict(c: Citation) -> dict[str, Any]:
    """Citation fields plus the reader's forms: the title as cited, the clause path, the full label."""
    return {
        **c.to_dict(),
        "document_title": c.document_title(),
        "section_path": c.clause_path(),
        "label": c.label(),
    }


def answer_items(factory: EngineFactory, settings: Settings, turn: ChatTurn) -> Iterator[str | Outcome]:
    """Runs on a worker: text pieces as the engine yields them, then the ``Outcome``."""
    started = time.perf_counter()
    engine = factory(settings=settings, filters=turn.filters)
    restore_history(engine, turn.history)
    build_id = build_id_of(engine)
    final: Answer | None = None
    for item in engine.stream_answer(turn.question):
        if isinstance(item, Answer):
            final = item
        elif item:
            yield item
    if final is None:
        raise RuntimeError("the engine ended without an answer")
    done = time.perf_counter()
    timings = {
        **{k: float(v) for k, v in final.timings.items()},
        "queue_ms": round((started - turn.arrived) * 1000, 2),
        "server_ms": round((done - turn.arrived) * 1000, 2),
    }
    yield Outcome(final, build_id, timings)


def answer_whole(factory: EngineFactory, settings: Settings, turn: ChatTurn) -> Outcome:
    last: Any = None
    for last in answer_items(factory, settings, turn):  # noqa: B007 - only the last item matters
        pass
    return last


def record(settings: Settings, turn: ChatTurn, outcome: Outcome) -> None:
    """Store the turn just before it is delivered (a timed-out answer is not); committed when this returns,
    so feedback on the id works as soon as the client has it. A store failure is logged (by type) only."""
    ans = outcome.answer
    try:
        from assistant.storage import TurnRecord, open_history

        open_history(settings).record_turn(
            TurnRecord(
                id=turn.id,
                conversation_id=turn.conversation_id,
                channel="api",
                question=turn.question,
                answer=ans.text,
                citations=[citation_dict(c) for c in ans.citations],
                answerable=ans.answerable,
                build_id=outcome.build_id,
                answerer=ans.answerer,
                timings=outcome.timings,
                owner=turn.owner,
            )
        )
    except Exception as exc:  # noqa: BLE001 - the user still gets the answer
        logger.error("API: could not record turn %s: %s", turn.id, type(exc).__name__)


def _extras(turn: ChatTurn, outcome: Outcome) -> dict[str, Any]:
    ans = outcome.answer
    out: dict[str, Any] = {
        "citations": [citation_dict(c) for c in ans.citations],
        "related": [citation_dict(c) for c in ans.related],  # a decline's closest passages (可能相关的条款)
        "answerable": ans.answerable,
        "notice": ans.notice,
        "as_of": ans.as_of or None,  # the date the answer was given as of (documents' validity then)
        "conversation_id": turn.conversation_id,
    }
    if ans.table:
        out["table"] = ans.table
    return out


def completion_body(turn: ChatTurn, outcome: Outcome) -> dict[str, Any]:
    extras = _extras(turn, outcome)
    message = {
        "role": "assistant",
        "content": outcome.answer.text,
        "citations": extras["citations"],
        "related": extras["related"],
        "answerable": extras["answerable"],
    }
    return {
        "id": turn.id,
        "object": "chat.completion",
        "created": turn.created,
        "model": MODEL_ID,
        "system_fingerprint": outcome.build_id or None,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        **extras,
    }


def _chunk(turn: ChatTurn, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
    body = {
        "id": turn.id,
        "object": "chat.completion.chunk",
        "created": turn.created,
        "model": MODEL_ID,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        **extra,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


async def sse_events(
    turn: ChatTurn, first: Any, items: AsyncIterator[Any], settings: Settings
) -> AsyncIterator[str]:
    """OpenAI's SSE stream: a role chunk, a chunk per text piece, the final chunk with citations, [DONE].

    An error after the stream started goes out as ``data: {"error": ...}`` (the openai client raises it).
    """
    yield _chunk(turn, {"role": "assistant", "content": ""})
    streamed: list[str] = []
    item = first
    try:
        while not isinstance(item, Outcome):
            streamed.append(item)
            yield _chunk(turn, {"content": item})
            item = await anext(items)
        text, sent = item.answer.text, "".join(streamed)
        if text != sent and text.startswith(sent):  # an engine that yields less than its final text
            yield _chunk(turn, {"content": text[len(sent) :]})
        elif text != sent:  # never with this project's engines: the final text is what was streamed
            logger.warning("API: streamed text differs from the final answer (%s)", turn.id)
        await run_in_threadpool(record, settings, turn, item)
        yield _chunk(turn, {}, "stop", system_fingerprint=item.build_id or None, **_extras(turn, item))
        yield "data: [DONE]\n\n"
    except StopAsyncIteration:
        yield f"data: {json.dumps(internal_body(), ensure_ascii=False)}\n\n"
    except Exception as exc:  # noqa: BLE001 - reported in the stream
        yield f"data: {json.dumps(to_api_error(exc).body(), ensure_ascii=False)}\n\n"


def internal_body() -> dict[str, Any]:
    return ApiError(500, "回答意外中断。/ The answer ended unexpectedly.", type="server_error", code="internal_error").body()
