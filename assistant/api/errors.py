"""Errors of the /v1 API in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``.

Messages are Chinese then English, say what to change, and never echo a key, a header or a stack trace.
Handlers registered on the whole app answer in this shape only under ``/v1``; other paths (the UI, the
server's own routes) keep FastAPI's defaults.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)

API_PREFIX = "/v1"


class ApiError(Exception):
    """An error answered to the client as is."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",  # noqa: A002 - OpenAI's field name
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def invalid(message: str, *, code: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, code=code, param=param)


def busy() -> ApiError:
    return ApiError(
        503,
        "服务繁忙，请稍后重试。/ The server is busy, please retry shortly.",
        type="server_error",
        code="server_busy",
        headers={"Retry-After": "1"},
    )


def timed_out(seconds: float) -> ApiError:
    return ApiError(
        504,
        f"处理超时（超过 {seconds:g} 秒），请缩短问题后重试。/ The request took longer than {seconds:g} s.",
        type="server_error",
        code="timeout",
    )


def internal(exc: BaseException) -> ApiError:
    """An unexpected failure: logged by type only (its text may hold data), answered without detail."""
    logger.error("API request failed: %s", type(exc).__name__)
    return ApiError(500, "服务器内部错误，请稍后重试。/ Internal server error.", type="server_error", code="internal_error")


def model_not_found(model: str) -> ApiError:
    shown = model[:100]
    return ApiError(
        404,
        f"模型 {shown!r} 不存在，请使用 policy-qa。/ The model {shown!r} does not exist; use 'policy-qa'.",
        code="model_not_found",
        param="model",
    )


def to_api_error(exc: BaseException, *, question_param: str = "messages") -> ApiError:
    """The answer to give for an exception of the engine, the index or the store."""
    from assistant.decisions.eligibility import ProfileError
    from assistant.index.layout import IndexCorruptError, IndexMissingError
    from assistant.index.store import StoreUnavailableError
    from assistant.qa.engine import InvalidQuestionError
    from assistant.retrieval.retriever import UnknownFilterError

    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, InvalidQuestionError):
        return invalid(f"{exc} / Invalid question.", code="invalid_question", param=question_param)
    if isinstance(exc, UnknownFilterError):
        return invalid(f"{exc} / Unknown filter value.", code="unknown_filter", param="filters")
    from assistant.core.validity import InvalidDateError

    if isinstance(exc, InvalidDateError):
        return invalid(f"{exc} / 'as_of' must be a date YYYY-MM-DD.", code="invalid_date", param="as_of")
    if isinstance(exc, ProfileError):
        return invalid(f"{exc} / Invalid profile.", code="invalid_profile", param="profile")
    if isinstance(exc, IndexMissingError | IndexCorruptError | StoreUnavailableError):
        logger.error("API: index unavailable: %s", type(exc).__name__)
        return ApiError(
            503, f"{exc} / The index is unavailable.", type="server_error", code="index_unavailable"
        )
    return internal(exc)


def _param(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or None


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    if not request.url.path.startswith(API_PREFIX):
        return await request_validation_exception_handler(request, exc)
    errors = exc.errors()
    first = errors[0] if errors else {}
    param = _param(tuple(first.get("loc", ())))
    if first.get("type") == "json_invalid":
        detail = "请求体不是有效的 JSON / the body is not valid JSON"
    else:  # the pydantic message, never the input value (it may be long or private)
        detail = f"{param or 'body'}: {first.get('msg', 'invalid')}"
    message = f"请求格式错误：{detail}。/ Invalid request body."
    return ApiError(400, message, code="invalid_body", param=param).response()


_HTTP_MESSAGES = {
    404: ("接口不存在。/ Unknown API endpoint.", "not_found_error", "unknown_url"),
    405: ("该接口不支持此方法。/ Method not allowed.", "invalid_request_error", "method_not_allowed"),
}


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if not request.url.path.startswith(API_PREFIX):
        return await http_exception_handler(request, exc)
    message, kind, code = _HTTP_MESSAGES.get(
        exc.status_code, (f"请求失败（HTTP {exc.status_code}）。/ Request failed.", "invalid_request_error", None)
    )
    return ApiError(exc.status_code, message, type=kind, code=code, headers=dict(exc.headers or {})).response()


async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
    return exc.response()


def register_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
