"""The LLM answerer: numbered sources in, a cited and verified answer out.

The model only drafts. Each sentence of the draft is shown only once it is complete and its cited
passage supports it (``gate.SentenceGate``: the number check of the extractive answer, links and
instructions verbatim, most of its wording), so an invented figure, a phishing link or an injected
instruction never reaches the screen, not even for the seconds a stream takes. A draft of which
nothing survives, and any failure of the model service, falls back to the offline extractive answer
with a notice saying why.
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

from assistant.core.schema import REFUSAL, Answer
from assistant.qa.context import AnswerContext, Answerer
from assistant.qa.gate import SentenceGate
from assistant.qa.llm_client import ChatClient, LLMError, Message
from assistant.qa.prompts import format_source, format_sources, load_prompt, neutralise
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

    def answer(self, question: str, passages: list[NodeWithScore], context: AnswerContext | None = None) -> Answer:
        if not passages:
            return self._refusal(None)
        messages, used = self.messages(question, passages)
        gate = SentenceGate(used, self.settings.llm_min_support)
        start = time.perf_counter()
        try:
            draft = self.client.complete(messages)
        except LLMError as err:
            return self._fallback(question, passages, err, context)
        gate.feed(draft)
        gate.close()
        seconds = time.perf_counter() - start
        return self._finish(gate, draft, messages, seconds, (question, passages, context))

    def stream(
        self, question: str, passages: list[NodeWithScore], context: AnswerContext | None = None
    ) -> Iterator[str | Answer]:
        """Each verified sentence as soon as the model has written it, then the Answer.

        The Answer's text is exactly the concatenation of the pieces yielded before it: nothing shown
        is ever taken back, and an unverified draft is never shown.
        """
        if not passages:
            yield from _shown(self._refusal(None))
            return
        messages, used = self.messages(question, passages)
        gate = SentenceGate(used, self.settings.llm_min_support)
        start = time.perf_counter()
        parts: list[str] = []
        try:
            for delta in self.client.stream(messages):
                parts.append(delta)
                if shown := gate.feed(delta):
                    yield shown
        except LLMError as err:
            if not gate.text:  # nothing shown yet: the offline answer instead
                yield from _shown(self._fallback(question, passages, err, context))
                return
            cut = self._finish(gate, "".join(parts), messages, time.perf_counter() - start, None)
            cut.notice = "；".join(x for x in (f"大模型输出中断（{err.reason}），回答可能不完整。", cut.notice) if x)
            yield cut
            return
        if shown := gate.close():
            yield shown
        ans = self._finish(gate, "".join(parts), messages, time.perf_counter() - start, (question, passages, context))
        if gate.text:
            yield ans
        else:  # the refusal or the offline answer: shown whole
            yield from _shown(ans)

    def _finish(
        self,
        gate: SentenceGate,
        draft: str,
        messages: list[Message],
        seconds: float,
        retry: tuple[str, list[NodeWithScore], AnswerContext | None] | None,
    ) -> Answer:
        """The verified sentences as the Answer; if none survived, the refusal the model gave or the
        offline answer (``retry`` = the question, passages and context to ask it)."""
        prompt = "\n\n".join(m["content"] for m in messages)
        timings = {"llm": round(seconds, 3)}
        removed = gate.removed
        if removed:
            logger.info("removed %d unsupported sentence(s): %s", len(removed), removed)
        if not gate.citations:
            if _is_refusal(draft) or retry is None:
                return self._refusal(prompt, timings)
            return self._unverified(removed, *retry)
        return Answer(
            text=gate.text,
            answerable=True,
            citations=list(gate.citations),
            passages=list(gate.cited),
            answerer=self.name,
            notice=f"已删除{len(removed)}句无法在来源中核实的内容。" if removed else "",
            prompt=prompt,
            timings=timings,
        )

    def _unverified(
        self, removed: list[str], question: str, passages: list[NodeWithScore], context: AnswerContext | None
    ) -> Answer:
        """The model wrote something, but no sentence of it is supported by its sources: answer offline."""
        answer = self.fallback.answer(question, passages, context)
        head = f"大模型回答中的{len(removed)}句内容" if removed else "大模型的回答"
        notice = f"{head}无法在来源中核实，已改用离线摘录答案。"
        if answer.notice:
            notice = f"{notice}{answer.notice}"
        return replace(answer, notice=notice, answerer=getattr(self.fallback, "name", answer.answerer))

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
        self, question: str, passages: list[NodeWithScore], err: LLMError, context: AnswerContext | None
    ) -> Answer:
        answer = self.fallback.answer(question, passages, context)
        notice = f"大模型服务暂不可用（{err.reason}），以下为离线摘录答案。"
        if answer.notice:
            notice = f"{notice}{answer.notice}"
        return replace(answer, notice=notice, answerer=getattr(self.fallback, "name", answer.answerer))


def _shown(answer: Answer) -> Iterator[str | Answer]:
    """An answer that was not streamed sentence by sentence: its text as one piece, then the answer."""
    if answer.text:
        yield answer.text
    yield answer


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
    # The first {...} object; find() keeps this linear on a reply of many "{" (a lazy regex is quadratic).
    start = reply.find("{")
    end = reply.find("}", start) if start >= 0 else -1
    try:
        score = float(json.loads(reply[start : end + 1])["score"]) if end >= 0 else float(reply.strip())
    except (ValueError, KeyError, TypeError):
        logger.warning("faithfulness judge gave no score: %r", reply[:200])
        return None
    return min(1.0, max(0.0, score))
