"""Who is calling: ``Authorization: Bearer <key>`` checked against the history store, and a rate limit per key.

Keys are accepted only in the header: a key-like query parameter is refused (URLs end up in access logs,
browser history and proxies), and the access log never shows /v1 query strings (``AccessLogRedactor``).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from assistant.api.errors import API_PREFIX, ApiError
from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.storage import ApiKeyInfo

logger = logging.getLogger(__name__)

bearer = HTTPBearer(auto_error=False, description="API 密钥（policy-qa keys create NAME）/ an API key")

_KEY_PARAMS = re.compile(r"^(api[-_]?key|key|access[-_]?token|token|auth|authorization|bearer|secret)$", re.I)
_KEY_VALUE = re.compile(r"^pqa-", re.I)


@dataclass(frozen=True)
class Caller:
    """The key a request was made with; both None on loopback without keys."""

    key_id: str | None = None
    key_name: str | None = None


class RateLimiter:
    """Token bucket per key, in memory: ``per_minute`` tokens, refilled continuously."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when the request may go ahead, else the seconds until a token is free."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


def _unauthorized(message: str, code: str) -> ApiError:
    return ApiError(
        401, message, type="authentication_error", code=code, headers={"WWW-Authenticate": "Bearer"}
    )


def refuse_key_in_query(request: Request) -> None:
    for name, value in request.query_params.multi_items():
        if _KEY_PARAMS.match(name) or _KEY_VALUE.match(value):
            raise ApiError(
                400,
                "API 密钥不能放在网址中，请使用请求头 Authorization: Bearer <密钥>。"
                "/ API keys are not accepted in the URL; send the header Authorization: Bearer <key>.",
                code="key_in_query",
                param=None,
            )


class Gate:
    """FastAPI dependency of every /v1 route: refuse keys in URLs, check the bearer key, apply the rate limit."""

    def __init__(self, settings: Settings, require_keys: bool) -> None:
        self.settings = settings
        self.require_keys = require_keys
        self.limiter = RateLimiter(settings.api_rate_limit_per_minute)

    async def __call__(
        self, request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> Caller:
        refuse_key_in_query(request)
        if not self.require_keys:
            return Caller()
        if credentials is None or not credentials.credentials.strip():
            raise _unauthorized(
                "缺少 API 密钥：请在请求头中提供 Authorization: Bearer <密钥>。/ Missing API key (Authorization: Bearer).",
                "missing_api_key",
            )
        info = await run_in_threadpool(self._verify, credentials.credentials.strip())
        if info is None:
            raise _unauthorized("API 密钥无效或已吊销。/ Invalid or revoked API key.", "invalid_api_key")
        wait = self.limiter.take(info.id)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise ApiError(
                429,
                f"请求过于频繁（每个密钥每分钟 {self.settings.api_rate_limit_per_minute} 次），请 {seconds} 秒后重试。"
                "/ Rate limit exceeded for this key.",
                type="rate_limit_error",
                code="rate_limit_exceeded",
                headers={"Retry-After": str(seconds)},
            )
        return Caller(key_id=info.id, key_name=info.name)

    def _verify(self, secret: str) -> ApiKeyInfo | None:
        from assistant.storage import StorageError, open_history

        try:
            return open_history(self.settings).verify_key(secret)
        except StorageError as exc:
            logger.error("API key check failed: %s", type(exc).__name__)
            raise ApiError(
                503, "暂时无法校验 API 密钥，请稍后重试。/ Key store unavailable.", type="server_error", code="store_unavailable"
            ) from None


_QUERY_KEY = re.compile(r"(?:^|[?&])(?:api[-_]?key|key|access[-_]?token|token|auth|authorization|bearer|secret)=|=pqa-", re.I)


class AccessLogRedactor(logging.Filter):
    """Hide query strings in uvicorn's access log: always under /v1, elsewhere when one looks like a key."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            path, query = args[2].split("?", 1)
            if path.startswith(API_PREFIX) or _QUERY_KEY.search("?" + query):
                record.args = (*args[:2], path + "?[redacted]", *args[3:])
        return True


def install_log_redaction() -> None:
    """Idempotent: one redactor on the ``uvicorn.access`` logger."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogRedactor) for f in access.filters):
        access.addFilter(AccessLogRedactor())
