"""Load target "api": ``/v1/chat/completions`` through the real ``openai`` client.

A conversation is what an OpenAI-style chat client does: every request carries the whole conversation
so far (the server keeps no state) and the same ``conversation_id``.
"""

from __future__ import annotations

import uuid
from typing import Any

MODEL = "policy-qa"
LOOPBACK_KEY = "load-test"  # a loopback server needs no key; the client insists on some string


class ApiConversation:
    def __init__(self, url: str, api_key: str = LOOPBACK_KEY) -> None:
        import openai

        self.client = openai.OpenAI(base_url=url + "v1", api_key=api_key, max_retries=0)
        self.messages: list[dict[str, Any]] = []
        self.conversation_id = ""
        self.reset()

    def ask(self, question: str, timeout_s: float) -> str:
        messages = [*self.messages, {"role": "user", "content": question}]
        done = self.client.with_options(timeout=timeout_s).chat.completions.create(
            model=MODEL, messages=messages, extra_body={"conversation_id": self.conversation_id}
        )
        text = done.choices[0].message.content or ""
        self.messages = [*messages, {"role": "assistant", "content": text}]
        return text

    def reset(self) -> None:
        self.messages = []
        self.conversation_id = f"load-{uuid.uuid4().hex[:12]}"
