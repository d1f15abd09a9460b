"""The "政策问答" tab: its components, its event handlers, and the ``/chat`` API endpoint.

One chat session per browser session lives in a ``gr.State`` (``ui.chat.ChatSession``: the engine keeps
the conversation memory, the session keeps what the UI shows). ``/chat`` is the API endpoint for
``gradio_client``. Every handler runs its work under ``Settings.request_timeout`` (``ui.deadline``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from assistant.settings import Settings
from assistant.ui.chat import ChatSession, EngineSource, chat_messages
from assistant.ui.dates import CHAT_VALIDITY, date_fields
from assistant.ui.deadline import Runner
from assistant.ui.feedback import REASONS, FeedbackHandlers, owner_of, recorder
from assistant.ui.render import EMPTY_SOURCES, filters_line, render_sources

if TYPE_CHECKING:
    from assistant.storage import History

EXAMPLES = [
    "温州对首次小升规企业奖励多少？",
    "专精特新中小企业可以享受哪些支持？",
    "首贷户贷款有什么贴息政策？",
    "企业引进高层次人才有哪些补贴？",
]


class ChatHandlers:
    """The chat tab's event handlers; module-level so tests can call them without a browser."""

    def __init__(self, source: EngineSource, runner: Runner, titles: dict[str, str], history: History | None = None) -> None:
        self.source = source
        self.runner = runner
        self.titles = titles
        self.record = recorder(history) if history is not None else None

    def session_of(self, state: Any) -> ChatSession:
        if isinstance(state, ChatSession):
            return state
        return ChatSession(self.source, self.runner, on_answer=self.record)

    def _ask(
        self, session: ChatSession, message: str, jurisdictions: Any, documents: Any, as_of: Any = None, validity: Any = None
    ) -> Iterator[Any]:
        places, picked = list(jurisdictions or []), list(documents or [])
        day, mode = (as_of or "").strip(), "" if validity in (None, "", "default") else str(validity)
        label = filters_line(places, [self.titles.get(d, d) for d in picked], day, mode)
        return session.ask(message, places, picked, label, day, mode)

    def _open(self, state: Any, request: gr.Request | None, message: str | None) -> tuple[ChatSession, str]:
        """This browser session (owned by the request's login) and the message without outer spaces."""
        session = self.session_of(state)
        session.owner = owner_of(request)
        return session, (message or "").strip()

    def respond(
        self,
        message: str,
        jurisdictions: list[str] | None,
        docs: list[str] | None,
        state: Any,
        as_of: str | None = None,
        validity: str | None = None,
        request: gr.Request | None = None,
    ):
        """The chat box: stream the turn into the chatbot, then its sources into the sources panel.

        Only what changed is sent: the first update shows the question (and empties the box), the ones while
        the answer streams change the chatbot alone, and the last one adds the sources. An unchanged output
        is ``gr.skip()``: the browser neither receives the sources panel (up to ten answers' passages) again
        nor has the box cleared under a user typing the next question. (Gradio still builds a component for
        each skipped output, ~1 ms; a ready extractive answer has no updates in between.)"""
        for _last, outputs in self._respond(message, jurisdictions, docs, state, as_of, validity, request):
            yield outputs

    def respond_listing(self, listing: Any, *args: Any, request: gr.Request | None = None):
        """``respond`` plus the 历史对话 list (``listing(request)``) in its last update: the page refreshes the
        list with the answer instead of sending a second event after every question."""
        for last, outputs in self._respond(*args, request=request):
            yield (*outputs, listing(request) if last else gr.skip())

    def _respond(
        self, message: str, jurisdictions: Any, docs: Any, state: Any, as_of: Any = None, validity: Any = None,
        request: gr.Request | None = None,
    ) -> Iterator[tuple[bool, tuple[Any, ...]]]:  # fmt: skip
        """(is this the last update, the chatbot / sources / state / box outputs)."""
        session, message = self._open(state, request, message)
        if not message:
            yield True, (chat_messages(session), render_sources(session.turns), session, "")
            return
        first = True
        for turn in self._ask(session, message, jurisdictions, docs, as_of, validity):
            if turn.answer is not None or turn.error:  # the last update: the sources of this turn
                yield True, (chat_messages(session), render_sources(session.turns), session, "")
            elif first:  # the sources panel still shows the earlier answers: unchanged
                yield False, (chat_messages(session), gr.skip(), session, "")
            else:
                yield False, (chat_messages(session), gr.skip(), gr.skip(), gr.skip())
            first = False

    def api_chat(
        self,
        message: str,
        jurisdictions: list[str] | None,
        documents: list[str] | None,
        state: Any,
        as_of: str | None = None,
        validity: str | None = None,
        request: gr.Request | None = None,
    ):
        """Answer one message (follow-ups use this session's history); returns text with [n] and sources.

        Streams the text as it grows (an answer that is ready at once is one update); the empty placeholder a
        browser shows while retrieving is not sent. The panel goes with every update: Gradio sends an unchanged
        value as an empty diff, while ``gr.skip()`` would cost it a new component per update."""
        session, message = self._open(state, request, message)
        if not message:
            raise gr.Error("问题不能为空。")
        for turn in self._ask(session, message, jurisdictions, documents, as_of, validity):
            if turn.error:
                raise gr.Error(turn.error if turn.user_error else f"出错了：{turn.error}")
            if turn.text or turn.answer is not None:
                yield turn.text, render_sources(session.turns), session

    def new_chat(self, state: Any):
        session = self.session_of(state)
        session.reset()
        return [], EMPTY_SOURCES, session, "", gr.update(visible=False)



@dataclass
class ChatTab:
    """The chat tab's components that its events read or write."""

    places: gr.Dropdown
    docs: gr.Dropdown
    as_of: gr.Textbox
    validity: gr.Radio
    past: gr.Dropdown
    refresh: gr.Button
    chatbot: gr.Chatbot
    box: gr.Textbox
    send: gr.Button
    clear: gr.Button
    status: gr.HTML
    reason_row: gr.Column
    reason: gr.Radio
    comment: gr.Textbox
    submit: gr.Button
    sources: gr.HTML


def _filters(place_choices: list[tuple[str, str]], doc_choices: list[tuple[str, str]]) -> tuple[Any, ...]:
    """The 筛选 accordion: places, documents, the date and the validity choice."""
    with gr.Accordion("筛选（用于下一个问题）", open=False):
        with gr.Row():
            places = gr.Dropdown(choices=place_choices, multiselect=True, label="地区", value=[], min_width=200)
            docs = gr.Dropdown(choices=doc_choices, multiselect=True, label="文件", value=[], min_width=200)
        with gr.Row():
            as_of, validity = date_fields("pqa-asof", "pqa-validity", CHAT_VALIDITY)
    return places, docs, as_of, validity


def build_chat_tab(
    settings: Settings, place_choices: list[tuple[str, str]], doc_choices: list[tuple[str, str]]
) -> ChatTab:
    """The tab's components, created inside the caller's Blocks."""
    with gr.Tab("政策问答", elem_id="pqa-tab-chat"), gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            places, docs, as_of, validity = _filters(place_choices, doc_choices)
            with gr.Row(equal_height=False):
                past = gr.Dropdown(
                    choices=[], value=None, label="历史对话", elem_id="pqa-history", scale=5, min_width=200
                )
                refresh = gr.Button("刷新", size="sm", scale=0, min_width=60, elem_id="pqa-history-refresh")
            chatbot = gr.Chatbot(
                label="对话",
                elem_id="pqa-chat",
                height=520,
                sanitize_html=True,
                render_markdown=False,  # messages are HTML built by ui.render; user Markdown stays text
                latex_delimiters=[],
                buttons=[],
                feedback_options=("Like", "Dislike"),
                placeholder="请输入关于惠企政策的问题，例如奖励标准、申报条件、适用对象。",
            )
            with gr.Row():
                box = gr.Textbox(
                    placeholder="输入问题，按回车发送", show_label=False, scale=5, min_width=200,
                    elem_id="pqa-input", autofocus=True, max_length=settings.max_question_chars,
                )  # fmt: skip
                send = gr.Button("发送", variant="primary", scale=1, min_width=70, elem_id="pqa-send")
                clear = gr.Button("新对话", scale=1, min_width=70, elem_id="pqa-new")
            status = gr.HTML("", elem_id="pqa-feedback-status")
            with gr.Column(visible=False, elem_id="pqa-feedback") as reason_row:
                reason = gr.Radio(list(REASONS), label="哪里不好？", elem_id="pqa-feedback-reason")
                comment = gr.Textbox(
                    label="补充说明（可选）", lines=1, max_length=settings.max_question_chars,
                    elem_id="pqa-feedback-comment",
                )  # fmt: skip
                submit = gr.Button("提交", size="sm", elem_id="pqa-feedback-submit")
            gr.Examples(examples=[[q] for q in EXAMPLES], inputs=[box], label="示例问题")
        with gr.Column(scale=2, min_width=300, elem_id="pqa-sources-col"):
            gr.Markdown("### 来源")
            sources = gr.HTML(EMPTY_SOURCES, label="sources", elem_id="pqa-sources")
    return ChatTab(
        places, docs, as_of, validity, past, refresh, chatbot, box, send, clear, status, reason_row, reason,
        comment, submit, sources,
    )  # fmt: skip


def wire_chat_tab(
    demo: gr.Blocks, tab: ChatTab, state: gr.State, chat: ChatHandlers, feedback: FeedbackHandlers
) -> None:
    """The tab's events: ask, new chat, 👍/👎 and its reason, the history list; then the ``/chat`` endpoint."""
    t = tab
    # Questions wait for the ui_workers pool under their time budget (as /v1 requests do), not in Gradio's queue.
    admitted = chat.source.settings.ui_chat_concurrency

    def ask(
        message: str, places: Any, docs: Any, state: Any, as_of: Any, validity: Any, request: gr.Request
    ) -> Iterator[tuple[Any, ...]]:
        yield from chat.respond_listing(feedback.choices, message, places, docs, state, as_of, validity, request=request)

    gr.on(
        triggers=[t.box.submit, t.send.click],
        fn=ask,
        inputs=[t.box, t.places, t.docs, state, t.as_of, t.validity],
        outputs=[t.chatbot, t.sources, state, t.box, t.past],
        api_visibility="private",
        show_progress="hidden",
        concurrency_limit=admitted,
        concurrency_id="pqa-chat",
    )
    cleared = [t.chatbot, t.sources, state, t.box, t.reason_row]
    t.clear.click(chat.new_chat, [state], cleared, api_visibility="private")
    t.chatbot.clear(chat.new_chat, [state], cleared, api_visibility="private")
    t.chatbot.like(
        feedback.on_like, [state], [t.reason_row, t.reason, t.comment, state, t.status], api_visibility="private"
    )
    t.submit.click(
        feedback.submit_reason, [state, t.reason, t.comment], [t.reason_row, state, t.status], api_visibility="private"
    )
    demo.load(feedback.choices, None, [t.past], api_visibility="private", show_progress="hidden")
    t.refresh.click(feedback.choices, None, [t.past], api_visibility="private")
    t.past.input(feedback.reopen, [t.past, state], [t.chatbot, t.sources, state, t.status], api_visibility="private")

    # The /chat API endpoint (gradio_client): hidden message in, answer text + sources panel out.
    with gr.Row(visible=False):
        api_message = gr.Textbox(label="message")
        api_answer = gr.Textbox(label="answer")
        api_button = gr.Button("api")
    api_button.click(
        chat.api_chat,
        [api_message, t.places, t.docs, state, t.as_of, t.validity],
        [api_answer, t.sources, state],
        api_name="chat",
        concurrency_limit=admitted,
        concurrency_id="pqa-chat",
        postprocess=False,  # outputs are plain strings already (answer text, sources HTML)
        api_description="Ask a question; follow-ups use this client's session. Returns (answer text with [n], sources HTML).",
    )
