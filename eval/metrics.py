"""Scores per question and their summaries, exactly as EVAL_FORMAT.md defines them.

Kept free of pipelines and I/O so the definitions can be tested on hand-made passages. A metric
with no question to average over (e.g. refusal accuracy for a type without unanswerable questions)
is ``None`` (JSON null), never 0 or 1, so it cannot pass or fail a gate by accident.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from llama_index.core.schema import NodeWithScore

from assistant.core.text import match_normalize
from eval.dataset import Question
from eval.stats import mean, percentile

K_VALUES = (1, 3, 5, 10)
DEPTH = 10
METRIC_KEYS = (
    *(f"hit@{k}" for k in K_VALUES),
    "mrr@10",
    "keyword_recall",
    "citation_recall",
    "citation_precision",
    "refusal_accuracy",
    "false_refusal_rate",
    "notice_accuracy",
    "repealed_cited_as_current",
    "latency_p50_ms",
    "latency_p95_ms",
    "retrieval_p50_ms",
    "answer_chars_p50",
)
# Metrics where lower is better (the gate treats their thresholds as maximums).
LOWER_IS_BETTER = frozenset(
    {"false_refusal_rate", "repealed_cited_as_current", "latency_p50_ms", "latency_p95_ms", "retrieval_p50_ms"}
)
COUNT_KEYS = frozenset({"repealed_cited_as_current"})  # a number of questions, not a rate

# Citation markers the answerers put in the text: [1], [2][3], [1, 2], [1，2].
_MARKERS = re.compile(r"\[\s*\d+(?:\s*[,，、]\s*\d+)*\s*\]")


def strip_markers(text: str) -> str:
    return _MARKERS.sub("", text or "")


def node_text(nws: NodeWithScore) -> str:
    return nws.node.get_content()


def evidence_rank(
    evidence_norm: Sequence[str], passages_norm: Sequence[str], depth: int = DEPTH
) -> int | None:
    """1-based rank at which the LAST evidence string is covered by the top passages; None if never."""
    if not evidence_norm:
        return None
    worst = 0
    for ev in evidence_norm:
        rank = next((i for i, p in enumerate(passages_norm[:depth], start=1) if ev in p), None)
        if rank is None:
            return None
        worst = max(worst, rank)
    return worst


def score_question(
    q: Question,
    *,
    retrieved: Sequence[NodeWithScore],
    answer_text: str,
    answerable: bool,
    cited: Sequence[NodeWithScore],
    retrieval_ms: float | None,
    total_ms: float | None,
    notice: str = "",
    cited_validity: Sequence[tuple[str | None, str | None]] = (),
) -> dict[str, Any]:
    """Every per-question score; ``None`` where the score does not apply to this question.

    ``notice``: the answer's notice; ``cited_validity``: (state on the question's date, the document's
    notice) of each cited document, when the pipeline knows documents' lifecycles."""
    evidence, keywords = q.evidence_norm, q.keywords_norm
    retrieved_norm = [match_normalize(node_text(n)) for n in retrieved]
    cited_norm = [match_normalize(node_text(n)) for n in cited]
    # Markers are stripped first: match_normalize keeps digits, so "比例[2]50%" would read "比例250".
    answer_norm = match_normalize(strip_markers(answer_text))
    scored_retrieval = q.answerable and bool(evidence)

    rank = evidence_rank(evidence, retrieved_norm) if scored_retrieval else None
    scores: dict[str, Any] = {"evidence_rank": rank}
    for k in K_VALUES:
        scores[f"hit@{k}"] = (rank is not None and rank <= k) if scored_retrieval else None
    scores["mrr@10"] = (1.0 / rank if rank else 0.0) if scored_retrieval else None
    found = [kw in answer_norm for kw in keywords]
    scores["keyword_recall"] = (
        (float(any(found)) if q.keywords_any else sum(found) / len(keywords))
        if q.answerable and keywords
        else None
    )
    scores["missing_keywords"] = [
        k
        for k in q.answer_keywords
        if match_normalize(k) and match_normalize(k) not in answer_norm and not (q.keywords_any and any(found))
    ]
    scores["citation_recall"] = (
        all(any(ev in c for c in cited_norm) for ev in evidence) if scored_retrieval else None
    )
    # Precision counts only what the pipeline presented as an answer; a refusal's sources are not claims.
    needles = [*evidence, *keywords]
    relevant = sum(any(n in c for n in needles) for c in cited_norm) if answerable else 0
    total = len(cited_norm) if answerable else 0
    scores["cited_total"] = total
    scores["cited_relevant"] = relevant
    scores["citation_precision"] = relevant / total if total else None
    scores["refusal_correct"] = (not answerable) if not q.answerable else None
    scores["false_refusal"] = (not answerable) if q.answerable else None
    scores.update(_notice_scores(q, notice, cited_validity, answerable))
    scores["latency_ms"] = total_ms
    scores["retrieval_ms"] = retrieval_ms
    scores["answer_chars"] = len(strip_markers(answer_text).strip())
    return scores


def _notice_scores(
    q: Question, notice: str, cited_validity: Sequence[tuple[str | None, str | None]], answerable: bool
) -> dict[str, Any]:
    """Whether the answer's notice states what the question expects, and every repealed source it cites."""
    notice_norm = match_normalize(notice)
    repealed = [doc_notice for state, doc_notice in cited_validity if state == "repealed"]
    return {
        "notice_correct": all(n in notice_norm for n in q.notice_norm) if q.notice_norm else None,
        "missing_notice": [
            n for n in q.expect_notice if match_normalize(n) and match_normalize(n) not in notice_norm
        ],
        "repealed_as_current": (
            any(not doc_notice or match_normalize(doc_notice) not in notice_norm for doc_notice in repealed)
            if repealed and answerable
            else None
        ),
    }


def summarize(scores: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-question scores -> the METRIC_KEYS of one pipeline (rates 0..1, ms, chars)."""
    out: dict[str, Any] = {}
    for k in K_VALUES:
        out[f"hit@{k}"] = mean([s[f"hit@{k}"] for s in scores])
    for key in ("mrr@10", "keyword_recall", "citation_recall"):
        out[key] = mean([s[key] for s in scores])
    total = sum(s["cited_total"] for s in scores)
    out["citation_precision"] = round(sum(s["cited_relevant"] for s in scores) / total, 4) if total else None
    out["refusal_accuracy"] = mean([s["refusal_correct"] for s in scores])
    out["false_refusal_rate"] = mean([s["false_refusal"] for s in scores])
    out["notice_accuracy"] = mean([s.get("notice_correct") for s in scores])
    out["repealed_cited_as_current"] = sum(bool(s.get("repealed_as_current")) for s in scores)
    out["latency_p50_ms"] = percentile([s["latency_ms"] for s in scores], 50, 1)
    out["latency_p95_ms"] = percentile([s["latency_ms"] for s in scores], 95, 1)
    out["retrieval_p50_ms"] = percentile([s["retrieval_ms"] for s in scores], 50, 1)
    out["answer_chars_p50"] = percentile([s["answer_chars"] for s in scores], 50, 1)
    assert tuple(out) == METRIC_KEYS
    return out


def summarize_with_types(types: Sequence[str], scores: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``summarize`` overall plus ``by_type`` (same keys per question type, sorted by type name)."""
    out = summarize(scores)
    groups: dict[str, list[dict[str, Any]]] = {}
    for t, s in zip(types, scores, strict=True):
        groups.setdefault(t, []).append(s)
    out["by_type"] = {t: summarize(groups[t]) for t in sorted(groups)}
    return out


def hit_curve(scores: Sequence[dict[str, Any]], depth: int = DEPTH) -> list[float | None]:
    """hit@k for k = 1..depth, from the evidence ranks (for the plots)."""
    ranks = [s["evidence_rank"] for s in scores if s["hit@1"] is not None]
    if not ranks:
        return [None] * depth
    return [sum(r is not None and r <= k for r in ranks) / len(ranks) for k in range(1, depth + 1)]
