"""Metric definitions of EVAL_FORMAT.md on hand-made passages (no embeddings, no index)."""

from __future__ import annotations

import pytest
from eval_fakes import passage, result

from eval.dataset import Question
from eval.metrics import (
    METRIC_KEYS,
    evidence_rank,
    hit_curve,
    strip_markers,
    summarize_with_types,
)
from eval.runner import metrics_from_rows, result_row

FILLER = [passage(f"无关段落第{i}条内容", f"f{i}") for i in range(10)]


def q(qid: str = "q1", *, answerable: bool = True, evidence=(), keywords=(), qtype: str = "t") -> Question:
    return Question(
        id=qid,
        question="问题",
        answerable=answerable,
        evidence=tuple(evidence),
        answer_keywords=tuple(keywords),
        type=qtype,
    )


def score(question: Question, res) -> dict:
    return result_row(question, "p", res)["scores"]


def test_multi_evidence_hit_needs_every_string_and_mrr_uses_last_rank() -> None:
    question = q(evidence=["补贴标准为每人1000元", "申请截止日期为6月30日"])
    retrieved = [
        *FILLER[:1],
        passage("补贴标准为每人1000元。", "a"),
        *FILLER[1:3],
        passage("申请截止日期为6月30日", "b"),
    ]
    s = score(question, result(retrieved=retrieved))
    assert s["evidence_rank"] == 5
    assert (s["hit@1"], s["hit@3"], s["hit@5"], s["hit@10"]) == (False, False, True, True)
    assert s["mrr@10"] == pytest.approx(0.2)


def test_evidence_beyond_top_10_is_a_miss() -> None:
    question = q(evidence=["补贴标准为每人1000元"])
    s = score(question, result(retrieved=[*FILLER, passage("补贴标准为每人1000元", "late")]))
    assert s["hit@10"] is False and s["mrr@10"] == 0.0 and s["evidence_rank"] is None


def test_traditional_and_markup_are_normalised_away() -> None:
    question = q(evidence=["补贴标准为每人1000元"], keywords=["1000元", "补贴"])
    traditional = passage("<p><b>補貼</b>標準為每人 1,000 元（bǔ tiē）</p>", "a")
    s = score(question, result(retrieved=[traditional], answer="補貼：每人1,000元[1]。", cited=[traditional]))
    assert s["hit@1"] is True
    assert s["keyword_recall"] == 1.0
    assert s["citation_recall"] is True


def test_evidence_split_over_passages_in_one_passage_each() -> None:
    assert evidence_rank(["甲乙", "丙丁"], ["甲乙丙", "丁"]) is None  # 丙丁 spans two passages: not contained
    assert evidence_rank(["甲乙", "丙丁"], ["甲乙", "丙丁"]) == 2


def test_keyword_recall_is_fraction_and_ignores_markers() -> None:
    question = q(evidence=["贷款贴息50%"], keywords=["比例50%", "贷款贴息", "三年"])
    s = score(question, result(answer="贷款贴息比例[2]50%。"))  # digits of [2] must not glue to 50
    assert s["keyword_recall"] == pytest.approx(2 / 3)
    assert s["missing_keywords"] == ["三年"]
    s = score(question, result(answer="贷款贴息比例50%[1]，期限三年[2]。"))
    assert s["keyword_recall"] == 1.0


def test_citation_recall_needs_all_evidence_in_cited_passages() -> None:
    question = q(evidence=["补贴标准为每人1000元", "申请截止日期为6月30日"])
    a, b = passage("补贴标准为每人1000元", "a"), passage("申请截止日期为6月30日", "b")
    assert score(question, result(retrieved=[a, b], cited=[a, b]))["citation_recall"] is True
    assert score(question, result(retrieved=[a, b], cited=[a]))["citation_recall"] is False


def test_citation_precision_is_pooled_over_answered_questions() -> None:
    q1 = q("q1", evidence=["补贴标准为每人1000元"])
    q2 = q("q2", evidence=["申请截止日期为6月30日"], keywords=["6月30日"])
    q3 = q("q3", answerable=False)
    rel1, rel2 = passage("补贴标准为每人1000元", "a"), passage("截止到6月30日", "b")  # b: keyword only
    rows = [
        result_row(q1, "p", result(cited=[rel1, FILLER[0]])),  # 1 of 2 relevant
        result_row(q2, "p", result(cited=[rel2])),  # 1 of 1 (keyword counts)
        result_row(q3, "p", result(answerable=False, cited=[FILLER[1]])),  # refused: not counted
    ]
    m = metrics_from_rows(rows)["pipelines"]["p"]
    assert m["citation_precision"] == pytest.approx(2 / 3, abs=1e-4)  # pooled, not the per-question mean 0.75
    answered_unanswerable = result_row(q3, "p", result(answerable=True, cited=[FILLER[1]]))
    assert answered_unanswerable["scores"]["citation_precision"] == 0.0
    m = metrics_from_rows([*rows, answered_unanswerable])["pipelines"]["p"]
    assert m["citation_precision"] == pytest.approx(2 / 4)


def test_refusal_metrics() -> None:
    ans, unans = q("a", evidence=["补贴标准"]), q("u", answerable=False)
    rows = [
        result_row(ans, "p", result(answerable=False, answer="没有找到")),
        result_row(q("a2", evidence=["补贴标准"]), "p", result(answerable=True)),
        result_row(unans, "p", result(answerable=False)),
        result_row(q("u2", answerable=False), "p", result(answerable=True)),
    ]
    m = metrics_from_rows(rows)["pipelines"]["p"]
    assert m["false_refusal_rate"] == 0.5
    assert m["refusal_accuracy"] == 0.5
    assert rows[0]["scores"]["citation_recall"] is False  # a refusal cites nothing


def test_keys_by_type_and_nulls() -> None:
    rows = [
        result_row(
            q("a", evidence=["补贴标准"], keywords=["补贴"], qtype="factoid"),
            "p",
            result(retrieved=[passage("补贴标准", "x")], answer="补贴[1]", total_ms=10),
        ),
        result_row(
            q("u", answerable=False, qtype="unanswerable"), "p", result(answerable=False, total_ms=30)
        ),
    ]
    m = metrics_from_rows(rows)
    assert m["questions"] == 2
    p = m["pipelines"]["p"]
    assert list(p) == [*METRIC_KEYS, "by_type"]
    assert set(p["by_type"]) == {"factoid", "unanswerable"}
    assert list(p["by_type"]["factoid"]) == list(METRIC_KEYS)
    assert p["by_type"]["factoid"]["refusal_accuracy"] is None
    assert p["by_type"]["unanswerable"]["hit@5"] is None
    assert p["by_type"]["unanswerable"]["keyword_recall"] is None
    assert p["by_type"]["unanswerable"]["citation_precision"] is None
    assert p["refusal_accuracy"] == 1.0 and p["hit@1"] == 1.0
    assert p["latency_p50_ms"] == 20.0 and p["latency_p95_ms"] == 29.0


def test_answer_chars_strip_markers() -> None:
    assert strip_markers("每人1000元[1][2]，期限三年[3, 4]。") == "每人1000元，期限三年。"
    s = score(q(evidence=["x补贴"]), result(answer="补贴[1][2]"))
    assert s["answer_chars"] == 2


def test_empty_normalised_strings_are_ignored() -> None:
    question = q(evidence=["补贴标准", "SME"], keywords=["SME", "补贴"])
    assert question.evidence_norm == ["补贴标准"] and question.keywords_norm == ["补贴"]


def test_hit_curve_and_empty_summary() -> None:
    scores = [score(q(evidence=["补贴标准"]), result(retrieved=[FILLER[0], passage("补贴标准", "x")]))]
    assert hit_curve(scores, depth=3) == [0.0, 1.0, 1.0]
    assert summarize_with_types([], [])["hit@5"] is None
