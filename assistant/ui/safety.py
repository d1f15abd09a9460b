"""HTTP-level guards of the Gradio app that Gradio itself has no switch for.

- Deep links off. Gradio 6 always serves ``/gradio_api/deep_link`` (saves a session's component values)
  and honours ``/?deep_link=<hash>`` (shows them to whoever opens the URL), so anyone could craft a
  conversation and send it to a victim. The save route answers 404 and the query parameter is dropped.
- No outside images: ``Content-Security-Policy: img-src 'self' data: blob:``, so even markup that slipped
  through could not make the browser fetch a tracking pixel.

``PolicyBlocks`` installs the middleware whenever the app is launched; an app mounted into another
FastAPI app (``gr.mount_gradio_app``) passes ``app_kwargs={"middleware": safety_middleware()}``.

``PolicyBlocks`` also turns off the queue's monitoring summary: after every event Gradio builds a pandas
DataFrame of the last 10,000 events and groups it, only for its monitoring dashboard, which this app never
enables (the server mounts it with ``enable_monitoring=False``): 2-7 ms of CPU per event, more as events pile up.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

import gradio as gr
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = b"img-src 'self' data: blob:"


def _drop_deep_link(query: bytes) -> bytes:
    def name(pair: bytes) -> bytes:
        return unquote_to_bytes(pair.split(b"=", 1)[0].replace(b"+", b" "))

    return b"&".join(p for p in query.split(b"&") if name(p) != b"deep_link")


class SafetyMiddleware:
    """ASGI middleware: deep links off, outside images blocked by CSP."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path", "").rstrip("/").endswith("/gradio_api/deep_link"):
            await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        if b"deep_link" in query:
            scope = {**scope, "query_string": _drop_deep_link(query)}

        async def send_with_csp(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"content-security-policy", CSP)]}
            await send(message)

        await self.app(scope, receive, send_with_csp)


def safety_middleware() -> list[Middleware]:
    return [Middleware(SafetyMiddleware)]


def without_monitoring_summary(queue: Any) -> None:
    """The queue keeps its (empty) cached summary instead of recomputing it after each event."""
    queue.compute_analytics_summary = lambda _records: queue.cached_event_analytics_summary


class PolicyBlocks(gr.Blocks):
    """``gr.Blocks`` whose ``launch`` always installs ``SafetyMiddleware`` (merged with any ``app_kwargs``)
    and whose queue computes no monitoring summary."""

    def queue(self, *args: Any, **kwargs: Any) -> PolicyBlocks:
        super().queue(*args, **kwargs)
        without_monitoring_summary(self._queue)
        return self

    def launch(self, *args: Any, app_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        app_kwargs = dict(app_kwargs or {})
        app_kwargs["middleware"] = [*safety_middleware(), *app_kwargs.get("middleware", [])]
        return super().launch(*args, app_kwargs=app_kwargs, **kwargs)
