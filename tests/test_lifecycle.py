"""Document lifecycle (issue #14): validity stated by the manifest or the text, supersession, delegation.

A synthetic corpus written here holds one document of each kind (expired, superseded through a 同时废止
sentence, superseded through the manifest, validity delegated to an absent 文号, effective from its issue
date, silent); extraction, state on both sides of each date, notices, the version chain, ``policy-qa docs``
and an incremental re-index are checked on it, and the default corpus on its five documents.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from assistant.corpus.lifecycle import STATUSES, Lifecycle, document_lifecycle
from assistant.corpus.lifecycle_extract import extract, parse_date
from assistant.corpus.loading import load_corpus
from assistant.index.build import update_index
from assistant.index.catalog import open_catalog
from assistant.index.lifecycles import version_chain
from assistant.settings import Settings

BODY = "\n\n一、支持企业发展\n对首次升规的企业给予一次性奖励20万元。截至2021年8月，已有120家企业获得奖励。\n二、附则\n"

EXPIRED = "甲市科技创新奖励办法" + BODY + "本办法自2020年1月1日起施行，有效期至2022年12月31日。\n"
OLD = "乙市工业发展扶持办法\n乙政发〔2019〕3号" + BODY + "本办法自2019年3月1日起施行。\n"
NEW = (
    "乙市工业发展扶持办法\n乙政发〔2024〕5号" + BODY
    + "本办法自2024年7月1日起施行，有效期5年。原《乙市工业发展扶持办法》（乙政发[2019]3号）同时废止。\n"
)
DELEGATED = "丙县关于支持小微企业发展的意见" + BODY + "本意见中涉及的奖补条款的执行期限按丙政发〔2022〕9号文件执行。\n"
DELEGATED_IN_CORPUS = "庚区关于落实工业扶持政策的意见" + BODY + "本意见有效期按乙政发〔2024〕5号文件执行。\n"
SILENT = "丁县人才新政" + BODY + "各部门要认真贯彻落实。\n"
ON_ISSUE = "己市关于稳岗就业的通知" + BODY + "本通知自印发之日起施行。\n"
MANIFEST_OLD = "戊市招商引资奖励办法" + BODY
MANIFEST_NEW = "戊市招商引资奖励办法（2025年修订）" + BODY
MANIFEST = """
["on_issue.txt"]
date = "2023-05-01"

["manifest_new.txt"]
supersedes = ["戊市招商引资奖励办法"]
effective_from = 2025-01-01
"""
FILES = {
    "expired.txt": EXPIRED,
    "old_policy.txt": OLD,
    "new_policy.txt": NEW,
    "delegated.txt": DELEGATED,
    "delegated_in_corpus.txt": DELEGATED_IN_CORPUS,
    "silent.txt": SILENT,
    "on_issue.txt": ON_ISSUE,
    "manifest_old.txt": MANIFEST_OLD,
    "manifest_new.txt": MANIFEST_NEW,
}


def write_corpus(folder: Path, names: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names or list(FILES):
        (folder / name).write_text(FILES[name], encoding="utf-8")
    (folder / "manifest.toml").write_text(MANIFEST, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("lifecycle")
    settings = Settings(corpus_dir=write_corpus(root / "corpus"), index_dir=root / "index", answerer="extractive")
    update_index(settings, progress=False)
    return settings


@pytest.fixture(scope="module")
def lifecycles(synthetic: Settings) -> dict[str, Lifecycle]:
    return open_catalog(synthetic).lifecycles


# --- extraction, one sentence at a time ---------------------------------------------------------------

CASES = [
    # sentence, (effective_from, expires_on, supersedes, delegated_to, status)
    ("本办法自2024年1月1日起施行，有效期至2025年12月31日。", ("2024-01-01", "2025-12-31", (), (), "现行有效")),
    ("本意见自2024年3月1日起实施，有效期3年。", ("2024-03-01", "2027-02-28", (), (), "现行有效")),
    ("本措施有效期自2023年1月1日至2024年12月31日。", ("2023-01-01", "2024-12-31", (), (), "现行有效")),
    ("二十、本通知自二〇二四年一月一日起施行，试行两年。", ("2024-01-01", "2025-12-31", (), (), "现行有效")),
    ("本办法执行期至2026年底。", (None, "2026-12-31", (), (), "现行有效")),
    ("自2024年5月1日起施行。", ("2024-05-01", None, (), (), "现行有效")),
    ("本意见自印发之日起施行。", ("2023-06-01", None, (), (), "现行有效")),  # the document's date
    ("本办法自2025年1月1日起施行，原《甲市奖励办法》（甲政发[2020]1号）同时废止。",
     ("2025-01-01", None, ("甲政发〔2020〕1号",), (), "现行有效")),
    ("《乙县人才办法》自本办法施行之日起废止。", (None, None, ("乙县人才办法",), (), "未知")),
    ("原丙市工业企业奖励办法同时废止。", (None, None, ("丙市工业企业奖励办法",), (), "未知")),
    ("执行期限按温政发〔2023〕6号、8号文件执行。", (None, None, (), ("温政发〔2023〕6号", "温政发〔2023〕8号"), "未知")),
    ("本文中涉及的各項獎補條款內容、標準、執行方式、有效期均按照溫政發〔2023〕6號、溫政發〔2023〕8號文件執行。",
     (None, None, (), ("温政发〔2023〕6号", "温政发〔2023〕8号"), "未知")),
    ("本意见有效期按《丁市产业政策管理办法》有关规定执行。", (None, None, (), ("丁市产业政策管理办法",), "未知")),
    ("有效性:有效", (None, None, (), (), "现行有效")),
    ("时效性：已废止", (None, None, (), (), "已废止")),
    # clauses about something else: nothing
    ("高新技术企业资格有效期为3年。", (None, None, (), (), "未知")),
    ("对有效期内的首次“小升规”的高新技术企业再奖励10万元。", (None, None, (), (), "未知")),
    ("截至2021年8月，全市已有110项政策上线。", (None, None, (), (), "未知")),
    ("金融机构与小微企业签订的借款合同免征印花税等政策延续执行至2027年底。", (None, None, (), (), "未知")),
    ("自2019年起，台州市推动银行业机构开展无还本续贷业务。", (None, None, (), (), "未知")),
    ("补助资金按照有关规定执行。", (None, None, (), (), "未知")),
    ("对引进的企业，自签约之日起两年内完成全部投资的给予补助。", (None, None, (), (), "未知")),
]


@pytest.mark.parametrize(("sentence", "expected"), CASES, ids=[c[0][:16] for c in CASES])
def test_extraction_table(sentence: str, expected: tuple) -> None:
    text = f"某市某文件\n{sentence}\n"
    lc = document_lifecycle("d", text, doc_date="2023-06-01")
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    got = (iso(lc.effective_from), iso(lc.expires_on), lc.supersedes, lc.delegated_to, lc.status)
    assert got == expected
    if any(expected[:4]) or expected[4] != "未知":  # every value is cited with its exact sentence and offsets
        assert lc.evidence and all(text[e.start : e.end] == e.text == sentence for e in lc.evidence)
    else:
        assert not lc.evidence and lc.validity_source == "none"


def test_dates_parse_or_are_refused() -> None:
    assert parse_date("2024年2月29日") == date(2024, 2, 29)
    assert parse_date("二〇二五年十二月三十一日") == date(2025, 12, 31)
    assert parse_date("2025年底") == date(2025, 12, 31)
    assert parse_date("2023年2月30日") is None  # not a real day: nothing rather than a guess
    assert extract("本办法自2023年2月30日起施行。").effective_from is None


# --- the synthetic corpus ------------------------------------------------------------------------------


def test_each_kind_of_document(lifecycles: dict[str, Lifecycle], synthetic: Settings) -> None:
    cat = open_catalog(synthetic)
    expired = lifecycles["expired"]
    assert (expired.effective_from, expired.expires_on) == (date(2020, 1, 1), date(2022, 12, 31))
    assert expired.status_on(date.today()) == "已失效" and expired.validity_source == "text"
    assert expired.evidence[0].text == "本办法自2020年1月1日起施行，有效期至2022年12月31日。"
    assert set(expired.evidence[0].fields) == {"effective_from", "expires_on"}

    delegated = lifecycles["delegated"]
    assert delegated.delegated_to == ("丙政发〔2022〕9号",) and not delegated.delegated_in_corpus
    assert delegated.status == "未知" and delegated.validity_source == "reference"
    assert delegated.evidence[0].text == "本意见中涉及的奖补条款的执行期限按丙政发〔2022〕9号文件执行。"

    follows = lifecycles["delegated_in_corpus"]  # delegated to a corpus document: its validity is that one's
    assert follows.delegated_to == ("乙政发〔2024〕5号",) and follows.delegated_in_corpus
    assert (follows.effective_from, follows.expires_on) == (date(2024, 7, 1), date(2029, 6, 30))
    assert follows.validity_source == "reference" and follows.evidence[-1].doc_id == "new_policy"

    silent = lifecycles["silent"]
    assert (silent.status, silent.evidence, silent.validity_source) == ("未知", (), "none")
    assert lifecycles["on_issue"].effective_from == date(2023, 5, 1)  # 自印发之日起施行 + the manifest date
    for doc_id, lc in lifecycles.items():  # every sentence is where the evidence says, in the cleaned text
        for ev in lc.evidence:
            if ev.source != "manifest":
                assert cat.cleaned_text(ev.doc_id or doc_id)[ev.start : ev.end] == ev.text
    assert {d.doc_id: d.lifecycle for d in cat.documents} == lifecycles


def test_supersession_by_sentence_and_by_manifest(lifecycles: dict[str, Lifecycle]) -> None:
    old, new = lifecycles["old_policy"], lifecycles["new_policy"]
    assert new.supersedes == ("乙政发〔2019〕3号",)  # [2019] read as 〔2019〕
    assert (new.effective_from, new.expires_on) == (date(2024, 7, 1), date(2029, 6, 30))
    assert old.status == "已废止" and old.superseded_by == ("乙政发〔2024〕5号",)
    assert old.validity_source == "reference"
    link = old.repealed_by[0]
    assert (link.new_id, link.new_from) == ("new_policy", date(2024, 7, 1))
    assert link.evidence.doc_id == "new_policy" and "同时废止" in link.evidence.text
    assert new.replaces == old.repealed_by and new.status == "现行有效" and not new.superseded_by

    m_old, m_new = lifecycles["manifest_old"], lifecycles["manifest_new"]
    assert m_new.validity_source == "manifest" and m_new.effective_from == date(2025, 1, 1)
    assert m_old.superseded_by == ("戊市招商引资奖励办法（2025年修订）",)
    assert m_old.repealed_by[0].evidence.source == "manifest"


STATES = [
    # doc_id, as_of, state
    ("expired", "2019-12-31", "not_yet"),
    ("expired", "2020-01-01", "in_force"),
    ("expired", "2022-12-31", "in_force"),
    ("expired", "2023-01-01", "expired"),
    ("old_policy", "2019-02-28", "not_yet"),
    ("old_policy", "2024-06-30", "in_force"),
    ("old_policy", "2024-07-01", "repealed"),
    ("new_policy", "2024-06-30", "not_yet"),
    ("new_policy", "2029-06-30", "in_force"),
    ("new_policy", "2029-07-01", "expired"),
    ("manifest_old", "2024-12-31", "unknown"),  # it states nothing itself
    ("manifest_old", "2025-01-01", "repealed"),
    ("delegated", "2030-01-01", "delegated"),
    ("delegated_in_corpus", "2024-06-30", "not_yet"),
    ("delegated_in_corpus", "2024-07-01", "in_force"),
    ("silent", "2030-01-01", "unknown"),
    ("on_issue", "2023-04-30", "not_yet"),
    ("on_issue", "2023-05-01", "in_force"),
]


@pytest.mark.parametrize(("doc_id", "as_of", "state"), STATES)
def test_state_on_both_sides_of_each_date(lifecycles: dict[str, Lifecycle], doc_id: str, as_of: str, state: str) -> None:
    assert lifecycles[doc_id].state_on(date.fromisoformat(as_of)) == state


NOTICES = [
    ("expired", "2023-01-01", "", "该文件有效期至2022年12月31日（已过期）"),
    ("old_policy", "2024-07-01", "", "该文件已被《乙市工业发展扶持办法》（乙政发〔2024〕5号，2024年7月1日起施行）废止"),
    ("new_policy", "2024-06-01", "", "该文件自2024年7月1日起施行（尚未生效）"),
    ("delegated", "2024-01-01", "", "该条款的执行期限按丙政发〔2022〕9号执行（未收录）"),
    ("silent", "2024-01-01", "", "该文件有效期未说明"),
    ("silent", "2024-01-01", "丁县人才新政", "《丁县人才新政》有效期未说明"),
    ("new_policy", "2025-01-01", "", None),
    ("on_issue", "2024-01-01", "", None),
]


@pytest.mark.parametrize(("doc_id", "as_of", "title", "notice"), NOTICES)
def test_notices(lifecycles: dict[str, Lifecycle], doc_id: str, as_of: str, title: str, notice: str | None) -> None:
    assert lifecycles[doc_id].notice(date.fromisoformat(as_of), title) == notice


def test_version_chain_and_docs_history(lifecycles: dict[str, Lifecycle], synthetic: Settings, capsys) -> None:
    from assistant import cli

    assert version_chain(lifecycles, "new_policy") == ["old_policy", "new_policy"]
    assert version_chain(lifecycles, "manifest_new") == ["manifest_old", "manifest_new"]
    assert version_chain(lifecycles, "silent") == ["silent"]
    base = ["--index-dir", str(synthetic.index_dir), "docs"]
    assert cli.main([*base, "--history", "乙政发[2019]3号"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("1. 乙市工业发展扶持办法（乙政发〔2019〕3号）\t已废止\t施行：2019-03-01")
    assert lines[1].startswith("2. 乙市工业发展扶持办法（乙政发〔2024〕5号）\t")
    assert lines[1].endswith("\t施行：2024-07-01\t有效期至：2029-06-30\tnew_policy")
    assert "废止 old_policy，依据：" in lines[2] and "同时废止" in lines[2]
    assert cli.main([*base, "--history", "不存在的文件"]) == 2


def test_docs_lists_lifecycle_columns(synthetic: Settings, capsys) -> None:
    from assistant import cli

    assert cli.main(["--index-dir", str(synthetic.index_dir), "docs"]) == 0
    rows = {line.split("\t")[0]: line.split("\t") for line in capsys.readouterr().out.splitlines()}
    assert len(rows) == len(FILES) and all(len(r) == 11 for r in rows.values())
    assert rows["expired"][6:10] == ["已失效", "2020-01-01", "2022-12-31", "-"]
    assert rows["old_policy"][6] == "已废止" and rows["old_policy"][9] == "被废止：乙政发〔2024〕5号"
    assert rows["delegated"][6] == "未知" and rows["delegated"][9] == "按丙政发〔2022〕9号执行（未收录）"
    assert rows["silent"][6:] == ["未知", "-", "-", "-", "-"]
    assert rows["manifest_new"][10].startswith("manifest.toml")
    assert cli.main(["--index-dir", str(synthetic.index_dir), "docs", "--json"]) == 0
    listed = {d["doc_id"]: d for d in json.loads(capsys.readouterr().out)}
    assert listed["new_policy"]["lifecycle"]["supersedes"] == ["乙政发〔2019〕3号"]
    assert listed["expired"]["lifecycle"]["expires_on"] == "2022-12-31"


def test_incremental_reindex_keeps_the_old_version(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", ["old_policy.txt", "silent.txt"])
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", answerer="extractive")
    update_index(settings, progress=False)
    before = open_catalog(settings).lifecycles["old_policy"]
    assert before.status == "现行有效" and not before.superseded_by
    (corpus / "new_policy.txt").write_text(NEW, encoding="utf-8")
    report = update_index(settings, progress=False)
    assert report.added == ["new_policy.txt"] and not report.changed and not report.removed
    cat = open_catalog(settings)
    assert {d.doc_id for d in cat.documents} == {"old_policy", "new_policy", "silent"}
    old = cat.document("old_policy").lifecycle
    assert old.status == "已废止" and old.superseded_by == ("乙政发〔2024〕5号",)
    assert old.state_on(date(2024, 6, 30)) == "in_force" and old.state_on(date(2024, 7, 1)) == "repealed"
    assert any(n.metadata["doc_id"] == "old_policy" for n in cat.nodes.values())  # its passages stay indexed


@pytest.mark.parametrize(
    ("table", "reason"),
    [
        ('effective_from = "2024-13-01"', "effective_from = '2024-13-01' 不是有效日期"),
        ('expires_on = "2024年1月1日"', "应写作 YYYY-MM-DD"),
        ('status = "有效"', "status = '有效' 无效"),
        ("supersedes = [1]", "supersedes 应为文号或标题的列表"),
    ],
)
def test_bad_manifest_lifecycle_is_a_clear_reason(tmp_path: Path, table: str, reason: str) -> None:
    (tmp_path / "a.txt").write_text(SILENT, encoding="utf-8")
    (tmp_path / "b.txt").write_text(EXPIRED, encoding="utf-8")
    (tmp_path / "manifest.toml").write_text(f'["a.txt"]\n{table}\n', encoding="utf-8")
    docs, skipped = load_corpus(tmp_path)
    assert [d.file for d in docs] == ["b.txt"] and skipped[0].file == "a.txt" and reason in skipped[0].reason


def test_manifest_beats_text(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(EXPIRED, encoding="utf-8")
    (tmp_path / "manifest.toml").write_text(
        '["a.txt"]\nexpires_on = 2026-12-31\nstatus = "部分失效"\n', encoding="utf-8"
    )
    doc = load_corpus(tmp_path)[0][0]
    assert doc.lifecycle == {"status": "部分失效", "expires_on": "2026-12-31"}
    lc = document_lifecycle("a", EXPIRED, manifest=doc.lifecycle)
    assert (lc.status, lc.expires_on, lc.effective_from) == ("部分失效", date(2026, 12, 31), date(2020, 1, 1))
    assert lc.validity_source == "manifest" and lc.evidence[0].source == "manifest"
    assert lc.status_on(date(2025, 1, 1)) == "部分失效" and "部分失效" in lc.notice(date(2025, 1, 1))
    years = document_lifecycle("b", "本办法有效期3年。", manifest={"effective_from": "2021-01-01"})
    assert (years.effective_from, years.expires_on) == (date(2021, 1, 1), date(2023, 12, 31))
    only_supersedes = document_lifecycle("c", EXPIRED, manifest={"supersedes": ["某办法"]})
    assert only_supersedes.validity_source == "text" and only_supersedes.supersedes == ("某办法",)


# --- the default corpus --------------------------------------------------------------------------------


def test_default_corpus_lifecycles(corpus_index: Settings) -> None:
    cat = open_catalog(corpus_index)
    lcs = cat.lifecycles
    assert len(lcs) == 5
    for doc_id, lc in lcs.items():
        assert lc.status in STATUSES
        assert lc.status == "未知" or lc.evidence, doc_id  # a status has its source, or it is 未知
        for ev in lc.evidence:
            assert cat.cleaned_text(doc_id)[ev.start : ev.end] == ev.text
    wenzhou = lcs["wenzhou_sme_friendly_city_opinions"]
    assert {"温政发〔2023〕6号", "温政发〔2023〕8号"} <= set(wenzhou.delegated_to)
    assert not wenzhou.delegated_in_corpus and wenzhou.state_on(date.today()) == "delegated"
    assert "溫政發〔2023〕6號" in wenzhou.evidence[0].text and wenzhou.evidence[0].text.endswith("文件執行。")
    assert "未收录" in wenzhou.notice(date.today())
    yueqing = lcs["yueqing_private_economy_measures"]
    assert yueqing.status == "现行有效" and yueqing.evidence[0].text == "有效性:有效"
    for doc_id in ("ndrc_private_enterprise_typical_practices", "shuozhou_private_economy_opinions",
                   "liaocheng_private_economy_opinions"):
        assert lcs[doc_id].status == "未知" and lcs[doc_id].notice(date.today()) == "该文件有效期未说明"
