"""A deterministic fake of the chat-engine contract, so UI tests do not need the real index.

Canned replies by keyword:
- "小升规": answerable, [1] from the Wenzhou document, [2] from the Hangzhou one (filters apply);
- "恶意": a passage carrying <script> / <img onerror> / ${...} that must show as text only;
- "刚才": a follow-up that quotes the previous question of this engine's history;
- "失败": the LLM failed and the offline answer is used (``notice``);
- anything else: unanswerable (``REFUSAL``).

``SlowChatEngine`` stalls on "慢" (time budget tests); ``fake_match`` / ``slow_match`` stand in for the
政策找人 matcher.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from llama_index.core.base.response.schema import Response
from llama_index.core.schema import NodeWithScore, TextNode

from assistant.core.schema import REFUSAL, Answer, Citation

MALICIOUS = (
    '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">${window.__pwned=1}{{7*7}}'
)


@dataclass(frozen=True)
class FakeDocument:
    doc_id: str
    file: str
    title: str
    jurisdiction: str
    doc_number: str = ""
    date: str = ""
    issuer: str = ""


@dataclass
class FakeFilters:
    """Stand-in for ``assistant.Filters`` until the engine lands."""

    jurisdictions: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)


WENZHOU = FakeDocument(
    "wz-xsg",
    "wz-xsg.txt",
    "温州市关于推动小微企业升规的若干政策",
    "浙江省/温州市",
    "温政发〔2023〕5号",
    "2023-03-01",
    "温州市人民政府",
)
HANGZHOU = FakeDocument(
    "hz-xsg",
    "hz-xsg.txt",
    "杭州市促进中小企业发展若干措施",
    "浙江省/杭州市",
    "杭政办〔2022〕9号",
    "2022-08-15",
    "杭州市人民政府办公厅",
)
EVIL = FakeDocument("evil", "evil.txt", "测试用恶意文本<script>x</script>", "全国", "", "", "")
DOCUMENTS = [WENZHOU, HANGZHOU, EVIL]

WZ_QUOTE = "对首次纳入规模以上工业统计的企业，给予一次性奖励10万元。"
WZ_TEXT = "第三条 支持小微企业升规。" + WZ_QUOTE + "奖励资金由市、县两级财政按比例承担。"
HZ_QUOTE = "首次升规的工业企业，给予5万元奖励。"
HZ_TEXT = "二、培育规上企业。" + HZ_QUOTE + "同一企业只奖励一次。"
EVIL_QUOTE = "这一句应当被高亮。"
EVIL_TEXT = "恶意段落开始" + MALICIOUS + EVIL_QUOTE + "恶意段落结束"


def _citation(n: int, doc: FakeDocument, section: str, text: str, quote: str) -> Citation:
    return Citation(
        n=n,
        node_id=f"{doc.doc_id}-{n}",
        title=doc.title,
        section=section,
        file=doc.file,
        start=0,
        end=len(text),
        text=text,
        doc_number=doc.doc_number,
        date=doc.date,
        jurisdiction=doc.jurisdiction,
        issuer=doc.issuer,
        quote=quote,
        score=0.5,
    )


def _allowed(doc: FakeDocument, filters: Any) -> bool:
    if filters is None:
        return True
    places = list(getattr(filters, "jurisdictions", []) or [])
    docs = list(getattr(filters, "documents", []) or [])
    if places and not any(p in doc.jurisdiction.split("/") for p in places):
        return False
    return not docs or doc.doc_id in docs


class FakeChatEngine:
    """Implements the UI's part of the engine contract; records what it was asked."""

    instances: list[FakeChatEngine] = []

    def __init__(self, settings: Any = None, filters: Any = None, delay: float = 0.02) -> None:
        self.settings = settings
        self.filters = filters
        self.delay = delay
        self.history: list[tuple[str, str]] = []
        self.resets = 0
        FakeChatEngine.instances.append(self)

    # -- contract -------------------------------------------------------------------------------
    def set_filters(self, filters: Any) -> None:
        self.filters = filters

    def reset(self) -> None:
        self.history.clear()
        self.resets += 1

    def stream_answer(self, message: str) -> Iterator[str | Answer]:
        started = time.perf_counter()
        answer = self._answer(message)
        answer.timings = {"total": round(time.perf_counter() - started, 4)}
        step = 6
        for i in range(0, len(answer.text), step):
            if self.delay:
                time.sleep(self.delay)
            yield answer.text[i : i + step]
        self.history.append((message, answer.text))
        yield answer

    def chat(self, message: str) -> Response:
        answer = next(item for item in self.stream_answer(message) if isinstance(item, Answer))
        nodes = [
            NodeWithScore(
                node=TextNode(id_=c.node_id, text=c.text, metadata={"title": c.title}), score=c.score
            )
            for c in answer.citations
        ]
        return Response(response=answer.text, source_nodes=nodes, metadata={"answer": answer})

    # -- canned answers -------------------------------------------------------------------------
    def _answer(self, message: str) -> Answer:
        if "小升规" in message:
            candidates = [
                (WENZHOU, "第三条 支持小微企业升规", WZ_TEXT, WZ_QUOTE, "温州对首次升规企业一次性奖励10万元"),
                (HANGZHOU, "二、培育规上企业", HZ_TEXT, HZ_QUOTE, "杭州对首次升规工业企业奖励5万元"),
            ]
            kept = [c for c in candidates if _allowed(c[0], self.filters)]
            if not kept:
                return Answer(text=REFUSAL, answerable=False)
            cites = [
                _citation(i, doc, sec, text, quote) for i, (doc, sec, text, quote, _) in enumerate(kept, 1)
            ]
            text = "；".join(f"{claim}[{i}]" for i, (*_, claim) in enumerate(kept, 1)) + "。"
            return Answer(text=text, answerable=True, citations=cites)
        if "恶意" in message:
            if not _allowed(EVIL, self.filters):
                return Answer(text=REFUSAL, answerable=False)
            cite = _citation(1, EVIL, "第一节 <b>不应加粗</b>", EVIL_TEXT, EVIL_QUOTE)
            return Answer(text="原文如下：" + EVIL_QUOTE + "[1]", answerable=True, citations=[cite])
        if "刚才" in message:
            if not self.history:
                return Answer(text="还没有上一轮对话。", answerable=False)
            previous, previous_answer = self.history[-1]
            return Answer(
                text=f"您刚才问的是：{previous}（上一轮回答共 {len(previous_answer)} 字）", answerable=True
            )
        if "失败" in message:
            cite = _citation(1, WENZHOU, "第三条 支持小微企业升规", WZ_TEXT, WZ_QUOTE)
            return Answer(
                text=WZ_QUOTE + "[1]",
                answerable=True,
                citations=[cite],
                answerer="extractive",
                notice="大模型调用失败（超时），已改用离线摘录回答。",
            )
        return Answer(text=REFUSAL, answerable=False)


def fake_factory(settings: Any = None, filters: Any = None) -> FakeChatEngine:
    return FakeChatEngine(settings=settings, filters=filters)


@pytest.fixture(scope="session")
def fake_filters() -> Iterator[None]:
    """Until ``assistant.Filters`` lands, the UI builds filters with the fake's twin."""
    import assistant

    missing = not hasattr(assistant, "Filters")
    if missing:
        assistant.Filters = FakeFilters  # type: ignore[attr-defined]
    yield
    if missing:
        del assistant.Filters  # type: ignore[attr-defined]


# -- slow engines and the 政策找人 matcher ------------------------------------------------------------------

RELEASE = threading.Event()  # set by tests when they are done with a slow fake, so no worker outlives them
SLOW_WAITS: list[threading.Event] = []  # one per slow fake call, set when its wait is over


def slow_wait(seconds: float) -> None:
    """Hold the calling worker until ``RELEASE`` (or ``seconds``); recorded in ``SLOW_WAITS``, so a test can
    tell that a timeout came while the slow work was still held, without measuring time."""
    over = threading.Event()
    SLOW_WAITS.append(over)
    try:
        RELEASE.wait(seconds)
    finally:
        over.set()


def slow_waits_over(since: int) -> int:
    """How many slow waits begun after ``len(SLOW_WAITS) == since`` are over."""
    return sum(e.is_set() for e in SLOW_WAITS[since:])


class SlowChatEngine(FakeChatEngine):
    """Thinks for up to ``seconds`` before the first word: the UI must give up at its time budget."""

    seconds = 10.0

    def stream_answer(self, message: str) -> Iterator[str | Answer]:
        if "慢" in message:
            slow_wait(self.seconds)
        yield from super().stream_answer(message)


def slow_factory(settings: Any = None, filters: Any = None) -> SlowChatEngine:
    return SlowChatEngine(settings=settings, filters=filters, delay=0)


def fake_match(profile: Any, include_unmet: bool) -> Any:
    """A MatchResult with ~20 KB of measures for any profile (what the export files are made of)."""
    from assistant.decisions.eligibility import FITS, MAY_FIT, ConditionCheck, MatchResult, MeasureMatch

    measures = []
    for i in range(20):
        cite = _citation(i + 1, WENZHOU, "第三条 支持小微企业升规", WZ_TEXT * 3, WZ_QUOTE)
        measures.append(
            MeasureMatch(
                measure_id=f"wz-xsg:{i}",
                title=f"小升规奖励 {i}",
                text=WZ_TEXT * 3,
                doc_id=WENZHOU.doc_id,
                doc_title=WENZHOU.title,
                jurisdiction=WENZHOU.jurisdiction,
                date=WENZHOU.date,
                scope="本地",
                status=FITS if i % 2 else MAY_FIT,
                conditions=[ConditionCheck("size", "首次纳入规模以上工业统计", "unknown", "画像未说明")],
                benefit="10万元",
                department="市经信局",
                citation=cite,
            )
        )
    return MatchResult(profile=profile, location_path=WENZHOU.jurisdiction, measures=measures)


def slow_match(profile: Any, include_unmet: bool) -> Any:
    slow_wait(10.0)
    return fake_match(profile, include_unmet)
