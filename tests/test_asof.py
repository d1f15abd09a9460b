"""Answers as of a date (issue #14): a small synthetic corpus written here, indexed with the real embedder, whose
documents state their own lives in their text (lifecycles read by ``assistant.corpus.lifecycle``):

- 甲市 2022 办法 (10万元, 甲政发〔2022〕1号) repealed by 甲市 2025 修订 (30万元, 自2025年1月1日起施行);
- 乙县 措施: 自2023年1月1日起施行，有效期至2024年12月31日 (20万元; 到2025年 a target);
- 丙市 意见: validity delegated to 丙政发〔2023〕6号 (not in the corpus);
- 丁市 意见: states nothing.

Each date is checked on both sides, through the engine (chat), compare, match, the LLM answerer, the /v1 API
(real ``openai`` client), the CLI and the UI in headless Chromium; on the default corpus, the Wenzhou delegation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from pydantic import SecretStr

import assistant
from assistant.core.dates import question_date, target_years
from assistant.core.validity import InvalidDateError, parse_date, pinned_today, set_clock, today
from assistant.retrieval.retriever import Filters
from assistant.settings import Settings

DOCS = {
    "jia_2022.txt": ("甲市工业企业升规奖励办法", "某省/甲市", "甲政发〔2022〕1号", "2021-12-20",
                     "一、升规奖励\n对首次升规的工业企业给予一次性奖励10万元。\n\n二、附则\n本办法自2022年1月1日起施行。"),
    "jia_2025.txt": ("甲市工业企业升规奖励办法（修订）", "某省/甲市", "甲政发〔2025〕3号", "2024-12-15",
                     "一、升规奖励\n对首次升规的工业企业给予一次性奖励30万元。\n\n二、附则\n本办法自2025年1月1日起施行，"
                     "有效期至2027年12月31日。原《甲市工业企业升规奖励办法》（甲政发〔2022〕1号）同时废止。"),
    "yi_2023.txt": ("乙县支持小微企业发展若干措施", "某省/乙县", "乙政发〔2022〕9号", "2022-12-20",
                    "一、升规奖励\n对首次升规的小微企业给予奖励20万元。到2025年，全县新增规上企业100家。\n\n二、附则\n"
                    "本措施自2023年1月1日起施行，有效期至2024年12月31日。"),
    "bing_2023.txt": ("丙市关于创建中小微企业友好城市的实施意见", "某省/丙市", "", "2023-10-12",
                      "一、升规奖励\n对首次升规的中小微企业奖励15万元。\n\n二、附则\n"
                      "本文中涉及的各项奖补条款内容、标准、有效期均按照丙政发〔2023〕6号文件执行。"),
    "ding_2023.txt": ("丁市促进民营经济发展的意见", "某省/丁市", "", "", "一、升规奖励\n对首次升规的民营企业奖励8万元。"),
}  # fmt: skip
JIA = "甲市对首次升规的工业企业奖励多少？"
YI = "乙县对首次升规的小微企业奖励多少？"
EXPIRED = "有效期至2024年12月31日（已过期）"


@pytest.fixture(scope="module")
def dated(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("dated")
    corpus = folder / "corpus"
    corpus.mkdir()
    manifest = []
    for name, (title, juris, number, day, body) in DOCS.items():
        (corpus / name).write_text(f"{title}\n\n{body}\n", encoding="utf-8")
        manifest.append(
            f'["{name}"]\ntitle = "{title}"\nissuer = ""\njurisdiction = "{juris}"\ndoc_number = "{number}"\ndate = "{day}"\n'
        )
    (corpus / "manifest.toml").write_text("\n".join(manifest), encoding="utf-8")
    settings = Settings(
        corpus_dir=corpus, index_dir=folder / "index", answerer="extractive",
        database_url=SecretStr(f"sqlite:///{folder / 'history.sqlite3'}"),
    )  # fmt: skip
    assistant.update_index(settings, progress=False)
    return settings


@pytest.fixture(scope="module")
def dated_engine(dated: Settings) -> assistant.PolicyQueryEngine:
    return assistant.build_query_engine(dated)


def ask(engine: assistant.PolicyQueryEngine, question: str, **filters: object) -> assistant.Answer:
    return engine.answer(question, Filters(**filters))[0]  # type: ignore[arg-type]


# -- rules ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("2024年时，甲市对升规企业奖励多少？", date(2024, 12, 31)),
        ("截至2023年底温州的奖励标准是什么？", date(2023, 12, 31)),
        ("2023年6月时乐清有哪些措施？", date(2023, 6, 30)),
        ("截至2024年3月1日，该政策是否有效？", date(2024, 3, 1)),
        ("在2024年初，聊城怎么奖励？", date(2024, 1, 1)),
        ("去年的时候温州奖励多少？", date(2025, 12, 31)),
        ("As of 2024-05-06, what does Wenzhou give?", date(2024, 5, 6)),
        ("温州到2025年计划新增多少家中小微企业？", None),  # a target, not the date asked about
        ("温州到2025年时要新增多少家？", None),
        ("温州对首次小升规企业奖励多少？", None),
        ("2023年度乐清科研院所R&D经费投入攻坚方案是什么？", None),
    ],
)
def test_question_dates(question: str, expected: date | None) -> None:
    found = question_date(question, today=date(2026, 6, 1))
    assert (found.day if found else None) == expected


def test_target_years_dates_and_the_clock() -> None:
    assert target_years("到2025年，新增中小微企业10万家。力争到2027年末实现倍增") == [2025, 2027]
    assert target_years("2025年底基本构建形成优质企业梯度培育体系") == [2025]
    assert target_years("自2023年1月1日起施行") == [] and target_years("2023年至2025年实施，（2023-2025年）") == []
    assert parse_date("2025-06-30") == date(2025, 6, 30) and parse_date("") is None
    for bad in ("2025/06/30", "明天", "2025-13-01"):
        with pytest.raises(InvalidDateError, match="YYYY-MM-DD"):
            parse_date(bad)
    set_clock(lambda: date(2030, 1, 1))  # the one clock: injectable for the process, pinnable per thread
    try:
        with pinned_today(date(2001, 2, 3)):
            assert today() == date(2001, 2, 3)
        assert today() == date(2030, 1, 1)
    finally:
        set_clock(None)
    assert today() == date.today()


# -- the engine (chat) on both sides of each date ----------------------------------------------------------


def test_versions_on_both_sides_of_the_change(dated_engine: assistant.PolicyQueryEngine) -> None:
    before = ask(dated_engine, JIA, as_of=date(2024, 12, 31))
    after = ask(dated_engine, JIA, as_of=date(2025, 1, 1))
    assert "10万元" in before.text and "30万元" not in before.text
    assert "30万元" in after.text and "10万元" not in after.text  # the present cites the new version only
    assert [c.doc_number for c in after.citations] == ["甲政发〔2025〕3号"]
    stated = ask(dated_engine, "2024年时，" + JIA)  # the question's own date
    assert "10万元" in stated.text and "2024年12月31日" in stated.notice and stated.as_of == "2024-12-31"
    history = ask(dated_engine, JIA, as_of=date(2025, 6, 1), validity="all")  # both, the new one first
    assert history.text.index("30万元") < history.text.index("10万元")
    for needle in ("不一致", "甲政发〔2025〕3号", "甲政发〔2022〕1号", "2024年12月15日", "现行有效的是《甲市工业企业升规奖励办法（修订）》", "废止"):
        assert needle in history.notice, (needle, history.notice)
    assert [c.validity_state for c in history.citations] == ["in_force", "repealed"]
    old_days = ask(dated_engine, JIA, as_of=date(2024, 6, 1), validity="all")  # before the change: the old one
    assert old_days.text.index("10万元") < old_days.text.index("30万元") and "尚未" in old_days.notice


def test_expiry_target_and_filters(dated_engine: assistant.PolicyQueryEngine) -> None:
    last_day = ask(dated_engine, YI, as_of=date(2024, 12, 31))
    expired = ask(dated_engine, YI, as_of=date(2025, 1, 1))
    assert "20万元" in last_day.text and "已过期" not in last_day.notice
    assert "20万元" in expired.text and EXPIRED in expired.notice  # default: still answers, with the notice
    assert expired.citations[0].validity_notice and EXPIRED in expired.citations[0].validity_notice
    only_current = ask(dated_engine, YI, as_of=date(2025, 1, 1), validity="current")
    assert not only_current.answerable and "15万元" not in only_current.text  # never another place's document
    assert "不在有效期内" in only_current.text and "包括历史文件" in only_current.text
    assert ask(dated_engine, YI, as_of=date(2024, 12, 31), validity="current").answerable
    not_yet = ask(dated_engine, YI, as_of=date(2022, 12, 31))
    assert "2023年1月1日起施行" in not_yet.notice
    target = "乙县到2025年新增多少家规上企业？"
    assert "目标" not in ask(dated_engine, target, as_of=date(2025, 12, 31)).notice
    assert "2025年目标" in ask(dated_engine, target, as_of=date(2026, 1, 1)).notice


def test_delegated_and_silent_documents(dated_engine: assistant.PolicyQueryEngine) -> None:
    bing = ask(dated_engine, "丙市对首次升规的企业奖励多少？", validity="current")
    assert bing.answerable and "丙政发〔2023〕6号" in bing.notice and "未收录" in bing.notice
    assert bing.citations[0].validity_state == "delegated" and "有效期均按照" in bing.citations[0].validity_evidence
    ding = ask(dated_engine, "丁市对首次升规的企业奖励多少？", validity="current")
    assert ding.answerable and "有效期未说明" in ding.notice


def test_chat_engine_keeps_the_filters(dated: Settings) -> None:
    chat = assistant.build_chat_engine(dated, filters=Filters(as_of=date(2024, 6, 1)))
    assert "10万元" in chat.chat(JIA).response
    chat.set_filters(Filters(as_of=date(2025, 6, 1)))
    assert "30万元" in chat.chat("那甲市呢？").response


# -- compare, match, the LLM answerer -----------------------------------------------------------------------


def test_compare_fills_each_cell_from_the_version_in_force(dated_engine: assistant.PolicyQueryEngine) -> None:
    places = ["甲市", "乙县", "丙市"]
    before = assistant.compare("首次升规奖励", places, engine=dated_engine, as_of=date(2024, 12, 31))
    after = assistant.compare("首次升规奖励", places, engine=dated_engine, as_of=date(2025, 1, 1))
    cell = lambda c, place: " ".join(r.text for r in c.rows if r.jurisdiction == place)  # noqa: E731
    assert "10万元" in cell(before, "甲市") and "30万元" in cell(after, "甲市")
    assert EXPIRED in after.notice and EXPIRED not in before.notice and after.as_of == "2025-01-01"
    current = assistant.compare("首次升规奖励", places, engine=dated_engine, as_of=date(2025, 1, 1), validity="current")
    assert cell(current, "乙县") == "未提及" and "丙政发〔2023〕6号" in current.notice
    history = assistant.compare("首次升规奖励", ["甲市"], engine=dated_engine, validity="all")
    assert {r.citation.validity_state for r in history.rows if r.citation} == {"in_force", "repealed"}
    assert "有效期提示" in history.to_csv() and "废止" in history.to_markdown()


def test_match_lists_only_measures_in_force(dated_engine: assistant.PolicyQueryEngine) -> None:
    def docs(profile: str, **kw: object) -> dict[str, str]:
        return {m.doc_id: m.validity for m in assistant.match(profile, engine=dated_engine, **kw).measures}

    assert docs("甲市的一家工业企业", as_of=date(2024, 12, 31)) == {"jia_2022": "in_force"}
    assert docs("甲市的一家工业企业", as_of=date(2025, 1, 1)) == {"jia_2025": "in_force"}
    assert docs("乙县的一家小微企业", as_of=date(2024, 12, 31)) == {"yi_2023": "in_force"}
    lapsed = assistant.match("乙县的一家小微企业", engine=dated_engine, as_of=date(2025, 1, 1))
    assert lapsed.measures == [] and any("不在有效期内" in n for n in lapsed.notes)
    assert docs("乙县的一家小微企业", as_of=date(2025, 1, 1), validity="all") == {"yi_2023": "expired"}
    marked = assistant.match("丁市的一家民营企业", engine=dated_engine)
    assert marked.measures and marked.measures[0].validity == "unknown"
    assert "有效期未说明" in marked.to_markdown() and "有效期未说明" in marked.to_csv()


def test_llm_answers_carry_the_notices_too(dated: Settings) -> None:
    from openai_server import FakeOpenAIServer, Reply

    with FakeOpenAIServer(default=Reply(text="乙县对首次升规的小微企业给予奖励20万元[1]。")) as server:
        settings = dated.model_copy(update={
            "answerer": "llm", "openai_api_key": SecretStr("sk-test"), "openai_base_url": server.base_url,
            "llm_timeout": 5.0, "llm_max_retries": 0,
        })  # fmt: skip
        final = list(assistant.build_query_engine(settings).stream_answer(YI))[-1]
    assert final.answerer.startswith("llm:") and "20万元" in final.text
    assert EXPIRED in final.notice and final.citations[0].validity_state == "expired"


# -- surfaces: API, CLI, UI ---------------------------------------------------------------------------------


def test_api_takes_as_of_and_validity(dated: Settings) -> None:
    import httpx
    import openai

    from tests.api_server import api_serving

    with api_serving(dated) as url:
        client = openai.OpenAI(base_url=url + "v1", api_key="x", max_retries=0, timeout=60)
        messages = [{"role": "user", "content": JIA}]
        old = client.chat.completions.create(model="policy-qa", messages=messages, extra_body={"as_of": "2024-06-01"})
        assert "10万元" in old.choices[0].message.content and old.as_of == "2024-06-01"
        new = client.chat.completions.create(
            model="policy-qa", messages=messages, extra_body={"filters": {"as_of": "2025-06-01", "validity": "all"}}
        )
        assert "30万元" in new.choices[0].message.content and "现行有效的是" in new.notice
        assert [c["validity_state"] for c in new.citations] == ["in_force", "repealed"]
        chunks = list(client.chat.completions.create(
            model="policy-qa", messages=[{"role": "user", "content": YI}], stream=True, extra_body={"as_of": "2025-01-01"}
        ))  # fmt: skip
        assert EXPIRED in chunks[-1].notice
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(model="policy-qa", messages=messages, extra_body={"as_of": "2025-02-30"})
        assert info.value.code == "invalid_date" and "YYYY-MM-DD" in info.value.message
        table = httpx.post(url + "v1/compare", json={"topic": "首次升规奖励", "jurisdictions": ["甲市"], "as_of": "2024-06-01"}, timeout=60).json()
        assert "10万元" in table["rows"][0]["text"] and table["as_of"] == "2024-06-01"
        found = httpx.post(url + "v1/match", json={"text": "乙县的一家小微企业", "as_of": "2025-01-01", "validity": "all"}, timeout=60).json()
        assert [m["validity"] for m in found["measures"]] == ["expired"]
        passages = httpx.post(url + "v1/retrieve", json={"question": YI, "as_of": "2025-01-01"}, timeout=60).json()
        assert passages["data"][0]["validity"]["state"] == "expired"
        for path, body in (("v1/match", {"text": "乙县", "as_of": "昨天"}), ("v1/retrieve", {"question": YI, "filters": {"as_of": "1/1"}})):
            bad = httpx.post(url + path, json=body, timeout=60)
            assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_date", bad.text


def test_cli_as_of_and_validity(dated: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.cli import main

    index = ["--index-dir", str(dated.index_dir)]
    assert main([*index, "ask", JIA, "--as-of", "2024-06-01", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "10万元" in out["answer"] and out["as_of"] == "2024-06-01"
    assert main([*index, "ask", YI, "--as-of", "2025-01-01", "--current-only"]) == 0
    assert "不在有效期内" in capsys.readouterr().out
    assert main([*index, "compare", "首次升规奖励", "--jurisdiction", "甲市", "--include-history", "--format", "csv"]) == 0
    assert "废止" in capsys.readouterr().out
    assert main([*index, "match", "--text", "乙县的一家小微企业", "--as-of", "2024-06-01", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["measures"][0]["validity"] == "in_force"
    with pytest.raises(SystemExit) as info:
        main([*index, "ask", JIA, "--as-of", "2024-13-01"])
    assert info.value.code == 2 and "YYYY-MM-DD" in capsys.readouterr().err


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def page(dated: Settings) -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian chromium at /usr/bin/chromium: run .ci/system-deps.sh")
    sync_api = pytest.importorskip("playwright.sync_api")
    from assistant.server import serving

    with serving(dated) as url, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"], headless=True)
        try:
            page = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
            page.goto(url, wait_until="load")
            page.wait_for_selector("#pqa-input textarea", timeout=20_000)
            yield page
        finally:
            browser.close()


@pytest.mark.browser
def test_ui_date_field_shows_the_notice(page) -> None:  # noqa: ANN001 - a Playwright page
    page.get_by_text("筛选（用于下一个问题）").click()
    page.locator("#pqa-asof textarea, #pqa-asof input").first.fill("2025-06-01")
    page.locator("#pqa-input textarea").fill(YI)
    page.locator("#pqa-input textarea").press("Enter")
    notice = page.locator("#pqa-chat .pqa-answer .pqa-notice").first
    notice.wait_for(timeout=30_000)
    assert EXPIRED in notice.inner_text() and "2025年6月1日" in notice.inner_text()
    assert "日期 2025-06-01" in page.locator("#pqa-chat .pqa-answer .pqa-filters").first.inner_text()
    assert EXPIRED in page.locator("#pqa-sources .pqa-src-validity").first.inner_text()


# -- the default corpus ---------------------------------------------------------------------------------------


def test_wenzhou_reward_answers_carry_the_delegation(engine: assistant.PolicyQueryEngine) -> None:
    ans, _, _ = engine.answer("温州对首次小升规企业奖励多少？")
    assert "20万元" in ans.text and "温政发〔2023〕6号" in ans.notice and "温政发〔2023〕8号" in ans.notice
    wenzhou = [c for c in ans.citations if "温州" in c.jurisdiction]
    assert wenzhou and all(c.validity_state == "delegated" for c in wenzhou)
    assert "6號" in wenzhou[0].validity_evidence and "有效期均按照" in wenzhou[0].validity_evidence


# -- the evaluation ---------------------------------------------------------------------------------------------


def test_eval_reads_as_of_and_scores_notices(tmp_path: Path) -> None:
    from llama_index.core.schema import NodeWithScore, TextNode

    from eval.dataset import QuestionSetError, load_questions
    from eval.pipelines import PipelineResult
    from eval.runner import run_pipelines

    path = tmp_path / "q.jsonl"
    rows = [
        {"id": "a", "question": "甲？", "answerable": True, "evidence": ["奖励30万元"], "answer_keywords": ["30万元"],
         "as_of": "2025-06-01", "expect_notice": ["甲政发〔2025〕3号"]},
        {"id": "b", "question": "乙？", "answerable": True, "evidence": ["奖励30万元"], "answer_keywords": ["30万元"]},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    questions = load_questions(path)
    assert questions[0].as_of == date(2025, 6, 1) and questions[0].expect_notice == ("甲政发〔2025〕3号",)
    assert questions[1].as_of is None and questions[1].expect_notice == ()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "question": "？", "answerable": False, "as_of": "2025/6/1"}), encoding="utf-8")
    with pytest.raises(QuestionSetError, match="as_of"):
        load_questions(bad)

    node = NodeWithScore(node=TextNode(id_="n", text="奖励30万元", metadata={"doc_id": "old"}), score=1.0)

    class Pipe:
        name = "hybrid"
        days: list[date] = []

        def ask(self, q: object) -> PipelineResult:
            self.days.append(today())  # the day the assistant sees: the question's as_of
            notice = "《旧》已被甲政发〔2025〕3号废止" if self.days[-1] == date(2025, 6, 1) else ""
            return PipelineResult([node], "奖励30万元[1]", True, [node], 1.0, 2.0, {"notice": notice})

    run = run_pipelines(questions, [Pipe()], progress=False, validity=lambda d, day: ("repealed", "《旧》已被甲政发〔2025〕3号废止"))
    assert Pipe.days == [date(2025, 6, 1), today()]
    summary = run.metrics["pipelines"]["hybrid"]
    assert summary["notice_accuracy"] == 1.0  # only question a expects a notice, and it has it
    assert summary["repealed_cited_as_current"] == 1  # question b cites the repealed document without saying so
    assert run.rows[1]["scores"]["repealed_as_current"] and not run.rows[0]["scores"]["repealed_as_current"]


def test_ui_renders_validity() -> None:
    from assistant.core.schema import Citation
    from assistant.ui.match_tab import match_dates
    from assistant.ui.render import filters_line, render_citation

    cite = Citation(n=1, node_id="x", title="T", section="一、", file="t.txt", start=0, end=1, text="原文",
                    validity_notice="《T》有效期至2024年12月31日（已过期）", validity_evidence="有效期至2024年12月31日。<b>")  # fmt: skip
    html = render_citation(1, cite)
    assert "pqa-src-validity" in html and "（已过期）" in html and "&lt;b&gt;" in html
    assert filters_line([], [], "2025-01-01", "all") == "筛选：日期 2025-01-01、包括历史文件"
    assert match_dates("2025-01-01", "all") == {"as_of": date(2025, 1, 1), "validity": "all"}
    assert match_dates("", "current") == {}
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        match_dates("2025-1-1x", "current")
