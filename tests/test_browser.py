"""The chat UI in headless Chromium (Debian package, driven by Playwright), with the fake engine."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ui_fakes import DOCUMENTS, EVIL_QUOTE, WZ_QUOTE, fake_factory, fake_filters  # noqa: F401

from assistant.server import serving
from assistant.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("fake_filters"),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium: run .ci/system-deps.sh"
    ),
]


def ui_settings(folder: Path) -> Settings:
    """Settings for a test app: the history database in ``folder``, never the project's."""
    return Settings(answerer="extractive", database_url=f"sqlite:///{folder / 'history.sqlite3'}")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = ui_settings(tmp_path_factory.mktemp("ui-history"))
    with serving(settings, chat_engine_factory=fake_factory, documents=DOCUMENTS) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def open_page(browser, url: str, outside: list[str], **context_args):
    context = browser.new_context(locale="zh-CN", **context_args)
    page = context.new_page()
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith((url, "data:", "blob:")) else None,
    )
    page.goto(url, wait_until="load")
    page.wait_for_selector("#pqa-input textarea", timeout=20_000)
    return page


SETTLED_S = 0.3  # the final answer (with its meta line) has not changed for this long: sources are in too


def ask(page, question: str, timeout: float = 20.0) -> str:
    """Type a question, wait for the final answer (its meta or error line) to settle; return its text."""
    before = page.locator("#pqa-chat .pqa-answer").count()
    box = page.locator("#pqa-input textarea")
    box.fill(question)
    box.press("Enter")
    answer = page.locator("#pqa-chat .pqa-answer").nth(before)
    answer.locator(".pqa-meta, .pqa-error").first.wait_for(timeout=timeout * 1000)  # only a final answer has them
    deadline = time.monotonic() + timeout
    last, stable_since = answer.inner_text(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        text = answer.inner_text()
        if text != last:
            last, stable_since = text, time.monotonic()
        elif time.monotonic() - stable_since >= SETTLED_S:
            return text
    raise AssertionError(f"answer did not settle: {last!r}")


def test_chat_citations_sources_and_safety(browser, app_url: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    outside: list[str] = []
    page = open_page(browser, app_url, outside, viewport={"width": 1280, "height": 900})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url.rstrip("/"))
    page.get_by_text("示例问题").first.wait_for(timeout=20_000)  # the examples render after the input box
    assert "政策问答" in page.inner_text("body") and "示例问题" in page.inner_text("body")

    text = ask(page, "温州对首次小升规企业奖励多少？")
    assert "[1]" in text and "[2]" in text and "离线摘录" in text and "秒" in text
    cites = page.locator("#pqa-chat a.pqa-cite")
    assert cites.count() == 2
    sources = page.locator("#pqa-sources article.pqa-src")
    assert sources.count() == 2
    assert "温政发〔2023〕5号" in sources.first.inner_text()

    cites.first.click()
    target = page.locator("#pqa-src-1-1")
    page.wait_for_function("document.getElementById('pqa-src-1-1').classList.contains('pqa-flash')")
    assert target.locator("mark").inner_text() == WZ_QUOTE
    assert page.url.rstrip("/") == app_url.rstrip("/")  # handled in page: no navigation, no new tab

    page.locator("#pqa-chat button.pqa-copy").first.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("温州对首次升规企业一次性奖励10万元[1]") and "<" not in copied

    text = ask(page, "给我看恶意段落")
    evil = page.locator("#pqa-sources #pqa-src-2-1")
    evil.wait_for()
    shown = evil.inner_text()
    assert (
        "<script>window.__pwned=1</script>" in shown and "onerror" in shown and "${window.__pwned=1}" in shown
    )
    assert evil.locator("mark").inner_text() == EVIL_QUOTE
    assert evil.locator("script, img, b").count() == 0
    page.locator("#pqa-chat a.pqa-cite").last.click()
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.__pwned") == "undefined"

    page.screenshot(path=str(ARTIFACTS / "ui.png"), full_page=True)

    page.locator("#pqa-new").click()
    page.wait_for_function("document.querySelectorAll('#pqa-chat .pqa-answer').length === 0")
    assert "提问后" in page.locator("#pqa-sources").inner_text()
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert outside == [], f"the page fetched outside resources: {outside}"


def test_phone_width_filters_and_unanswerable(browser, app_url: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    outside: list[str] = []
    page = open_page(
        browser,
        app_url,
        outside,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
    )
    page.get_by_text("筛选（用于下一个问题）").click()
    place = page.get_by_label("地区")
    place.click()
    page.get_by_role("option", name="浙江省/温州市").click()
    page.keyboard.press("Escape")

    text = ask(page, "温州对首次小升规企业奖励多少？")
    assert "筛选：温州市" in text and "[1]" in text and "[2]" not in text
    assert page.locator("#pqa-sources article.pqa-src").count() == 1

    text = ask(page, "火星上的企业有什么补贴？")
    assert "未在文件中找到" in text

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, f"page scrolls sideways at phone width ({width}px)"
    page.screenshot(path=str(ARTIFACTS / "ui-phone.png"), full_page=True)
    assert outside == [], f"the page fetched outside resources: {outside}"


MD_ATTACK = "[点此领取补贴](http://evil.example/x) ![](http://evil.example/p.png)"


def test_user_markdown_shows_as_text(browser, app_url: str) -> None:
    """A question's Markdown link and tracking pixel show as their literal characters; nothing is fetched."""
    outside: list[str] = []
    page = open_page(browser, app_url, outside, viewport={"width": 1280, "height": 900})
    evil: list[str] = []
    page.on("request", lambda r: evil.append(r.url) if "evil.example" in r.url else None)
    ask(page, "温州对首次小升规企业奖励多少？" + MD_ATTACK)
    chat = page.locator("#pqa-chat")
    assert MD_ATTACK in chat.inner_text()
    assert MD_ATTACK in page.locator("#pqa-sources").inner_text()
    for where in ("#pqa-chat", "#pqa-sources"):
        assert page.locator(f'{where} a[href*="evil.example"]').count() == 0
    assert page.locator('img[src*="evil.example"]').count() == 0
    page.wait_for_timeout(500)
    assert evil == [] and outside == [], (evil, outside)


def test_feedback_is_stored_and_history_survives_a_restart(browser, tmp_path: Path) -> None:
    """👎 with a reason lands in the database; a new app on the same database lists and reopens the chat."""
    from assistant.storage import History

    settings = ui_settings(tmp_path)
    outside: list[str] = []
    with serving(settings, chat_engine_factory=fake_factory, documents=DOCUMENTS) as url:
        page = open_page(browser, url, outside, viewport={"width": 1280, "height": 900})
        ask(page, "温州对首次小升规企业奖励多少？")
        page.locator('#pqa-chat button[aria-label="踩"]').last.click()  # zh-CN label of Dislike
        page.locator("#pqa-feedback").wait_for(state="visible")
        page.locator("#pqa-feedback-reason").get_by_label("引用不对").check()
        page.locator("#pqa-feedback-comment textarea").fill("第二条来源与问题无关")
        page.locator("#pqa-feedback-submit").click()
        page.wait_for_function("document.querySelector('#pqa-feedback-status').innerText.includes('感谢反馈')")
        page.locator("#pqa-history input").click()  # the answer's last update refreshed the 历史对话 list
        page.get_by_role("option", name=re.compile("温州对首次小升规企业奖励多少")).wait_for()
        page.context.close()
    rows = list(History(settings.database_url.get_secret_value()).export_rows())
    assert [(r["channel"], r["rating"], r["reason"], r["comment"]) for r in rows] == [
        ("ui", "down", "引用不对", "第二条来源与问题无关")
    ]
    assert rows[0]["question"] == "温州对首次小升规企业奖励多少？" and "[1]" in rows[0]["answer"]

    with serving(settings, chat_engine_factory=fake_factory, documents=DOCUMENTS) as url:
        page = open_page(browser, url, outside, viewport={"width": 1280, "height": 900})
        page.locator("#pqa-history input").click()
        page.get_by_role("option", name=re.compile("温州对首次小升规企业奖励多少")).click()
        page.locator("#pqa-chat .pqa-answer").first.wait_for()
        assert "温州对首次升规企业一次性奖励10万元" in page.locator("#pqa-chat").inner_text()
        assert page.locator("#pqa-sources article.pqa-src").count() == 2
        page.screenshot(path=str(ARTIFACTS / "ui-history.png"), full_page=True)
    assert outside == [], f"the page fetched outside resources: {outside}"


@pytest.mark.slow
def test_comparison_table_and_eligibility_tab(browser, real_app_url: str) -> None:
    """The real engine: a comparison is a table with linked sources; 政策找人 lists measures and exports them."""
    ARTIFACTS.mkdir(exist_ok=True)
    outside: list[str] = []
    url = real_app_url
    page = open_page(browser, url, outside, viewport={"width": 1280, "height": 900}, accept_downloads=True)
    ask(page, "温州、乐清、聊城、朔州对小升规企业分别怎么奖励？", timeout=60)
    table = page.locator("#pqa-chat table.pqa-table")
    table.wait_for()
    rows = table.locator("tbody tr")
    assert rows.count() == 4
    assert "未提及" in rows.nth(1).inner_text() and "乐清市" in rows.nth(1).inner_text()
    assert "20万元" in rows.first.inner_text() or "20萬元" in rows.first.inner_text()
    table.locator("a.pqa-cite").first.click()
    page.wait_for_function("document.getElementById('pqa-src-1-1').classList.contains('pqa-flash')")
    page.screenshot(path=str(ARTIFACTS / "ui-compare.png"), full_page=True)

    page.get_by_role("tab", name="政策找人").click()
    page.locator("#pqa-profile-text textarea").fill("乐清的一家制造业企业，120人，年营收5000万元，成立3年，专精特新")
    page.locator("#pqa-match-run").click()
    first = page.locator("#pqa-matches article.pqa-match").first
    first.wait_for(timeout=60_000)
    summary = page.locator("#pqa-matches .pqa-match-summary").inner_text()
    assert "浙江省/温州市/乐清市" in summary and "符合" in summary
    assert "120人" in summary and "5000万元" in summary  # empty number boxes do not override the sentence
    assert first.locator(".pqa-status").inner_text() in ("符合", "可能符合")
    assert first.locator("li").count() >= 1 and "✓" in first.inner_text()
    with page.expect_download() as info:
        page.locator("#pqa-match-csv").click()
    data = Path(info.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and "状态" in data.decode("utf-8-sig").splitlines()[0]
    page.screenshot(path=str(ARTIFACTS / "ui-match.png"), full_page=True)
    page.context.close()  # the app is shared with other tests: end this page's open streams now
    assert outside == [], f"the page fetched outside resources: {outside}"
