"""What one chat question costs the server beyond the engine: which outputs each update carries, how often a
finished message is rendered, Gradio's per-event bookkeeping, and the chat events' admission."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest
from ui_fakes import DOCUMENTS, FakeChatEngine, fake_factory, fake_filters  # noqa: F401

import assistant.ui.render as ui_render
from assistant.settings import Settings
from assistant.ui.app import ChatHandlers, EngineSource, build_app
from assistant.ui.deadline import Runner

QUESTION = "温州对首次小升规企业奖励多少？"


def _skipped(value: object) -> bool:
    return value == gr.skip()


def _handlers(delay: float = 0) -> ChatHandlers:
    settings = Settings()
    source = EngineSource(lambda settings=None, filters=None: FakeChatEngine(settings, filters, delay), settings)
    return ChatHandlers(source, Runner(30, 1), {})


@pytest.mark.usefixtures("fake_filters")
def test_page_updates_carry_only_what_changed() -> None:
    """First update: the question (the sources panel is unchanged); streaming: the chatbot alone; last: sources."""
    chat = _handlers(delay=0.03)  # a token stream: several updates before the answer
    *_, (_, _, session, _) = chat.respond(QUESTION, [], [], None)  # one earlier answer in the panel
    updates = list(chat.respond("首次升规的工业企业有什么奖励？", [], [], session))
    assert len(updates) >= 3
    first, *middle, last = updates
    assert _skipped(first[1]) and first[2] is session and first[3] == ""
    assert middle and all(_skipped(u[1]) and _skipped(u[2]) and _skipped(u[3]) for u in middle)
    assert all(not _skipped(u[0]) for u in updates)  # the chatbot shows every step
    assert "第 2 问" in last[1] and "第 1 问" in last[1] and last[2] is session


@pytest.mark.usefixtures("fake_filters")
def test_history_list_comes_with_the_last_update() -> None:
    """The 历史对话 list is refreshed in the answer's last update, not by a second event per question."""
    chat = _handlers(delay=0.03)
    listed: list[object] = []

    def listing(request: object) -> dict:
        listed.append(request)
        return gr.update(choices=[("温州", "c1")], value=None)

    updates = list(chat.respond_listing(listing, QUESTION, [], [], None))
    assert len(listed) == 1 and updates[-1][4]["choices"] == [("温州", "c1")]
    assert all(_skipped(u[4]) for u in updates[:-1])
    assert [u[:4] for u in updates][-1][2].turns[0].answer is not None


@pytest.mark.usefixtures("fake_filters")
def test_api_chat_sends_no_placeholder() -> None:
    chat = _handlers(delay=0.03)
    *streamed, (text, sources, session) = list(chat.api_chat(QUESTION, [], [], None))
    answer = session.turns[-1].answer
    assert answer is not None and text == answer.text and "pqa-src-1-1" in sources
    assert streamed and all(u[0] and "pqa-src-1-1" not in u[1] for u in streamed)  # never the empty placeholder
    assert len(list(_handlers(delay=0).api_chat(QUESTION, [], [], None))) == 1  # a ready answer: one update


@pytest.mark.usefixtures("fake_filters")
def test_a_ready_answer_is_one_update(monkeypatch: pytest.MonkeyPatch) -> None:
    """The extractive answer is all there at once: the page gets the question, then the answer: two updates."""
    chat = _handlers(delay=0)
    updates = list(chat.respond(QUESTION, [], [], None))
    assert len(updates) == 2 and not _skipped(updates[-1][1])


@pytest.mark.usefixtures("fake_filters")
def test_finished_messages_are_rendered_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each update resends the chat; answered turns come from their cached HTML, only the new one is rendered."""
    chat = _handlers(delay=0)
    session = None
    for q in (QUESTION, "首次升规的工业企业有什么奖励？", QUESTION):
        *_, (_, _, session, _) = chat.respond(q, [], [], session)
    rendered: list[int] = []
    real = ui_render._render_answer

    def counting(turn: ui_render.Turn) -> str:
        rendered.append(turn.number)
        return real(turn)

    monkeypatch.setattr(ui_render, "_render_answer", counting)
    *_, (messages, _, session, _) = chat.respond("首次升规的工业企业有什么奖励？", [], [], session)
    assert len(messages) == 8 and set(rendered) == {4}  # was: turns 1-3 again on every update
    turn = session.turns[0]
    turn.error = "出错了"  # what a message shows changed: rendered afresh
    assert "出错了" in ui_render.render_answer(turn) and rendered[-1] == 1


@pytest.mark.usefixtures("fake_filters")
def test_queue_builds_no_monitoring_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Gradio would build a DataFrame of the last 10,000 events after every event, for a dashboard that is off."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'h.sqlite3'}")
    demo = build_app(settings, chat_engine_factory=fake_factory, documents=DOCUMENTS)
    demo.queue(default_concurrency_limit=2)  # as the server does: the override survives a new queue

    def no_dataframes(_records: object) -> None:
        raise AssertionError("monitoring summary computed")

    monkeypatch.setattr(type(demo._queue), "_get_df", staticmethod(no_dataframes))
    records = [{"time": 0.0, "status": "success", "process_time": 0.1, "function": "chat", "session_hash": "s"}]
    demo._queue.events_recorded += 5
    assert demo._queue.compute_analytics_summary(records) == {"functions": {}}


@pytest.mark.usefixtures("fake_filters")
def test_chat_events_share_their_own_admission_limit(tmp_path: Path) -> None:
    """Page questions and /chat calls are admitted up to ui_chat_concurrency (then wait for ui_workers), not
    queued behind Gradio's default limit of ui_workers."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'h.sqlite3'}", ui_chat_concurrency=7, ui_workers=2)
    demo = build_app(settings, chat_engine_factory=fake_factory, documents=DOCUMENTS)
    chat_fns = [fn for fn in demo.fns.values() if getattr(fn.fn, "__name__", "") in ("ask", "api_chat")]
    assert len(chat_fns) == 2
    assert {fn.concurrency_limit for fn in chat_fns} == {7} and len({fn.concurrency_id for fn in chat_fns}) == 1


@pytest.mark.usefixtures("fake_filters")
def test_load_driver_speaks_the_page_queue_protocol(tmp_path: Path) -> None:
    """The UI load driver joins Gradio's queue and reads the session's event stream as a page does, one
    connection and session per conversation: follow-ups share the session, ``reset`` opens a new one."""
    from assistant.server import serving
    from eval.load_ui import UiConversation

    settings = Settings(answerer="extractive", database_url=f"sqlite:///{tmp_path / 'h.sqlite3'}")
    with serving(settings, chat_engine_factory=fake_factory, documents=DOCUMENTS) as url:
        first, second = UiConversation(url), UiConversation(url)
        assert first.session_hash != second.session_hash
        assert "10万元" in first.ask(QUESTION, 30)
        before = first.session_hash
        first.reset()
        assert first.session_hash != before and "10万元" in first.ask(QUESTION, 30)
        first.close()
        second.close()
