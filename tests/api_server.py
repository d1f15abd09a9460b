"""The /v1 API on a bare FastAPI app, served by uvicorn in a thread on a free loopback port (tests only).

    with api_serving(settings, engine_factory=fake) as url:      # url = "http://127.0.0.1:PORT/"
        openai.OpenAI(base_url=url + "v1", api_key="x")

uvicorn's own logging set-up is skipped (``log_config=None``) so its access log reaches the root logger
and pytest's ``caplog``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from assistant.api import install_api
from assistant.core.schema import Answer, Citation
from assistant.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(app: Any, start_timeout: float = 20.0) -> Iterator[str]:
    """Any ASGI app on loopback for the duration of the block; yields its base URL (with a trailing slash)."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=True, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"api-server-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the test API server did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def api_serving(
    settings: Settings, *, require_keys: bool = False, engine_factory: Any = None
) -> Iterator[str]:
    """A bare ``FastAPI()`` with ``install_api`` only (no UI, no edge middleware)."""
    app = FastAPI()
    install_api(app, settings, require_keys=require_keys, engine_factory=engine_factory)
    with serve_app(app) as url:
        yield url


class Gate:
    """Holds fake answers until ``open()`` (or their own time limit); counts how many were held at once."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.held = 0  # answers waiting now
        self.most = 0  # the most that waited at the same time
        self._lock = threading.Lock()

    def wait(self, timeout: float) -> None:
        with self._lock:
            self.held += 1
            self.most = max(self.most, self.held)
        try:
            self.opened.wait(timeout)
        finally:
            with self._lock:
                self.held -= 1

    def open(self) -> None:
        self.opened.set()


class FakeEngine:
    """Answers "答：<message>[1]" in two pieces, with one citation, after ``delay`` seconds or as soon as its
    ``gate`` opens (tests open it when they have seen what they wait for: no test sleeps the delay out)."""

    def __init__(self, delay: float, gate: Gate | None = None) -> None:
        self.delay = delay
        self.gate = gate or Gate()
        self.finished = threading.Event()  # set when an answer ends (or is abandoned)

    def stream_answer(self, message: str) -> Iterator[str | Answer]:
        try:
            if self.delay:
                self.gate.wait(self.delay)
            yield "答："
            yield f"{message}[1]"
            cite = Citation(n=1, node_id="n1", title="测试文件", section="一、总则", file="t.txt", start=0, end=4,
                            text="测试段落", doc_number="测发〔2024〕1号", date="2024-01-01", quote="测试段落")  # fmt: skip
            yield Answer(text=f"答：{message}[1]", answerable=True, citations=[cite], answerer="fake")
        finally:
            self.finished.set()


def fake_factory(delay: float = 0.0, gate: Gate | None = None) -> Any:
    """An ``engine_factory`` of ``FakeEngine``s (the server's contract: factory(settings=..., filters=...))."""
    return lambda settings=None, filters=None: FakeEngine(delay, gate)
