"""The eligibility check ("政策找人") over the whole corpus: places and scopes, sorting, citations, rendering.

Each rule on its own (measure sentences, conditions, condition checks) is tested without an index in
tests/test_eligibility_rules.py; here the corpus is the point.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from assistant.core.text import search_form
from assistant.decisions.eligibility import MatchResult, MeasureMatch, Profile, match, measures_for

YUEQING_RISING = {
    "location": "乐清",
    "industry": "制造业",
    "employees": 120,
    "revenue": 5000,
    "qualifications": ["规下"],
    "plans": ["小升规"],
}
STATUS_RANK = {"符合": 0, "可能符合": 1, "不符合": 2}
SCOPE_RANK = {"本地": 0, "上级": 1, "全国典型做法": 2}


@pytest.fixture(scope="module")
def rising(engine) -> MatchResult:
    return match(YUEQING_RISING, engine=engine)


def _find(result: MatchResult, doc: str, *words: str) -> MeasureMatch:
    found = [m for m in result.measures if doc in m.doc_id and all(w in search_form(m.text) for w in words)]
    assert found, f"no measure of {doc} with {words}"
    return found[0]


def _condition(m: MeasureMatch, word: str):
    return next(c for c in m.conditions if word in c.text)


# -- the check against the corpus ------------------------------------------------------------------------------


def test_rising_yueqing_manufacturer_gets_the_wenzhou_upscaling_reward(rising: MatchResult) -> None:
    assert rising.location_path == "浙江省/温州市/乐清市"
    m = _find(rising, "wenzhou", "首次“小升规”企业")
    assert m.scope == "上级"
    assert m.status == "符合"
    assert "20万元" in m.benefit
    assert "市经信局" in m.department
    assert _condition(m, "小升规").status == "met"
    assert _condition(m, "适用地区").status == "met"
    assert m.citation.label() and m.citation.quote == m.text


def test_a_liaocheng_firm_never_gets_wenzhou_or_yueqing_measures(engine) -> None:
    result = match({"location": "聊城", "industry": "制造业"}, engine=engine, include_unmet=True)
    assert result.location_path == "山东省/聊城市"
    assert result.measures
    assert not any(d in m.doc_id for m in result.measures for d in ("wenzhou", "yueqing", "shuozhou"))
    assert {m.scope for m in result.measures} <= {"本地", "全国典型做法"}
    local = _find(result, "liaocheng", "新增规上企业")
    assert "市工业和信息化局" in local.department  # （牵头单位：…）


def test_a_place_outside_the_corpus_gets_only_national_practices(engine) -> None:
    result = match({"location": "杭州", "industry": "软件和信息技术服务业", "employees": 30}, engine=engine)
    assert result.location_path == ""
    assert result.measures
    assert {m.scope for m in result.measures} == {"全国典型做法"}
    assert {m.status for m in result.measures} == {"可能符合"}
    assert any("杭州" in n and "全国典型做法" in n for n in result.notes)


def test_national_practices_are_examples_never_fully_met(engine) -> None:
    result = match({**YUEQING_RISING, "plans": ["小升规", "融资", "技改"]}, engine=engine)
    national = [m for m in result.measures if m.scope == "全国典型做法"]
    assert national
    for m in national:
        assert m.status == "可能符合"
        assert m.conditions[0].kind == "location" and m.conditions[0].status == "unknown"
        assert m.citation.city and m.citation.city in m.title
    wenzhou_practice = next(m for m in national if m.citation.city == "温州市")
    assert "所在地" in wenzhou_practice.conditions[0].reason  # the parent city's own practice is said so


def test_a_practice_city_sees_its_own_practices_first(engine) -> None:
    result = match({"location": "台州"}, engine=engine)
    assert {m.scope for m in result.measures} == {"全国典型做法"}
    assert result.measures[0].citation.city == "台州市"
    assert "所在地" in result.measures[0].conditions[0].reason


def test_sub_place_below_a_corpus_city_gets_that_city_as_parent(engine) -> None:
    result = match({"location": "温州市鹿城区"}, engine=engine)
    assert result.location_path == "浙江省/温州市/鹿城区"
    assert {m.scope for m in result.measures} == {"上级", "全国典型做法"}
    assert not any("yueqing" in m.doc_id for m in result.measures)
    assert any("鹿城区" in n for n in result.notes)


def test_no_location_lists_every_place_with_the_place_unknown(engine) -> None:
    result = match({"industry": "制造业", "employees": 50, "revenue": 1000}, engine=engine)
    assert {m.doc_id.split("_")[0] for m in result.measures} >= {
        "wenzhou",
        "yueqing",
        "liaocheng",
        "shuozhou",
        "ndrc",
    }
    assert all(
        m.conditions[0].kind == "location" and m.conditions[0].status == "unknown" for m in result.measures
    )
    assert "符合" not in {m.status for m in result.measures}
    assert any("所在地" in n for n in result.notes)


def test_a_large_firm_fails_sme_measures_shown_only_with_include_unmet(engine) -> None:
    big = {"location": "温州", "industry": "制造业", "employees": 2000, "revenue": 80000}
    shown = match(big, engine=engine)
    everything = match(big, engine=engine, include_unmet=True)
    failed = [m for m in everything.measures if m.status == "不符合"]
    assert failed and not any(m.status == "不符合" for m in shown.measures)
    size = next(c for m in failed for c in m.conditions if c.kind == "size" and c.status == "not_met")
    assert "大型" in size.reason


def test_a_sentence_profile_is_parsed_with_the_corpus_places(engine) -> None:
    result = match(
        "我们是乐清的一家制造业企业，120人，年营收5000万元，成立3年，专精特新，纳税信用A级，计划明年上市",
        engine=engine,
    )
    assert result.location_path == "浙江省/温州市/乐清市"
    assert result.profile.employees == 120 and "专精特新" in result.profile.qualifications


def test_a_sentence_keeps_a_town_below_the_corpus_county(engine) -> None:
    result = match("我们在乐清市柳市镇，做电气的，50人", engine=engine)
    assert result.location_path == "浙江省/温州市/乐清市/柳市镇"
    assert {m.scope for m in result.measures} == {"上级", "全国典型做法"}  # 乐清 and 温州 are both parents


def test_sorted_by_status_then_open_questions_then_scope(rising: MatchResult) -> None:
    keys = [
        (STATUS_RANK[m.status], sum(c.status == "unknown" for c in m.conditions), SCOPE_RANK[m.scope])
        for m in rising.measures
    ]
    assert keys == sorted(keys)
    assert [m.citation.n for m in rising.measures] == list(range(1, len(rising.measures) + 1))


def test_measure_text_is_verbatim_and_ids_are_stable(engine, rising: MatchResult) -> None:
    cat = engine.retriever.catalog
    for m in rising.measures:
        assert m.text and m.text in m.citation.text
        assert m.citation.quote == m.text
        doc_id, span = m.measure_id.rsplit(":", 1)
        start, end = (int(x) for x in span.split("-"))
        assert doc_id == m.doc_id
        assert cat.cleaned_text(doc_id)[start:end] == m.text
    again = match(Profile(location="乐清"), engine=engine)
    assert {m.measure_id for m in rising.measures} <= {m.measure_id for m in again.measures}
    assert measures_for(cat) is measures_for(cat)  # extracted once per build


def test_traditional_documents_keep_their_text_but_simplified_fields(rising: MatchResult) -> None:
    m = _find(rising, "wenzhou", "首次“小升规”企业")
    assert "獎勵" in m.text  # verbatim Traditional
    assert "万元" in m.benefit and "局" in m.department and "經" not in m.department


def test_to_csv_parses_back(rising: MatchResult) -> None:
    rows = list(csv.reader(io.StringIO(rising.to_csv())))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["序号", "状态", "范围", "措施"] and "条件" in header and "出处" in header
    assert len(body) == len(rising.measures)
    assert all(len(r) == len(header) for r in body)
    first = dict(zip(header, body[0], strict=True))
    assert first["状态"] == rising.measures[0].status
    assert "✓" in first["条件"]
    assert first["原文"] == rising.measures[0].text


def test_to_markdown_and_to_dict(rising: MatchResult) -> None:
    md = rising.to_markdown()
    assert "【符合】" in md and "✓" in md and "责任单位" in md
    assert rising.measures[0].citation.label() in md
    data = json.loads(json.dumps(rising.to_dict(), ensure_ascii=False))
    assert data["location_path"] == "浙江省/温州市/乐清市"
    assert len(data["measures"]) == len(rising.measures)
    assert data["measures"][0]["citation"]["quote"] == rising.measures[0].text


def test_every_measure_names_a_benefit_or_is_an_honest_blank(rising: MatchResult) -> None:
    for m in rising.measures:
        numbers = re.findall(r"\d+(?:\.\d+)?", m.benefit)
        assert all(n in search_form(m.text) for n in numbers)  # no invented amounts


# -- typical practices ---------------------------------------------------------------------------------------


def test_every_typical_practice_is_one_measure_and_examples_follow_the_profile(engine) -> None:
    cat = engine.retriever.catalog
    practices = [m for m in measures_for(cat) if m.national]
    assert len({m.node_id for m in practices}) == len(practices)  # one per practice
    assert any("创新专利权质押保险贷款" in m.text for m in practices)  # no grant word, still a practice
    borrower = match({"location": "深圳", "industry": "电子信息", "plans": ["融资"]}, engine=engine)
    assert borrower.measures and all(m.scope == "全国典型做法" for m in borrower.measures)
    assert all(
        any(c.status == "met" and c.kind in ("plan", "qualification", "industry") for c in m.conditions)
        for m in borrower.measures
    )
    assert any("专利权质押" in m.text for m in borrower.measures)
    everything = match({"location": "深圳"}, engine=engine)  # nothing to judge relevance on: all practices
    assert len(everything.measures) > len(borrower.measures)
