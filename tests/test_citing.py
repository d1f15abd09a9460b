"""Sentence splitting, marker parsing, renumbering and the per-sentence number check."""

from __future__ import annotations

from llama_index.core.schema import NodeWithScore, TextNode

from assistant.core.schema import CHUNK_METADATA_KEYS
from assistant.qa.citing import cited_markers, renumber, split_sentences, verify_numbers


def passage(node_id: str, text: str, score: float = 1.0, **meta: object) -> NodeWithScore:
    metadata: dict[str, object] = {key: "" for key in CHUNK_METADATA_KEYS}
    metadata.update(
        start=0, end=len(text), practice_no=0, kind="text", title="测试文件", file=f"{node_id}.txt"
    )
    metadata.update(meta)
    return NodeWithScore(node=TextNode(id_=node_id, text=text, metadata=metadata), score=score)


LIAOCHENG = passage(
    "lc",
    "对新增规上企业，分两年给予最高10万元的奖励，升规纳统当年给予50%，连续两年营业收入保持增长的企业给予另外50%奖励。",
    title="聊城市关于促进民营经济高质量发展的意见",
    section="一、支持民营经济提质增量 > （一）支持民营经济扩容增量",
)
LEQING = passage(
    "lq",
    "对首次认定的国家级专精特新“小巨人”企业给予一次性奖励50万元。",
    title="乐清市促进民营经济高质量发展若干举措",
    doc_number="乐政办发〔2023〕43号",
    date="2023-11-23",
)
OTHER = passage("ot", "优化营商环境，一视同仁对待各类市场主体。")


def test_split_sentences_keeps_marks_and_trailing_markers() -> None:
    text = "新增规上企业最高奖励10万元。[1]当年给予50%[1]；另外50%次年兑现！\n1. 企业开办 Yes. It works? 好"
    assert split_sentences(text) == [
        "新增规上企业最高奖励10万元。[1]",
        "当年给予50%[1]；",
        "另外50%次年兑现！",
        "1. 企业开办 Yes.",
        "It works?",
        "好",
    ]


def test_split_sentences_keeps_decimals_and_closing_quotes() -> None:
    assert split_sentences("贷款利率3.92%。“首贷户”达到1.5万户。”[2] 结束") == [
        "贷款利率3.92%。",
        "“首贷户”达到1.5万户。”[2]",
        "结束",
    ]


def test_cited_markers_forms() -> None:
    assert cited_markers("甲[1][3]") == [1, 3]
    assert cited_markers("乙[1,3]") == [1, 3]
    assert cited_markers("丙[1、3]丁[3，2]") == [1, 3, 2]
    assert cited_markers("戊【4】[2-4]") == [4, 2, 3]
    assert cited_markers("没有标记，2023年") == []


def test_renumber_orders_by_first_use_and_drops_out_of_range() -> None:
    passages = [OTHER, LIAOCHENG, LEQING]
    text, citations, cited = renumber(
        "奖励10万元[2]。小巨人奖励50万元[3][2]。无效[9]。重复[2,2]", passages, {3: "一次性奖励50万元"}
    )
    assert text == "奖励10万元[1]。小巨人奖励50万元[2][1]。无效。重复[1]"
    assert [c.n for c in citations] == [1, 2]
    assert [c.node_id for c in citations] == ["lc", "lq"]
    assert [n.node.node_id for n in cited] == ["lc", "lq"]
    assert citations[1].quote == "一次性奖励50万元"
    assert citations[1].doc_number == "乐政办发〔2023〕43号"
    assert citations[0].text == LIAOCHENG.node.get_content()


def test_renumber_merges_markers_of_the_same_node() -> None:
    text, citations, _ = renumber("甲[1]乙[2]", [LIAOCHENG, LIAOCHENG])
    assert text == "甲[1]乙[1]"
    assert len(citations) == 1


def test_renumber_without_markers() -> None:
    assert renumber("没有引用。", [LIAOCHENG]) == ("没有引用。", [], [])


def test_verify_numbers_keeps_supported_and_drops_planted_numbers() -> None:
    draft = (
        "对新增规上企业，分两年给予最高10万元的奖励[1]。"
        "升规纳统当年给予60%[1]。"
        "专精特新“小巨人”企业奖励50万元[2]。"
        "该政策长期有效，惠及3000家企业。"
        "营商环境持续优化[3]。"
    )
    kept, removed = verify_numbers(draft, [LIAOCHENG, LEQING, OTHER])
    assert (
        kept
        == "对新增规上企业，分两年给予最高10万元的奖励[1]。专精特新“小巨人”企业奖励50万元[2]。营商环境持续优化[3]。"
    )
    assert removed == ["升规纳统当年给予60%[1]。", "该政策长期有效，惠及3000家企业。"]


def test_verify_numbers_checks_only_the_cited_passage() -> None:
    kept, removed = verify_numbers("小巨人企业奖励50万元[1]。", [LIAOCHENG, LEQING])
    assert kept == ""
    assert removed == ["小巨人企业奖励50万元[1]。"]


def test_verify_numbers_accepts_doc_number_and_date_from_the_source_header() -> None:
    kept, removed = verify_numbers("乐政办发〔2023〕43号于2023年11月23日印发[1]。", [LEQING])
    assert removed == []
    assert kept.endswith("[1]。")


def test_verify_numbers_out_of_range_marker_counts_as_uncited() -> None:
    _, removed = verify_numbers("奖励10万元[7]。", [LIAOCHENG])
    assert removed == ["奖励10万元[7]。"]


def test_verify_numbers_keeps_line_structure() -> None:
    draft = "聊城市：最高10万元[1]\n乐清市：最高99万元[2]\n乐清市：小巨人50万元[2]"
    kept, removed = verify_numbers(draft, [LIAOCHENG, LEQING])
    assert kept == "聊城市：最高10万元[1]\n乐清市：小巨人50万元[2]"
    assert removed == ["乐清市：最高99万元[2]"]
