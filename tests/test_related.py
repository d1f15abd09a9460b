"""A decline is not a dead end (issue #11): it lists the closest passages as 可能相关的条款, on every surface;
and a figure stated for another year than the one asked is never given in silence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from llama_index.core.schema import NodeWithScore
from pydantic import SecretStr

from assistant.core.schema import REFUSAL, RELATED_HEADING, Answer, Citation
from assistant.qa.context import AnswerContext
from assistant.qa.engine import PolicyQueryEngine
from assistant.qa.extractive import refusal, year_mismatch, year_notice
from assistant.settings import Settings
from assistant.ui.render import Turn, render_sources
from tests.api_server import api_serving

# Worded unlike the documents (公司第一次成为规上企业 for 首次“小升规”企业): the offline answerer declines, and
# the clause that answers it (温州: 首次“小升规”企业首年奖励20万元) is among the closest passages.
PARAPHRASE = "温州公司第一次成为规上企业给多少钱？"


def reaches_the_clause(related: list[dict] | list[Citation]) -> bool:
    texts = [c.text if isinstance(c, Citation) else c["text"] for c in related]
    return any("小升規" in t and "20萬元" in t for t in texts)


@pytest.fixture(scope="module")
def declined(engine: PolicyQueryEngine) -> Answer:
    ans, _, _ = engine.answer(PARAPHRASE)
    assert not ans.answerable, f"precondition: the offline answerer declines {PARAPHRASE!r}: {ans.text}"
    return ans


def test_a_decline_lists_the_closest_passages_and_still_declines(declined: Answer, corpus_index: Settings) -> None:
    assert declined.text == REFUSAL and declined.citations == [] and declined.passages == []
    assert 2 <= len(declined.related) <= corpus_index.related_passages
    assert [c.n for c in declined.related] == list(range(1, len(declined.related) + 1))
    assert all(c.label().startswith("《") and c.text and c.file for c in declined.related)
    assert len({c.node_id for c in declined.related}) == len(declined.related)
    assert reaches_the_clause(declined.related)
    assert declined.to_dict()["related"] == [c.to_dict() for c in declined.related]
    assert declined.to_dict()["citations"] == []


def test_streaming_and_any_answerer_get_them_too(engine: PolicyQueryEngine) -> None:
    *pieces, final = list(engine.stream_answer(PARAPHRASE))
    assert "".join(pieces) == final.text == REFUSAL and reaches_the_clause(final.related)

    class Declines:  # an LLM answerer that finds nothing to say
        name = "llm"

        def answer(self, question: str, passages: list[NodeWithScore], context: AnswerContext | None = None) -> Answer:
            return refusal()

        def stream(
            self, question: str, passages: list[NodeWithScore], context: AnswerContext | None = None
        ) -> Iterator[str | Answer]:
            yield refusal()

    other = PolicyQueryEngine(engine.retriever, Declines(), engine.settings)
    ans, _, _ = other.answer("温州对首次小升规企业奖励多少？")
    assert not ans.answerable and ans.citations == [] and reaches_the_clause(ans.related)
    assert reaches_the_clause(list(other.stream_answer("温州对首次小升规企业奖励多少？"))[-1].related)


def test_no_related_passages_for_an_answer_a_missing_place_or_when_turned_off(engine: PolicyQueryEngine) -> None:
    answered, _, _ = engine.answer("温州对首次小升规企业奖励多少？")
    assert answered.answerable and answered.related == []
    elsewhere, _, _ = engine.answer("杭州公司第一次成为规上企业给多少钱？")  # a place the corpus lacks
    assert not elsewhere.answerable and "杭州" in elsewhere.text and elsewhere.related == []
    off = PolicyQueryEngine(
        engine.retriever, engine.answerer, engine.settings.model_copy(update={"related_passages": 0})
    )
    assert off.answer(PARAPHRASE)[0].related == []


def test_cli_prints_them_and_json_carries_them(corpus_index: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.cli import main

    index = ["--index-dir", str(corpus_index.index_dir)]
    assert main([*index, "ask", PARAPHRASE, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["answer"] == REFUSAL and out["answerable"] is False and out["citations"] == []
    assert 2 <= len(out["related"]) <= 3 and reaches_the_clause(out["related"])
    assert all(r["label"].startswith("《") and r["n"] >= 1 for r in out["related"])
    assert main([*index, "ask", PARAPHRASE]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(REFUSAL) and f"\n{RELATED_HEADING}：\n1. 《" in printed and "来源：" not in printed


def test_api_carries_them_next_to_citations(corpus_index: Settings, tmp_path: Path) -> None:
    settings = corpus_index.model_copy(update={"database_url": SecretStr(f"sqlite:///{tmp_path / 'h.sqlite3'}")})
    with api_serving(settings) as url:
        c = openai.OpenAI(base_url=url + "v1", api_key="x", max_retries=0, timeout=60)
        messages = [{"role": "user", "content": PARAPHRASE}]
        done = c.chat.completions.create(model="policy-qa", messages=messages)
        chunks = list(c.chat.completions.create(model="policy-qa", messages=messages, stream=True))
        answered = c.chat.completions.create(model="policy-qa", messages=[{"role": "user", "content": "温州对首次小升规企业奖励多少？"}])
    assert done.choices[0].message.content == REFUSAL and done.answerable is False and done.citations == []
    assert 2 <= len(done.related) <= 3 and reaches_the_clause(done.related)
    assert done.choices[0].message.related == done.related
    assert all({"n", "label", "section_path", "document_title", "text", "file"} <= set(r) for r in done.related)
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop" and final.related == done.related and final.citations == []
    assert all(getattr(ch, "related", None) is None for ch in chunks[:-1])
    assert answered.answerable is True and answered.related == [] and answered.citations


def test_ui_sources_panel_shows_them_under_the_heading(declined: Answer) -> None:
    html = render_sources([Turn(number=1, question=PARAPHRASE, answer=declined)])
    assert RELATED_HEADING in html and 'id="pqa-rel-1-1"' in html and "本问未引用文件" not in html
    assert "小升規" in html

    hostile = Citation(n=1, node_id="x", title="<b>标题</b>", section="一、<i>总则</i>", file="t.txt", start=0, end=9,
                       text="<script>alert(1)</script>原文")  # fmt: skip
    declined_hostile = Answer(text=REFUSAL, answerable=False, related=[hostile])
    html = render_sources([Turn(number=2, question="问", answer=declined_hostile)])
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>" not in html
    answered = Answer(text="答[1]", answerable=True, citations=[hostile], related=[])
    assert RELATED_HEADING not in render_sources([Turn(number=3, question="问", answer=answered)])


# -- another year's figure ----------------------------------------------------------------------------------

YEAR_CASES = [
    # (question, answer sentence, years the notice names; [] = no notice)
    ("温州2024年新增多少家专精特新企业？", "到2025年,新增中小微企业10万家。[1]", [2025]),
    ("乐清2024年首贷户要新增多少户？", "2023年首贷户新增1700户以上。[1]", [2023]),
    ("乐清2023年首贷户要新增多少户？", "2023年首贷户新增1700户以上。[1]", []),  # the year asked
    ("温州到2025年新增多少家中小微企业？", "到2025年,新增中小微企业10万家。[1]", []),
    ("2024年乐清新增多少首贷户？", "2023-2025年,每年新增首贷户1700户。[1]", []),  # a range holding it
    ("2024年乐清新增多少首贷户？", "2023年至2025年新增首贷户5000户。[1]", []),
    ("2024年乐清每年新增多少首贷户？", "每年新增首贷户1700户。[1]", []),  # no year stated
    ("2024年时，温州到2025年贷款余额目标是多少？", "到2025年,小微企业贷款余额超1.1万亿元。[1]", []),  # as-of
    ("2024年时，温州贷款余额目标是多少？", "到2025年,小微企业贷款余额超1.1万亿元。[1]", []),  # as-of only
    ("2024年朔州专项资金规模是多少？", "从2019年起,我市设立2000万元的专项资金。[1]", []),  # a start
    ("2022年温州民间融资利率是多少？", "2021年6月末温州民间融资综合利率回落到13.7%。[1]", []),  # a date
    ("2024年温州有哪些支持政策？", "到2025年,新增中小微企业10万家。[1]", []),  # not a number question
    (  # eval q045: the asked year is named in the answer (a date); 2011 is only a comparison
        "“温州指数”显示2021年6月末温州民间融资综合利率回落到多少？",
        "截至2021年6月末，温州地区民间融资综合利率水平回落到14.23%，较2011年的阶段性高位（25.44%）降幅超44%。[1]",
        [],
    ),
]


@pytest.mark.parametrize(("question", "sentence", "years"), YEAR_CASES)
def test_year_mismatch_table(engine: PolicyQueryEngine, question: str, sentence: str, years: list[int]) -> None:
    plan = engine.retrieve_for(question).plan
    assert year_mismatch(plan, sentence) == years


def test_year_notice_wording() -> None:
    assert year_notice([2025], "到2025年,新增中小微企业10万家。") == "文件只给出2025年的目标："
    assert year_notice([2023], "2023年首贷户新增1700户以上。") == "文件只给出2023年的数字："
    assert year_notice([2023, 2025], "全市目标：2023年、2025年…") == "文件只给出2023年、2025年的目标："
    assert year_notice([2023], "截至2023年底，担保比例提高到50%。") == "文件只给出2023年的数字："


def test_another_years_target_is_answered_with_the_notice(engine: PolicyQueryEngine) -> None:
    ans, _, _ = engine.answer("温州2024年新增多少家专精特新企业？")
    assert ans.answerable and ans.text.startswith("文件只给出2025年的目标：到2025年") and ans.citations
    same, _, _ = engine.answer("温州到2025年新增多少家专精特新企业？")
    assert same.answerable and not same.text.startswith("文件只给出")
    as_of, _, _ = engine.answer("2024年时，温州到2025年小微企业贷款余额目标是多少？")
    assert as_of.answerable and not as_of.text.startswith("文件只给出") and as_of.as_of == "2024-12-31"
