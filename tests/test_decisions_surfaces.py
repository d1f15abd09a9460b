"""Comparison and eligibility through the CLI and the UI tab's form handling (the API is in test_matching)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from assistant import cli
from assistant.core.schema import Citation
from assistant.decisions.eligibility import ConditionCheck, MatchResult, MeasureMatch, Profile, ProfileError
from assistant.settings import PROJECT_ROOT, Settings
from assistant.ui.match_tab import profile_from_form, render_matches


def run_cli(settings: Settings, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``policy-qa args`` in-process on ``settings``: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = cli.main(list(args), settings=settings)
    out, err = capsys.readouterr()
    return code, out, err


def test_match_cli_writes_an_excel_ready_csv_and_markdown(
    corpus_index: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m.csv"
    profile = str(PROJECT_ROOT / "examples" / "profile.toml")
    code, stdout, stderr = run_cli(corpus_index, capsys, "match", profile, "--format", "csv", "-o", str(out))
    assert code == 0, stderr[-2000:]
    assert stdout == f"已写入 {out}\n"
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["序号", "状态", "范围"] and len(rows) > 1
    assert {r[1] for r in rows[1:]} <= {"符合", "可能符合"}
    code, stdout, _ = run_cli(corpus_index, capsys, "match", "--text", "聊城的一家软件企业，30人，年营收800万元")
    assert code == 0 and "聊城" in stdout and "出处" in stdout
    assert "乐清" not in stdout.split("共")[1].split("###")[0]  # no other city's documents


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("match",), "二者选一"),
        (("match", "/nonexistent/p.toml"), "找不到企业画像文件"),
    ],
)
def test_match_cli_bad_input_is_named(
    corpus_index: Settings, capsys: pytest.CaptureFixture[str], args: tuple, message: str
) -> None:
    code, _, stderr = run_cli(corpus_index, capsys, *args)
    assert code == 2 and message in stderr and "Traceback" not in stderr


def test_bad_toml_profile_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text('location = "乐清"\nemployees = -3\n', encoding="utf-8")
    with pytest.raises(ProfileError, match="员工"):
        Profile.from_toml(bad)
    bad.write_text('location = "乐清"\nsize_class = "x"\n', encoding="utf-8")
    with pytest.raises(ProfileError, match="未知字段"):
        Profile.from_toml(bad)


def test_form_fields_win_over_the_sentence_and_ticks_can_be_complete() -> None:
    p = profile_from_form("乐清的一家制造业企业，50人", "聊城市", "", 80, None, None, "A", ["高新技术企业"], ["上市"], "未知")
    assert p.location == "聊城市" and p.employees == 80 and p.industry == "制造业" and p.tax_credit == "A"
    zero = profile_from_form("乐清的一家企业，50人，年营收800万元", "", "", 0, 0, 0, "未知", [], [], "未知")
    assert zero.employees == 50 and zero.revenue == 800  # empty number boxes (0) keep the sentence's figures
    assert "高新技术企业" in p.qualifications and "上市" in p.plans
    complete = profile_from_form("", "乐清市", "", None, None, None, "未知", ["小巨人"], [], "未知", complete=True)
    assert complete.qualifications_complete and not p.qualifications_complete
    with pytest.raises(ProfileError):
        profile_from_form("", "", "", None, None, None, "未知", [], [], "未知")


def _measure(status: str, scope: str, text: str) -> MeasureMatch:
    cite = Citation(n=1, node_id="n", title="甲市若干措施", section="一、奖励", file="a.txt", start=0, end=len(text),
                    text=text, quote=text)  # fmt: skip
    return MeasureMatch(
        measure_id="a:0-1", title="奖励<b>升规</b>", text=text, doc_id="a", doc_title="甲市若干措施",
        jurisdiction="甲省/甲市", date="", scope=scope, status=status,
        conditions=[ConditionCheck("qualification", "首次升规", "unknown", "画像未说明")],
        benefit="奖励10万元", department="市经信局", citation=cite,
    )  # fmt: skip


def test_match_html_groups_by_status_and_escapes_document_text() -> None:
    result = MatchResult(
        profile=Profile(location="甲市"),
        location_path="甲省/甲市",
        measures=[
            _measure("符合", "本地", "对首次升规企业奖励10万元<script>x()</script>。"),
            _measure("可能符合", "全国典型做法", "某市对企业给予补助。"),
        ],
    )
    html = render_matches(result)
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>升规" not in html
    assert html.index("符合（1 条）") < html.index("全国典型做法（其他城市的经验，仅供参考）（1 条）")
    assert '<details class="pqa-group" open><summary>符合' in html
    assert "? 首次升规" in html and "市经信局" in html


def test_comparison_table_html_links_sources_and_flags_unchecked_numbers() -> None:
    from assistant.ui.render import render_table

    cite = {"n": 2, "title": "甲市若干措施"}
    table = {
        "topic": "升规奖励",
        "rows": [
            {"jurisdiction": "甲市", "measure": "奖励", "text": "奖励10万元<img src=x>", "citation": cite,
             "numbers_verified": False, "note": ""},
            {"jurisdiction": "乙市", "measure": "", "text": "未提及", "citation": None, "note": "语料中没有该地区的文件"},
        ],
    }  # fmt: skip
    html = render_table(table, turn=3)
    assert 'href="#pqa-src-3-2"' in html and "<img" not in html
    assert "未能在出处原文中核对" in html and 'class="pqa-missing"' in html and "语料中没有该地区的文件" in html


@pytest.mark.slow
def test_ticked_qualifications_as_complete_turn_unknown_into_not_met(corpus_index: Settings) -> None:
    import assistant

    args = ("", "乐清市", "制造业", 80, 3000.0, 5.0, "未知", ["专精特新"], [], "未知")
    loose = assistant.match(profile_from_form(*args), settings=corpus_index, include_unmet=True)
    strict = assistant.match(profile_from_form(*args, complete=True), settings=corpus_index, include_unmet=True)

    def statuses(result: MatchResult) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for m in result.measures:
            for c in m.conditions:
                if c.kind == "qualification" and "高新技术企业" in c.text:
                    out.setdefault(m.measure_id, set()).add(c.status)
        return out

    assert statuses(loose) and all(s == {"unknown"} for s in statuses(loose).values())
    assert all("not_met" in s for s in statuses(strict).values())


# -- exports never turn document or user text into formulas or markup (row 8) -----------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x","点击")', '\'=HYPERLINK("http://x","点击")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("对首次升规企业奖励10万元", "对首次升规企业奖励10万元"),
        ("奖励=10万元", "奖励=10万元"),  # only the first character makes a formula
        ("", ""),
        (3, 3),
    ],
)
def test_csv_cell(value: object, expected: object) -> None:
    from assistant.core.tables import csv_cell

    assert csv_cell(value) == expected


@pytest.mark.parametrize(
    ("text", "cell", "line"),
    [
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;", "&lt;img src=x onerror=alert(1)&gt;"),
        ("A&B | C", "A&amp;B \\| C", "A&amp;B | C"),
        ("第一行\n第二行", "第一行 第二行", "第一行\n第二行"),
        ("《文件》（2023）", "《文件》（2023）", "《文件》（2023）"),
    ],
)
def test_markdown_cells_and_lines(text: str, cell: str, line: str) -> None:
    from assistant.core.tables import md_cell, md_text

    assert md_cell(text) == cell and md_text(text) == line


HOSTILE = '=HYPERLINK("http://x","点击")<img src=x onerror=alert(1)>'


def test_comparison_exports_escape_formulas_and_markup() -> None:
    from assistant.decisions.comparing import Comparison, ComparisonRow

    cite = Citation(n=1, node_id="n", title="甲市若干措施", section="一、奖励", file="a.txt", start=0, end=10,
                    text=HOSTILE)  # fmt: skip
    table = Comparison(topic="升规奖励", rows=[
        ComparisonRow(jurisdiction="甲市", text=HOSTILE, measure="@奖励|补助", citation=cite),
        ComparisonRow(jurisdiction="乙市", text="-", note="+语料中没有该地区的文件"),
    ])  # fmt: skip
    rows = list(csv.reader(io.StringIO(table.to_csv())))
    assert rows[1][1] == "'@奖励|补助" and rows[1][2].startswith("'=HYPERLINK(") and rows[1][5].startswith("'=HYPERLINK(")
    assert rows[2][2] == "'-" and rows[2][4] == "'+语料中没有该地区的文件"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    md = table.to_markdown()
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt;" in md
    assert md.count("\n| 甲市 |") == 1 and all(line.count(" | ") == 3 for line in md.splitlines()[4:])
    assert "@奖励\\|补助" in md


def test_eligibility_exports_escape_formulas_and_markup() -> None:
    m = _measure("符合", "本地", HOSTILE)
    result = MatchResult(profile=Profile(location="甲市"), location_path="甲省/甲市", measures=[m],
                         notes=["<script>x()</script>"])  # fmt: skip
    rows = list(csv.reader(io.StringIO(result.to_csv())))
    header, first = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert first["原文"] == "'" + HOSTILE and header[0] == "序号"
    md = result.to_markdown()
    assert "<img" not in md and "<script>" not in md and "<b>" not in md
    assert "&lt;img src=x onerror=alert(1)&gt;" in md and "奖励&lt;b&gt;升规&lt;/b&gt;" in md
