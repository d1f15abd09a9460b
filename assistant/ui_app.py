"""The Gradio chat UI: app factory (``build_app``), safe launch (``launch``) and the CLI (``main``).

One chat engine per browser session lives in a ``gr.State``; the engine keeps the conversation
memory, the UI keeps what it shows. ``/chat`` is the API endpoint for ``gradio_client``.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from assistant.settings import Settings, get_settings, prepare_offline_environment

prepare_offline_environment()  # before gradio loads: analytics off, no outside lookups

import gradio as gr  # noqa: E402

from assistant.answers import Answer  # noqa: E402
from assistant.engine import InvalidQuestionError  # noqa: E402
from assistant.retrieval import UnknownFilterError  # noqa: E402
from assistant.ui_match import MATCH_CSS, Matcher, build_match_tab, default_matcher, place_finder  # noqa: E402
from assistant.ui_render import (  # noqa: E402
    CSS,
    EMPTY_SOURCES,
    EXTRACTIVE_LABEL,
    HEAD_JS,
    Turn,
    filters_line,
    render_answer,
    render_sources,
)

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


class ChatEngine(Protocol):
    """The part of the engine contract the UI uses."""

    def stream_answer(self, message: str) -> Iterator[str | Answer]: ...
    def reset(self) -> None: ...
    def set_filters(self, filters: Any) -> None: ...


ChatEngineFactory = Callable[..., ChatEngine]  # factory(settings=..., filters=...)


def _default_factory(settings: Settings | None = None, filters: Any = None) -> ChatEngine:
    import assistant

    return assistant.build_chat_engine(settings=settings, filters=filters)


def make_filters(jurisdictions: Sequence[str], documents: Sequence[str]) -> Any:
    from assistant import Filters

    return Filters(jurisdictions=list(jurisdictions), documents=list(documents))


class EngineSource:
    """Builds engines; ``prewarm`` builds one ahead so the first question does not pay the load."""

    def __init__(self, factory: ChatEngineFactory, settings: Settings) -> None:
        self._factory = factory
        self._settings = settings
        self._spare: ChatEngine | None = None
        self._lock = threading.Lock()

    def prewarm(self) -> None:
        try:
            engine = self._factory(settings=self._settings, filters=None)
        except Exception:  # the first question will show the error to the user
            log.exception("warm-up of the chat engine failed")
            return
        with self._lock:
            if self._spare is None:
                self._spare = engine

    def get(self, filters: Any) -> ChatEngine:
        with self._lock:
            engine, self._spare = self._spare, None
        if engine is None:
            return self._factory(settings=self._settings, filters=filters)
        engine.set_filters(filters)
        return engine


class ChatSession:
    """One browser (or API client) session: its own engine and the turns it has shown."""

    def __init__(self, source: EngineSource) -> None:
        self._source = source
        self.engine: ChatEngine | None = None
        self.turns: list[Turn] = []
        self._applied: tuple[tuple[str, ...], tuple[str, ...]] | None = None

    def _engine(self, jurisdictions: Sequence[str], documents: Sequence[str]) -> ChatEngine:
        wanted = (tuple(jurisdictions), tuple(documents))
        if self.engine is None:
            self.engine = self._source.get(make_filters(jurisdictions, documents))
        elif wanted != self._applied:
            self.engine.set_filters(make_filters(jurisdictions, documents))
        self._applied = wanted
        return self.engine

    def ask(
        self, message: str, jurisdictions: Sequence[str], documents: Sequence[str], filters_text: str
    ) -> Iterator[Turn]:
        """Yield the turn as it streams; the last yield has ``answer`` (or ``error``) set."""
        turn = Turn(number=len(self.turns) + 1, question=message, filters=filters_text)
        self.turns.append(turn)
        started = time.perf_counter()
        yield turn
        try:
            engine = self._engine(jurisdictions, documents)
            for item in engine.stream_answer(message):
                if isinstance(item, Answer):
                    turn.answer, turn.text = item, item.text
                else:
                    turn.text += item
                    yield turn
            if turn.answer is None:
                turn.error = "回答没有完成，请重试。"
        except (InvalidQuestionError, UnknownFilterError) as exc:  # the user's to fix: say so plainly
            log.info("question rejected: %s", exc)
            turn.error = str(exc)
            turn.user_error = True
        except Exception as exc:
            log.exception("answering failed")
            turn.error = str(exc) or type(exc).__name__
        turn.seconds = time.perf_counter() - started
        yield turn

    def reset(self) -> None:
        if self.engine is not None:
            self.engine.reset()
        self.turns.clear()


def _chat_messages(session: ChatSession) -> list[dict[str, str]]:
    from assistant.ui_render import esc

    messages: list[dict[str, str]] = []
    for turn in session.turns:
        messages.append({"role": "user", "content": esc(turn.question)})
        messages.append({"role": "assistant", "content": render_answer(turn)})
    return messages


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


def build_app(
    settings: Settings | None = None,
    chat_engine_factory: ChatEngineFactory | None = None,
    documents: Sequence[Any] | None = None,
    engine_source: EngineSource | None = None,
    matcher: Matcher | None = None,
) -> gr.Blocks:
    """The Blocks app: a chat tab and a 政策找人 tab. Tests pass a fake ``chat_engine_factory`` and ``documents``."""
    settings = settings or get_settings()
    if documents is None:
        import assistant

        documents = assistant.list_documents(settings)
    source = engine_source or EngineSource(chat_engine_factory or _default_factory, settings)
    titles = {d.doc_id: d.title for d in documents}
    place_choices, doc_choices = _document_choices(documents)
    answerer = f"大模型 {settings.llm_model}" if settings.llm_enabled else EXTRACTIVE_LABEL

    def session_of(state: ChatSession | None) -> ChatSession:
        return state if isinstance(state, ChatSession) else ChatSession(source)

    def respond(message: str, jurisdictions: list[str] | None, docs: list[str] | None, state: Any):
        session = session_of(state)
        message = (message or "").strip()
        if not message:
            yield _chat_messages(session), render_sources(session.turns), session, ""
            return
        places, picked = list(jurisdictions or []), list(docs or [])
        label = filters_line(places, [titles.get(d, d) for d in picked])
        for _turn in session.ask(message, places, picked, label):
            yield _chat_messages(session), render_sources(session.turns), session, ""

    def api_chat(message: str, jurisdictions: list[str] | None, documents: list[str] | None, state: Any):
        """Answer one message (follow-ups use this session's history); returns text with [n] and sources."""
        session = session_of(state)
        message = (message or "").strip()
        if not message:
            raise gr.Error("问题不能为空。")
        places, picked = list(jurisdictions or []), list(documents or [])
        label = filters_line(places, [titles.get(d, d) for d in picked])
        for turn in session.ask(message, places, picked, label):
            if turn.error:
                raise gr.Error(turn.error if turn.user_error else f"出错了：{turn.error}")
            yield turn.text, render_sources(session.turns), session

    def new_chat(state: Any):
        session = session_of(state)
        session.reset()
        return [], EMPTY_SOURCES, session, ""

    theme = gr.themes.Soft(font=FONTS, font_mono=MONO_FONTS)
    with gr.Blocks(title=TITLE, fill_width=True, analytics_enabled=False) as demo:
        demo.pqa_launch_kwargs = {"css": CSS + MATCH_CSS, "head": HEAD_JS, "theme": theme}  # type: ignore[attr-defined]
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
                chatbot = gr.Chatbot(
                    label="对话",
                    elem_id="pqa-chat",
                    height=520,
                    sanitize_html=True,
                    buttons=[],
                    feedback_options=None,
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
                gr.Examples(examples=[[q] for q in EXAMPLES], inputs=[box], label="示例问题")
            with gr.Column(scale=2, min_width=300, elem_id="pqa-sources-col"):
                gr.Markdown("### 来源")
                sources = gr.HTML(EMPTY_SOURCES, label="sources", elem_id="pqa-sources")

        with gr.Tab("政策找人", elem_id="pqa-tab-match"):
            local_places = [part for _, part in place_choices if part != "全国"]
            if matcher is None:
                build_match_tab(local_places, default_matcher(settings), place_finder(settings))
            else:
                build_match_tab(local_places, matcher)

        gr.on(
            triggers=[box.submit, send.click],
            fn=respond,
            inputs=[box, places, docs, state],
            outputs=[chatbot, sources, state, box],
            api_visibility="private",
            show_progress="hidden",
        )
        clear.click(new_chat, [state], [chatbot, sources, state, box], api_visibility="private")
        chatbot.clear(new_chat, [state], [chatbot, sources, state, box], api_visibility="private")

        # The /chat API endpoint (gradio_client): hidden message in, answer text + sources panel out.
        with gr.Row(visible=False):
            api_message = gr.Textbox(label="message")
            api_answer = gr.Textbox(label="answer")
            api_button = gr.Button("api")
        api_button.click(
            api_chat,
            [api_message, places, docs, state],
            [api_answer, sources, state],
            api_name="chat",
            api_description="Ask a question; follow-ups use this client's session. Returns (answer text with [n], sources HTML).",
        )
    return demo


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError("--auth / POLICY_QA_AUTH must look like user:pass")
    return user, password


def launch(
    demo: gr.Blocks,
    host: str = "127.0.0.1",
    port: int | None = None,
    auth: tuple[str, str] | None = None,
    prevent_thread_lock: bool = False,
    quiet: bool = True,
) -> None:
    """Launch with the safe options: no share link, no extra file access, no SSR/MCP/PWA."""
    if not is_loopback(host) and auth is None:
        raise ValueError(f"refusing to bind {host} without auth")
    demo.queue(default_concurrency_limit=1)
    demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        share=False,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        show_error=False,
        allowed_paths=None,
        max_file_size="1kb",
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
        inbrowser=False,
        **getattr(demo, "pqa_launch_kwargs", {}),
    )


def parse_args(argv: Sequence[str] | None, settings: Settings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ui.py", description="政策问答的网页界面（默认只在本机 127.0.0.1 开放）。"
    )
    parser.add_argument("--host", default=settings.ui_host, help=f"bind address (default {settings.ui_host})")
    parser.add_argument(
        "--port", type=int, default=settings.ui_port, help=f"port (default {settings.ui_port})"
    )
    default_auth = settings.auth.get_secret_value() if settings.auth else None
    parser.add_argument(
        "--auth", default=default_auth, help="user:pass (or POLICY_QA_AUTH); required off loopback"
    )
    parser.add_argument(
        "--no-warmup", action="store_true", help="do not build a chat engine before the first question"
    )
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(
    settings: Settings,
    *,
    chat_engine_factory: Callable[..., Any] | None = None,
    documents: Sequence[Any] | None = None,
) -> Iterator[str]:
    """The app on a free loopback port for the duration of the block (tests, load runs); yields its URL."""
    demo = build_app(settings, chat_engine_factory=chat_engine_factory, documents=documents)
    port = free_port()
    launch(demo, "127.0.0.1", port, prevent_thread_lock=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def main(
    argv: Sequence[str] | None = None, settings: Settings | None = None, started: float | None = None
) -> int:
    started = time.perf_counter() if started is None else started
    settings = settings or get_settings()
    args = parse_args(argv, settings)
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        auth = parse_auth(args.auth)
    except ValueError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    if not is_loopback(args.host) and auth is None:
        print(
            f"拒绝启动：在非本机地址 {args.host} 上开放界面必须设置口令。"
            "请加 --auth 用户名:密码，或设置环境变量 POLICY_QA_AUTH。\n"
            f"Refusing to bind {args.host} without auth: pass --auth user:pass or set POLICY_QA_AUTH.",
            file=sys.stderr,
        )
        return 2
    try:
        source = EngineSource(_default_factory, settings)
        demo = build_app(settings, engine_source=source)
        launch(demo, args.host, args.port, auth, prevent_thread_lock=True, quiet=True)
    except Exception as exc:
        print(f"无法启动界面：{exc}", file=sys.stderr)
        return 1
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print(
        f"{TITLE} 已就绪：http://{shown}:{args.port}（启动用时 {time.perf_counter() - started:.1f} 秒）",
        flush=True,
    )
    if not args.no_warmup:
        threading.Thread(target=source.prewarm, name="engine-warmup", daemon=True).start()
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
    return 0
