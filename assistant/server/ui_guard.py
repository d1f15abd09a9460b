"""Middleware on the mounted Gradio app when the UI has a password: login throttling and the pre-login view.

Gradio's login form has no attempt limit, and its page embeds ``window.gradio_api_info`` (every endpoint
with its choices: document ids, places) for anyone who asks. With a password set, a visitor who has not
logged in gets the login page without that script and nothing else but the static files it needs.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.server.edge import error_response

LOGIN_PATHS = frozenset({"/login", "/login/"})
# What Gradio's login page loads before the password is entered; every other UI path needs a session.
PUBLIC_PATHS = frozenset(
    {"/", "/favicon.ico", "/theme.css", "/gradio_api/theme.css", "/robots.txt", "/logout", *LOGIN_PATHS}
)
PUBLIC_PREFIXES = ("/assets/", "/static/", "/svelte/", "/gradio_api/login_check")
API_INFO_SCRIPT = re.compile(rb"<script>\s*window\.gradio_api_info\s*=.*?</script>", re.S)
# An empty description (not none): the page then does not fetch /info, which would only answer 401.
EMPTY_API_INFO = b'<script>window.gradio_api_info = {"named_endpoints":{},"unnamed_endpoints":{}};</script>'
TRACKED_CLIENTS = 10_000  # addresses remembered at most; expired entries are pruned beyond this


class LoginLimiter:
    """429 on ``POST /login`` once a client address has ``max_failures`` failed logins within ``window`` s.

    An attempt counts as soon as it starts (parallel guesses cannot slip through) and is forgiven if it
    succeeds. Addresses are the TCP peer: behind a reverse proxy, limit logins there as well.
    """

    def __init__(
        self, app: ASGIApp, max_failures: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.app = app
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self.attempts: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        if len(self.attempts) > TRACKED_CLIENTS:
            for key in [k for k, q in self.attempts.items() if not q or q[-1] <= now - self.window]:
                del self.attempts[key]
        recent = self.attempts.setdefault(client, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        return recent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in LOGIN_PATHS:
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("unknown",))[0]
        now = self.clock()
        recent = self._recent(client, now)
        if len(recent) >= self.max_failures:
            wait = max(1, int(recent[0] + self.window - now) + 1)
            message = f"登录失败次数过多，请 {wait} 秒后再试。"
            response = error_response(scope["path"], 429, message, "too_many_logins", **{"Retry-After": str(wait)})
            return await response(scope, receive, send)
        recent.append(now)
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if status == 200 and now in recent:
            recent.remove(now)


def _cookies(headers: Headers) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for value in headers.getlist("cookie"):
        try:
            jar.load(value)
        except CookieError:
            continue
    return {key: morsel.value for key, morsel in jar.items()}


def gradio_user(gradio_app: Any, headers: Headers) -> str | None:
    """The user of a Gradio login session (its cookie), as Gradio's own ``get_current_user`` reads it."""
    cookies = _cookies(headers)
    token = cookies.get(f"access-token-{gradio_app.cookie_id}") or cookies.get(
        f"access-token-unsecure-{gradio_app.cookie_id}"
    )
    return gradio_app.tokens.get(token) if token else None


class PreLoginGuard:
    """Before login: the login page with an empty ``gradio_api_info``, static files, the login form; else 401."""

    def __init__(self, app: ASGIApp, gradio_app: Any) -> None:
        self.app = app
        self.gradio_app = gradio_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        if gradio_user(self.gradio_app, headers) is not None:
            return await self.app(scope, receive, send)
        path = scope["path"]
        if path == "/" and scope["type"] == "http":
            return await self._login_page(scope, receive, send)
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        await error_response(path, 401, "请先登录。", "login_required")(scope, receive, send)

    async def _login_page(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Gradio's page with the API description cut out (uncompressed, so it can be edited; no query:
        ``?all_endpoints=true`` and the like change nothing before login)."""
        raw = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]
        inner = {**scope, "headers": raw, "query_string": b""}
        start: Message | None = None
        body = bytearray()

        async def collect(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(inner, receive, collect)
        if start is None:
            return
        cleaned = API_INFO_SCRIPT.sub(EMPTY_API_INFO, bytes(body))
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(cleaned)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": cleaned if scope["method"] != "HEAD" else b""})
