"""The Gradio UI: the app factory ``build_app`` (serving it is ``assistant.server``'s job).

Two tabs: 政策问答 (``ui.chat_tab``: the chat, its sources panel and the ``/chat`` API endpoint) and
政策找人 (``ui.match_tab``). Style sheets and the page script are package data under ``ui/assets/``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING

from assistant.settings import Settings, get_settings, prepare_offline_environment

prepare_offline_environment()  # before gradio loads: analytics off, no outside lookups

import gradio as gr  # noqa: E402

from assistant.ui.chat import (  # noqa: E402
    ChatEngine,
    ChatEngineFactory,
    ChatSession,
    EngineSource,
    make_filters,
)
from assistant.ui.chat_tab import ChatHandlers, build_chat_tab, wire_chat_tab  # noqa: E402
from assistant.ui.deadline import Runner  # noqa: E402
from assistant.ui.feedback import FeedbackHandlers  # noqa: E402
from assistant.ui.match_tab import Matcher, build_match_tab, default_matcher, place_finder  # noqa: E402
from assistant.ui.render import EXTRACTIVE_LABEL  # noqa: E402
from assistant.ui.safety import PolicyBlocks  # noqa: E402

if TYPE_CHECKING:
    from assistant.index.catalog import DocumentInfo
    from assistant.retrieval.retriever import Filters
    from assistant.storage import History

__all__ = [
    "ChatEngine",
    "ChatEngineFactory",
    "ChatHandlers",
    "ChatSession",
    "EngineSource",
    "build_app",
    "make_filters",
]

log = logging.getLogger(__name__)

TITLE = "政策问答"
FONTS = ["Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]
MONO_FONTS = ["Noto Sans Mono CJK SC", "ui-monospace", "monospace"]
STYLE_SHEETS = ("chat.css", "match.css", "feedback.css")


def asset(name: str) -> str:
    """A file of ``assistant/ui/assets/`` (shipped as package data, so an installed copy has it too)."""
    return resources.files("assistant.ui").joinpath("assets", name).read_text(encoding="utf-8")


def _default_factory(settings: Settings | None = None, filters: Filters | None = None) -> ChatEngine:
    import assistant

    return assistant.build_chat_engine(settings=settings, filters=filters)


def _document_choices(documents: Sequence[DocumentInfo]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
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


def open_ui_history(settings: Settings) -> History | None:
    """The history store, or None when it cannot be opened (the chat still works, unrecorded)."""
    try:
        from assistant.storage import open_history

        return open_history(settings)
    except Exception as exc:
        log.error("history store unavailable, UI turns are not recorded: %s", exc)
        return None


def _header(settings: Settings) -> None:
    answerer = f"大模型 {settings.llm_model}" if settings.llm_enabled else EXTRACTIVE_LABEL
    gr.HTML(
        f'<div class="pqa-header"><h1 style="margin:0">{TITLE}</h1>'
        f'<div class="pqa-filters">依据所收录的惠企政策文件回答；点击回答中的 [1]、[2] 查看原文。'
        f"回答方式：{answerer}</div></div>"
    )


def build_app(
    settings: Settings | None = None,
    chat_engine_factory: ChatEngineFactory | None = None,
    documents: Sequence[DocumentInfo] | None = None,
    engine_source: EngineSource | None = None,
    matcher: Matcher | None = None,
    history: History | None = None,
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

    theme = gr.themes.Soft(font=FONTS, font_mono=MONO_FONTS)
    ttl = max(1, int(settings.export_ttl))
    with PolicyBlocks(title=TITLE, fill_width=True, analytics_enabled=False, delete_cache=(ttl, ttl)) as demo:
        css = "".join(asset(name) for name in STYLE_SHEETS)
        demo.pqa_launch_kwargs = {"css": css, "head": asset("head.html"), "theme": theme}  # type: ignore[attr-defined]
        state = gr.State(None)
        _header(settings)
        tab = build_chat_tab(settings, place_choices, doc_choices)
        with gr.Tab("政策找人", elem_id="pqa-tab-match"):
            local_places = [part for _, part in place_choices if part != "全国"]
            if matcher is None:
                build_match_tab(local_places, default_matcher(settings), settings, runner, place_finder(settings))
            else:
                build_match_tab(local_places, matcher, settings, runner)
        wire_chat_tab(demo, tab, state, chat, feedback)
    return demo
