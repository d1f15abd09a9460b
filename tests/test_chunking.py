"""Structure-aware chunks over the whole default corpus."""

from __future__ import annotations

import re
import statistics

import pytest
from llama_index.core.schema import Document

from assistant.core.schema import CHUNK_METADATA_KEYS
from assistant.corpus.chunking import PolicyNodeParser, chunk_document
from assistant.corpus.loading import load_corpus
from assistant.settings import PROJECT_ROOT, ChunkingSettings, Settings

CORPUS = PROJECT_ROOT / "corpus"
SENTENCE_END = "。！？；!?;”’)）"


@pytest.fixture(scope="module")
def chunked():
    docs, skipped = load_corpus(CORPUS)  # how fast is eval bench's business, not a unit test's
    out = {d.doc_id: (d, *chunk_document(d)) for d in docs}
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
    assert 150 <= statistics.median(sizes) <= ChunkingSettings().max_chars


def test_chunk_sizes_come_from_settings(chunked, monkeypatch):
    """The sizes are Settings.chunking (POLICY_QA_CHUNKING__*), not constants: smaller sizes, smaller chunks."""
    small = ChunkingSettings(min_chars=60, max_chars=200, hard_max_chars=300)
    for doc, cleaned, nodes in chunked.values():
        _, smaller = chunk_document(doc, small)
        assert len(smaller) > len(nodes)
        assert max(len(n.text) for n in smaller) <= small.hard_max_chars
        assert all(cleaned.text[n.metadata["start"] : n.metadata["end"]] == n.text for n in smaller)
    monkeypatch.setenv("POLICY_QA_CHUNKING__MAX_CHARS", "200")
    assert Settings().chunking == ChunkingSettings(max_chars=200)
    doc = chunked["liaocheng_private_economy_opinions"][0]
    parsed = PolicyNodeParser(sizes=small).get_nodes_from_documents([Document(text=doc.raw_text, metadata={"doc_id": "x"})])
    assert [n.text for n in parsed] == [n.text for n in chunk_document(doc, small)[1]]


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


# --- documents written one item per line (一、…。 / （一）…。 / 1.…。 / 第一条 …。 on their own lines) --------

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "item_per_line"


def _chunk_text(title_and_lines: str):
    from assistant.corpus.loading import SourceDocument

    doc = SourceDocument(
        doc_id="t", file="t.txt", path=CORPUS / "t.txt", raw_text=title_and_lines, content_hash="0", title="t",
        issuer="", jurisdiction="", doc_number="", date="", encoding="utf-8",
    )
    return chunk_document(doc)[1]


@pytest.fixture(scope="module")
def item_docs():
    docs, skipped = load_corpus(FIXTURES)
    assert not skipped and len(docs) == 3
    return {d.doc_id: (d, *chunk_document(d)) for d in docs}


def _numbered_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if re.match(r"^(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|\d+\.|第.+条)", ln)]


def test_every_item_line_of_the_fixture_is_chunk_text(item_docs):
    for doc, cleaned, nodes in item_docs.values():
        texts = [n.text for n in nodes]
        items = [ln for ln in _numbered_lines(cleaned.text) if ln.endswith(("。", "；"))]
        assert items, doc.file
        for line in items:
            assert any(line in t for t in texts), (doc.file, line)
        for node in nodes:
            assert cleaned.text[node.metadata["start"] : node.metadata["end"]] == node.text


def test_item_sections_keep_the_outline(item_docs):
    sections = {n.metadata["section"]: n.text for _, _, nodes in item_docs.values() for n in nodes}
    # headings without a predicate still head their items, and are not chunk text themselves
    assert sections["三、支持企业技术改造 > （二）对获评省级智能工厂的企业奖励50万元"] == "（二）对获评省级智能工厂的企业奖励50万元；"
    assert "四、优化融资服务 > 1.政府性融资担保机构对小微企业的担保费率不超过1%" in sections
    assert "第二章 支持政策 > 第三条 对新引进的博士研究生给予安家补贴50万元" in sections
    assert sections["一、对首次升规的工业企业给予一次性补助20万元"] == "一、对首次升规的工业企业给予一次性补助20万元。"
    assert not any(t in ("三、支持企业技术改造", "四、优化融资服务", "第二章 支持政策") for t in sections.values())
    # an item that is a full sentence keeps its text even when sub-items follow it
    parent = "二、对吸纳高校毕业生就业的企业给予一次性扩岗补助"
    assert sections[parent] == parent + "。"
    assert f"{parent} > （一）每招用1名高校毕业生补助1500元" in sections
    assert sections["三、组织保障"].startswith("各区县要建立稳就业工作专班")


@pytest.mark.parametrize(
    ("text", "chunk_texts"),
    [
        # a numbered sentence followed by a sibling is content
        ("一、对首次升规企业给予补助20万元。\n二、对上市企业奖励300万元。", ["一、对首次升规企业给予补助20万元。", "二、对上市企业奖励300万元。"]),
        ("第一条 为促进中小企业发展，制定本办法。", ["第一条 为促进中小企业发展，制定本办法。"]),
        ("1.担保费率不超过1%。\n2.贷款贴息50%。", ["1.担保费率不超过1%。", "2.贷款贴息50%。"]),
        # a numbered full sentence over sub-items is content and a heading
        ("一、对首次升规企业给予补助20万元。\n（一）工业企业补助10万元。", ["一、对首次升规企业给予补助20万元。", "（一）工业企业补助10万元。"]),
        # a topic phrase over sub-items is only a heading, with or without a full stop
        ("（一）创业扶持友好。\n1.支持创业创新。对初创企业给予场地支持，租金减半。", ["1.支持创业创新。对初创企业给予场地支持，租金减半。"]),
        ("一、总体要求\n（一）工业企业补助10万元。", ["（一）工业企业补助10万元。"]),
        # a bare heading with nothing under it is no content (as before)
        ("正文第一段，对企业给予支持，具体办法另行制定。\n三、组织保障", ["正文第一段，对企业给予支持，具体办法另行制定。"]),
    ],
    ids=["siblings", "article", "arabic", "sentence-over-subitems", "phrase-with-stop", "phrase", "bare-last-heading"],
)
def test_item_or_heading_rule(text, chunk_texts):
    assert [n.text for n in _chunk_text(text)] == chunk_texts


def test_coverage_of_fixture_and_default_corpus(item_docs, chunked):
    from assistant.corpus.coverage import document_coverage, overall_share

    for docs, floor in ((item_docs, 1.0), (chunked, 0.99)):
        reports = [document_coverage(d.doc_id, d.file, c.text, nodes) for d, c, nodes in docs.values()]
        assert overall_share(reports) >= floor, [r.missed for r in reports]
        assert all(r.counted for r in reports)


def test_coverage_counts_lines_no_chunk_holds():
    from assistant.corpus.coverage import document_coverage

    text = "甲市若干措施\n一、对首次升规企业给予补助20万元。\n抄送：各部门。\n二、优化服务"
    node = _chunk_text(text)[0]
    report = document_coverage("t", "t.txt", text, [node])
    assert (report.lines, report.counted, report.in_text) == (4, 2, 1)
    assert report.missed == ["抄送：各部门。"] and report.share == 0.5


def test_eval_coverage_command_prints_each_document_and_overall(capsys):
    from eval.__main__ import main

    assert main(["coverage", "--corpus", str(FIXTURES)]) == 0
    out = capsys.readouterr().out
    assert "jiacheng_sme_measures.txt" in out and "overall: 100.00% of 18 sentence lines in 3 documents" in out
    assert main(["coverage", "--corpus", str(FIXTURES / "missing")]) == 2


@pytest.mark.parametrize(
    ("line", "rank", "numbered"),
    [
        ("第二章 支持政策", 0, True),
        ("三、加大民营企业要素保障", 1, True),
        ("第三条 对新引进的博士研究生给予安家补贴", 1, True),
        ("（四）提升企业融资服务水平", 2, True),
        ("(一)提信心增预期", 2, True),
        ("1.支持创业创新", 3, True),
        ("12、建立上报考评机制", 3, True),
        ("（2）加大贴息力度", 4, True),
        ("1.5倍的奖励", None, True),  # a figure, not an item; still no title
        ("1.2023年度完成供地30家", None, True),
        ("2023年11月23日", None, False),
        ("关于印发《若干措施》的通知", None, False),
    ],
)
def test_outline_grammar(line, rank, numbered):
    """The one heading grammar (core/outline): a heading's level, and whether a line starts with a number."""
    from assistant.core.outline import NUMBERED, heading_rank

    assert heading_rank(line) == rank
    assert bool(NUMBERED.match(line)) is numbered
