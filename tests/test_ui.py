"""The chat UI through gradio_client against the app on loopback, with the fake chat engine."""

from __future__ import annotations

import json
import re
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import httpx
import pytest
from gradio.utils import get_upload_folder
from gradio_client import Client
from ui_fakes import (  # noqa: F401
    DOCUMENTS,
    EVIL_QUOTE,
    RELEASE,
    SLOW_WAITS,
    WZ_QUOTE,
    FakeChatEngine,
    fake_factory,
    fake_filters,
    fake_match,
    slow_factory,
    slow_match,
    slow_waits_over,
)

from assistant.core.schema import REFUSAL, Answer
from assistant.server import free_port, is_loopback, launch, main, parse_auth, serving
from assistant.settings import PROJECT_ROOT, Settings
from assistant.storage import History
from assistant.ui.app import ChatHandlers, ChatSession, EngineSource, build_app
from assistant.ui.deadline import TIMEOUT_MESSAGE, DeadlineExceeded, Runner
from assistant.ui.exports import EXPORTS_FOLDER, ExportStore
from assistant.ui.feedback import FeedbackHandlers
from assistant.ui.match_tab import make_find
from assistant.ui.render import (
    Turn,
    esc,
    filters_line,
    highlight,
    linkify_markers,
    render_answer,
    render_question,
    render_sources,
    render_table,
)

SEEDS_DIR = PROJECT_ROOT.parent / "shared" / "seeds"


def ui_settings(folder: Path, **overrides: object) -> Settings:
    """Settings for a test app: the history database in ``folder``, never the project's."""
    return Settings(answerer="extractive", database_url=f"sqlite:///{folder / 'history.sqlite3'}", **overrides)


@pytest.fixture(scope="module")
def app_url(fake_filters: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # noqa: F811
    settings = ui_settings(tmp_path_factory.mktemp("ui-history"))
    with serving(settings, chat_engine_factory=fake_factory, documents=DOCUMENTS) as url:
        yield url


@pytest.fixture
def client(app_url: str) -> Client:
    return Client(app_url, verbose=False, download_files=False)


def ask(client: Client, message: str, places: list[str] | None = None, docs: list[str] | None = None):
    return client.predict(message, places or [], docs or [], api_name="/chat")


def test_answer_has_citations_and_sources(client: Client) -> None:
    text, sources = ask(client, "温州对首次小升规企业奖励多少？")
    assert "[1]" in text and "[2]" in text
    assert "<" not in text  # plain answer text for API users
    assert 'id="pqa-src-1-1"' in sources and 'id="pqa-src-1-2"' in sources
    assert "《温州市关于推动小微企业升规的若干政策》" in sources
    assert "温政发〔2023〕5号" in sources and "温州市人民政府" in sources and "2023年3月1日" in sources
    assert f"<mark>{WZ_QUOTE}</mark>" in sources


def test_streams_through_submit(client: Client) -> None:
    job = client.submit("温州对首次小升规企业奖励多少？", [], [], api_name="/chat")
    final = job.result(timeout=30)
    partials = [out[0] for out in job.outputs()]
    assert len(partials) > 2 and partials[-1] == final[0]
    assert any(0 < len(p) < len(final[0]) for p in partials)


def test_follow_up_uses_history_of_this_session_only(client: Client, app_url: str) -> None:
    ask(client, "温州对首次小升规企业奖励多少？")
    text, _ = ask(client, "我刚才问了什么？")
    assert "温州对首次小升规企业奖励多少？" in text
    other = Client(app_url, verbose=False, download_files=False)  # another user: own engine, no history
    text, _ = ask(other, "我刚才问了什么？")
    assert "还没有上一轮对话" in text


def test_filter_restricts_sources(client: Client) -> None:
    text, sources = ask(client, "温州对首次小升规企业奖励多少？", places=["温州市"])
    assert "[1]" in text and "[2]" not in text
    assert "温州市" in sources and "杭州市" not in sources
    text, sources = ask(
        client, "温州对首次小升规企业奖励多少？", docs=["hz-xsg"]
    )  # next question, new filter
    assert "杭州" in text and "温州市关于" not in sources.split("</section>")[0]


def test_unknown_filter_value_is_rejected(client: Client) -> None:
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises AppError for the invalid choice
        ask(client, "温州对首次小升规企业奖励多少？", places=["火星"])


def test_unanswerable_is_declined(client: Client) -> None:
    text, sources = ask(client, "火星上的企业有什么补贴？")
    assert text == REFUSAL
    assert "本问未引用文件" in sources


def test_document_text_is_escaped_in_sources(client: Client) -> None:
    _, sources = ask(client, "给我看恶意段落")
    assert "<script" not in sources and "<img" not in sources and "<b>" not in sources
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in sources
    assert "${" not in sources and "{{" not in sources
    assert f"<mark>{EVIL_QUOTE}</mark>" in sources


@pytest.mark.parametrize(
    "path",
    [
        "file=/etc/passwd",
        "gradio_api/file=/etc/passwd",
        "gradio_api/file=../../etc/passwd",
        "gradio_api/file=..%2F..%2F..%2Fetc%2Fpasswd",
        "gradio_api/file=/work/main/pyproject.toml",
        "gradio_api/file=pyproject.toml",
        "gradio_api/file=assistant/settings/__init__.py",
        "static/../../../../etc/passwd",
        "assets/..%2F..%2F..%2Fetc%2Fpasswd",
    ],
)
def test_path_traversal_is_refused(app_url: str, path: str) -> None:
    response = httpx.get(app_url + path, timeout=10)
    assert response.status_code != 200 or ("root:" not in response.text and "[project]" not in response.text)
    assert "root:x:0:0" not in response.text and "policy-qa" not in response.text


def test_non_loopback_without_auth_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--host", "0.0.0.0"], settings=Settings(auth=None)) == 2
    assert "--auth" in capsys.readouterr().err
    assert main(["--host", "192.168.1.5", "--auth", "nopassword"], settings=Settings(auth=None)) == 2
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    assert parse_auth("ann:s3cret:x") == ("ann", "s3cret:x")
    with pytest.raises(ValueError):
        launch(
            build_app(ui_settings(tmp_path), chat_engine_factory=fake_factory, documents=DOCUMENTS),
            "0.0.0.0",
            free_port(),
        )


@pytest.mark.usefixtures("fake_filters")
def test_new_chat_resets_the_engine() -> None:
    session = ChatSession(EngineSource(fake_factory, Settings()))
    list(session.ask("温州对首次小升规企业奖励多少？", [], [], ""))
    engine = session.engine
    assert isinstance(engine, FakeChatEngine) and engine.history
    session.reset()
    assert engine.resets == 1 and not engine.history and not session.turns


@pytest.mark.usefixtures("fake_filters")
def test_filters_apply_to_the_next_question() -> None:
    session = ChatSession(EngineSource(fake_factory, Settings()))
    turns = list(session.ask("温州对首次小升规企业奖励多少？", ["杭州市"], [], "筛选：杭州市"))
    final = turns[-1]
    assert final.answer is not None and [c.title for c in final.answer.citations] == [
        "杭州市促进中小企业发展若干措施"
    ]
    assert final.seconds is not None and final.filters == "筛选：杭州市"


def test_render_helpers() -> None:
    assert esc("<b>${x}{{y}}`") == "&lt;b&gt;&#36;&#123;x&#125;&#123;&#123;y&#125;&#125;&#96;"
    assert highlight("前文<b>。要点句。后文", "要点句。") == "前文&lt;b&gt;。<mark>要点句。</mark>后文"
    assert highlight("甲句内容。乙句。丙句内容。", "甲句内容。丙句内容。").count("<mark>") == 2
    linked = linkify_markers("奖励[1]，见[2]", 3)
    assert 'href="#pqa-src-3-1"' in linked and 'href="#pqa-src-3-2"' in linked
    assert filters_line(["浙江省/温州市"], []) == "筛选：温州市"
    assert filters_line([], []) == ""


# -- issue #16: user Markdown, deep links, export files, long questions, time budget ---------------------

MD_ATTACK = "[点此领取补贴](http://evil.example/x) ![](http://evil.example/p.png)"
FORM = ("一家制造业企业", "乐清市", "", None, None, None, "未知", [], [], "未知", False, False)


@contextmanager
def launched(demo: gr.Blocks) -> Iterator[str]:
    """A built app served by Gradio alone (no server edge) on a free loopback port."""
    port = free_port()
    demo.queue(default_concurrency_limit=1)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, ssr_mode=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture
def release_slow_fakes() -> Iterator[None]:
    RELEASE.clear()
    yield
    RELEASE.set()  # the abandoned workers finish now instead of outliving the test


def test_user_markdown_and_line_breaks_stay_text() -> None:
    html = render_question(MD_ATTACK + "\r\r![](http://evil.example/q.png)\u2028<img src=http://evil.example/r.png>")
    assert html.startswith('<div class="pqa-question">') and html.endswith("</div>")
    assert not any(ch in html for ch in "\r\n\u2028"), "one line: a Markdown renderer keeps it a raw HTML block"
    assert "<img" not in html and "<a " not in html and "[点此领取补贴](http://evil.example/x)" in html


HOSTILE = (
    '<img src="http://evil.example/p.png">\r\r![](http://evil.example/q.png) [领取](http://evil.example/x)'
    '\u2028<a href="http://evil.example/y">y</a>\n\n![](http://evil.example/z.png)'
)


def _hostile_turn() -> Turn:
    from ui_fakes import WENZHOU, _citation

    cite = _citation(1, WENZHOU, HOSTILE, HOSTILE, HOSTILE)
    turn = Turn(number=1, question=HOSTILE, filters=HOSTILE, notice=HOSTILE)
    turn.answer = Answer(text=HOSTILE + "[1]", answerable=True, citations=[cite], notice=HOSTILE)
    return turn


def _hostile_matches() -> str:
    from assistant.ui.match_tab import render_matches

    result = fake_match(None, False)
    result.profile = SimpleNamespace(describe=lambda: HOSTILE)
    result.notes = [HOSTILE]
    for m in result.measures[:2]:
        m.title = m.text = m.benefit = m.department = HOSTILE
    return render_matches(result)


@pytest.mark.parametrize(
    "render, chat",
    [
        (lambda: render_question(HOSTILE), True),
        (lambda: render_answer(_hostile_turn()), True),
        (lambda: render_answer(Turn(number=1, question="q", text=HOSTILE)), True),  # still streaming
        (lambda: render_sources([_hostile_turn()]), False),
        (_hostile_matches, False),
        (
            lambda: render_table(
                {"topic": HOSTILE, "rows": [{"jurisdiction": HOSTILE, "text": HOSTILE, "note": HOSTILE,
                                             "citation": {"n": 1, "title": HOSTILE}}]}, 1
            ),
            True,
        ),
    ],
)  # fmt: skip
def test_text_from_users_and_documents_loads_nothing(render, chat: bool) -> None:
    """No renderer lets a question or a passage become an image or an outside link."""
    html = render()
    assert "<img" not in html and not re.search(r"""(src|href)=["']?http""", html), html[:300]
    if chat:  # chatbot messages stay one raw-HTML line: no Markdown block can start inside them
        assert not any(ch in html for ch in "\r\n\u2028\u2029"), html[:300]


def test_chatbot_renders_html_not_markdown(app_url: str) -> None:
    config = httpx.get(app_url + "config", timeout=10).json()
    chat = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "pqa-chat")
    assert chat["props"]["render_markdown"] is False and chat["props"]["latex_delimiters"] == []
    assert "img-src 'self'" in httpx.get(app_url, timeout=10).headers["content-security-policy"]


def test_deep_links_do_nothing(client: Client, app_url: str) -> None:
    """A crafted conversation cannot be saved as a deep link, and a saved one is not shown."""
    marker = f"DEEPLINK{uuid.uuid4().hex[:8]}"
    ask(client, f"{marker} 温州对首次小升规企业奖励多少？")
    saved = httpx.get(app_url + "gradio_api/deep_link", params={"session_hash": client.session_hash}, timeout=10)
    assert saved.status_code == 404, saved.text
    config = httpx.get(app_url + "config", timeout=10).json()
    for component in config["components"]:
        if component.get("props", {}).get("elem_id") == "pqa-sources":
            component["props"]["value"] = f"<p>{marker}</p>"
    link = f"pqa{uuid.uuid4().hex[:12]}"
    folder = Path(get_upload_folder()) / "deep_links" / link
    folder.mkdir(parents=True)
    (folder / "state.json").write_text(json.dumps(config["components"]), encoding="utf-8")
    for path in ("", "config", "?page=&deep_link=" + link):
        response = httpx.get(app_url + path, params={"deep_link": link} if "?" not in path else None, timeout=10)
        assert response.status_code == 200 and marker not in response.text


@pytest.mark.usefixtures("fake_filters")
def test_long_question_is_capped_on_entry() -> None:
    settings = Settings()
    limit = settings.max_question_chars
    chat = ChatHandlers(EngineSource(fake_factory, settings), Runner(120, 1), {})
    huge = "温州对首次小升规企业奖励多少？" + "长" * 1_000_000
    *_, (messages, sources, session, _) = chat.respond(huge, [], [], None)
    assert len(session.turns[0].question) == limit
    assert len(session.engine.history[0][0]) <= limit  # the engine answered (and remembers) the capped text
    assert len(sources) < limit + 5_000 and "长" * (limit + 1) not in sources
    assert len(json.dumps(messages, ensure_ascii=False)) < limit + 5_000  # what later turns resend
    assert messages[1]["content"].count(f"问题过长，已截取前 {limit} 个字符。") == 1
    *_, (text, sources, _) = chat.api_chat("再问一次：" + huge, [], [], session)
    assert len(sources) < 2 * limit + 10_000 and len(session.turns[1].question) == limit


def test_cap_notice_is_shown_once() -> None:
    notice = "问题过长，已截取前 5 个字符。"
    turn = Turn(number=1, question="温州小升规", notice=notice)
    turn.answer = Answer(text=REFUSAL, answerable=False, notice=notice)
    assert render_answer(turn).count(notice) == 1
    turn.answer.notice = ""
    assert render_answer(turn).count(notice) == 1


@pytest.mark.usefixtures("fake_filters", "release_slow_fakes")
def test_chat_turn_stops_at_the_time_budget() -> None:
    settings = Settings(request_timeout=0.3)
    session = ChatSession(EngineSource(slow_factory, settings))
    since = len(SLOW_WAITS)
    final = list(session.ask("慢慢说：温州对首次小升规企业奖励多少？", [], [], ""))[-1]
    assert final.error == TIMEOUT_MESSAGE and slow_waits_over(since) == 0  # while the slow fake still thinks
    assert TIMEOUT_MESSAGE in render_answer(final)
    final = list(session.ask("温州对首次小升规企业奖励多少？", [], [], ""))[-1]
    assert final.answer is not None and "[1]" in final.text  # a fresh engine answers the next question

    chat = ChatHandlers(EngineSource(slow_factory, settings), Runner(0.3, 2), {})
    *_, (messages, *_rest) = chat.respond("慢一点", [], [], None)
    assert TIMEOUT_MESSAGE in messages[-1]["content"]
    with pytest.raises(gr.Error, match=TIMEOUT_MESSAGE):
        list(chat.api_chat("慢一点", [], [], None))
    assert slow_waits_over(since) == 0  # every timeout came before its slow answer was done


@pytest.mark.usefixtures("fake_filters", "release_slow_fakes")
def test_chat_endpoint_times_out_with_a_clear_message(tmp_path: Path) -> None:
    settings = ui_settings(tmp_path, request_timeout=0.5)
    with serving(settings, chat_engine_factory=slow_factory, documents=DOCUMENTS) as url:
        since = len(SLOW_WAITS)
        with pytest.raises(Exception, match=TIMEOUT_MESSAGE):
            ask(Client(url, verbose=False, download_files=False), "慢慢说：小升规")
        assert slow_waits_over(since) == 0  # the message came while the slow fake still thought


@pytest.mark.usefixtures("release_slow_fakes")
def test_match_stops_at_the_time_budget(tmp_path: Path) -> None:
    find = make_find(slow_match, lambda _: [], ExportStore(tmp_path, 3, 60), Runner(0.3, 1), 2000)
    since = len(SLOW_WAITS)
    html, md, _ = find(*FORM)
    assert TIMEOUT_MESSAGE in html and md["visible"] is False and slow_waits_over(since) == 0
    html, *_ = find("很长" * 1001, *FORM[1:])
    assert "企业描述过长" in html and "2000" in html


def test_runner_keeps_error_types_and_never_starts_late_jobs() -> None:
    runner = Runner(0.2, 1)
    with pytest.raises(KeyError):
        runner.call(lambda: {}["x"], runner.deadline())
    gate, started = __import__("threading").Event(), []
    with pytest.raises(DeadlineExceeded):
        runner.call(lambda: gate.wait(5), runner.deadline())  # holds the only worker
    with pytest.raises(DeadlineExceeded):
        runner.call(lambda: started.append(1), runner.deadline())  # queued behind it, then dropped
    gate.set()
    assert runner.call(lambda: 42, runner.deadline()) == 42 and started == []


def test_match_exports_use_bounded_disk(tmp_path: Path) -> None:
    store = ExportStore(tmp_path / EXPORTS_FOLDER, keep=3, ttl=3600)
    find = make_find(fake_match, lambda _: [], store, Runner(120, 1), 2000)
    used = []
    for _ in range(20):
        html, md, csv = find(*FORM)
        assert "小升规奖励" in html and Path(md["value"]).is_file() and Path(csv["value"]).is_file()
        used.append(store.disk_bytes())
    assert used[0] > 10_000  # the fake's exports are big enough to notice
    assert len(store.folders()) == 3 and max(used) <= 3 * used[0]
    aged = ExportStore(store.root, keep=3, ttl=0)
    _, md, _ = make_find(fake_match, lambda _: [], aged, Runner(120, 1), 2000)(*FORM)
    assert store.folders() == [Path(md["value"]).parent]  # folders past their age are gone too


@pytest.mark.usefixtures("fake_filters")
def test_match_endpoint_leaves_no_copies_behind(tmp_path: Path) -> None:
    """Through the served app: no folders in the temp dir, no Gradio copies, at most export_keep folders."""
    temp, cache = Path(tempfile.gettempdir()), Path(get_upload_folder())
    before = set(temp.glob("policy-qa-match-*"))
    since = time.time() - 1
    settings = ui_settings(tmp_path, export_keep=2)
    demo = build_app(settings, chat_engine_factory=fake_factory, documents=DOCUMENTS, matcher=fake_match)
    with launched(demo) as url:
        client = Client(url, verbose=False, download_files=False)
        for _ in range(8):
            html, md, csv = client.predict(*FORM, api_name="/match")
            assert "小升规奖励" in html and md["value"]["path"].endswith("适用措施.md")
        assert httpx.get(md["value"]["url"], timeout=10).text.startswith("**企业画像**")
    assert set(temp.glob("policy-qa-match-*")) == before
    exports = cache / EXPORTS_FOLDER
    copies = [
        f for f in cache.rglob("适用措施.*") if f.stat().st_mtime >= since and exports not in f.parents
    ]
    assert copies == []
    assert len([d for d in exports.iterdir() if d.is_dir()]) <= 2


# -- issue #13: 👍/👎 and past conversations ------------------------------------------------------------


def _feedback_app(tmp_path: Path) -> tuple[ChatHandlers, FeedbackHandlers, History]:
    history = History(f"sqlite:///{tmp_path / 'history.sqlite3'}")
    chat = ChatHandlers(EngineSource(fake_factory, ui_settings(tmp_path)), Runner(120, 2), {}, history)
    return chat, FeedbackHandlers(history, chat.runner, chat.session_of, 50), history


def _like(index: int, liked: bool | str) -> gr.LikeData:
    return gr.LikeData(None, {"index": index, "value": "", "liked": liked})


@pytest.mark.usefixtures("fake_filters")
def test_answers_are_recorded_and_rated(tmp_path: Path) -> None:
    chat, feedback, history = _feedback_app(tmp_path)
    *_, (messages, _, session, _) = chat.respond("温州对首次小升规企业奖励多少？", [], [], None)
    turn = session.turns[0]
    stored = history.get_turn(turn.turn_id)
    assert stored is not None and (stored.channel, stored.owner, stored.answerer) == ("ui", "ui:", "extractive")
    assert stored.conversation_id == session.conversation_id and stored.answer == turn.answer.text
    assert [c["title"] for c in stored.citations][0].startswith("温州市") and "ui_ms" in stored.timings

    row, _, _, session, status = feedback.on_like(session, _like(1, False))  # 👎: stored now, reason asked
    assert row["visible"] is True and history.get_feedback(turn.turn_id).rating == "down"
    row, session, status = feedback.submit_reason(session, "引用不对", "  第二条来源无关" + "啰嗦" * 100)
    saved = history.get_feedback(turn.turn_id)
    assert (saved.rating, saved.reason) == ("down", "引用不对") and saved.comment.startswith("第二条来源无关")
    assert len(saved.comment) == 50 and row["visible"] is False and "感谢反馈" in status
    row, *_, status = feedback.on_like(session, _like(1, "Like"))  # a later 👍 replaces the 👎
    assert history.get_feedback(turn.turn_id).rating == "up" and row["visible"] is False
    row, *_, status = feedback.on_like(session, _like(0, False))  # a question is not rated
    assert row["visible"] is False and status == '<div class="pqa-feedback-status"></div>'


@pytest.mark.usefixtures("fake_filters")
def test_past_conversation_reopens_and_continues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    restored: list[list[tuple[str, str]]] = []

    def restore(engine: FakeChatEngine, pairs: list[tuple[str, str]]) -> None:  # the fake's memory
        restored.append(pairs)
        engine.history[:] = pairs

    monkeypatch.setattr("assistant.ui.chat.restore_engine", restore)
    chat, feedback, history = _feedback_app(tmp_path)
    *_, (_, _, first, _) = chat.respond("温州对首次小升规企业奖励多少？", [], [], None)
    chat.respond("给我看恶意段落", [], [], first).__next__()  # unfinished: never answered, never stored
    *_, (_, _, other, _) = chat.respond("火星上的企业有什么补贴？", [], [], None)
    listed = feedback.choices(None)["choices"]
    assert [value for _, value in listed] == [other.conversation_id, first.conversation_id]
    assert listed[1][0].startswith("温州对首次小升规企业奖励多少？（1 问，")
    assert feedback.choices(SimpleNamespace(username="bob"))["choices"] == []  # someone else's list

    messages, sources, session, status = feedback.reopen(first.conversation_id, None, None)  # a new visitor
    assert [m["role"] for m in messages] == ["user", "assistant"] and "温州对首次升规" in messages[1]["content"]
    assert 'id="pqa-src-1-1"' in sources and "已打开：1 问" in status
    *_, (messages, _, session, _) = chat.respond("我刚才问了什么？", [], [], session)
    assert restored == [[("温州对首次小升规企业奖励多少？", first.turns[0].answer.text)]]
    assert "您刚才问的是：温州对首次小升规企业奖励多少？" in messages[-1]["content"]
    assert [t.question for t in history.conversation_turns(first.conversation_id)] == [
        "温州对首次小升规企业奖励多少？",
        "我刚才问了什么？",
    ]
    *_, status = feedback.reopen(first.conversation_id, None, SimpleNamespace(username="bob"))
    assert "没有找到" in status  # only the owner may open it


@pytest.mark.slow
def test_reopened_conversation_continues_with_the_real_engine(corpus_index: Settings, tmp_path: Path) -> None:
    from assistant.ui.app import _default_factory

    history = History(f"sqlite:///{tmp_path / 'history.sqlite3'}")
    chat = ChatHandlers(EngineSource(_default_factory, corpus_index), Runner(120, 2), {}, history)
    feedback = FeedbackHandlers(history, chat.runner, chat.session_of, 50)
    *_, (_, _, first, _) = chat.respond("温州对首次小升规企业奖励多少？", [], [], None)
    _, _, session, _ = feedback.reopen(first.conversation_id, None, None)
    *_, (_, _, session, _) = chat.respond("那乐清呢？", [], [], session)
    turns = session.engine.turns
    assert [t.message for t in turns] == ["温州对首次小升规企业奖励多少？", "那乐清呢？"]
    assert "小升规" in turns[-1].standalone and "乐清" in turns[-1].standalone


@pytest.mark.slow
def test_real_engine_smoke(real_app_url: str) -> None:
    """The real engine behind the UI, on the default corpus indexed once for the session."""
    client = Client(real_app_url, verbose=False, download_files=False)
    text, sources = client.predict("温州对首次小升规企业奖励多少？", [], [], api_name="/chat")
    assert text
    assert "[1]" in text and 'id="pqa-src-1-1"' in sources
    assert "20万元" in text or "20萬元" in text
    follow_up, _ = client.predict("那杭州呢？", [], [], api_name="/chat")
    assert REFUSAL[:8] in follow_up
