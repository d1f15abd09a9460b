"""ASGI middleware at the edge of the server, in front of both the UI and the ``/v1`` API.

Each check answers before the app reads anything: the Host header (DNS rebinding), the request body
size, and the Origin of state-changing requests (cross-site form posts and uploads).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
API_PREFIX = "/v1"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_api_path(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def error_response(
    path: str, status: int, message: str, code: str, kind: str = "invalid_request_error", **headers: str
) -> Response:
    """The error in the shape the caller reads: OpenAI's ``{"error": {...}}`` under /v1, else ``{"detail"}``."""
    if is_api_path(path):
        body: dict = {"error": {"message": message, "type": kind, "code": code}}
    else:
        body = {"detail": message, "code": code}
    return JSONResponse(body, status_code=status, headers=headers or None)


def split_host(value: str) -> tuple[str, int | None]:
    """``"[::1]:7860"`` -> ``("::1", 7860)``; ``"Example.org."`` -> ``("example.org", None)``."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port_text = value.partition(":")
    port = int(port_text) if port_text.isdigit() else None
    return name.rstrip("."), port


def host_name(entry: str) -> str:
    """A configured name or a Host header as a bare lower-case name: ``"[::1]:80"``, ``"::1"`` -> ``"::1"``."""
    entry = entry.strip().lower()
    if entry.count(":") > 1 and not entry.startswith("["):  # a bare IPv6 address
        return entry
    return split_host(entry)[0]


def default_allowed_hosts(bind_host: str, configured: Iterable[str], hostname: str) -> list[str]:
    """Loopback names always; then the configured names, else the bind address (or this machine's name)."""
    configured = [h if h.startswith("*") else host_name(h) for h in (c.strip().lower() for c in configured) if h]
    if configured:
        extra = configured
    elif bind_host in ("0.0.0.0", "::", ""):
        extra = [hostname.lower()] if hostname else []
    else:
        extra = [host_name(bind_host)]
    return list(dict.fromkeys([*LOOPBACK_NAMES, *extra]))


class HostCheck:
    """400 for a Host header this server does not serve: a rebinding page's host never matches."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        names = [h.strip().lower() if h.strip().startswith("*") else host_name(h) for h in allowed]
        self.any = "*" in names
        self.exact = {n for n in names if not n.startswith("*")}
        self.suffixes = tuple(n[1:] for n in names if n.startswith("*."))

    def allows(self, host_header: str) -> bool:
        name, _ = split_host(host_header)
        return bool(name) and (name in self.exact or any(name.endswith(s) for s in self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.any:
            return await self.app(scope, receive, send)
        host = Headers(scope=scope).get("host", "")
        if self.allows(host):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        message = f"不接受主机名 {host[:100]!r}。如需用这个名字访问，请把它加入 POLICY_QA_ALLOWED_HOSTS。"
        await error_response(scope["path"], 400, message, "host_not_allowed")(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    """413 for a body over ``limit`` bytes: by Content-Length up front, else by counting what streams in."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _too_large(self, scope: Scope) -> Response:
        mib = self.limit / 1_048_576
        message = f"请求内容过大（上限 {mib:.1f} MB），请缩短后再试。"
        return error_response(scope["path"], 413, message, "request_too_large", Connection="close")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > self.limit):
            return await self._too_large(scope)(scope, receive, send)
        received = 0
        rejected = started = False

        async def counting_receive() -> Message:
            nonlocal received, rejected
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    rejected = True
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if rejected:  # whatever the app says after the cut-off, the client gets the 413
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not rejected:
                raise
        if rejected and not started:
            await self._too_large(scope)(scope, receive, send)


def _origin_key(url: str, default_scheme: str) -> tuple[str, int | None]:
    parts = urlsplit(url if "//" in url else f"{default_scheme}://{url}")
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a malformed port never matches
        return "", None
    return (parts.hostname or "").rstrip("."), port


class OriginCheck:
    """403 for a state-changing request whose Origin is neither this server nor a configured CORS origin.

    Requests without an Origin header (curl, SDKs) pass: browsers always send it on cross-origin POSTs.
    """

    def __init__(self, app: ASGIApp, cors_origins: Iterable[str]) -> None:
        self.app = app
        self.allowed = {o.strip().rstrip("/").lower() for o in cors_origins if o.strip()}

    def allows(self, origin: str, host: str) -> bool:
        origin = origin.strip().rstrip("/").lower()
        if origin in self.allowed or "*" in self.allowed:
            return True
        if origin in ("", "null"):
            return False
        scheme = urlsplit(origin).scheme or "http"
        name, port = split_host(host)
        return _origin_key(origin, scheme) == (name, port or DEFAULT_PORTS.get(scheme))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in STATE_CHANGING:
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None or self.allows(origin, headers.get("host", "")):
            return await self.app(scope, receive, send)
        message = "拒绝来自其他网站的请求。如需允许该来源，请把它加入 POLICY_QA_CORS_ORIGINS。"
        await error_response(scope["path"], 403, message, "origin_not_allowed", "permission_error")(
            scope, receive, send
        )
