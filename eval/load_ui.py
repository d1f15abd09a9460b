"""Load target "ui": the Gradio chat's ``/chat`` event through the queue protocol a browser's JS client speaks.

A browser keeps one HTTP connection per page and, per question, POSTs ``gradio_api/queue/join`` and reads the
session's event stream (``gradio_api/queue/data``, server-sent events) until the event completes. The driver
does the same (``UiConversation``: one persistent ``httpx`` client and one session hash per conversation), so
the server does exactly the work a page costs it. ``gradio_client`` is heavier on the same 2 cores: a new
``httpx`` client (and TLS context) for every POST and stream, a heartbeat thread per client and a 50 ms
polling loop per result, all of which showed up as server latency. ``ask_once`` (a ``gradio_client`` call)
stays for the soak test, which drives its other endpoints through that client.
"""

from __future__ import annotations

import json
import ssl
import uuid
from functools import lru_cache
from typing import Any

import httpx

CHAT_API_NAME = "chat"


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client of the run (certificate checks stay on)."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def ask_once(client: Any, question: str, timeout_s: float) -> str:
    """One ``/chat`` call through ``gradio_client``; the final answer text. Raises on an app error or timeout."""
    job = client.submit(question, [], [], api_name="/chat")
    try:
        result = job.result(timeout=timeout_s)
    except TimeoutError:
        job.cancel()
        raise TimeoutError(f"no answer within {timeout_s:.0f} s") from None
    return result[0] if isinstance(result, list | tuple) else str(result)


class UiError(RuntimeError):
    """The app answered the event with an error (its message, as the page would show it)."""


def chat_event(config: dict[str, Any]) -> tuple[int, list[Any]]:
    """(fn_index, the inputs a page sends) of the ``/chat`` event: each input component's initial value, as a
    page that has not touched the filters sends them (a ``gr.State`` goes as null; the server keeps it)."""
    values = {c["id"]: c.get("props", {}).get("value") for c in config.get("components", [])}
    for fn_index, dep in enumerate(config.get("dependencies", [])):
        if dep.get("api_name") == CHAT_API_NAME:
            return dep.get("id", fn_index), [values.get(i) for i in dep["inputs"]]
    raise UiError(f"the app has no /{CHAT_API_NAME} event")


def apply_diff(value: Any, diff: Any) -> Any:
    """A streamed output after the first one is a list of edits against the previous value (Gradio's sse_v2+)."""
    from gradio_client.utils import apply_diff as gradio_apply_diff

    return gradio_apply_diff(value, diff)


class UiConversation:
    """A browser session: one connection, one session hash; the UI's engine keeps the conversation."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(base_url=url, timeout=httpx.Timeout(30.0), verify=tls_context())
        config = self.client.get("config").raise_for_status().json()
        self.fn_index, self.defaults = chat_event(config)
        self.session_hash = ""
        self.reset()

    def ask(self, question: str, timeout_s: float) -> str:
        """One question: join the queue, read the session's events until this one completes; its answer text."""
        data = [question, *self.defaults[1:]]
        body = {"data": data, "event_data": None, "fn_index": self.fn_index, "trigger_id": None,
                "session_hash": self.session_hash}  # fmt: skip
        timeout = httpx.Timeout(timeout_s)
        joined = self.client.post("gradio_api/queue/join", json=body, timeout=timeout)
        if joined.status_code == 503:
            raise UiError("queue full")
        event_id = joined.raise_for_status().json()["event_id"]
        outputs: list[Any] | None = None
        params = {"session_hash": self.session_hash}
        with self.client.stream("GET", "gradio_api/queue/data", params=params, timeout=timeout) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("event_id") != event_id:
                    continue
                kind, output = msg.get("msg"), msg.get("output") or {}
                if kind == "process_generating":
                    new = output.get("data", [])
                    if outputs is None:
                        outputs = list(new)
                    else:  # Gradio sends one diff per output
                        outputs = [apply_diff(o, d) for o, d in zip(outputs, new, strict=True)]
                elif kind == "process_completed":
                    if not msg.get("success", True):
                        raise UiError(str(output.get("error") or "error"))
                    if outputs is None:
                        outputs = list(output.get("data", []))
                    return str(outputs[0]) if outputs else ""
        raise UiError("the event stream ended before the answer")

    def reset(self) -> None:
        """A fresh page: a new session hash (new ``gr.State``, new engine)."""
        self.session_hash = uuid.uuid4().hex[:11]

    def close(self) -> None:
        self.client.close()
