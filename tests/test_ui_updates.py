"""How much the chat re-renders and re-sends per answer: one update per batch of text the engine has ready,
and each answered turn's sources rendered once (a long conversation must not cost more per answer)."""

from __future__ import annotations

import pytest
from ui_fakes import FakeChatEngine, fake_filters  # noqa: F401

import assistant.ui.render as ui_render
from assistant.core.schema import Answer
from assistant.settings import Settings
from assistant.ui.app import EngineSource
from assistant.ui.chat import ChatSession
from assistant.ui.deadline import Runner
from assistant.ui.render import Turn, render_sources


class _AheadRunner(Runner):
    """A worker that has run ahead of the page: the whole job is done before the handler looks (the extractive
    answerer's text is all there at once); the handler then sees everything it produced."""

    def stream(self, make, deadline):  # noqa: ANN001, ANN201 - same as Runner.stream
        yield from list(make())


@pytest.mark.usefixtures("fake_filters")
def test_text_ready_at_once_is_one_update_not_one_per_chunk() -> None:
    engines = EngineSource(lambda settings=None, filters=None: FakeChatEngine(settings, filters, 0), Settings())
    session = ChatSession(engines, _AheadRunner(30, 1))
    shown = [t.text for t in session.ask("温州对首次小升规企业奖励多少？", [], [], "")]
    final = session.turns[-1].answer
    assert final is not None and len(final.text) > 12  # the fake hands it out 6 characters at a time
    assert shown == ["", final.text]  # was one update per chunk, then one more for the text before the answer


@pytest.mark.usefixtures("fake_filters")
def test_slow_chunks_still_stream_one_by_one() -> None:
    session = ChatSession(EngineSource(lambda settings=None, filters=None: FakeChatEngine(settings, filters, 0.05), Settings()))
    shown = [t.text for t in session.ask("温州对首次小升规企业奖励多少？", [], [], "")]
    final = session.turns[-1].answer
    assert final is not None
    assert len(shown) >= 4 and shown[-1] == final.text
    assert all(a != b and b.startswith(a) for a, b in zip(shown[:-2], shown[1:-1], strict=True))


def _answered(number: int) -> Turn:
    engine = FakeChatEngine(delay=0)
    return Turn(number=number, question=f"问题{number}", answer=engine._answer("温州对首次小升规企业奖励多少？"))


def test_each_turns_sources_are_rendered_once(monkeypatch) -> None:
    calls: list[int] = []
    real = ui_render.render_citation

    def counting(turn: int, *args, **kwargs) -> str:
        calls.append(turn)
        return real(turn, *args, **kwargs)

    turns = [_answered(n) for n in (1, 2, 3)]
    first = render_sources(turns)
    monkeypatch.setattr(ui_render, "render_citation", counting)
    assert render_sources(turns) == first and calls == []  # was: every turn's citations again
    turns.append(_answered(4))
    html = render_sources(turns)
    assert set(calls) == {4} and "第 4 问" in html
    old = turns[0].answer
    assert old is not None
    turns[0].answer = Answer(text="另一个回答", citations=[], answerable=False)
    assert render_sources(turns) != html  # a replaced answer is rendered afresh
