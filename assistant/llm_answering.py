"""The LLM answerer: numbered sources in, a cited and number-checked answer out.

The model only drafts. The draft goes through the same number check and renumbering as the
extractive answer, so a number the model made up never reaches the user, and any failure of the
model service falls back to the offline extractive answer with a notice saying why.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from functools import lru_cache

from llama_index.core.schema import NodeWithScore

from assistant.answering import Answerer
from assistant.answers import REFUSAL, Answer
from assistant.citing import renumber, verify_numbers
from assistant.llm import ChatClient, LLMError, Message
from assistant.prompts import format_source, format_sources, load_prompt, neutralise
from assistant.settings import Settings, prepare_offline_environment

logger = logging.getLogger(__name__)

__all__ = ["LLMAnswerer", "count_tokens", "fit_passages", "judge_faithfulness"]

_PUNCT = re.compile(r"[\s。.!！?？,，;；:：\"“”'‘’]+")


@lru_cache(maxsize=1)
def _encoding():
    prepare_offline_environment()  # TIKTOKEN_CACHE_DIR: only the bundled encodings load offline
    import tiktoken

    for name in ("o200k_base", "cl100k_base"):
        try:
            return tiktoken.get_encoding(name)
        except Exception:  # try the next bundled encoding
            logger.debug("tiktoken encoding %s unavailable", name)
    return None


def count_tokens(text: str) -> int:
    """Tokens of ``text``; about one per Chinese character if no encoding is available."""
    enc = _encoding()
    return len(enc.encode(text, disallowed_special=())) if enc else len(text)


def fit_passages(passages: list[NodeWithScore], budget: int) -> list[NodeWithScore]:
    """The best-ranked passages whose source blocks fit ``budget`` tokens (at least the first one)."""
    kept: list[NodeWithScore] = []
    used = 0
    for nws in passages:
        cost = count_tokens(format_source(len(kept) + 1, nws)) + 2
        if used + cost > budget and kept:
            break
        kept.append(nws)
        used += cost
    return kept


def _is_refusal(text: str) -> bool:
    bare = _PUNCT.sub("", text)
    return not bare or bare.startswith(_PUNCT.sub("", REFUSAL))


class LLMAnswerer:
    """Answers with an OpenAI-compatible model; falls back to ``fallback`` when the model fails."""

    def __init__(self, settings: Settings, fallback: Answerer, client: ChatClient | None = None) -> None:
        self.settings = settings
        self.fallback = fallback
        self.client = client or ChatClient(settings)
        self.name = f"llm:{settings.llm_model}"

    def messages(
        self, question: str, passages: list[NodeWithScore]
    ) -> tuple[list[Message], list[NodeWithScore]]:
        """The chat messages and the passages they number 1..n (those that fit the token budget)."""
        used = fit_passages(passages, self.settings.llm_context_tokens)
        system = load_prompt("answer_system").format(refusal=REFUSAL)
        user = load_prompt("answer_user").format(
            sources=format_sources(used), question=neutralise(question.strip())
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": user}], used

    def answer(self, question: str, passages: list[NodeWithScore], **context: object) -> Answer:
        if not passages:
            return self._refusal(None)
        messages, used = self.messages(question, passages)
        start = time.perf_counter()
        try:
            draft = self.client.complete(messages)
        except LLMError as err:
            return self._fallback(question, passages, err, context)
        return self._finish(draft, used, messages, time.perf_counter() - start)

    def stream(
        self, question: str, passages: list[NodeWithScore], **context: object
    ) -> Iterator[str | Answer]:
        """Deltas as the model writes them, then the verified Answer (it replaces the streamed text)."""
        if not passages:
            yield self._refusal(None)
            return
        messages, used = self.messages(question, passages)
        start = time.perf_counter()
        parts: list[str] = []
        try:
            for delta in self.client.stream(messages):
                parts.append(delta)
                yield delta
        except LLMError as err:
            yield self._fallback(question, passages, err, context)
            return
        yield self._finish("".join(parts), used, messages, time.perf_counter() - start)

    def _finish(
        self, draft: str, used: list[NodeWithScore], messages: list[Message], seconds: float
    ) -> Answer:
        prompt = "\n\n".join(m["content"] for m in messages)
        timings = {"llm": round(seconds, 3)}
        if _is_refusal(draft):
            return self._refusal(prompt, timings)
        checked, removed = verify_numbers(draft.strip(), used)
        text, citations, cited = renumber(checked, used)
        notice = f"已删除{len(removed)}句无法在来源中核实数字的内容。" if removed else ""
        if removed:
            logger.info("removed %d sentence(s) with unverified numbers: %s", len(removed), removed)
        if not citations:
            return self._refusal(prompt, timings, notice)
        return Answer(
            text=text,
            answerable=True,
            citations=citations,
            passages=cited,
            answerer=self.name,
            notice=notice,
            prompt=prompt,
            timings=timings,
        )

    def _refusal(
        self, prompt: str | None, timings: dict[str, float] | None = None, notice: str = ""
    ) -> Answer:
        return Answer(
            text=REFUSAL,
            answerable=False,
            answerer=self.name,
            notice=notice,
            prompt=prompt,
            timings=timings or {},
        )

    def _fallback(
        self, question: str, passages: list[NodeWithScore], err: LLMError, context: dict[str, object]
    ) -> Answer:
        answer = self.fallback.answer(question, passages, **context)
        notice = f"大模型服务暂不可用（{err.reason}），以下为离线摘录答案。"
        if answer.notice:
            notice = f"{notice}{answer.notice}"
        return replace(answer, notice=notice, answerer=getattr(self.fallback, "name", answer.answerer))


def judge_faithfulness(
    client: ChatClient, question: str, answer: Answer | str, passages: list[NodeWithScore]
) -> float | None:
    """LLM-judged share of the answer's claims supported by ``passages`` (0..1); None if unavailable."""
    text = answer.text if isinstance(answer, Answer) else answer
    prompt = load_prompt("judge_faithfulness").format(
        sources=format_sources(passages), question=neutralise(question), answer=neutralise(text)
    )
    try:
        reply = client.complete([{"role": "user", "content": prompt}])
    except LLMError as err:
        logger.warning("faithfulness judge unavailable: %s", err.reason)
        return None
    match = re.search(r"\{.*?\}", reply, flags=re.S)
    try:
        score = float(json.loads(match.group(0))["score"]) if match else float(reply.strip())
    except (ValueError, KeyError, TypeError):
        logger.warning("faithfulness judge gave no score: %r", reply[:200])
        return None
    return min(1.0, max(0.0, score))
