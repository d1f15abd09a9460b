"""Load target "ui": the Gradio chat's ``/chat`` endpoint through ``gradio_client`` (one client = one session).

``gradio_client`` opens a new ``httpx`` client for every POST and every event stream, and each one builds a
TLS context from the CA bundle (~10 ms of CPU, even for an ``http://`` URL), twice per question. A browser
loads its trust store once, so the driver does too: every client shares one context (``TLS_CONTEXT``). That
CPU was spent in the driver, on the same 2 cores as the server, and showed up as server latency.
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client of the run (certificate checks stay on)."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _client(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False, ssl_verify=tls_context())  # type: ignore[arg-type]


def ask_once(client: Any, question: str, timeout_s: float) -> str:
    """One ``/chat`` call; the final answer text. Raises on an app error or after ``timeout_s``."""
    job = client.submit(question, [], [], api_name="/chat")
    try:
        result = job.result(timeout=timeout_s)
    except TimeoutError:
        job.cancel()
        raise TimeoutError(f"no answer within {timeout_s:.0f} s") from None
    return result[0] if isinstance(result, list | tuple) else str(result)


class UiConversation:
    """A browser session: the UI's engine keeps the conversation."""

    def __init__(self, url: str) -> None:
        self.client = _client(url)

    def ask(self, question: str, timeout_s: float) -> str:
        return ask_once(self.client, question, timeout_s)

    def reset(self) -> None:
        self.client.reset_session()
