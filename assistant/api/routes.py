"""The /v1 routes: OpenAI's models and chat completions, and JSON mirrors of the Python API.

Blocking work (the engine, compare, match, the index) runs on the bounded ``AnswerPool`` under the
request's deadline; store calls (feedback) use the default thread pool, they are short.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from assistant.api import chat
from assistant.api.auth import Caller, Gate
from assistant.api.engines import DefaultEngineFactory, EngineFactory
from assistant.api.errors import ApiError, invalid, model_not_found, to_api_error
from assistant.api.schemas import (
    MODEL_ID,
    ChatCompletionRequest,
    CompareRequest,
    FeedbackRequest,
    MatchRequest,
    RetrieveRequest,
)
from assistant.api.workers import AnswerPool
from assistant.core.deadline import Deadline
from assistant.settings import Settings

STARTED = int(time.time())
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _model() -> dict[str, Any]:
    return {"id": MODEL_ID, "object": "model", "created": STARTED, "owned_by": "policy-qa"}


def _check_length(text: str, limit: int, param: str) -> None:
    if len(text.strip()) > limit:
        raise invalid(
            f"输入过长（{len(text.strip())} 个字符），请控制在 {limit} 个字符以内。/ Input too long (limit {limit}).",
            code="input_too_long",
            param=param,
        )


class Api:
    """State shared by the routes of one app: settings, the pool, the engines."""

    def __init__(self, settings: Settings, pool: AnswerPool, engine_factory: EngineFactory | None) -> None:
        self.settings = settings
        self.pool = pool
        self.real = DefaultEngineFactory(settings)  # compare/match/retrieve always use the real index
        self.chat_factory = engine_factory or self.real

    def deadline(self) -> Deadline:
        return Deadline(self.settings.request_timeout)

    async def run(self, fn: Any, *args: Any, param: str = "messages") -> Any:
        try:
            return await self.pool.run(fn, *args, deadline=self.deadline())
        except Exception as exc:  # noqa: BLE001 - every failure becomes an OpenAI-shaped error
            raise to_api_error(exc, question_param=param) from None

    async def chat_completion(self, body: ChatCompletionRequest, caller: Caller) -> Any:
        """The whole answer as JSON, or an SSE stream; errors before the first byte get a real status."""
        if body.model != MODEL_ID:
            raise model_not_found(body.model)
        try:
            turn = chat.parse_request(body, self.settings, caller.key_name)
        except Exception as exc:  # noqa: BLE001
            raise to_api_error(exc) from None
        if not body.stream:
            outcome = await self.run(chat.answer_whole, self.chat_factory, self.settings, turn)
            await run_in_threadpool(chat.record, self.settings, turn, outcome)
            return JSONResponse(chat.completion_body(turn, outcome))
        items = self.pool.stream(lambda: chat.answer_items(self.chat_factory, self.settings, turn), self.deadline())
        try:
            first = await anext(items)
        except StopAsyncIteration:
            raise ApiError(500, "回答意外中断。/ The answer ended unexpectedly.", type="server_error") from None
        except Exception as exc:  # noqa: BLE001
            await items.aclose()
            raise to_api_error(exc) from None
        events = chat.sse_events(turn, first, items, self.settings)
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)

    # -- jobs run on the pool --------------------------------------------------------------------------

    def query_engine(self) -> Any:
        return self.real(settings=self.settings, filters=None).engine

    def retrieve(self, body: RetrieveRequest) -> dict[str, Any]:
        from assistant.qa.engine import prepare_question

        text, notice = prepare_question(body.question, self.settings)
        engine = self.real(settings=self.settings, filters=chat.make_filters(body.filters, body.as_of, body.validity)).engine
        retriever = engine.retriever
        retriever.top_k = body.top_k or self.settings.top_k
        found = retriever.retrieve_detailed(text)
        when = found.when
        passages = [
            {
                "rank": i,
                "node_id": n.node.node_id,
                "text": n.node.get_content(),
                "score": float(n.score or 0.0),
                "dense_score": found.dense.get(n.node.node_id),
                "sparse_score": found.sparse.get(n.node.node_id),
                "metadata": dict(n.node.metadata),
                "validity": _validity(retriever.catalog, n.node.metadata, when),
            }
            for i, n in enumerate(found.nodes, start=1)
        ]
        return {
            "object": "list",
            "question": text,
            "notice": notice,
            "places": list(found.plan.places),
            "as_of": when.day.isoformat() if when else None,
            "build_id": retriever.catalog.build_id,
            "data": passages,
        }

    def compare(self, topic: str, jurisdictions: list[str] | None, as_of: Any = None, validity: Any = None) -> dict[str, Any]:
        from assistant.decisions.comparing import compare

        engine = self.query_engine()
        return compare(topic, jurisdictions or None, engine=engine, as_of=as_of, validity=validity).to_dict()

    def match(
        self, profile: dict[str, Any] | str, include_unmet: bool, as_of: Any = None, validity: Any = None
    ) -> dict[str, Any]:
        from assistant.decisions.eligibility import match

        engine = self.query_engine()
        return match(profile, engine=engine, include_unmet=include_unmet, as_of=as_of, validity=validity).to_dict()

    def documents(self) -> dict[str, Any]:
        from assistant.index.catalog import open_catalog

        catalog = open_catalog(self.settings)
        return {"object": "list", "build_id": catalog.build_id, "data": [asdict(d) for d in catalog.documents]}


def build_router(api: Api, gate: Gate) -> APIRouter:
    """Every /v1 route, each behind ``gate`` (keys, rate limit, no key in the URL)."""
    router = APIRouter(prefix="/v1", tags=["policy-qa /v1"], dependencies=[Depends(gate)])
    _openai_routes(router, api, gate)
    _json_routes(router, api, gate)
    return router


def _openai_routes(router: APIRouter, api: Api, gate: Gate) -> None:
    @router.get("/models", summary="List the model (policy-qa)")
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [_model()]}

    @router.get("/models/{model}", summary="One model")
    async def get_model(model: str) -> dict[str, Any]:
        if model != MODEL_ID:
            raise model_not_found(model)
        return _model()

    @router.post("/chat/completions", summary="Cited answer (OpenAI chat completions; stream or not)")
    async def chat_completions(body: ChatCompletionRequest, caller: Caller = Depends(gate)) -> Any:
        return await api.chat_completion(body, caller)


def _json_routes(router: APIRouter, api: Api, gate: Gate) -> None:
    settings = api.settings

    @router.post("/retrieve", summary="Passages for a question, with metadata and scores")
    async def retrieve(body: RetrieveRequest) -> dict[str, Any]:
        _check_length(body.question, settings.max_question_chars, "question")
        if body.top_k is not None and body.top_k > settings.api_max_top_k:
            limit = settings.api_max_top_k
            raise invalid(f"top_k 最大为 {limit}。/ top_k is at most {limit}.", code="invalid_top_k", param="top_k")
        chat.make_filters(body.filters, body.as_of, body.validity)  # a bad date: 400 before taking a worker
        return await api.run(api.retrieve, body, param="question")

    @router.post("/compare", summary="Comparison table across jurisdictions (Comparison.to_dict())")
    async def compare(body: CompareRequest) -> dict[str, Any]:
        topic = body.topic or body.question
        if not topic or not topic.strip():
            raise invalid("请提供要比较的主题 topic。/ Missing 'topic'.", code="missing_topic", param="topic")
        _check_length(topic, settings.max_question_chars, "topic")
        day = chat.request_date(body.as_of)
        return await api.run(api.compare, topic, body.jurisdictions, day, body.validity, param="topic")

    @router.post("/match", summary="Measures a firm profile qualifies for (MatchResult.to_dict())")
    async def match(body: MatchRequest) -> dict[str, Any]:
        profile = body.profile if body.profile is not None else body.text
        if profile is None or (isinstance(profile, str) and not profile.strip()):
            raise invalid("请提供企业画像 profile。/ Missing 'profile'.", code="missing_profile", param="profile")
        if isinstance(profile, str):
            _check_length(profile, settings.max_profile_chars, "profile")
        day = chat.request_date(body.as_of)
        return await api.run(api.match, profile, body.include_unmet, day, body.validity, param="profile")

    @router.get("/documents", summary="Documents of the current index")
    async def documents() -> dict[str, Any]:
        return await api.run(api.documents)

    @router.post("/feedback", summary="Rate an answer by its chat completion id")
    async def feedback(body: FeedbackRequest, caller: Caller = Depends(gate)) -> dict[str, Any]:
        await run_in_threadpool(_add_feedback, settings, body, caller)
        return {"object": "feedback", "id": body.id, "rating": body.rating}


def _validity(catalog: Any, metadata: dict[str, Any], when: Any) -> dict[str, Any] | None:
    """A passage's document on the search date: its state and notice (None without a lifecycle)."""
    from assistant.qa.notices import document_notice

    if when is None:
        return None
    state, notice, _ = document_notice(catalog, str(metadata.get("doc_id", "")), str(metadata.get("title", "")), when.day)
    return None if state is None else {"state": state, "notice": notice}


def _add_feedback(settings: Settings, body: FeedbackRequest, caller: Caller) -> None:
    from assistant.storage import StorageError, UnknownTurnError, open_history

    unknown = ApiError(
        404,
        f"没有编号为 {body.id[:100]} 的回答。/ No chat completion with this id.",
        code="unknown_completion_id",
        param="id",
    )
    try:
        history = open_history(settings)
        turn = history.get_turn(body.id)
        if turn is None or (caller.key_name is not None and turn.owner not in (None, caller.key_name)):
            raise unknown  # another key's answers are not this caller's to rate, nor to learn about
        history.add_feedback(body.id, body.rating, body.reason, body.comment)
    except UnknownTurnError:
        raise unknown from None
    except StorageError as exc:
        raise ApiError(503, "暂时无法保存评价，请稍后重试。/ Feedback store unavailable.", type="server_error", code="store_unavailable") from exc
