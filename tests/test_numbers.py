"""The number check on real policy sentences: what counts as a number, and when two spellings agree."""

from __future__ import annotations

import pytest

from assistant.core.numbers import extract_numbers, unsupported_numbers

LIAOCHENG = (
    "对新增规上企业，分两年给予最高10万元的奖励，升规纳统当年给予50%，"
    "连续两年营业收入保持增长的企业给予另外50%奖励。"
)


def test_extracts_amounts_percentages_and_counts_from_a_policy_sentence() -> None:
    assert extract_numbers(LIAOCHENG) == ["两年", "10万元", "50%", "两年", "50%"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("授信额度从500万元增至5000万元", ["500万元", "5000万元"]),
        ("设立1.5亿元专项资金", ["1.5亿元"]),
        ("2023年11月23日印发", ["2023年", "11月", "23日"]),
        ("成文日期：2023-11-23", ["2023", "11", "23"]),
        ("将转贷时间延长至15天", ["15天"]),
        ("已有3家企业", ["3家"]),
        ("给予五千万元支持", ["五千万元"]),
        ("实施三年行动，出台十条措施，建设两个平台", ["三年", "十条", "两个"]),
        ("占比不低于百分之五十", ["百分之五十"]),
        ("二〇二三年十一月", ["二〇二三年", "十一月"]),
        ("共计1,000元", ["1,000元"]),
        ("补助１０万元", ["10万元"]),
        ("在5%至12%的区间范围内", ["5%", "12%"]),
        ("期限为2-3年", ["2", "3年"]),
        ("三十余家企业", ["三十余家"]),
        ("十分钟内办结", ["十分钟"]),
        ("规模达两万亿元", ["两万亿元"]),
        ("一年内完成", ["一年"]),
    ],
)
def test_extract_numbers(text: str, expected: list[str]) -> None:
    assert extract_numbers(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "一些企业反映，一是统一标准，二是建设一站式平台",
        "在政策执行上一视同仁，这十分重要",
        "千方百计服务百姓，推进一体化，进一步优化环境",
        "第一，万一出现风险",
        "给予一次性奖励，实行一户一策、一企一档",
        "第三条 第二十九次常务会议",
        "出台一项政策，培育一批企业",  # bare 一 before a classifier is an article
        "十四五期间，坚持十七届市政府的部署",  # no unit after the numerals
    ],
)
def test_words_containing_numeral_characters_are_not_numbers(text: str) -> None:
    assert extract_numbers(text) == []


def test_citation_and_heading_markers_are_ignored() -> None:
    assert extract_numbers("（一）支持民营经济扩容增量[1][12]。") == []
    assert extract_numbers("一、总体要求[3]") == []
    assert extract_numbers("1.用足用好现有政策[2]。") == []
    assert extract_numbers("（2）给予10万元奖励[1]") == ["10万元"]


def test_document_titles_and_doc_numbers_are_treated_normally() -> None:
    sentence = "《乐清市促进民营经济高质量发展若干举措》（乐政办发〔2023〕43号）规定"
    assert extract_numbers(sentence) == ["2023", "43"]
    assert unsupported_numbers(sentence, ["乐政办发〔2023〕43号"]) == []
    assert unsupported_numbers(sentence, ["乐政办发〔2023〕44号"]) == ["43"]


def test_a_supported_sentence_passes() -> None:
    assert unsupported_numbers(LIAOCHENG + "[1]", ["（一）" + LIAOCHENG]) == []


def test_a_planted_wrong_number_is_flagged_by_its_surface_form() -> None:
    sentence = "对新增规上企业，分两年给予最高20万元的奖励，升规纳统当年给予60%。"
    assert unsupported_numbers(sentence, [LIAOCHENG]) == ["20万元", "60%"]


@pytest.mark.parametrize(
    ("sentence", "source"),
    [
        ("最高10万元", "最高十万元"),
        ("最高十万元", "最高100000元"),
        ("最高100,000元", "最高10万元"),
        ("给予50%补助", "给予百分之五十的补助"),
        ("分两年给予", "分2年给予"),
        ("五千万元", "5000万元"),
        ("一点五亿元", "1.5亿元"),
        ("1.50亿元", "150000000元"),
        ("３年", "3年"),
        ("3千万元", "三千万元"),
    ],
)
def test_numbers_compare_on_canonical_value(sentence: str, source: str) -> None:
    assert unsupported_numbers(sentence, [source]) == []


def test_traditional_sources_are_compared_after_conversion() -> None:
    source = "對新增規上企業，分兩年給予最高十萬元的獎勵，升規納統當年給予百分之五十。"
    assert unsupported_numbers("分两年给予最高10万元的奖励，当年给予50%[1]", [source]) == []


def test_percentages_do_not_match_plain_numbers() -> None:
    assert unsupported_numbers("补助50%", ["补助50万元，共50家"]) == ["50%"]
    assert unsupported_numbers("补助50万元", ["补助比例50%"]) == ["50万元"]


def test_multiplier_matters() -> None:
    assert unsupported_numbers("最高10万元", ["最高10元"]) == ["10万元"]
    assert unsupported_numbers("最高100万元", ["最高10万元"]) == ["100万元"]


def test_numbers_from_any_source_count_and_duplicates_are_reported_once() -> None:
    assert unsupported_numbers("两年内给予10万元", ["两年内", "给予10万元"]) == []
    assert unsupported_numbers("30天，又30天", ["15天"]) == ["30天"]


def test_sentence_without_numbers_has_nothing_unsupported() -> None:
    assert unsupported_numbers("优化营商环境，一视同仁。", []) == []
