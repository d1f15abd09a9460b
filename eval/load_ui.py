"""Load target "ui": the Gradio chat's ``/chat`` endpoint through ``gradio_client`` (one client = one session)."""

from __future__ import annotations

from typing import Any


def _client(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False)


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
