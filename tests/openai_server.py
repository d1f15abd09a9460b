"""A scriptable OpenAI-compatible server on loopback, for testing the real ``openai`` client offline.

Usage::

    with FakeOpenAIServer() as server:
        server.script(Reply("答案[1]。"), Reply(status=429))   # one behaviour per request, then default
        server.route("<question>\n聊城", Reply("聊城…[1]。"))     # any request whose last message has this
        settings = Settings(openai_base_url=server.base_url, openai_api_key="sk-test", llm_timeout=1)
        ...
        server.requests[0].json["messages"]                   # what the client sent

or the ``fake_openai`` fixture (import it into a test module, or into conftest).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

__all__ = ["FakeOpenAIServer", "RecordedRequest", "Reply", "fake_openai"]


@dataclass
class Reply:
    """How the server answers one request."""

    text: str = "好的[1]。"
    status: int = 200  # e.g. 429, 500
    delay: float = 0.0  # seconds before answering (beyond the client timeout = a timeout)
    malformed: bool = False  # 200 with a body that is not JSON / not an SSE event
    cut_after: int | None = None  # streaming: drop the connection after this many chunks
    chunk_chars: int = 4  # streaming: characters per delta
    error_body: str = ""  # body of an error status (may echo the Authorization header: "{auth}")


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    json: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.json.get("messages", []))


@dataclass
class _State:
    queue: list[Reply] = field(default_factory=list)
    routes: list[tuple[str, Reply]] = field(default_factory=list)
    default: Reply = field(default_factory=Reply)
    requests: list[RecordedRequest] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self, payload: dict[str, Any]) -> Reply:
        messages = payload.get("messages") or [{}]
        last = str(messages[-1].get("content", "")) if isinstance(messages[-1], dict) else ""
        with self.lock:
            routed = next((reply for needle, reply in self.routes if needle in last), None)
            if routed is not None:
                return routed
            return self.queue.pop(0) if self.queue else self.default


def _completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:
        state = self.server.state
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            payload = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            payload = {"_raw": raw.decode("utf-8", "replace")}
        with state.lock:
            state.requests.append(RecordedRequest(self.path, dict(self.headers.items()), payload))
        reply = state.next_reply(payload)
        if reply.delay and state.stop.wait(reply.delay):
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self._send(404, b'{"error": {"message": "not found"}}')
        if reply.status != 200:
            body = reply.error_body or json.dumps({"error": {"message": f"fake error {reply.status}"}})
            body = body.replace("{auth}", self.headers.get("Authorization", ""))
            return self._send(reply.status, body.encode(), {"retry-after": "0"})
        model = str(payload.get("model", "fake-model"))
        if payload.get("stream"):
            return self._stream(model, reply)
        if reply.malformed:
            return self._send(200, b'{"id": "chatcmpl-fake", "choices": [{"message": ')
        self._send(200, json.dumps(_completion(model, reply.text), ensure_ascii=False).encode())

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _stream(self, model: str, reply: Reply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if reply.malformed:
            self._write_chunk(b"data: {not json\n\n")
            self._write_chunk(b"")
            return
        step = max(1, reply.chunk_chars)
        parts = [reply.text[i : i + step] for i in range(0, len(reply.text), step)]
        self._write_chunk(_chunk(model, {"role": "assistant", "content": ""}))
        for i, part in enumerate(parts):
            if reply.cut_after is not None and i >= reply.cut_after:
                self.close_connection = True
                self.wfile.flush()
                self.connection.shutdown(2)  # no terminating chunk: the client sees a cut stream
                return
            self._write_chunk(_chunk(model, {"content": part}))
        self._write_chunk(_chunk(model, {}, finish="stop"))
        self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    state: _State

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out and hung up is a scripted case, not a server failure: stay quiet."""


class FakeOpenAIServer:
    """ThreadingHTTPServer on 127.0.0.1 with a random port, speaking ``/v1/chat/completions``."""

    def __init__(self, default: Reply | None = None) -> None:
        self._state = _State(default=default or Reply())
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("server not started: use it as a context manager")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self._state.requests)

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order; then the default."""
        with self._state.lock:
            self._state.queue.extend(replies)

    def route(self, needle: str, reply: Reply) -> None:
        """Answer every request whose last message contains ``needle`` with ``reply`` (before any script),
        so a test can give each of several calls (one per city) its own reply regardless of order."""
        with self._state.lock:
            self._state.routes.append((needle, reply))

    def set_default(self, reply: Reply) -> None:
        self._state.default = reply

    def __enter__(self) -> FakeOpenAIServer:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self._state
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._state.stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server
