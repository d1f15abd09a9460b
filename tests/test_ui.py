"""The chat UI through gradio_client against the app on loopback, with the fake chat engine."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from gradio_client import Client
from ui_fakes import DOCUMENTS, EVIL_QUOTE, WZ_QUOTE, FakeChatEngine, fake_factory, fake_filters  # noqa: F401

from assistant.answers import REFUSAL
from assistant.settings import PROJECT_ROOT, Settings
from assistant.ui_app import (
    ChatSession,
    EngineSource,
    build_app,
    free_port,
    is_loopback,
    launch,
    main,
    parse_auth,
    serving,
)
from assistant.ui_render import esc, filters_line, highlight, linkify_markers

SEEDS_DIR = PROJECT_ROOT.parent / "shared" / "seeds"


@pytest.fixture(scope="module")
def app_url(fake_filters: None) -> Iterator[str]:  # noqa: F811
    with serving(Settings(answerer="extractive"), chat_engine_factory=fake_factory, documents=DOCUMENTS) as url:
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
        "gradio_api/file=assistant/settings.py",
        "static/../../../../etc/passwd",
        "assets/..%2F..%2F..%2Fetc%2Fpasswd",
    ],
)
def test_path_traversal_is_refused(app_url: str, path: str) -> None:
    response = httpx.get(app_url + path, timeout=10)
    assert response.status_code != 200 or ("root:" not in response.text and "[project]" not in response.text)
    assert "root:x:0:0" not in response.text and "policy-qa" not in response.text


def test_non_loopback_without_auth_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "0.0.0.0"], settings=Settings(auth=None)) == 2
    assert "--auth" in capsys.readouterr().err
    assert main(["--host", "192.168.1.5", "--auth", "nopassword"], settings=Settings(auth=None)) == 2
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    assert parse_auth("ann:s3cret:x") == ("ann", "s3cret:x")
    with pytest.raises(ValueError):
        launch(
            build_app(Settings(), chat_engine_factory=fake_factory, documents=DOCUMENTS),
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


@pytest.mark.slow
def test_real_engine_smoke(corpus_index: Settings) -> None:
    """The real engine behind the UI, on the default corpus indexed once for the session."""
    with serving(corpus_index) as url:
        client = Client(url, verbose=False, download_files=False)
        text, sources = client.predict("温州对首次小升规企业奖励多少？", [], [], api_name="/chat")
        assert text
        assert "[1]" in text and 'id="pqa-src-1-1"' in sources
        assert "20万元" in text or "20萬元" in text
        follow_up, _ = client.predict("那杭州呢？", [], [], api_name="/chat")
        assert REFUSAL[:8] in follow_up
