"""Each cleaning defect, on real snippets of the seed documents."""

from __future__ import annotations

import re
import time

import pytest

from assistant.corpus.cleaning import clean_text, html_to_text, page_text, remove_pinyin, repair_mojibake
from assistant.settings import PROJECT_ROOT

CORPUS = PROJECT_ROOT / "corpus"
PINYIN = re.compile(r"[\u3400-\u9fff]\([a-z\u00e0-\u01dc]{1,7}\)")
PUA = re.compile("[\ue000-\uf8ff]")


def test_html_paragraphs_keep_city_label_as_text():
    raw = (
        "序号\t名称\t主要做法和成效\t来源\n"
        "1\t推进企业开办智能化、极简化\t<p><b>青岛市：</b>研发“青易办”平台。</p> <p><b>江阴市：</b> 推广“新办套餐”&amp;审批。</p>"
        "\t<p>青岛市 江阴市</p>\n"
    )
    text = clean_text(raw).text
    lines = text.splitlines()
    assert "青岛市：研发“青易办”平台。" in lines
    assert "江阴市：推广“新办套餐”&审批。" in lines
    assert "序号：1；名称：推进企业开办智能化、极简化" in lines
    assert "来源：青岛市 江阴市" in lines
    assert "<" not in text and "&amp;" not in text


def test_table_rules_and_markdown_markers_removed():
    raw = "## 支持民营企业改革发展的典型做法\n\n---\t---------------------\t---\t----\n|---|---|\n正文。"
    text = clean_text(raw).text
    assert text.splitlines()[0] == "支持民营企业改革发展的典型做法"
    assert "---" not in text and "##" not in text


def test_pinyin_annotations_removed_but_real_parentheses_kept():
    raw = "各縣(市、區(qū))人民政府,市各有關(guān)單位:發(fā)展(2023)和(科技型小微企業(yè))"
    assert remove_pinyin(raw) == "各縣(市、區)人民政府,市各有關單位:發展(2023)和(科技型小微企業)"


def test_mojibake_spans_repaired():
    raw = (
        "  為了優(yōu)化環境,創(chuàng)建權(quán)益保護。\n\n"
        " ?。ㄒ唬┲黧w質(zhì)量提升。到2025年。\n"
        " ?。ǘ\ue46a┗盍︼@著增強。\n"
        " ?。ㄒ唬﹦?chuàng)業(yè)扶持友好。\n"
        " ?。ㄎ澹\ue7f6?quán)益保護到位。\n"
        " ?。ǘ\ue46a\ue7ed娀\ue1eeぷ髀鋵崱C鞔_年度目標。\n"
    )
    cleaned = clean_text(raw, file="001.txt")
    text = cleaned.text
    for expected in ("（一）主體質量提升。", "（二）活力顯著增強。", "（一）創業扶持友好。", "（五）權益保護到位。",
                     "（二）強化工作落實。明確年度目標。"):
        assert expected in text
    assert not PUA.search(text) and "?" not in text


def test_unrecoverable_mojibake_dropped_with_warning():
    text, warnings = repair_mojibake("加入?yún)作配套。")
    assert text == "加入作配套。"
    assert warnings


def test_whitespace_and_page_chrome():
    raw = "您现在的位置:首页\n\u00a0>\u00a0政务公开\u00a0>\u00a0政策文件\n  • 文号:\n  • 乐政办发〔2023〕43号\n\n\n\n\u3000\u3000一、总体要求\u3000\u3000 \n\u200b正文。\n"
    text = clean_text(raw).text
    assert text == "文号:乐政办发〔2023〕43号\n\n一、总体要求\n正文。"


def test_flattened_task_table_rebuilt_into_row_records():
    cells = [
        "序号", "总体任务", "重点工作", "全市目标", "落实举措", "实施阶段", "责任单位", "分管领导/联络员",
        "1", "一、提信心增预期", "(一)强化财税政策保障", "1.目标甲。", "2.目标乙。", "1.举措甲。", "2.举措乙。",
        "2023-", "2027年", "市税务局", "陈宋淼", "林良卡",
        "1", "一、提信心增预期", "(一)强化财税政策保障", "3.目标丙。", "2023-", "2027年", "市税务局", "陈宋淼", "林良卡",
        "2", "(二)加大产业基金支持力度", "积极投资参与基金。", "1.举措丙。", "长期实施", "*市财政局", "杨宏辉", "\u00a0",
        "抄送:市委各部门。",
    ]
    text = clean_text("任务清单\n\n" + "\n\n".join(cells)).text
    rows = [ln for ln in text.splitlines() if ln.startswith("序号：")]
    assert rows == [
        "序号：1；总体任务：一、提信心增预期；重点工作：(一)强化财税政策保障；全市目标：1.目标甲。 2.目标乙。 3.目标丙。"
        "；落实举措：1.举措甲。 2.举措乙。；实施阶段：2023-2027年；责任单位：市税务局；分管领导/联络员：陈宋淼、林良卡",
        "序号：2；总体任务：一、提信心增预期；重点工作：(二)加大产业基金支持力度；全市目标：积极投资参与基金。"
        "；落实举措：1.举措丙。；实施阶段：长期实施；责任单位：*市财政局；分管领导/联络员：杨宏辉",
    ]
    assert text.endswith("抄送:市委各部门。")


def test_whole_corpus_clean_and_fast():
    raws = {p.name: p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt"))}
    started = time.perf_counter()
    cleaned = {name: clean_text(raw, file=name) for name, raw in raws.items()}
    # Only a catastrophic (super-linear) blow-up guard: the corpus cleans in ~0.04 s, over 100x under this.
    assert time.perf_counter() - started < 5.0
    for name, doc in cleaned.items():
        assert not PINYIN.search(doc.text), name
        assert not PUA.search(doc.text), name
        assert "<p>" not in doc.text and "</b>" not in doc.text and "---" not in doc.text, name
        assert clean_text(raws[name]).text == doc.text  # deterministic
    yueqing = cleaned["yueqing_private_economy_measures.txt"].text
    assert len(re.findall(r"^序号：\d+；", yueqing, re.M)) == 32
    assert "您现在的位置" not in yueqing and ".docx" not in yueqing


@pytest.mark.parametrize(
    ("markup", "page", "fragment"),
    [
        # a page drops script/style text and keeps table cells apart; a fragment in a text keeps all its text
        ("<p>甲</p><script>x()</script>乙", "\n甲\n乙", "\n甲\nx()乙"),
        ("<table><tr><td>序号</td><td>名称</td></tr></table>", "\n\n\t序号\t名称\n\n", "\n\n序号名称\n\n"),
        # a text with no known tag and no entity is not HTML: a fragment stays as it is
        ("<title>标题</title><section>正文</section>", "\n标题\n\n正文\n", "<title>标题</title><section>正文</section>"),
        ("<ul><li>一</li></ul>&amp;", "\n一\n&", "\n\n一\n\n&"),
        ("甲 \t\n  乙<br>", "甲 \t\n  乙\n", "甲\n乙\n"),  # a fragment also drops spaces around line breaks
    ],
)
def test_one_html_parser_for_pages_and_fragments(markup: str, page: str, fragment: str) -> None:
    """Loading (.html pages) and cleaning (HTML inside text) share one parser; each mode keeps its tags."""
    assert page_text(markup) == page
    assert html_to_text(markup) == fragment


def test_long_space_runs_in_html_fragments_stay_linear() -> None:
    """Spaces around line breaks are dropped in one pass: a 100k-space run took ~30 s before (quadratic regex)."""
    text = "<p>甲</p>乙" + " " * 100_000 + "丙"
    started = time.perf_counter()
    out = html_to_text(text)
    # Only a catastrophic-blow-up guard: this takes milliseconds; the quadratic form took ~30 s.
    assert time.perf_counter() - started < 5.0
    assert out == "\n甲\n乙" + " " * 100_000 + "丙"


def test_a_row_merged_over_a_page_break_keeps_each_padded_column_apart() -> None:
    """A short row is padded with empty columns; the rest of that row must fill each column once, not all."""
    from assistant.corpus.cleaning.flat_tables import _FlatTable

    table = _FlatTable(["序号", "总体任务", "重点工作", "A", "B", "C"])
    table.parse_row(1, ["1.甲"])
    table.parse_row(1, ["1.乙", "", "1.丙", "", "1.丁"])
    assert table.rows[0].items == [["1.乙"], ["1.丙"], ["1.甲", "1.丁"]]
