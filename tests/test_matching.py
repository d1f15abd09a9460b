"""The eligibility check ("政策找人"): measures of the corpus for one enterprise, conditions checked and cited."""

from __future__ import annotations

import csv
import io
import json
import re
import time

import pytest

from assistant.core.text import search_form
from assistant.decisions.matching import MatchResult, MeasureMatch, match
from assistant.decisions.measures import is_measure, measures_for, read_conditions
from assistant.decisions.profiles import Profile

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


# -- rules on sentences (no index) ---------------------------------------------------------------------------


def test_measure_sentences_grant_something_to_enterprises() -> None:
    assert is_measure("对首次“小升规”企业首年奖励20万元,后两年销售额保持增长的奖励10万元。")
    assert is_measure("降低中小企业担保费率，健全财政对融资担保降费奖补和风险补偿的支持机制。")
    assert not is_measure("到2025年,新增中小微企业10万家;规上工业企业突破1万家。")  # a target
    assert not is_measure("（一）加强组织领导。发挥领导小组作用,实行季度例会制度。")  # administration
    assert not is_measure("对服务机构向小微企业提供的各类服务项目最高给予20万元补助。")  # not to a firm
    assert not is_measure(
        "对严重失信、长期违约、恶意拖欠的企业,要公开曝光,取消已有的荣誉和补贴。"
    )  # a sanction


def test_conditions_read_from_a_sentence() -> None:
    conds = read_conditions(search_form("对年销售收入达到5000万元以上的规模以上陶瓷企业,给予奖补"))
    by_kind = {c.kind: c for c in conds}
    assert by_kind["revenue"].low == 5000 and by_kind["revenue"].high is None
    assert by_kind["qualification"].key == "规上"
    assert by_kind["industry"].key == "陶瓷"
    upper = read_conditions("支持各地对销售收入500万元以下企业给予综合扶持")[0]
    assert (upper.kind, upper.low, upper.high) == ("revenue", None, 500)
    tax = read_conditions("对纳税信用A级企业给予信用贷款")
    assert any(c.kind == "tax_credit" and c.grades == ("A",) for c in tax)
    tax_b = next(c for c in read_conditions("纳税信用B级以上的企业") if c.kind == "tax_credit")
    assert tax_b.grades == ("A", "B")


def test_listed_beneficiaries_are_alternatives() -> None:
    conds = read_conditions(
        "为符合条件的新注册企业、“小升规”企业分别提供100万元、1000万元信用贷款基础授信额度"
    )
    group = next(c for c in conds if c.members)
    assert {m.key for m in group.members} == {"新注册", "小升规"}


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


def test_high_tech_condition_met_not_met_or_unknown(engine) -> None:
    base = {"location": "乐清", "industry": "制造业", "employees": 80, "revenue": 3000}
    statuses = {}
    for quals, expected in (
        (["新升规", "高新技术企业"], "met"),
        (["新升规", "非高新技术企业"], "not_met"),
        (["新升规"], "unknown"),
    ):
        result = match({**base, "qualifications": quals}, engine=engine, include_unmet=True)
        m = _find(result, "wenzhou", "高新技术企业", "再奖励10万元")
        statuses[expected] = (_condition(m, "高新技术企业").status, m.status)
        shown = match({**base, "qualifications": quals}, engine=engine)
        assert (m.measure_id in {x.measure_id for x in shown.measures}) == (expected != "not_met")
    assert statuses == {
        "met": ("met", "符合"),
        "not_met": ("not_met", "不符合"),
        "unknown": ("unknown", "可能符合"),
    }


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


def test_numeric_thresholds_revenue_and_employees(engine) -> None:
    firm = {"location": "朔州", "industry": "陶瓷", "employees": 600, "revenue": 6000, "plans": ["融资"]}
    m = _find(match(firm, engine=engine), "shuozhou", "陶瓷企业", "贴息")
    assert {c.kind: c.status for c in m.conditions if c.kind in ("revenue", "employees", "industry")} == {
        "revenue": "met",
        "employees": "met",
        "industry": "met",
    }
    assert m.status == "符合"
    small = match({**firm, "revenue": 3000}, engine=engine, include_unmet=True)
    m2 = _find(small, "shuozhou", "陶瓷企业", "贴息")
    assert _condition(m2, "销售收入").status == "not_met" and m2.status == "不符合"


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


def test_match_is_fast_once_the_build_is_read(engine) -> None:
    match(YUEQING_RISING, engine=engine)
    started = time.perf_counter()
    for location in ("乐清", "聊城", "杭州", "朔州"):
        match({**YUEQING_RISING, "location": location}, engine=engine)
    assert time.perf_counter() - started < 1.0


# -- support measures, practices, alternatives, completeness ------------------------------------------------


def test_support_and_service_measures_name_the_firm_without_a_grant_word() -> None:
    assert is_measure("支持中小微企业自建或者并购研发机构,购置先进实验设备。")
    assert is_measure("通过知识产权保护直通车,为“专精特新”中小企业提供优先审查和快速预审。")
    assert is_measure("对小微企业、初创型企业实施包容审慎监管。")
    assert is_measure("个体工商户转型升级为企业且投资主体不变的,可以采取“直接变更”办理登记。")
    assert is_measure("将外贸企业汇率避险担保比例从5%提高至8%。")
    assert is_measure("支持在园区建设集中煤气供应站,降低陶瓷企业用气成本。")  # whose cost is lowered
    assert not is_measure("支持金融机构开展存货、设备等动产质押融资。")  # support to a bank
    assert not is_measure("鼓励发展创业投资。")  # names no firm
    assert not is_measure("对服务机构向小微企业提供的各类服务项目最高给予20万元补助。")
    assert not is_measure("对违规企业实施处罚。")  # a sanction, not a treatment
    assert not is_measure("2023年支持3家民营企业申报省科技领军企业。")  # a work target


def test_a_target_appended_to_a_measure_is_cut_off(engine) -> None:
    result = match({"location": "温州市瓯海区", "qualifications": ["专精特新"]}, engine=engine)
    m = _find(result, "wenzhou", "专精特新中小企业纳入")
    assert "力争" not in search_form(m.text) and "2025" not in m.text


def test_words_written_together_are_one_alternative() -> None:
    group = next(c for c in read_conditions("对小微企业、科技型初创企业实施普惠性税收免除") if c.members)
    young_tech = next(m for m in group.members if m.key == "all")
    assert {m.kind for m in young_tech.members} == {"industry", "age"}
    assert not any(c.kind == "age" for c in read_conditions("对小微企业、科技型初创企业实施税收免除"))


def test_an_older_small_firm_meets_the_small_firm_alternative(engine) -> None:
    firm = {"location": "朔州", "industry": "制造业", "employees": 40, "revenue": 1500, "age_years": 5}
    m = _find(match(firm, engine=engine), "shuozhou", "科技型初创企业", "税收免除")
    assert m.status == "符合"


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


def test_an_industry_practice_fails_a_firm_of_another_stated_industry(engine) -> None:
    maker = match({"location": "深圳", "industry": "电子信息", "plans": ["融资"]}, engine=engine, include_unmet=True)
    m = _find(maker, "ndrc", "民宿经营权抵押贷款")
    assert m.status == "不符合" and any(c.kind == "industry" and c.status == "not_met" for c in m.conditions)


def test_a_retail_firm_is_not_an_advanced_manufacturer(engine) -> None:
    shop = {"location": "乐清", "industry": "零售", "employees": 5}
    m = _find(match(shop, engine=engine, include_unmet=True), "yueqing", "先进制造业企业")
    assert m.status == "不符合"


def test_complete_qualifications_turn_unknown_into_not_met(engine) -> None:
    base = {"location": "乐清", "industry": "制造业", "employees": 80, "revenue": 3000, "qualifications": ["新升规"]}
    partial = match(base, engine=engine, include_unmet=True)
    complete = match({**base, "qualifications_complete": True}, engine=engine, include_unmet=True)
    m1 = _find(partial, "wenzhou", "高新技术企业", "再奖励10万元")
    m2 = _find(complete, "wenzhou", "高新技术企业", "再奖励10万元")
    assert _condition(m1, "高新技术企业").status == "unknown"
    c2 = _condition(m2, "高新技术企业")
    assert c2.status == "not_met" and "列出的资质中没有高新技术企业" in c2.reason
    assert m2.status == "不符合" and _condition(m2, "小升规").status == "met"  # 新升规 still meets 小升规
    giant = match({**base, "qualifications": ["小巨人"], "qualifications_complete": True}, engine=engine)
    implied = [c for m in giant.measures for c in m.conditions if c.text.strip("“”") == "专精特新"]
    assert implied and all(c.status == "met" for c in implied)  # implied by 小巨人, not missing
