"""The Gradio chat UI: the app factory ``build_app`` (serving it is ``assistant.server``'s job).

One chat session per browser session lives in a ``gr.State`` (``ui_chat.ChatSession``: the engine keeps
the conversation memory, the session keeps what the UI shows). ``/chat`` is the API endpoint for
``gradio_client``. Every handler runs its work under ``Settings.request_timeout`` (``ui_deadline``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from assistant.settings import Settings, get_settings, prepare_offline_environment

prepare_offline_environment()  # before gradio loads: analytics off, no outside lookups

import gradio as gr  # noqa: E402

from assistant.ui.chat import (  # noqa: E402
    ChatEngine,
    ChatEngineFactory,
    ChatSession,
    EngineSource,
    chat_messages,
    make_filters,
)
from assistant.ui.dates import CHAT_VALIDITY, date_fields  # noqa: E402
from assistant.ui.deadline import Runner  # noqa: E402
from assistant.ui.feedback import FEEDBACK_CSS, REASONS, FeedbackHandlers, owner_of, recorder  # noqa: E402
from assistant.ui.match_tab import MATCH_CSS, Matcher, build_match_tab, default_matcher, place_finder  # noqa: E402
from assistant.ui.render import (  # noqa: E402
    CSS,
    EMPTY_SOURCES,
    EXTRACTIVE_LABEL,
    HEAD_JS,
    filters_line,
    render_sources,
)
from assistant.ui.safety import PolicyBlocks  # noqa: E402

__all__ = ["ChatEngine", "ChatEngineFactory", "ChatSession", "EngineSource", "build_app", "make_filters"]

log = logging.getLogger(__name__)

TITLE = "政策问答"
EXAMPLES = [
    "温州对首次小升规企业奖励多少？",
    "专精特新中小企业可以享受哪些支持？",
    "首贷户贷款有什么贴息政策？",
    "企业引进高层次人才有哪些补贴？",
]
FONTS = ["Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]
MONO_FONTS = ["Noto Sans Mono CJK SC", "ui-monospace", "monospace"]


def _default_factory(settings: Settings | None = None, filters: Any = None) -> ChatEngine:
    import assistant

    return assistant.build_chat_engine(settings=settings, filters=filters)


def _document_choices(documents: Sequence[Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    # The engine matches a jurisdiction filter against any path component ("浙江省", "温州市").
    paths: dict[str, str] = {}
    for d in documents:
        parts = [p for p in (d.jurisdiction or "").split("/") if p]
        for i, part in enumerate(parts):
            paths.setdefault(part, "/".join(parts[: i + 1]))
    places = [(path, part) for part, path in sorted(paths.items(), key=lambda kv: (kv[0] != "全国", kv[1]))]
    docs = []
    for d in sorted(documents, key=lambda d: (d.jurisdiction, d.date or "", d.title)):
        label = f"《{d.title}》" + (f"（{d.doc_number}）" if d.doc_number else "")
        docs.append((label, d.doc_id))
    return places, docs


def open_ui_history(settings: Settings) -> Any | None:
    """The history store, or None when it cannot be opened (the chat still works, unrecorded)."""
    try:
        from assistant.storage import open_history

        return open_history(settings)
    except Exception as exc:
        log.error("history store unavailable, UI turns are not recorded: %s", exc)
        return None


class ChatHandlers:
    """The chat tab's event handlers; module-level so tests can call them without a browser."""

    def __init__(self, source: EngineSource, runner: Runner, titles: dict[str, str], history: Any = None) -> None:
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
        """The chat box: stream the turn into the chatbot and the sources panel."""
        session = self.session_of(state)
        session.owner = owner_of(request)
        message = (message or "").strip()
        if not message:
            yield chat_messages(session), render_sources(session.turns), session, ""
            return
        for _turn in self._ask(session, message, jurisdictions, docs, as_of, validity):
            yield chat_messages(session), render_sources(session.turns), session, ""

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
        """Answer one message (follow-ups use this session's history); returns text with [n] and sources."""
        session = self.session_of(state)
        session.owner = owner_of(request)
        message = (message or "").strip()
        if not message:
            raise gr.Error("问题不能为空。")
        for turn in self._ask(session, message, jurisdictions, documents, as_of, validity):
            if turn.error:
                raise gr.Error(turn.error if turn.user_error else f"出错了：{turn.error}")
            yield turn.text, render_sources(session.turns), session

    def new_chat(self, state: Any):
        session = self.session_of(state)
        session.reset()
        return [], EMPTY_SOURCES, session, "", gr.update(visible=False)


def build_app(
    settings: Settings | None = None,
    chat_engine_factory: ChatEngineFactory | None = None,
    documents: Sequence[Any] | None = None,
    engine_source: EngineSource | None = None,
    matcher: Matcher | None = None,
    history: Any = None,
) -> gr.Blocks:
    """The Blocks app: a chat tab and a 政策找人 tab. Tests pass a fake ``chat_engine_factory`` and ``documents``.

    ``history``: the store answered turns and feedback go to (default: ``open_history(settings)``).
    """
    settings = settings or get_settings()
    if documents is None:
        import assistant

        documents = assistant.list_documents(settings)
    source = engine_source or EngineSource(chat_engine_factory or _default_factory, settings)
    runner = Runner(settings.request_timeout, settings.ui_workers)
    place_choices, doc_choices = _document_choices(documents)
    history = history if history is not None else open_ui_history(settings)
    chat = ChatHandlers(source, runner, {d.doc_id: d.title for d in documents}, history)
    feedback = FeedbackHandlers(history, runner, chat.session_of, settings.max_question_chars)
    answerer = f"大模型 {settings.llm_model}" if settings.llm_enabled else EXTRACTIVE_LABEL

    theme = gr.themes.Soft(font=FONTS, font_mono=MONO_FONTS)
    ttl = max(1, int(settings.export_ttl))
    with PolicyBlocks(title=TITLE, fill_width=True, analytics_enabled=False, delete_cache=(ttl, ttl)) as demo:
        demo.pqa_launch_kwargs = {"css": CSS + MATCH_CSS + FEEDBACK_CSS, "head": HEAD_JS, "theme": theme}  # type: ignore[attr-defined]
        state = gr.State(None)
        gr.HTML(
            f'<div class="pqa-header"><h1 style="margin:0">{TITLE}</h1>'
            f'<div class="pqa-filters">依据所收录的惠企政策文件回答；点击回答中的 [1]、[2] 查看原文。'
            f"回答方式：{answerer}</div></div>"
        )
        with gr.Tab("政策问答", elem_id="pqa-tab-chat"), gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                with gr.Accordion("筛选（用于下一个问题）", open=False):
                    with gr.Row():
                        places = gr.Dropdown(
                            choices=place_choices, multiselect=True, label="地区", value=[], min_width=200
                        )
                        docs = gr.Dropdown(
                            choices=doc_choices, multiselect=True, label="文件", value=[], min_width=200
                        )
                    with gr.Row():
                        as_of, validity = date_fields("pqa-asof", "pqa-validity", CHAT_VALIDITY)
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
                    render_markdown=False,  # messages are HTML built by ui_render; user Markdown stays text
                    latex_delimiters=[],
                    buttons=[],
                    feedback_options=("Like", "Dislike"),
                    placeholder="请输入关于惠企政策的问题，例如奖励标准、申报条件、适用对象。",
                )
                with gr.Row():
                    box = gr.Textbox(
                        placeholder="输入问题，按回车发送",
                        show_label=False,
                        scale=5,
                        min_width=200,
                        elem_id="pqa-input",
                        autofocus=True,
                        max_length=settings.max_question_chars,
                    )
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

        with gr.Tab("政策找人", elem_id="pqa-tab-match"):
            local_places = [part for _, part in place_choices if part != "全国"]
            if matcher is None:
                build_match_tab(local_places, default_matcher(settings), settings, runner, place_finder(settings))
            else:
                build_match_tab(local_places, matcher, settings, runner)

        gr.on(
            triggers=[box.submit, send.click],
            fn=chat.respond,
            inputs=[box, places, docs, state, as_of, validity],
            outputs=[chatbot, sources, state, box],
            api_visibility="private",
            show_progress="hidden",
        ).then(feedback.choices, None, [past], api_visibility="private", show_progress="hidden")
        cleared = [chatbot, sources, state, box, reason_row]
        clear.click(chat.new_chat, [state], cleared, api_visibility="private")
        chatbot.clear(chat.new_chat, [state], cleared, api_visibility="private")
        chatbot.like(
            feedback.on_like, [state], [reason_row, reason, comment, state, status], api_visibility="private"
        )
        submit.click(
            feedback.submit_reason, [state, reason, comment], [reason_row, state, status], api_visibility="private"
        )
        demo.load(feedback.choices, None, [past], api_visibility="private", show_progress="hidden")
        refresh.click(feedback.choices, None, [past], api_visibility="private")
        past.input(feedback.reopen, [past, state], [chatbot, sources, state, status], api_visibility="private")

        # The /chat API endpoint (gradio_client): hidden message in, answer text + sources panel out.
        with gr.Row(visible=False):
            api_message = gr.Textbox(label="message")
            api_answer = gr.Textbox(label="answer")
            api_button = gr.Button("api")
        api_button.click(
            chat.api_chat,
            [api_message, places, docs, state, as_of, validity],
            [api_answer, sources, state],
            api_name="chat",
            api_description="Ask a question; follow-ups use this client's session. Returns (answer text with [n], sources HTML).",
        )
    return demo
