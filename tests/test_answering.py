"""The product end to end on the default corpus: retrieval, answers, citations, refusals, follow-ups, API."""

from __future__ import annotations

import pytest
from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, TextNode

import assistant
from assistant.core.schema import REFUSAL
from assistant.core.text import match_normalize
from assistant.qa.citing import verify_numbers
from assistant.qa.extractive import ExtractiveAnswerer
from assistant.settings import Settings

pytestmark = pytest.mark.slow


def cited_text(resp) -> str:
    return match_normalize(" ".join(n.node.get_content() for n in resp.source_nodes))


def test_public_api_contract(corpus_index: Settings) -> None:
    retriever = assistant.build_retriever(similarity_top_k=10, settings=corpus_index)
    assert isinstance(retriever, BaseRetriever)
    nodes = retriever.retrieve("温州对首次小升规企业奖励多少？")
    assert 0 < len(nodes) <= 10
    assert [n.score for n in nodes] == sorted((n.score for n in nodes), reverse=True)
    engine = assistant.build_query_engine(corpus_index)
    assert isinstance(engine, BaseQueryEngine)
    r = engine.query("温州对首次小升规企业奖励多少？")
    assert r.metadata["answerable"] is True
    assert "20万元" in match_normalize(r.response) or "20萬元" in r.response
    # marker [n] refers to source_nodes[n-1], numbered in order of first use
    import re

    markers = [int(m) for m in re.findall(r"\[(\d+)\]", r.response)]
    assert markers and sorted(set(markers)) == list(range(1, len(r.source_nodes) + 1))
    assert markers[0] == 1
    md = r.source_nodes[0].node.metadata
    for key in ("title", "file", "jurisdiction", "section", "doc_number", "date", "start", "end"):
        assert key in md
    assert "温州" in md["jurisdiction"]


@pytest.mark.parametrize(
    ("question", "expected_file_part", "fact"),
    [
        ("聊城对新增规上企业怎么奖励？", "liaocheng", "10万元"),
        ("乐清政府采购工程项目给中小企业预留份额比例是多少？", "yueqing", "40"),
        ("哪个城市推出了青易办企业开办掌上平台？", "ndrc", "青岛"),
        ("朔州怎样推进小微企业应收账款融资？", "shuozhou", "应收账款"),
        ("溫州對首次小升規企業獎勵多少？", "wenzhou", "20万元"),
        ("How much does Wenzhou reward enterprises upgraded to above designated size for the first time?", "wenzhou", "20万元"),
    ],
)
def test_questions_reach_the_right_document(engine, question: str, expected_file_part: str, fact: str) -> None:
    r = engine.query(question)
    top_files = [n.node.metadata["file"] for n in r.metadata["retrieved"][:3]]
    assert any(expected_file_part in f for f in top_files), top_files
    assert r.metadata["answerable"], r.response
    assert match_normalize(fact) in cited_text(r)


def test_comparison_reaches_both_cities(engine) -> None:
    r = engine.query("温州和聊城对新升规企业分别奖励多少？")
    places = {n.node.metadata["jurisdiction"] for n in r.metadata["retrieved"][:6]}
    assert any("温州" in p for p in places) and any("聊城" in p for p in places)
    assert "温州" in r.response and "聊城" in r.response
    text = cited_text(r)
    assert "20万元" in text and "10万元" in text


def test_jurisdiction_scope_excludes_other_cities(engine) -> None:
    r = engine.query("我在乐清开了一家小厂，融资方面有什么支持？")
    juris = {n.node.metadata["jurisdiction"] for n in r.metadata["retrieved"]}
    assert not any("聊城" in j or "朔州" in j for j in juris), juris


def test_document_number_reaches_document_first(engine) -> None:
    r = engine.query("乐政办发〔2023〕43号里关于政府采购怎么规定？")
    assert "yueqing" in r.metadata["retrieved"][0].node.metadata["file"]


@pytest.mark.parametrize(
    "question",
    ["深圳对专精特新企业奖励多少钱？", "个人所得税的起征点是多少？", "杭州市的人才公寓怎么申请？"],
)
def test_unanswerable_questions_are_declined(engine, question: str) -> None:
    r = engine.query(question)
    assert r.metadata["answerable"] is False
    assert r.response.startswith(REFUSAL[:8])
    assert r.source_nodes == []


def test_filters_restrict_sources(corpus_index: Settings) -> None:
    engine = assistant.build_query_engine(corpus_index, filters=assistant.Filters(jurisdictions=["聊城市"]))
    r = engine.query("对新增规上企业奖励多少？")
    assert all("聊城" in n.node.metadata["jurisdiction"] for n in r.metadata["retrieved"])
    with pytest.raises(assistant.UnknownFilterError, match="火星"):
        assistant.build_query_engine(corpus_index, filters=assistant.Filters(jurisdictions=["火星市"])).query("奖励")


def test_followup_carries_over_topic(corpus_index: Settings) -> None:
    chat = assistant.build_chat_engine(corpus_index)
    first = chat.chat("温州对首次小升规企业奖励多少？")
    assert first.metadata["answerable"]
    second = chat.chat("那聊城呢？")
    assert "聊城" in second.metadata["question"]
    assert any("聊城" in n.node.metadata["jurisdiction"] for n in second.source_nodes)
    assert "10万元" in cited_text(second)
    chat.reset()
    assert chat.chat_history == []


@pytest.mark.parametrize("bad", ["", "   \n\t", "\x00\x01"])
def test_bad_input_is_a_clear_error(engine, bad: str) -> None:
    with pytest.raises(assistant.InvalidQuestionError):
        engine.query(bad)


def test_very_long_question_is_truncated_with_notice(engine) -> None:
    r = engine.query("温州对首次小升规企业奖励多少？" + "啊" * 100_000)
    assert "截取" in r.metadata["notice"]


def test_planted_wrong_number_is_dropped() -> None:
    node = TextNode(text="对新增规上企业，分两年给予最高10万元的奖励。", id_="n1", metadata={"title": "t"})
    passages = [NodeWithScore(node=node, score=1.0)]
    kept, removed = verify_numbers("聊城给予最高15万元奖励[1]。分两年发放[1]。", passages)
    assert "15万元" not in kept and removed and "分两年" in kept


def test_extractive_answer_cites_only_supporting_passages() -> None:
    nodes = [
        NodeWithScore(node=TextNode(text="对首次升规企业奖励20万元。", id_="a", metadata={"section": "一、奖励"}), score=1),
        NodeWithScore(node=TextNode(text="加强人才培训工作。", id_="b", metadata={"section": "二、人才"}), score=0.5),
    ]
    ans = ExtractiveAnswerer().answer("首次升规企业奖励多少？", nodes)
    assert ans.answerable and "20万元" in ans.text
    assert [c.node_id for c in ans.citations] == ["a"]


def test_followup_at_another_level_reasks_the_question(corpus_index: Settings) -> None:
    chat = assistant.build_chat_engine(corpus_index)
    chat.chat("聊城民营企业的创新平台首次被认定为国家级，能拿多少奖励？")
    r = chat.chat("省级的呢？")
    assert "省级" in r.metadata["question"] and "国家级" not in r.metadata["question"]
    assert r.metadata["answerable"] and "50万元" in r.response
