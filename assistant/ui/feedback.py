"""👍/👎 on answers and the list of past conversations, backed by the history store (``assistant.storage``).

Every answered UI turn is recorded (``channel="ui"``). A 👍 or 👎 is stored at once; after 👎 a row asks
for a reason (and an optional comment) and 提交 replaces the bare 👎 with the reasoned one. "历史对话"
lists this user's past conversations (owner ``ui:<login>``; ``ui:`` without a password, where the UI is
loopback-only); choosing one shows its turns and the chat continues it (the engine is given those turns).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gradio as gr

from assistant.core.schema import Answer, Citation
from assistant.ui.chat import ChatSession, chat_messages
from assistant.ui.deadline import DeadlineExceeded, Runner
from assistant.ui.render import EMPTY_SOURCES, Turn, esc, render_sources

if TYPE_CHECKING:
    from assistant.storage import ConversationSummary, History, TurnRecord

log = logging.getLogger(__name__)

REASONS = ("答案错误", "引用不对", "没找到", "其他")
THANKS = "已记录，感谢反馈。"
ASK_REASON = "已记录 👎。可以选择原因后点“提交”，帮助我们改进。"
NOT_SAVED = "这条回答没有保存，无法评价。"
NO_HISTORY = "历史记录不可用。"
def owner_of(request: gr.Request | None) -> str:
    """History owner of a UI visitor: its login, or "ui:" on a UI without a password."""
    user = getattr(request, "username", None) if request is not None else None
    return f"ui:{user or ''}"


def _citation_dict(c: Citation) -> dict[str, Any]:
    from assistant.api.chat import citation_dict  # the API stores citations in the same shape

    return citation_dict(c)


def _build_id(session: ChatSession) -> str:
    from assistant.api.engines import build_id_of

    return build_id_of(session.engine) if session.engine is not None else ""


def recorder(history: History) -> Callable[[ChatSession, Turn], None]:
    """``ChatSession.on_answer``: store one answered turn as a ``TurnRecord`` (channel "ui")."""
    from assistant.storage import TurnRecord

    def record(session: ChatSession, turn: Turn) -> None:
        answer = turn.answer
        if answer is None:
            return
        timings = {k: float(v) for k, v in answer.timings.items()}
        if turn.seconds is not None:
            timings["ui_ms"] = round(turn.seconds * 1000, 2)
        history.record_turn(
            TurnRecord(
                id=turn.turn_id,
                conversation_id=session.conversation_id,
                channel="ui",
                question=turn.question,
                answer=answer.text,
                citations=[_citation_dict(c) for c in answer.citations],
                answerable=answer.answerable,
                build_id=_build_id(session),
                answerer=answer.answerer,
                timings=timings,
                owner=session.owner,
            )
        )

    return record


def _citation(d: dict[str, Any]) -> Citation:
    fields = Citation.__dataclass_fields__
    return Citation(**{k: v for k, v in d.items() if k in fields})


def turn_of(record: TurnRecord, number: int) -> Turn:
    """A stored turn as the chat shows it (a comparison table comes back as its text form)."""
    answer = Answer(
        text=record.answer,
        answerable=record.answerable,
        citations=[_citation(d) for d in record.citations],
        answerer=record.answerer,
    )
    return Turn(number=number, question=record.question, text=record.answer, answer=answer, turn_id=record.id)


def _status(text: str) -> str:
    return f'<div class="pqa-feedback-status">{esc(text)}</div>'


class FeedbackHandlers:
    """Event handlers of the feedback row and the 历史对话 list (callable directly in tests)."""

    def __init__(
        self, history: History | None, runner: Runner, session_of: Callable[[Any], ChatSession], max_comment: int
    ) -> None:
        self.history = history
        self.runner = runner
        self.session_of = session_of
        self.max_comment = max_comment

    def _call(self, fn: Callable[[], Any]) -> Any:
        return self.runner.call(fn, self.runner.deadline())

    def _store(self, turn_id: str, rating: str, reason: str | None = None, comment: str | None = None) -> str:
        from assistant.storage import UnknownTurnError

        if self.history is None:
            return NO_HISTORY
        try:
            self._call(lambda: self.history.add_feedback(turn_id, rating, reason, comment))
        except UnknownTurnError:
            return NOT_SAVED
        except DeadlineExceeded as exc:
            return str(exc)
        except Exception as exc:
            log.error("storing feedback failed: %s", type(exc).__name__)
            return "反馈没有保存成功，请稍后再试。"
        return ""

    def on_like(self, state: Any, data: gr.LikeData):
        """👍 / 👎 on an answer: store it; after 👎 show the reason row (returns row, reason, comment, status)."""
        session = self.session_of(state)
        hidden = gr.update(visible=False)
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        rating = {True: "up", "Like": "up", False: "down", "Dislike": "down"}.get(data.liked)
        number = int(index) // 2  # messages alternate question, answer
        if rating is None or int(index) % 2 == 0 or number >= len(session.turns):
            return hidden, gr.update(), gr.update(), session, _status("")
        turn = session.turns[number]
        problem = NOT_SAVED if turn.answer is None else self._store(turn.turn_id, rating)
        if problem or rating == "up":
            session.pending_feedback = None
            return hidden, gr.update(), gr.update(), session, _status(problem or THANKS)
        session.pending_feedback = turn.turn_id
        return gr.update(visible=True), gr.update(value=None), gr.update(value=""), session, _status(ASK_REASON)

    def submit_reason(self, state: Any, reason: str | None, comment: str | None):
        """提交 after 👎: the reason and comment replace the bare 👎 (returns row, status)."""
        session = self.session_of(state)
        turn_id = session.pending_feedback
        if turn_id is None:
            return gr.update(visible=False), session, _status("")
        reason = reason if reason in REASONS else None
        comment = (comment or "").strip()[: self.max_comment] or None
        problem = self._store(turn_id, "down", reason, comment)
        if not problem:
            session.pending_feedback = None
        return gr.update(visible=bool(problem)), session, _status(problem or THANKS)

    def choices(self, request: gr.Request | None = None):
        """The 历史对话 dropdown: this user's past conversations, newest first."""
        if self.history is None:
            return gr.update(choices=[], value=None)
        owner = owner_of(request)
        try:
            found = self._call(lambda: self.history.list_conversations(owner=owner))
        except Exception as exc:
            log.error("listing conversations failed: %s", type(exc).__name__)
            return gr.update(choices=[], value=None)
        return gr.update(choices=[(_label(c), c.id) for c in found], value=None)

    def reopen(self, conversation_id: str | None, state: Any, request: gr.Request | None = None):
        """Show a past conversation in the chat and continue it (returns chatbot, sources, state, status)."""
        session = self.session_of(state)
        if not conversation_id or self.history is None:
            return gr.update(), gr.update(), session, _status("")
        owner = owner_of(request)
        try:
            records = self._call(lambda: self.history.conversation_turns(conversation_id))
        except Exception as exc:
            log.error("reopening a conversation failed: %s", type(exc).__name__)
            return gr.update(), gr.update(), session, _status("无法打开这段对话，请稍后再试。")
        if not records or any(r.owner != owner for r in records):  # only one's own conversations
            return gr.update(), gr.update(), session, _status("没有找到这段对话。")
        session.load(conversation_id, [turn_of(r, i) for i, r in enumerate(records, start=1)])
        session.owner = owner
        sources = render_sources(session.turns) if session.turns else EMPTY_SOURCES
        return chat_messages(session), sources, session, _status(f"已打开：{len(records)} 问，可以接着提问。")


def _label(c: ConversationSummary) -> str:
    when = c.updated_at.astimezone().strftime("%m-%d %H:%M")
    return f"{c.title}（{c.turns} 问，{when}）"
