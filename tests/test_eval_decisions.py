"""Comparison / eligibility scoring on hand-made rows and measures, the loaders, the CLI, and the
labelled data files themselves (every evidence string must occur in its document)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import assistant
import eval.__main__ as cli
from assistant.core.text import match_normalize
from assistant.corpus.cleaning import clean_text
from assistant.corpus.manifest import read_manifest
from eval.decisions import (
    DecisionSetError,
    Label,
    covers,
    decisions_markdown,
    load_comparisons,
    load_profiles,
    parse_comparison,
    parse_profile,
    place_key,
    run_comparisons,
    run_profiles,
    score_comparison,
    score_profile,
    summarize_comparisons,
    summarize_profiles,
)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
COMPARISONS = ROOT / "eval" / "comparisons.jsonl"
PROFILES = ROOT / "eval" / "profiles.jsonl"


# --- fakes mimicking assistant.decisions.comparing / assistant.decisions.eligibility --------------------------------


@dataclass
class FakeCitation:
    text: str
    file: str = ""
    section: str = ""


@dataclass
class FakeRow:
    jurisdiction: str
    text: str
    citation: FakeCitation | None = None


@dataclass
class FakeComparison:
    topic: str
    rows: list[FakeRow] = field(default_factory=list)


@dataclass
class FakeMeasure:
    status: str
    text: str
    doc_id: str
    citation: FakeCitation | None = None


@dataclass
class FakeMatch:
    measures: list[FakeMeasure]
    location_path: str = ""


ITEM = {
    "id": "t1",
    "question": "甲市、乙市、丙市对小升规企业怎么奖励？",
    "topic": "小升规奖励",
    "jurisdictions": ["甲市", "乙市", "丙市"],
    "cells": {
        "甲市": {"evidence": ["对首次小升规企业奖励20万元"], "keywords": ["20万元"]},
        "乙市": {"evidence": ["新增规上企业给予10万元奖励"], "keywords": ["10万元"]},
        "丙市": None,
    },
    "type": "comparison_table",
}
PASSAGE_A = "（五）梯度培育。对首次小升规企业奖励20万元，后两年保持增长的再奖励10万元。"
PASSAGE_B = "对新增规上企业给予10万元奖励，分两年兑现。"


def row(place: str, text: str, passage: str | None) -> FakeRow:
    return FakeRow(place, text, FakeCitation(passage) if passage is not None else None)


def perfect_rows() -> list[FakeRow]:
    return [
        row("甲市", "对首次小升规企业奖励20万元", PASSAGE_A),
        row("乙市", "对新增规上企业给予10万元奖励", PASSAGE_B),
        FakeRow("丙市", "未提及"),
    ]


def test_perfect_table_scores_one_everywhere() -> None:
    s = score_comparison(parse_comparison(ITEM), perfect_rows())
    assert (s["cell_precision"], s["cell_recall"], s["not_mentioned_accuracy"]) == (1.0, 1.0, 1.0)
    assert s["row_precision"] == 1.0 and s["number_accuracy"] == 1.0 and s["keyword_recall"] == 1.0
    assert [p["status"] for p in s["place_details"]] == ["supported", "supported", "未提及 (correct)"]


def test_filling_a_null_cell_lowers_precision_and_not_mentioned_accuracy() -> None:
    rows = [*perfect_rows()[:2], row("丙市", "对新增规上企业给予10万元奖励", PASSAGE_B)]
    s = score_comparison(parse_comparison(ITEM), rows)
    assert s["filled_places"] == 3 and s["supported_places"] == 2
    assert s["cell_precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert s["not_mentioned_accuracy"] == 0.0
    assert s["cell_recall"] == 1.0  # recall only counts the non-null places


def test_off_topic_citation_is_unsupported_and_missing_place_is_a_miss() -> None:
    rows = [row("甲市", "支持企业上市", "对成功上市的企业给予相应奖励。")]  # 乙市 and 丙市: no row at all
    s = score_comparison(parse_comparison(ITEM), rows)
    assert s["cell_precision"] == 0.0 and s["cell_recall"] == 0.0
    assert s["not_mentioned_accuracy"] == 0.0  # no 未提及 row for the silent place
    assert [p["status"] for p in s["place_details"]] == ["unsupported", "missing", "missing"]


def test_a_place_is_supported_if_any_row_is_but_row_precision_counts_each_row() -> None:
    rows = [
        row("甲市", "对首次小升规企业奖励20万元", PASSAGE_A),
        row("甲市", "支持企业上市", "对成功上市的企业给予相应奖励。"),
        *perfect_rows()[1:],
    ]
    s = score_comparison(parse_comparison(ITEM), rows)
    assert s["cell_precision"] == 1.0
    assert s["rows_filled"] == 3 and s["rows_supported"] == 2
    assert s["row_precision"] == pytest.approx(2 / 3, abs=1e-4)


def test_unsupported_number_lowers_number_accuracy() -> None:
    rows = perfect_rows()
    rows[0] = row("甲市", "对首次小升规企业奖励30万元，后两年再奖励10万元", PASSAGE_A)
    s = score_comparison(parse_comparison(ITEM), rows)
    # 30万元, 两年, 10万元 + the other row's 10万元: only 30万元 is not in its passage
    assert s["numbers_total"] == 4 and s["numbers_supported"] == 3
    assert s["number_accuracy"] == 0.75
    assert s["keyword_recall"] == 0.5 and s["place_details"][0]["missing_keywords"] == ["20万元"]
    assert s["cell_precision"] == 1.0  # the passage still holds the evidence: a citation, not a claim, check


def test_row_without_citation_supports_nothing() -> None:
    rows = perfect_rows()
    rows[1] = row("乙市", "对新增规上企业给予10万元奖励", None)
    s = score_comparison(parse_comparison(ITEM), rows)
    assert s["cell_precision"] == 0.5 and s["number_accuracy"] == 0.5


def test_places_match_across_scripts_and_suffixes() -> None:
    assert place_key("溫州市") == place_key("温州") == "温州"
    assert place_key("全国") == "全国" and place_key("乐清市") == "乐清"
    item = parse_comparison(
        {
            **ITEM,
            "jurisdictions": ["溫州市"],
            "cells": {"溫州市": {"evidence": ["對首次小升規企業獎勵20萬元"]}},
        }
    )
    s = score_comparison(item, [row("温州", "对首次小升规企业奖励20万元", PASSAGE_A), row("台州", "x", "y")])
    assert s["cell_precision"] == 1.0 and s["extra_places"] == ["台州"]


def test_summary_means_and_pools_and_skips_errors() -> None:
    item = parse_comparison(ITEM)
    good = score_comparison(item, perfect_rows())
    half = score_comparison(
        item, [*perfect_rows()[:2], row("丙市", "对新增规上企业给予10万元奖励", PASSAGE_B)]
    )
    broken = {**score_comparison(item, []), "error": "RuntimeError: boom"}
    summary = summarize_comparisons([good, half, broken])
    assert summary["items"] == 3 and summary["errors"] == 1
    assert summary["mean"]["cell_precision"] == pytest.approx((1 + 2 / 3) / 2, abs=1e-4)
    assert summary["pooled"]["cell_precision"] == pytest.approx(4 / 5, abs=1e-4)
    assert summary["mean"]["not_mentioned_accuracy"] == 0.5


def test_rates_without_anything_to_score_are_none() -> None:
    item = parse_comparison({**ITEM, "jurisdictions": ["甲市"], "cells": {"甲市": ITEM["cells"]["甲市"]}})
    s = score_comparison(item, [FakeRow("甲市", "未提及")])
    assert (
        s["cell_precision"] is None and s["not_mentioned_accuracy"] is None and s["number_accuracy"] is None
    )
    assert s["cell_recall"] == 0.0


# --- eligibility ---------------------------------------------------------------------------------

PROFILE = {
    "id": "p1",
    "description": "甲市一家首次升规的制造企业",
    "profile": {"location": "甲市", "qualifications": ["规上"]},
    "should_match": [
        {"doc": "alpha.txt", "evidence": "对首次小升规企业奖励20万元"},
        {"doc": "alpha.txt", "evidence": "对成功上市的企业给予相应奖励"},
    ],
    "should_not_match": [
        {"doc": "alpha.txt", "evidence": "对首次小升规的高新技术企业再奖励10万元", "reason": "不是高新"},
        {"doc": "beta.txt", "evidence": "对新增规上企业给予10万元奖励", "reason": "乙市文件"},
    ],
    "type": "city",
}


def measure(status: str, text: str, doc: str, chunk: str = "") -> FakeMeasure:
    return FakeMeasure(status, text, doc.removesuffix(".txt"), FakeCitation(chunk or text, file=doc))


def test_profile_recall_and_precision() -> None:
    item = parse_profile(PROFILE)
    s = score_profile(
        item,
        [
            measure("符合", "对首次小升规企业奖励20万元。", "alpha.txt"),
            measure("可能符合", "对成功上市的企业给予相应奖励。", "alpha.txt"),
            measure("可能符合", "支持企业参加展会。", "alpha.txt"),
        ],
    )
    assert (s["recall"], s["precision"], s["measures"]) == (1.0, 1.0, 3)
    assert s["unlabelled_measures"] == 1 and (s["measures_met"], s["measures_maybe"]) == (1, 2)


def test_should_not_match_hit_lowers_precision() -> None:
    s = score_profile(
        parse_profile(PROFILE),
        [
            measure("符合", "对首次小升规企业奖励20万元。", "alpha.txt"),
            measure("可能符合", "对新增规上企业给予10万元奖励。", "beta.txt"),
        ],
    )
    assert s["recall"] == 0.5 and s["precision"] == 0.5
    assert s["precision_confirmed"] == 1.0 and s["recall_confirmed"] == 0.5  # the wrong one was only 可能符合
    assert s["wrongly_listed"] == ["对新增规上企业给予10万元奖励"]
    assert s["missed"] == ["对成功上市的企业给予相应奖励"]


def test_cover_needs_the_right_document_and_the_measure_text_itself() -> None:
    label = Label(doc="alpha.txt", evidence="对首次小升规企业奖励20万元")
    assert covers(measure("符合", "對首次小升規企業獎勵20萬元。", "alpha.txt"), label)  # Traditional is fine
    assert not covers(measure("符合", "对首次小升规企业奖励20万元。", "beta.txt"), label)  # other document
    big_chunk = "一、对首次小升规企业奖励20万元。二、对成功上市的企业给予相应奖励。"
    assert not covers(measure("符合", "对成功上市的企业给予相应奖励。", "alpha.txt", chunk=big_chunk), label)
    no_citation = FakeMeasure("符合", "对首次小升规企业奖励20万元", "alpha")
    assert covers(no_citation, label)  # matched on the doc_id (file stem)


def test_unmet_measures_are_not_listed() -> None:
    s = score_profile(
        parse_profile(PROFILE), [measure("不符合", "对首次小升规的高新技术企业再奖励10万元。", "alpha.txt")]
    )
    assert s["measures"] == 0 and s["should_not_match_hit"] == 0
    assert s["recall"] == 0.0 and s["precision"] is None


def test_profile_summary() -> None:
    item = parse_profile(PROFILE)
    a = score_profile(item, [measure("符合", "对首次小升规企业奖励20万元。", "alpha.txt")])
    b = score_profile(item, [measure("符合", "对新增规上企业给予10万元奖励。", "beta.txt")])
    summary = summarize_profiles([a, b])
    assert summary["mean"]["recall"] == 0.25 and summary["mean"]["precision"] == 0.5
    assert summary["pooled"]["precision"] == 0.5 and summary["pooled"]["measures"] == 2


def test_runners_record_errors_and_pass_the_right_arguments() -> None:
    calls = []

    def compare(topic, juris):
        calls.append((topic, juris))
        if juris is None:
            raise RuntimeError("index busy")
        return FakeComparison(topic, perfect_rows())

    items = [parse_comparison(ITEM), parse_comparison({**ITEM, "id": "t2", "jurisdictions": None})]
    scores = run_comparisons(items, compare)
    question = ITEM["question"]
    assert calls == [(question, ["甲市", "乙市", "丙市"]), (question, None)]
    run_comparisons(items[:1], compare, ask="topic")
    assert calls[-1] == ("小升规奖励", ["甲市", "乙市", "丙市"])
    assert scores[0]["cell_precision"] == 1.0 and not scores[0]["error"]
    assert scores[1]["error"] == "RuntimeError: index busy" and scores[1]["filled_places"] == 0
    assert summarize_comparisons(scores)["mean"]["cell_precision"] == 1.0

    got = []
    pscores = run_profiles(
        [parse_profile(PROFILE)],
        lambda p: (
            got.append(p)
            or FakeMatch([measure("符合", "对首次小升规企业奖励20万元", "alpha.txt")], "甲省/甲市")
        ),
    )
    assert got == [PROFILE["profile"]] and pscores[0]["location_path"] == "甲省/甲市"
    md = decisions_markdown(
        {
            "comparisons": {"file": "c", "summary": summarize_comparisons(scores), "items": scores},
            "profiles": {"file": "p", "summary": summarize_profiles(pscores), "items": pscores},
        }
    )
    assert "| **mean** |" in md and "t2: error RuntimeError: index busy" in md


# --- loaders and CLI -----------------------------------------------------------------------------


def write(tmp_path: Path, name: str, *objs: object) -> Path:
    path = tmp_path / name
    path.write_text(
        "".join((o if isinstance(o, str) else json.dumps(o, ensure_ascii=False)) + "\n" for o in objs),
        "utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ("{not json", "invalid JSON"),
        ({**ITEM, "cells": {"甲市": None}}, "must name exactly the jurisdictions"),
        ({**ITEM, "topic": ""}, "'topic' must be a non-empty string"),
        ({**ITEM, "cells": {**ITEM["cells"], "甲市": {"evidence": ["abc"]}}}, "no evidence with CJK"),
        ({**ITEM, "cells": {**ITEM["cells"], "甲市": {"keywords": ["x"]}}}, "evidence' must be a list"),
    ],
)
def test_bad_comparison_line_names_file_and_line(tmp_path: Path, obj: object, message: str) -> None:
    path = write(tmp_path, "c.jsonl", ITEM | {"id": "ok"}, "", obj)
    with pytest.raises(DecisionSetError, match=rf"c\.jsonl:3: .*{message}"):
        load_comparisons(path)


def test_profile_loader_errors(tmp_path: Path) -> None:
    with pytest.raises(DecisionSetError, match="p.jsonl:2: duplicate id 'p1'"):
        load_profiles(write(tmp_path, "p.jsonl", PROFILE, PROFILE))
    bad = {**PROFILE, "should_match": [{"evidence": "对首次小升规企业奖励20万元"}]}
    with pytest.raises(DecisionSetError, match=r"p2\.jsonl:1: 'should_match\[0\]' needs a 'doc'"):
        load_profiles(write(tmp_path, "p2.jsonl", bad))
    with pytest.raises(DecisionSetError, match="at least one"):
        load_profiles(write(tmp_path, "p3.jsonl", {**PROFILE, "should_match": [], "should_not_match": []}))
    with pytest.raises(DecisionSetError, match="not found"):
        load_profiles(tmp_path / "missing.jsonl")
    assert (
        load_profiles(write(tmp_path, "p4.jsonl", {**PROFILE, "extra": 1}))[0].should_not_match[1].doc
        == "beta.txt"
    )


def test_cli_exit_2_on_bad_input(tmp_path: Path, capsys) -> None:
    bad = write(tmp_path, "c.jsonl", {**ITEM, "cells": {}})
    assert cli.main(["decisions", "--only", "comparisons", "--comparisons", str(bad)]) == 2
    assert "c.jsonl:1" in capsys.readouterr().err


def test_cli_writes_the_report(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(assistant, "build_query_engine", lambda settings: "engine")
    monkeypatch.setattr(
        assistant, "compare", lambda topic, juris, engine: FakeComparison(topic, perfect_rows())
    )
    monkeypatch.setattr(
        assistant,
        "match",
        lambda profile, engine: FakeMatch([measure("符合", "对首次小升规企业奖励20万元", "alpha.txt")]),
        raising=False,
    )
    comps = write(tmp_path, "c.jsonl", ITEM)
    profs = write(tmp_path, "p.jsonl", PROFILE)
    out = tmp_path / "out"
    args = ["decisions", "--comparisons", str(comps), "--profiles", str(profs), "--out", str(out)]
    assert cli.main(args) == 0
    report = json.loads((out / "decisions.json").read_text("utf-8"))
    assert report["comparisons"]["summary"]["mean"]["cell_precision"] == 1.0
    assert report["profiles"]["items"][0]["recall"] == 0.5
    assert (out / "decisions.md").read_text("utf-8").startswith("# Comparison and eligibility evaluation")
    assert "| t1 |" in capsys.readouterr().out


# --- the labelled data files ---------------------------------------------------------------------


def _doc_texts() -> dict[str, tuple[str, str]]:
    """file -> (normalised raw file text, normalised cleaned text)."""
    out = {}
    for path in sorted(CORPUS.glob("*.txt")):
        raw = path.read_text("utf-8")
        out[path.name] = (match_normalize(raw), match_normalize(clean_text(raw, file=path.name).text))
    return out


@pytest.fixture(scope="module")
def docs() -> dict[str, tuple[str, str]]:
    return _doc_texts()


@pytest.fixture(scope="module")
def place_docs() -> dict[str, list[str]]:
    """Place (last component of the manifest jurisdiction: 温州市, 乐清市, 全国 ...) -> its files."""
    out: dict[str, list[str]] = {}
    for name, entry in read_manifest(CORPUS).items():
        out.setdefault(entry["jurisdiction"].split("/")[-1], []).append(name)
    return out


def _found(evidence: str, files: list[str], docs: dict[str, tuple[str, str]]) -> bool:
    """In the normalised raw file AND in the normalised cleaned text (what the product indexes)."""
    n = match_normalize(evidence)
    return any(n in docs[f][0] and n in docs[f][1] for f in files)


def _check_length(evidence: str) -> None:
    assert len(match_normalize(evidence)) >= 8 and len(evidence) <= 60, evidence


def test_comparison_set_size_and_shape(place_docs) -> None:
    items = load_comparisons(COMPARISONS)
    assert len(items) >= 20
    assert sum(1 for i in items if any(c is None for c in i.cells.values())) >= 10
    assert {i.type for i in items} >= {"english_query", "traditional_query", "comparison_national"}
    local = sorted(p for p in place_docs if p != "全国")
    for item in items:
        assert 2 <= len(item.cells) <= 5, item.id
        assert set(item.cells) <= set(place_docs), item.id
        if item.jurisdictions is None:  # "every place with documents": the four cities
            assert sorted(item.cells) == local, item.id


def test_comparison_evidence_and_keywords_occur_in_the_place_documents(docs, place_docs) -> None:
    for item in load_comparisons(COMPARISONS):
        for place, cell in item.cells.items():
            if cell is None:
                continue
            files = place_docs[place]
            for ev in cell.evidence:
                _check_length(ev)
                assert _found(ev, files, docs), f"{item.id} {place}: {ev}"
            for kw in cell.keywords_norm:
                assert any(kw in docs[f][1] for f in files), f"{item.id} {place}: keyword {kw}"


def test_profile_set_size_and_labels_occur_in_their_documents(docs, place_docs) -> None:
    items = load_profiles(PROFILES)
    assert len(items) >= 15
    locations = {i.profile["location"] for i in items}
    for place in ("温州", "乐清", "聊城", "朔州"):
        assert any(place in loc for loc in locations), place
    assert any(not any(p.removesuffix("市") in loc for p in place_docs) for loc in locations)  # e.g. 杭州
    for item in items:
        assert len(item.should_match) >= 3 and len(item.should_not_match) >= 3, item.id
        seen = set()
        for label in (*item.should_match, *item.should_not_match):
            assert label.doc in docs, f"{item.id}: unknown document {label.doc}"
            _check_length(label.evidence)
            assert "。" not in label.evidence, f"{item.id}: one sentence per label: {label.evidence}"
            assert _found(label.evidence, [label.doc], docs), f"{item.id}: {label.evidence}"
            key = (label.doc, label.evidence_norm)
            assert key not in seen, f"{item.id}: label twice: {label.evidence}"
            seen.add(key)


# --- the product on the labelled sets (a regression floor, well below the committed run) ----------

FLOORS = {
    ("comparisons", "cell_precision"): 0.85,
    ("comparisons", "cell_recall"): 0.75,
    ("comparisons", "not_mentioned_accuracy"): 0.6,
    ("comparisons", "number_accuracy"): 0.99,
    ("profiles", "recall"): 0.9,
    ("profiles", "precision"): 0.8,
}


@pytest.mark.slow
def test_product_stays_above_the_floors_on_the_labelled_sets(engine) -> None:
    from eval.decisions import run_comparisons, run_profiles, summarize_comparisons, summarize_profiles

    comps = load_comparisons(COMPARISONS)
    profs = load_profiles(PROFILES)
    summaries = {
        "comparisons": summarize_comparisons(
            run_comparisons(comps, lambda q, j: assistant.compare(q, j, engine=engine))
        ),
        "profiles": summarize_profiles(run_profiles(profs, lambda p: assistant.match(p, engine=engine))),
    }
    assert all(s["errors"] == 0 for s in summaries.values())
    low = {
        f"{part}.{metric}": summaries[part]["mean"][metric]
        for (part, metric), floor in FLOORS.items()
        if (summaries[part]["mean"][metric] or 0.0) < floor
    }
    assert not low, f"below the floor: {low}"
