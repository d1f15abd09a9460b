"""Clause-level citation labels and documents named by 文号, title or abbreviation."""

from __future__ import annotations

import pytest
from llama_index.core.schema import NodeWithScore, TextNode

from assistant.core.schema import Citation, display_date
from assistant.qa.extractive import ExtractiveAnswerer
from assistant.retrieval.plan import _named_documents

DOCS = [
    ("yq", "乐清市人民政府办公室关于印发《乐清市促进民营经济高质量发展若干举措》的通知", "乐政办发〔2023〕43号"),
    ("wz", "温州市人民政府关于创建中小微企业友好城市的实施意见", ""),
    ("sz", "朔州市关于促进民营经济发展的若干意见", ""),
    ("nd", "支持民营企业改革发展的典型做法", ""),
]
PLACES = ["乐清市", "乐清", "温州市", "温州", "朔州市", "朔州"]


def cite(**kw: object) -> Citation:
    base = dict(n=1, node_id="x", title="", section="", file="f.txt", start=0, end=1, text="t")
    return Citation(**(base | kw))  # type: ignore[arg-type]


def test_label_follows_the_documents_own_numbering_with_number_and_date() -> None:
    c = cite(title=DOCS[0][1], doc_number=DOCS[0][2], date="2023-11-23", section="二、主要举措 > (一)提信心增预期")
    assert c.label() == "《乐清市促进民营经济高质量发展若干举措》（乐政办发〔2023〕43号，2023年11月23日） › 二、主要举措 › (一)提信心增预期"


def test_notice_preamble_is_cited_as_the_notice_itself() -> None:
    c = cite(title=DOCS[0][1], section="正文")
    assert c.label().startswith("《乐清市人民政府办公室关于印发")


def test_ndrc_practice_label_ends_with_the_city() -> None:
    c = cite(title=DOCS[3][1], section="一、完善政策服务 > 典型做法 第5项 建立财政奖补资金快速拨付机制", city="温州市")
    assert c.label().endswith("› 典型做法 第5项 建立财政奖补资金快速拨付机制 › 温州市")
    assert c.clause_path()[-2].startswith("典型做法 第5项")


def test_display_date() -> None:
    assert display_date("2023-10-02") == "2023年10月2日"
    assert display_date("") == ""


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("乐政办发〔2023〕43号对政府采购有什么要求", ["yq"]),
        ("乐政办发[2023]43号讲了什么", ["yq"]),
        ("乐政办发（2023）第43号", ["yq"]),
        ("43号文对融资有什么规定", ["yq"]),
        ("乐政办发〔2022〕43号有什么规定", []),  # another year: not this document
        ("《若干举措》里关于用地的规定", ["yq"]),
        ("友好城市实施意见对小升规奖励多少", ["wz"]),
        ("朔州若干意见对用电有什么规定", ["sz"]),
        ("典型做法里的青易办是什么", ["nd"]),
        ("中小微企业能得到什么补贴", []),  # title words without a document word name nothing
        ("民营经济有哪些支持", []),  # shared by several titles
    ],
)
def test_documents_named_in_a_question(question: str, expected: list[str]) -> None:
    assert _named_documents(question, DOCS, PLACES) == expected


def _node(doc_id: str, jurisdiction: str, date: str, title: str, text: str, section: str) -> NodeWithScore:
    md = {"doc_id": doc_id, "file": f"{doc_id}.txt", "title": title, "jurisdiction": jurisdiction, "date": date,
          "section": section, "start": 0, "end": len(text), "kind": "text", "city": "", "practice_no": 0,
          "issuer": "", "doc_number": ""}  # fmt: skip
    return NodeWithScore(node=TextNode(text=text, id_=doc_id, metadata=md), score=1.0)


def test_two_governing_documents_that_disagree_are_both_shown() -> None:
    old = _node("old", "甲省/甲市", "2021-03-01", "甲市扶持中小企业若干政策", "对首次升规的企业给予一次性奖励10万元。", "一、奖励")
    new = _node("new", "甲省/甲市", "2023-05-01", "甲市促进民营经济发展若干措施", "对首次升规的企业给予一次性奖励20万元。", "二、奖励")
    ans = ExtractiveAnswerer().answer("甲市对首次升规的企业奖励多少？", [new, old])
    assert ans.answerable
    assert "10万元" in ans.text and "20万元" in ans.text
    assert {c.node_id for c in ans.citations} == {"old", "new"}
    assert "不一致" in ans.notice and "2021年3月1日" in ans.notice and "2023年5月1日" in ans.notice


def test_two_cities_that_differ_are_not_a_disagreement() -> None:
    a = _node("a", "甲省/甲市", "2023-01-01", "甲市若干措施", "对首次升规的企业给予一次性奖励10万元。", "一、奖励")
    b = _node("b", "乙省/乙市", "2023-01-01", "乙市若干措施", "对首次升规的企业给予一次性奖励20万元。", "一、奖励")
    ans = ExtractiveAnswerer().answer("首次升规的企业奖励多少？", [a, b])
    assert ans.answerable and not ans.notice
