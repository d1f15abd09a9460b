"""Structure-aware chunks over the whole default corpus."""

from __future__ import annotations

import re
import statistics
import time

import pytest
from llama_index.core.schema import Document

from assistant.answers import CHUNK_METADATA_KEYS
from assistant.chunking import MAX_CHARS, PolicyNodeParser, chunk_document
from assistant.loading import load_corpus
from assistant.settings import PROJECT_ROOT

CORPUS = PROJECT_ROOT / "corpus"
SENTENCE_END = "。！？；!?;”’)）"


@pytest.fixture(scope="module")
def chunked():
    started = time.perf_counter()
    docs, skipped = load_corpus(CORPUS)
    out = {d.doc_id: (d, *chunk_document(d)) for d in docs}
    assert time.perf_counter() - started < 1.0
    assert not skipped
    return out


def _sections(chunked, doc_id):
    return {n.metadata["section"] for n in chunked[doc_id][2]}


def test_metadata_schema_and_invariant(chunked):
    for _, cleaned, nodes in chunked.values():
        assert nodes
        for node in nodes:
            md = node.metadata
            assert tuple(md) == CHUNK_METADATA_KEYS
            assert all(isinstance(v, (str, int)) for v in md.values())
            assert cleaned.text[md["start"] : md["end"]] == node.text
            assert md["title"] and md["jurisdiction"] and md["section"]
            assert md["kind"] in {"text", "table_row", "practice"}
            assert set(node.excluded_embed_metadata_keys) == set(CHUNK_METADATA_KEYS)
            assert set(node.excluded_llm_metadata_keys) == set(CHUNK_METADATA_KEYS)


def test_no_defects_survive_in_any_chunk(chunked):
    for _, _, nodes in chunked.values():
        for node in nodes:
            assert not re.search(r"</?[a-zA-Z][^>]*>", node.text)
            assert "---" not in node.text
            assert not re.search(r"[\u3400-\u9fff]\([a-z\u00e0-\u01dc]{1,7}\)", node.text)
            assert not re.search("[\ue000-\uf8ff]", node.text)


def test_chunks_end_on_sentence_or_paragraph_boundaries(chunked):
    for _, cleaned, nodes in chunked.values():
        text = cleaned.text
        for node in nodes:
            end = node.metadata["end"]
            at_paragraph_end = end == len(text) or text[end] == "\n"
            assert node.text[-1] in SENTENCE_END or at_paragraph_end, node.text[-30:]
            start = node.metadata["start"]
            assert start == 0 or text[start - 1].isspace() or text[start - 1] in SENTENCE_END


def test_sizes(chunked):
    sizes = [len(n.text) for _, _, nodes in chunked.values() for n in nodes]
    assert max(sizes) <= 900
    assert 150 <= statistics.median(sizes) <= MAX_CHARS


def test_section_paths_on_all_documents(chunked):
    assert "三、加大民营企业要素保障 > （四）提升企业融资服务水平" in _sections(chunked, "liaocheng_private_economy_opinions")
    assert "二、主要任務 > （一）創業扶持友好 > 1.支持創業創新" in _sections(chunked, "wenzhou_sme_friendly_city_opinions")
    assert "一、總體要求 > （二）活力顯著增強" in _sections(chunked, "wenzhou_sme_friendly_city_opinions")
    assert "二、主要举措 > (一)提信心增预期" in _sections(chunked, "yueqing_private_economy_measures")
    shuozhou = _sections(chunked, "shuozhou_private_economy_opinions")
    assert "1.用足用好现有政策" in shuozhou and "48.建立上报考评机制" in shuozhou
    assert (
        "一、完善对民营企业全生命周期的政策服务 > 典型做法 第1项 推进企业开办智能化、极简化"
        in _sections(chunked, "ndrc_private_enterprise_typical_practices")
    )
    for doc_id in ("liaocheng_private_economy_opinions", "wenzhou_sme_friendly_city_opinions"):
        assert "正文" in _sections(chunked, doc_id)


def test_inline_heading_paragraph_kept_whole(chunked):
    nodes = chunked["liaocheng_private_economy_opinions"][2]
    node = next(n for n in nodes if n.metadata["section"].endswith("（一）支持民营经济扩容增量"))
    assert node.text.startswith("（一）支持民营经济扩容增量。鼓励“个转企”")


def test_ndrc_practices_split_per_city(chunked):
    nodes = chunked["ndrc_private_enterprise_typical_practices"][2]
    assert all(n.metadata["kind"] == "practice" for n in nodes)
    assert {n.metadata["practice_no"] for n in nodes} == set(range(1, 73))
    first = [n for n in nodes if n.metadata["practice_no"] == 1]
    assert [n.metadata["city"] for n in first] == ["青岛市", "江阴市", "佛山市"]
    assert "青岛市：研发“青易办”" in first[0].text and first[0].text.startswith("序号：1；名称：")
    assert first[-1].text.endswith("来源：青岛市 江阴市 佛山市")
    second = [n for n in nodes if n.metadata["practice_no"] == 2]
    assert len(second) == 1 and second[0].metadata["city"] == "成都市" and "来源：成都市" in second[0].text
    p26 = next(n for n in nodes if n.metadata["practice_no"] == 26)
    assert p26.metadata["section"].startswith("二、破解民营企业融资难题 > 典型做法 第26项")


def test_yueqing_table_rows(chunked):
    nodes = [n for n in chunked["yueqing_private_economy_measures"][2] if n.metadata["kind"] == "table_row"]
    numbers = {int(re.search(r"序号(\d+)", n.metadata["section"]).group(1)) for n in nodes}
    assert numbers == set(range(1, 33))
    row12 = [n for n in nodes if "> 序号12 " in n.metadata["section"]]
    assert row12[0].text.startswith("序号：12；总体任务：三、真公平破隐性；重点工作：(十二)严格落实招投标“七个不准”")
    assert row12[0].metadata["section"].endswith("三、真公平破隐性 > 序号12 (十二)严格落实招投标“七个不准”")
    row2 = next(n for n in nodes if "> 序号2 " in n.metadata["section"])
    assert "总体任务：一、提信心增预期" in row2.text  # merged cell carried forward


def test_node_ids_are_stable_and_unique(chunked):
    ids = [n.node_id for _, _, nodes in chunked.values() for n in nodes]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
    doc, _, nodes = chunked["shuozhou_private_economy_opinions"]
    assert [n.node_id for n in chunk_document(doc)[1]] == [n.node_id for n in nodes]


def test_policy_node_parser_matches_chunk_document(chunked):
    doc, _, nodes = chunked["liaocheng_private_economy_opinions"]
    fields = {k: getattr(doc, k) for k in ("doc_id", "file", "title", "issuer", "jurisdiction", "doc_number", "date")}
    parsed = PolicyNodeParser().get_nodes_from_documents([Document(text=doc.raw_text, metadata=fields)])
    assert [n.get_content() for n in parsed] == [n.text for n in nodes]
    assert [n.metadata for n in parsed] == [n.metadata for n in nodes]
