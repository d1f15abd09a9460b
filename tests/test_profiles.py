"""Enterprise profiles: sentence rules, dict / TOML input, validation messages, SME size classes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from assistant.decisions.eligibility import SIZE_CLASSES, Profile, ProfileError

EXAMPLE = "我们是乐清的一家制造业企业，120人，年营收5000万元，成立3年，专精特新，纳税信用A级，计划明年上市"


def test_from_text_reads_the_example_sentence() -> None:
    p = Profile.from_text(EXAMPLE)
    assert p.location == "乐清"
    assert p.industry == "制造业"
    assert (p.employees, p.revenue, p.age_years, p.tax_credit) == (120, 5000.0, 3.0, "A")
    assert p.qualifications == ["专精特新"]
    assert p.plans == ["上市"]


def test_from_text_units_and_chinese_numerals() -> None:
    p = Profile.from_text("公司位于温州市鹿城区，做外贸，员工三十人，年销售额1.2亿元，成立18个月，民营企业")
    assert p.location == "温州市鹿城区"
    assert p.employees == 30
    assert p.revenue == pytest.approx(12000.0)
    assert p.age_years == pytest.approx(1.5)
    assert p.ownership == "民营"
    assert "出口" in p.plans  # a foreign-trade firm exports


def test_from_text_negation_and_plans() -> None:
    p = Profile.from_text("聊城的规下企业，不是高新技术企业，明年有望升规，准备技改和数字化改造")
    assert "规下" in p.qualifications
    assert "非高新技术企业" in p.qualifications
    assert "高新技术企业" not in p.qualifications
    assert {"小升规", "技改", "数字化改造"} <= set(p.plans)


def test_from_text_listed_versus_planning_to_list() -> None:
    assert "上市企业" in Profile.from_text("我们是一家上市公司").qualifications
    planned = Profile.from_text("我们计划成为上市公司")
    assert "上市企业" not in planned.qualifications
    assert "上市" in planned.plans


def test_from_text_rejects_empty_and_meaningless_input() -> None:
    with pytest.raises(ProfileError, match="为空"):
        Profile.from_text("   ")
    with pytest.raises(ProfileError, match="未能从描述中识别"):
        Profile.from_text("你好")
    with pytest.raises(ProfileError, match="文本"):
        Profile.from_text(123)  # type: ignore[arg-type]


def test_from_text_unknown_tax_grade_is_an_error() -> None:
    with pytest.raises(ProfileError, match="纳税信用等级"):
        Profile.from_text("乐清的制造业企业，纳税信用E级")


def test_from_dict_accepts_chinese_field_names_and_canonicalises() -> None:
    p = Profile.from_dict(
        {"所在地": "乐清市", "行业": "制造业", "员工人数": "120", "营收": 5000, "纳税信用等级": "a级",
         "资质": "国家高新技术企业、专精特新“小巨人”", "计划": ["技术改造", "出口"], "所有制": "私营"}
    )  # fmt: skip
    assert p.employees == 120 and p.revenue == 5000.0
    assert p.tax_credit == "A"
    assert p.qualifications == ["高新技术企业", "小巨人"]
    assert p.plans == ["技改", "出口"]
    assert p.ownership == "民营"
    assert "专精特新" in p.facts()  # a 小巨人 is a 专精特新 firm


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([1, 2], "dict"),
        ({"lokation": "乐清"}, "lokation"),
        ({"employees": -5}, "员工人数"),
        ({"revenue": -1.0}, "年营业收入"),
        ({"age_years": "三年半"}, "成立年限"),
        ({"employees": 12.5}, "整数"),
        ({"employees": True}, "员工人数"),
        ({"tax_credit": "E"}, "纳税信用等级"),
        ({"ownership": "集体"}, "所有制"),
        ({"qualifications": 5}, "资质"),
        ({"location": 3}, "所在地"),
    ],
)
def test_from_dict_errors_name_the_field(data: object, words: str) -> None:
    with pytest.raises(ProfileError) as err:
        Profile.from_dict(data)
    assert words in str(err.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"employees": -5}, "员工人数（employees） 不能为负数：-5。"),
        ({"revenue": -1.0}, "年营业收入（revenue，万元） 不能为负数：-1。"),
        ({"employees": "-3"}, "员工人数（employees） 不能为负数：-3。"),
        ({"age_years": "三年半"}, "成立年限（age_years，年） 必须是数字，收到的是“三年半”。"),
        ({"employees": 12.5}, "员工人数（employees） 必须是整数，收到的是 12.5。"),
        ({"employees": True}, "员工人数（employees） 必须是数字，收到的是 True。"),
        ({"employees": float("nan")}, "员工人数（employees） 必须是数字，收到的是 nan。"),
        ({"revenue": [1]}, "年营业收入（revenue，万元） 必须是数字，收到的是 [1]。"),
        ({"tax_credit": "E"}, "纳税信用等级（tax_credit） 只能是 A、B、M、C、D 之一，收到的是“E”。"),
        ({"ownership": "集体"}, "所有制（ownership） 只能是 民营、国有、外资 之一，收到的是“集体”。"),
        ({"ownership": 1}, "所有制（ownership） 必须是文本，收到的是 int。"),
        ({"qualifications": 5}, "资质（qualifications） 必须是文本列表，收到的是 int。"),
        ({"qualifications": [1]}, "资质（qualifications） 的每一项必须是文本，收到的是 1。"),
        ({"qualifications_complete": 3}, "资质已列全（qualifications_complete） 必须是 true 或 false，收到的是 3。"),
        ({"所在地": "乐清", "location": "温州"}, "字段 所在地（location） 重复出现。"),
        # several fields wrong: the first in the order the fields are read is reported
        ({"qualifications": 5, "ownership": "集体", "employees": -1}, "员工人数（employees） 不能为负数：-1。"),
        ({"qualifications": 5, "ownership": "集体"}, "所有制（ownership） 只能是 民营、国有、外资 之一，收到的是“集体”。"),
    ],
)
def test_error_messages_are_the_ones_users_read(data: dict, message: str) -> None:
    with pytest.raises(ProfileError) as err:
        Profile.from_dict(data)
    assert str(err.value) == message


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ProfileError, match="不能为负数"):
        Profile(employees=-1)
    with pytest.raises(TypeError, match="size"):  # a programming error, as for any class
        Profile(size=3)  # type: ignore[call-arg]
    assert Profile(location=" ", qualifications=[], employees="") == Profile() and Profile().is_empty()
    p = Profile(employees="120人", revenue="5000万元", qualifications="规上、非高新技术企业", tax_credit="b级")
    assert (p.employees, p.revenue, p.qualifications, p.tax_credit) == (120, 5000.0, ["规上", "非高新技术企业"], "B")


def test_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "firm.toml"
    path.write_text(
        '[profile]\nlocation = "乐清"\nindustry = "制造业"\nemployees = 120\nrevenue = 5000\n'
        'qualifications = ["规下"]\nplans = ["小升规"]\n',
        encoding="utf-8",
    )
    p = Profile.from_toml(path)
    assert (p.location, p.employees, p.qualifications, p.plans) == ("乐清", 120, ["规下"], ["小升规"])
    path.write_text('location = "乐清"\nsize = 3\n', encoding="utf-8")
    with pytest.raises(ProfileError, match="size"):
        Profile.from_toml(path)
    path.write_text("location = 乐清\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="TOML"):
        Profile.from_toml(path)
    with pytest.raises(ProfileError, match="找不到"):
        Profile.from_toml(tmp_path / "missing.toml")


def test_size_classes_follow_the_2011_standard() -> None:
    small = Profile(industry="制造业", employees=120, revenue=5000)
    assert [SIZE_CLASSES[i] for i in small.size_range()] == ["小型", "小型"]
    medium = Profile(industry="制造业", employees=500, revenue=30000)
    assert SIZE_CLASSES[medium.size_range()[0]] == "中型"
    trade = Profile(industry="外贸", employees=30, revenue=20000)  # 批发业: 20人 and 5000万 make 中型
    assert trade.sector() == "批发业" and SIZE_CLASSES[trade.size_range()[0]] == "中型"
    unknown_revenue = Profile(employees=15)  # below 20 people: 微型 whatever the revenue
    assert unknown_revenue.size_range() == (0, 0)
    open_range = Profile(employees=500)
    assert open_range.size_range() == (0, 2)  # 微型 (tiny revenue) up to 中型


def test_describe_is_one_chinese_line() -> None:
    line = Profile.from_text(EXAMPLE).describe()
    assert "乐清" in line and "120人" in line and "年营收5000万元" in line and "计划：上市" in line
    assert Profile().describe() == "（未填写）"


def test_qualifications_complete_flag() -> None:
    assert Profile().qualifications_complete is False
    assert Profile.from_text(EXAMPLE).qualifications_complete is False
    p = Profile.from_dict({"location": "乐清", "资质": ["规上"], "资质完整": True})
    assert p.qualifications_complete is True
    assert "资质已列全" in p.describe()
    assert "无资质认定" in Profile(location="乐清", qualifications_complete=True).describe()
    assert Profile.from_dict({"qualifications_complete": "是"}).qualifications_complete is True
    with pytest.raises(ProfileError, match="qualifications_complete"):
        Profile.from_dict({"qualifications_complete": 3})


def test_industry_words_of_a_sector_name_its_industry_group() -> None:
    assert Profile(industry="零售").industry_groups() == ["批发零售"]
    assert Profile(industry="眼镜").industry_groups() == ["制造业"]
    assert Profile(industry="陶瓷制造").industry_groups() == ["陶瓷", "制造业"]
    assert Profile(industry="轴承").industry_groups() == []  # no word of the vocabulary: unknown


# -- hostile descriptions (issue #16: a 12 KB sentence froze the server) ------------------------------------


def test_from_text_refuses_a_description_over_the_cap() -> None:
    """The cap is checked before any rule runs; the message says how long the description may be."""
    from assistant.settings import Settings

    default = Settings().max_profile_chars
    with pytest.raises(ProfileError, match=f"过长.*{default}"):
        Profile.from_text("1" * 20000)
    sentence = "乐清的制造业企业，120人"
    assert Profile.from_text(sentence, max_chars=len(sentence)).employees == 120
    with pytest.raises(ProfileError, match="请控制在 10 个字符以内"):
        Profile.from_text(sentence, max_chars=10)


@pytest.mark.parametrize(
    ("sentence", "field", "value"),
    [
        ("员工 120 人，乐清", "employees", 120),
        ("乐清的企业，一百二十名员工", "employees", 120),
        ("营收三千万元，乐清", "revenue", 3000.0),  # 万 is both a numeral and the unit
        ("五千万元的年营收，乐清", "revenue", 5000.0),
        ("乐清，年销售额 1.2 亿元", "revenue", 12000.0),
        ("乐清，成立  3  年", "age_years", 3.0),
        ("乐清，职工三十多人", "employees", 30),
    ],
)
def test_sentence_numbers_with_spaces_and_numerals(sentence: str, field: str, value: float) -> None:
    """The linear rewrite of the number rules reads what the backtracking ones read."""
    assert getattr(Profile.from_text(sentence), field) == value


HOSTILE_UNITS = ["1", "一", "、", "1、", "一1", "１", "1.1", "万元", "（", " 1", "员工1人", "12万元3人4%5年6亿"]


@pytest.mark.parametrize("unit", HOSTILE_UNITS)
def test_sentence_rules_stay_linear_on_hostile_text(unit: str) -> None:
    """Guards issue #16: the number rules took 35 s on "1" * 12000 (super-quadratic). The rules themselves have
    no length cap, so they must stay linear: 200 000 characters in well under the generous limit (the cap
    stops long input earlier, and jieba's place tagging, linear but slower, only ever sees capped text)."""
    from assistant.core.text import search_form
    from assistant.decisions.eligibility.profile_text import read_rules

    for chars, limit in ((2000, 0.2), (200_000, 2.0)):  # the short run first: a regression fails fast
        text = search_form(unit * (chars // len(unit)))
        start = time.perf_counter()
        read_rules(text)
        elapsed = time.perf_counter() - start
        assert elapsed < limit, f"{unit!r} x {len(text)}: {elapsed:.2f}s"
