"""The one server app: the Gradio UI at ``/``, the OpenAI-compatible API at ``/v1``, its docs at ``/docs``.

Everything is behind the edge middleware (``edge``): allowed Host names, a body-size cap and an Origin
check for state-changing requests; with a UI password, login throttling and nothing served before login
but the login page (``ui_guard``). The UI is mounted with the options ``launch()`` used: no share link,
no extra file access, tiny uploads, no SSR/PWA/MCP, no monitoring dashboard, errors not shown.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from typing import Any

from assistant.settings import Settings, prepare_offline_environment

prepare_offline_environment()  # before gradio loads: analytics off, no outside lookups

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from starlette.middleware.cors import CORSMiddleware  # noqa: E402
from starlette.routing import Mount  # noqa: E402

from assistant.server.docs import install_docs  # noqa: E402
from assistant.server.edge import (  # noqa: E402
    BodyLimit,
    HostCheck,
    OriginCheck,
    default_allowed_hosts,
    is_loopback,
)
from assistant.server.ui_guard import LoginLimiter, PreLoginGuard  # noqa: E402

log = logging.getLogger(__name__)

API_TITLE = "政策问答 API"
UPLOAD_LIMIT = "1kb"  # the UI takes no files; Gradio's own cap on /gradio_api/upload


def check_bind(host: str, auth: tuple[str, str] | None) -> None:
    """A UI reachable from other machines must have a password."""
    if not is_loopback(host) and auth is None:
        raise ValueError(f"refusing to bind {host} without auth")


def _install_api(app: FastAPI, settings: Settings, require_keys: bool, engine_factory: Any) -> bool:
    """The ``/v1`` routes when ``assistant.api`` is present; the UI works without them."""
    try:
        from assistant.api import install_api
    except ImportError as exc:
        if exc.name != "assistant.api":
            raise
        log.warning("no /v1 API: %s", exc)
        return False
    install_api(app, settings, require_keys=require_keys, engine_factory=engine_factory)
    return True


def _mount_ui(app: FastAPI, demo: gr.Blocks, host: str, auth: tuple[str, str] | None, settings: Settings) -> Any:
    from assistant.ui.safety import safety_middleware

    # The engine answers concurrently (api/ relies on it too); the UI's own pool (ui_workers) bounds the work.
    demo.queue(default_concurrency_limit=settings.ui_workers)
    gr.mount_gradio_app(
        app,
        demo,
        path="/",
        server_name=host,
        auth=auth,
        auth_message=(  # the login form shows any refusal as "incorrect credentials": say the rule up front
            f"连续输错 {settings.login_max_failures} 次密码后，需等待 {settings.login_window:.0f} 秒才能再试。"
            if auth
            else None
        ),
        show_error=False,
        allowed_paths=None,
        max_file_size=UPLOAD_LIMIT,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
        app_kwargs={"middleware": safety_middleware()},
        **getattr(demo, "pqa_launch_kwargs", {}),
    )
    gradio_app = next(r.app for r in app.routes if isinstance(r, Mount) and isinstance(r.app, gr.routes.App))
    if auth is not None:
        gradio_app.add_middleware(PreLoginGuard, gradio_app=gradio_app)
        gradio_app.add_middleware(
            LoginLimiter, max_failures=settings.login_max_failures, window=settings.login_window
        )
    return gradio_app


def _install_edge(app: FastAPI, settings: Settings, host: str) -> None:
    """Added inside out: the Host check runs first, then the body cap, the Origin check, CORS."""
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(OriginCheck, cors_origins=settings.cors_origins)
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    allowed = default_allowed_hosts(host, settings.allowed_hosts, socket.gethostname())
    app.add_middleware(HostCheck, allowed=allowed)


def create_app(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    auth: tuple[str, str] | None = None,
    chat_engine_factory: Callable[..., Any] | None = None,
    documents: Sequence[Any] | None = None,
    engine_source: Any = None,
    demo: gr.Blocks | None = None,
) -> FastAPI:
    """The app for a server bound to ``host``; API keys are required unless the bind is loopback.

    ``demo`` serves an already built Blocks instead of ``build_app(...)`` (old ``launch`` callers).
    """
    check_bind(host, auth)
    app = FastAPI(title=API_TITLE, docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    install_docs(app, API_TITLE)
    _install_api(app, settings, require_keys=not is_loopback(host), engine_factory=chat_engine_factory)
    if demo is None:
        from assistant.ui.app import build_app

        demo = build_app(
            settings, chat_engine_factory=chat_engine_factory, documents=documents, engine_source=engine_source
        )
    # Last: a mount at "/" takes every path not matched above. The server ends its streams on shutdown.
    app.state.gradio_app = _mount_ui(app, demo, host, auth, settings)
    _install_edge(app, settings, host)
    return app
