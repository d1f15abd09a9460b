"""A thin chat client over any OpenAI-compatible endpoint (OpenAI, DeepSeek, Qwen, vLLM, Ollama).

Every failure becomes one ``LLMError`` with a short bilingual cause, so the answerer can fall back to
the offline answer and the UI can say why. The API key never reaches an error message or a log line:
exceptions are re-raised without their original cause and every message is redacted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import openai

from assistant.qa.prompts import load_prompt
from assistant.settings import Settings, get_settings

logger = logging.getLogger(__name__)

__all__ = ["ChatClient", "LLMError", "condense_question"]

Message = dict[str, str]
_KEYLIKE = re.compile(r"\b(sk|key|Bearer)[-_ ][A-Za-z0-9_\-]{6,}", re.IGNORECASE)
_NO_KEY = "EMPTY"  # local servers (vLLM, Ollama) ignore the key, but the client requires one


def _payload(messages: Iterable[Message]) -> list[Any]:
    return [dict(m) for m in messages]


class LLMError(Exception):
    """The model could not answer. ``reason`` is short enough for a notice: "请求超时 timeout"."""

    def __init__(self, reason: str, hint: str = "", detail: str = "") -> None:
        self.reason = reason
        self.hint = hint
        self.detail = detail  # redacted exception text, for logs only
        super().__init__(f"{reason}；{hint}" if hint else reason)


class ChatClient:
    """``complete()`` and ``stream()`` over chat completions, with bounded timeouts and retries."""

    def __init__(self, settings: Settings | None = None, *, client: openai.OpenAI | None = None) -> None:
        settings = settings or get_settings()
        self.model = settings.llm_model
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
        self._secrets = tuple(s for s in {key} if s and s != _NO_KEY)
        self._client = client or openai.OpenAI(
            api_key=key or _NO_KEY,
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
        )

    def __repr__(self) -> str:
        return f"ChatClient(model={self.model!r}, base_url={str(self._client.base_url)!r})"

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _KEYLIKE.sub(lambda m: f"{m.group(1)}-***", text)

    def complete(self, messages: Iterable[Message], *, temperature: float = 0.0) -> str:
        """The full reply text."""
        try:
            response = self._client.chat.completions.create(
                model=self.model, messages=_payload(messages), temperature=temperature
            )
            content = response.choices[0].message.content
        except Exception as exc:  # every failure becomes one LLMError
            raise self._error(exc) from None
        if not isinstance(content, str):
            raise self._error(ValueError("no message content"), malformed=True)
        return content

    def stream(self, messages: Iterable[Message], *, temperature: float = 0.0) -> Iterator[str]:
        """Text deltas as they arrive; ``LLMError`` if the stream fails or ends without finishing."""
        finished = False
        try:
            with self._client.chat.completions.create(
                model=self.model, messages=_payload(messages), temperature=temperature, stream=True
            ) as chunks:
                for chunk in chunks:
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    if choice.delta is not None and choice.delta.content:
                        yield choice.delta.content
                    if choice.finish_reason:
                        finished = True
        except Exception as exc:  # mid-stream failures are raw httpx/JSON errors
            raise self._error(exc, cut=True) from None
        if not finished:
            logger.warning("LLM stream ended before a finish_reason")
            raise LLMError("流式输出中断 stream cut", "模型服务在回答完成前断开了连接，请稍后重试")

    def _error(self, exc: BaseException, *, malformed: bool = False, cut: bool = False) -> LLMError:
        reason, hint = _classify(exc, malformed=malformed, cut=cut)
        detail = self.redact(f"{type(exc).__name__}: {exc}")[:300]
        logger.warning("LLM call failed: %s (%s)", reason, detail)
        return LLMError(reason, hint, detail)


def _classify(exc: BaseException, *, malformed: bool, cut: bool) -> tuple[str, str]:
    """(short bilingual cause, remedy) of a failed call."""
    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
        return "请求超时 timeout", "模型服务响应过慢，可调大 POLICY_QA_LLM_TIMEOUT 或稍后重试"
    if isinstance(exc, openai.APIConnectionError):
        chain = f"{exc.__cause__!r} {getattr(exc.__cause__, '__cause__', None)!r}"
        if "refused" in chain.lower():
            return "连接被拒绝 connection refused", "请检查 OPENAI_BASE_URL 与模型服务是否已启动"
        return "无法连接 connection error", "请检查 OPENAI_BASE_URL 与网络"
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        label, hint = {
            401: ("鉴权失败", "请检查 OPENAI_API_KEY"),
            403: ("无权访问", "请检查 OPENAI_API_KEY 的权限"),
            404: ("接口或模型不存在", "请检查 OPENAI_BASE_URL 与 POLICY_QA_LLM_MODEL"),
            429: ("请求过多或额度不足", "请稍后重试或检查账户额度"),
        }.get(code, ("服务端错误" if code >= 500 else "请求被拒绝", "请稍后重试"))
        return f"{label} HTTP {code}", hint
    if cut and isinstance(exc, httpx.TransportError):
        return "流式输出中断 stream cut", "模型服务在回答完成前断开了连接，请稍后重试"
    if malformed or isinstance(exc, ValueError | KeyError | IndexError | AttributeError | TypeError):
        return "响应格式错误 malformed response", "模型服务返回的内容无法解析，请检查它是否兼容 OpenAI 接口"
    if isinstance(exc, httpx.HTTPError):
        return "无法连接 connection error", "请检查 OPENAI_BASE_URL 与网络"
    return "大模型调用失败 LLM error", "请查看日志"


def _history_text(history: list[tuple[str, str]], max_turns: int = 4, max_chars: int = 300) -> str:
    lines = []
    for user, assistant in history[-max_turns:]:
        lines.append(f"用户：{user.strip()}")
        reply = assistant.strip()
        lines.append(f"助手：{reply[:max_chars]}{'…' if len(reply) > max_chars else ''}")
    return "\n".join(lines)


def condense_question(client: ChatClient, history: list[tuple[str, str]], question: str) -> str:
    """A follow-up rewritten as a standalone question; the question itself without history or on error."""
    if not history:
        return question
    prompt = load_prompt("condense").format(history=_history_text(history), question=question.strip())
    try:
        rewritten = client.complete([{"role": "user", "content": prompt}])
    except LLMError as err:
        logger.warning("condense_question fell back to the raw question: %s", err.reason)
        return question
    rewritten = rewritten.strip().strip('"“”').removeprefix("改写后的问题：").strip()
    return rewritten.splitlines()[0].strip() if rewritten else question
