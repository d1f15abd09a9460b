"""The eligibility rules without an index: which sentences are measures, the conditions they state, and
each condition checked against a profile (met / not met / unknown, with the reason a user reads).

Table-driven: one row per rule. The sentences are the corpus's own; the whole-corpus behaviour (places,
scopes, sorting, citations) is tests/test_matching.py's.
"""

from __future__ import annotations

import pytest

from assistant.core.text import search_form
from assistant.decisions.eligibility import ConditionCheck, Profile, is_measure, read_conditions
from assistant.decisions.eligibility.checks import check, overall_status
from assistant.decisions.eligibility.conditions import Condition
from assistant.decisions.eligibility.extract import benefit, measure_conditions
from assistant.decisions.eligibility.spans import measure_spans

# -- which sentences are measures ----------------------------------------------------------------------------

MEASURES = [
    "对首次“小升规”企业首年奖励20万元,后两年销售额保持增长的奖励10万元。",
    "降低中小企业担保费率，健全财政对融资担保降费奖补和风险补偿的支持机制。",
    "支持中小微企业自建或者并购研发机构,购置先进实验设备。",  # support, no grant word
    "通过知识产权保护直通车,为“专精特新”中小企业提供优先审查和快速预审。",  # 为…企业提供
    "对小微企业、初创型企业实施包容审慎监管。",  # 对…企业实施
    "个体工商户转型升级为企业且投资主体不变的,可以采取“直接变更”办理登记。",  # …的，可以
    "将外贸企业汇率避险担保比例从5%提高至8%。",  # a raised ratio
    "支持在园区建设集中煤气供应站,降低陶瓷企业用气成本。",  # whose cost is lowered
]
NOT_MEASURES = [
    "到2025年,新增中小微企业10万家;规上工业企业突破1万家。",  # a target
    "（一）加强组织领导。发挥领导小组作用,实行季度例会制度。",  # administration
    "对服务机构向小微企业提供的各类服务项目最高给予20万元补助。",  # to an agency, not a firm
    "对严重失信、长期违约、恶意拖欠的企业,要公开曝光,取消已有的荣誉和补贴。",  # a sanction
    "支持金融机构开展存货、设备等动产质押融资。",  # support to a bank
    "鼓励发展创业投资。",  # names no firm
    "对违规企业实施处罚。",  # a sanction, not a treatment
    "2023年支持3家民营企业申报省科技领军企业。",  # a work target
]


@pytest.mark.parametrize("sentence", MEASURES)
def test_a_grant_to_enterprises_is_a_measure(sentence: str) -> None:
    assert is_measure(sentence)


@pytest.mark.parametrize("sentence", NOT_MEASURES)
def test_targets_sanctions_and_grants_to_others_are_not(sentence: str) -> None:
    assert not is_measure(sentence)


def test_a_target_appended_to_a_measure_is_cut_off() -> None:
    text = "将具备条件的省级以上专精特新中小企业纳入市级重点拟上市企业名单进行培育,到2025年力争新增20家以上上市中小企业。"
    assert [text[a:b] for a, b in measure_spans(text, "")] == [
        "将具备条件的省级以上专精特新中小企业纳入市级重点拟上市企业名单进行培育"
    ]


def test_a_list_sentence_is_one_measure_per_beneficiary_and_names_its_benefit() -> None:
    text = "对小规模纳税人减免增值税，小微企业减按25%计入应纳税所得额，个体工商户减半征收个人所得税。"
    pieces = [search_form(text[a:b]) for a, b in measure_spans(text, "")]
    assert len(pieces) == 3 and pieces[1].startswith("小微企业")
    assert benefit(search_form("对首次“小升规”企业首年奖励20万元,后两年销售额保持增长的奖励10万元。")) == (
        "首年奖励20万元；奖励10万元"
    )


# -- the conditions a sentence states ------------------------------------------------------------------------


def _summary(c: Condition) -> tuple:
    return (c.kind, c.key, c.low, c.high, c.grades)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "对年销售收入达到5000万元以上的规模以上陶瓷企业,给予奖补",
            [("revenue", "revenue", 5000.0, None, ()), ("qualification", "规上", None, None, ()),
             ("industry", "陶瓷", None, None, ())],
        ),
        ("支持各地对销售收入500万元以下企业给予综合扶持", [("revenue", "revenue", None, 500.0, ())]),
        ("对纳税信用A级企业给予信用贷款", [("tax_credit", "tax_credit", None, None, ("A",)), ("plan", "融资", None, None, ())]),
        ("纳税信用B级以上的企业", [("tax_credit", "tax_credit", None, None, ("A", "B"))]),
        ("对成立3年以内的企业给予补贴", [("age", "age", None, 3.0, ())]),
        ("对初创企业给予补贴", [("age", "初创", None, 3.0, ())]),
        ("从业人员100人以上的企业", [("employees", "employees", 100.0, None, ())]),
        ("对民营企业给予支持", [("ownership", "民营", None, None, ())]),
        ("对软件企业给予奖励", [("industry", "软件和信息技术服务业", None, None, ())]),
        ("软件开发人员", []),  # an industry word names the beneficiary only before 企业/项目/行业…
    ],
)  # fmt: skip
def test_conditions_read_from_a_sentence(sentence: str, expected: list[tuple]) -> None:
    assert [_summary(c) for c in read_conditions(search_form(sentence))] == expected


def test_listed_beneficiaries_are_alternatives() -> None:
    conds = read_conditions("为符合条件的新注册企业、“小升规”企业分别提供100万元、1000万元信用贷款基础授信额度")
    group = next(c for c in conds if c.members)
    assert group.key == "any" and {m.key for m in group.members} == {"新注册", "小升规"}


def test_words_written_together_are_one_alternative() -> None:
    group = next(c for c in read_conditions("对小微企业、科技型初创企业实施普惠性税收免除") if c.members)
    young_tech = next(m for m in group.members if m.key == "all")
    assert {m.kind for m in young_tech.members} == {"industry", "age"}
    assert not any(c.kind == "age" for c in read_conditions("对小微企业、科技型初创企业实施税收免除"))


def test_the_heading_adds_only_kinds_the_sentence_leaves_open() -> None:
    heading = read_conditions(search_form("实施中小微企业“满天星”梯度培育计划"))
    conds = measure_conditions(search_form("对有效期内的首次“小升规”的高新技术企业,在“小升规”扶持政策基础上再奖励10万元。"), heading)
    assert [(c.kind, c.key) for c in conds] == [("qualification", "小升规"), ("qualification", "高新技术企业"), ("size", "0")]
    superseded = measure_conditions(search_form("对首次上规入统且未退出规模以上工业企业库的企业给予奖励"), [])
    assert [c.key for c in superseded if c.kind == "qualification"] == ["小升规", "other"]  # 规上 is the same step


def test_an_unknown_beneficiary_phrase_stays_an_unknown_condition() -> None:
    conds = measure_conditions(search_form("对新获得国家、省、市政府质量奖的企业,分别给予奖励。"), [])
    other = [c for c in conds if c.key == "other"]
    assert other and "质量奖" in other[0].text


# -- each condition against a profile ------------------------------------------------------------------------

# Measure sentences of the corpus (search form), each read into its conditions as extraction does.
HIGH_TECH = "对有效期内的首次“小升规”的高新技术企业,在“小升规”扶持政策基础上再奖励10万元。"
CERAMICS = "对年销售收入达到5000万元、解决就业岗位500个以上的陶瓷企业,对其银行贷款给予贴息。"
SMALL_OR_YOUNG_TECH = "推进增值税等实质性减税,对小微企业、科技型初创企业实施普惠性税收免除,确保国家出台的各项减税降费政策落地。"
HOMESTAY = "在全国率先开展民宿经营权抵押贷款试点工作，以“无形”资产作“有形”赋能的创新实践，畅通农村资产抵押质押融资链条，降低融资成本。"
ADVANCED = "允许先进制造业企业按照当期可抵扣进项税额加计5%抵减应纳增值税税额。"
UPSCALING = "对首次“小升规”企业首年奖励20万元,后两年销售额保持增长的奖励10万元。"
SME = "对中小微企业给予房租补贴。"
MINI_PROFIT = "对小型微利企业减按25%计入应纳税所得额。"
PRIVATE = "对民营企业给予贷款贴息。"
STARTUP = "对初创企业给予一次性补贴。"
TAX_B = "对纳税信用B级以上的企业给予信用贷款。"
MAKER = {"industry": "制造业", "employees": 80, "revenue": 3000}


def _verdicts(sentence: str, profile: dict, practice: bool = False) -> dict[str, str]:
    """Condition text -> status, for the conditions extraction reads from the sentence."""
    p = Profile.from_dict(profile)
    facts = p.facts()
    return {c.text: check(c, p, facts)[0] for c in measure_conditions(search_form(sentence), [], practice)}


@pytest.mark.parametrize(
    ("sentence", "profile", "expected"),
    [
        # qualifications: stated, explicitly lacking, unstated, or not listed in a complete list
        (HIGH_TECH, {**MAKER, "qualifications": ["新升规", "高新技术企业"]}, {"首次“小升规”": "met", "高新技术企业": "met"}),
        (HIGH_TECH, {**MAKER, "qualifications": ["新升规", "非高新技术企业"]}, {"首次“小升规”": "met", "高新技术企业": "not_met"}),
        (HIGH_TECH, {**MAKER, "qualifications": ["新升规"]}, {"首次“小升规”": "met", "高新技术企业": "unknown"}),
        (HIGH_TECH, {**MAKER, "qualifications": ["新升规"], "qualifications_complete": True},
         {"首次“小升规”": "met", "高新技术企业": "not_met"}),
        # 小升规: a 规下 firm that plans it meets it, one that does not say is unknown
        (UPSCALING, {"qualifications": ["规下"], "plans": ["小升规"]}, {"首次“小升规”企业": "met"}),
        (UPSCALING, {"qualifications": ["规下"]}, {"首次“小升规”企业": "unknown"}),
        (UPSCALING, {"qualifications": ["个体工商户"]}, {"首次“小升规”企业": "not_met"}),
        # figures: thresholds met, missed, or not stated
        (CERAMICS, {"industry": "陶瓷", "employees": 600, "revenue": 6000, "plans": ["融资"]},
         {"年销售收入达到5000万元": "met", "就业岗位500个以上": "met", "陶瓷": "met", "贷款": "met"}),
        (CERAMICS, {"industry": "陶瓷", "employees": 600, "revenue": 3000},
         {"年销售收入达到5000万元": "not_met", "就业岗位500个以上": "met", "陶瓷": "met", "贷款": "unknown"}),
        (CERAMICS, {"industry": "制造业"},
         {"年销售收入达到5000万元": "unknown", "就业岗位500个以上": "unknown", "陶瓷": "unknown", "贷款": "unknown"}),
        # alternatives: an older small firm meets 小微企业; a large old firm meets neither
        (SMALL_OR_YOUNG_TECH, {"industry": "制造业", "employees": 40, "revenue": 1500, "age_years": 5},
         {"小微企业、科技型初创": "met"}),
        (SMALL_OR_YOUNG_TECH, {"industry": "制造业", "employees": 2000, "revenue": 80000, "age_years": 5},
         {"小微企业、科技型初创": "not_met"}),
        # industries: another industry, an ancestor group, a qualification that counts
        (ADVANCED, {"industry": "零售", "employees": 5}, {"先进制造业": "not_met"}),
        (ADVANCED, {"industry": "制造业"}, {"先进制造业": "unknown"}),
        (ADVANCED, {"industry": "零售", "qualifications": ["高新技术企业"]}, {"先进制造业": "met"}),
        # size under the 2011 standard
        (SME, {"industry": "制造业", "employees": 2000, "revenue": 80000}, {"中小微企业": "not_met"}),
        (SME, {"industry": "制造业", "employees": 120, "revenue": 5000}, {"中小微企业": "met"}),
        (SME, {"industry": "制造业", "employees": 500}, {"中小微企业": "met"}),  # 中型 at most, revenue aside
        (SME, {"industry": "制造业", "employees": 1500}, {"中小微企业": "unknown"}),
        (SME, {"qualifications": ["个体工商户"], "employees": 3}, {"中小微企业": "unknown"}),
        (MINI_PROFIT, {"employees": 600}, {"小型微利企业": "not_met"}),
        (MINI_PROFIT, {"employees": 100}, {"小型微利企业": "unknown"}),
        # ownership, age, tax grade
        (PRIVATE, {"ownership": "民营"}, {"民营企业": "met", "贷款": "unknown"}),
        (PRIVATE, {"ownership": "国有"}, {"民营企业": "not_met", "贷款": "unknown"}),
        (PRIVATE, {"ownership": "外资"}, {"民营企业": "unknown", "贷款": "unknown"}),
        (STARTUP, {"age_years": 2}, {"初创": "met"}),
        (STARTUP, {"age_years": 5}, {"初创": "not_met"}),
        (TAX_B, {"tax_credit": "A"}, {"纳税信用B级以上": "met", "信用贷": "unknown"}),
        (TAX_B, {"tax_credit": "C"}, {"纳税信用B级以上": "not_met", "信用贷": "unknown"}),
        (TAX_B, {}, {"纳税信用B级以上": "unknown", "信用贷": "unknown"}),
    ],
)  # fmt: skip
def test_conditions_checked_against_a_profile(sentence: str, profile: dict, expected: dict[str, str]) -> None:
    assert _verdicts(sentence, profile) == expected


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ({"industry": "民宿", "plans": ["融资"]}, {"民宿": "met", "贷款": "met"}),
        ({"industry": "电子信息", "plans": ["融资"]}, {"民宿": "not_met", "贷款": "met"}),
        ({"industry": "制造业"}, {"民宿": "not_met", "贷款": "unknown"}),
    ],
)
def test_a_practice_is_checked_on_the_clause_that_states_it(profile: dict, expected: dict[str, str]) -> None:
    assert _verdicts(HOMESTAY, profile, practice=True) == expected


def _reason(sentence: str, word: str, profile: dict) -> str:
    p = Profile.from_dict(profile)
    cond = next(c for c in measure_conditions(search_form(sentence), []) if word in c.text)
    return check(cond, p, p.facts())[1]


@pytest.mark.parametrize(
    ("sentence", "word", "profile", "reason"),
    [
        (HIGH_TECH, "高新", {"qualifications": ["新升规"], "qualifications_complete": True}, "企业画像列出的资质中没有高新技术企业"),
        (HIGH_TECH, "高新", {"qualifications": ["非高新技术企业"]}, "企业画像注明非高新技术企业"),
        (HIGH_TECH, "高新", {}, "企业画像未说明是否为高新技术企业"),
        (UPSCALING, "小升规", {"qualifications": ["规下"]}, "企业为规下，未说明是否计划小升规"),
        (UPSCALING, "小升规", {"qualifications": ["规下"], "plans": ["小升规"]}, "企业画像：规下、计划小升规"),
        (CERAMICS, "销售收入", {"revenue": 3000}, "年营业收入3000万元，低于5000万元"),
        (SME, "中小微", {"industry": "制造业", "employees": 2000, "revenue": 80000}, "按工业标准为大型企业"),
        (SME, "中小微", {"industry": "制造业", "employees": 1500}, "按工业标准为微型至大型企业，需补充员工人数或营业收入"),
        (MINI_PROFIT, "小型微利", {"employees": 600}, "员工600人，超过300人"),
        (STARTUP, "初创", {"age_years": 5}, "成立5年，超过3年（“初创”按3年以内计）"),
        (TAX_B, "纳税信用", {"tax_credit": "C"}, "纳税信用C级，要求A或B级"),
        (PRIVATE, "民营", {"ownership": "外资"}, "外资企业是否算民营企业，需向主管部门确认"),
        (ADVANCED, "先进制造", {"industry": "轴承"}, "行业“轴承”不在词表中，无法判断"),
        (SMALL_OR_YOUNG_TECH, "小微", {"industry": "制造业", "employees": 40, "revenue": 1500, "age_years": 5},
         "满足其中“小微企业”：按工业标准为小型企业"),
    ],
)  # fmt: skip
def test_each_verdict_says_why(sentence: str, word: str, profile: dict, reason: str) -> None:
    assert _reason(sentence, word, profile) == reason


def test_a_qualification_implied_by_another_is_met() -> None:
    giant = Profile(qualifications=["小巨人"], qualifications_complete=True)
    cond = Condition("qualification", "专精特新", "专精特新")
    assert check(cond, giant, giant.facts()) == ("met", "企业画像：专精特新")  # implied by 小巨人, not missing
    assert check(Condition("qualification", "other", "获得质量奖"), giant, set())[0] == "unknown"


@pytest.mark.parametrize(
    ("statuses", "overall"),
    [
        ((("location", "met"), ("qualification", "met")), "符合"),
        ((("location", "met"), ("qualification", "unknown")), "可能符合"),
        ((("location", "met"), ("qualification", "not_met"), ("size", "unknown")), "不符合"),
        ((("location", "met"),), "可能符合"),  # nothing but the place: never fully met
        ((("location", "unknown"), ("plan", "met")), "可能符合"),
    ],
)
def test_a_measure_fits_when_every_condition_is_met(statuses: tuple, overall: str) -> None:
    assert overall_status([ConditionCheck(kind, "", status, "") for kind, status in statuses]) == overall
