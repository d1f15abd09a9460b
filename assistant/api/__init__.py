"""The OpenAI-compatible HTTP API (``/v1``) of the policy QA assistant.

    app = fastapi.FastAPI()
    install_api(app, settings, require_keys=False)      # loopback: no keys; exposed: require_keys=True

Routes: ``GET /v1/models``, ``POST /v1/chat/completions`` (stream or not, cited answers), ``POST /v1/retrieve``,
``/v1/compare``, ``/v1/match``, ``GET /v1/documents``, ``POST /v1/feedback``. Errors use OpenAI's shape.
The server (``assistant.server``) adds the edge checks (body size, hosts, origins) and the UI.
"""

from __future__ import annotations

from fastapi import FastAPI

from assistant.api.auth import Caller, Gate, install_log_redaction
from assistant.api.engines import DefaultEngineFactory, EngineFactory
from assistant.api.errors import ApiError, register_handlers
from assistant.api.routes import Api, build_router
from assistant.api.schemas import MODEL_ID
from assistant.api.workers import AnswerPool
from assistant.settings import Settings

__all__ = ["MODEL_ID", "ApiError", "Caller", "DefaultEngineFactory", "EngineFactory", "install_api"]


def install_api(
    app: FastAPI, settings: Settings, *, require_keys: bool, engine_factory: EngineFactory | None = None
) -> None:
    """Add the /v1 routes, their error handlers and access-log redaction to ``app``.

    ``require_keys``: every /v1 request needs ``Authorization: Bearer <key>`` (``policy-qa keys create``).
    ``engine_factory(settings=..., filters=...)`` returns a chat engine per request (tests pass fakes).
    CORS (``cors_origins``) and the other edge checks are the server's (``assistant.server.app``).
    """
    pool = AnswerPool(settings.api_workers, settings.api_queue_size)
    api = Api(settings, pool, engine_factory)
    app.include_router(build_router(api, Gate(settings, require_keys)))
    register_handlers(app)
    install_log_redaction()
    app.state.policy_qa_api = api
