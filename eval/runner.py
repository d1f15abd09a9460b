"""Run pipelines over a question set and turn what they did into result rows and metrics.

Questions are the outer loop so all pipelines see the same machine state per question (fairer
latency figures); a pipeline that raises on one question is recorded and scored as a silent
refusal rather than aborting an hour-long run.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from llama_index.core.schema import NodeWithScore
from tqdm import tqdm

from eval.dataset import Question
from eval.metrics import node_text, score_question, summarize_with_types
from eval.pipelines import Pipeline, PipelineResult

logger = logging.getLogger(__name__)

# judge(question, result) -> faithfulness in 0..1, or None when it cannot judge.
Judge = Callable[[Question, PipelineResult], float | None]
# validity(doc_id, day) -> (the document's state on that day, its notice); (None, None) when unknown.
Validity = Callable[[str, date], tuple[str | None, str | None]]


def catalog_validity(settings: Any) -> Validity | None:
    """Documents' lifecycles from the product's index (``Catalog.lifecycles``), for the validity scores.

    None when there is no index there (a run whose pipelines are not the product's, as in the harness tests):
    the validity scores are then left undefined rather than failing the run.
    """
    from assistant.index.catalog import open_catalog
    from assistant.index.layout import IndexMissingError
    from assistant.qa.notices import document_notice

    try:
        catalog = open_catalog(settings, build_if_missing=False)
    except IndexMissingError:
        logger.warning("no product index at %s: validity notices are not scored", settings.index_dir)
        return None
    titles = {d.doc_id: d.title for d in catalog.documents}

    def validity(doc_id: str, day: date) -> tuple[str | None, str | None]:
        state, notice, _ = document_notice(catalog, doc_id, titles.get(doc_id, ""), day)
        return state, notice

    return validity


def cited_validity(q: Question, res: PipelineResult, validity: Validity | None) -> list[tuple[str | None, str | None]]:
    """(state, notice) of each document the answer cites, on the question's date."""
    if validity is None:
        return []
    from assistant.core.validity import today

    day = q.as_of or today()
    doc_ids = dict.fromkeys(str((n.node.metadata or {}).get("doc_id", "")) for n in res.cited)
    return [validity(d, day) for d in doc_ids if d]


@dataclass
class RunResult:
    rows: list[dict[str, Any]]  # one per (question, pipeline), the lines of results.jsonl
    metrics: dict[str, Any]  # the content of metrics.json
    faithfulness: dict[str, float | None] = field(default_factory=dict)  # pipeline -> mean judged score


def passage_record(nws: NodeWithScore, rank: int) -> dict[str, Any]:
    md = nws.node.metadata or {}
    return {
        "rank": rank,
        "id": nws.node.node_id,
        "file": str(md.get("file", "")),
        "section": str(md.get("section", "")),
        "score": None if nws.score is None else round(float(nws.score), 6),
        "text": node_text(nws),
    }


def _round(ms: float | None) -> float | None:
    return None if ms is None else round(float(ms), 2)


def result_row(
    q: Question, pipeline: str, res: PipelineResult, error: str | None = None, validity: Validity | None = None
) -> dict[str, Any]:
    notice = str(res.extra.get("notice") or "")
    states = cited_validity(q, res, validity)
    scores = score_question(
        q,
        retrieved=res.retrieved,
        answer_text=res.answer_text,
        answerable=res.answerable,
        cited=res.cited,
        retrieval_ms=None if error else _round(res.retrieval_ms),
        total_ms=None if error else _round(res.total_ms),
        notice=notice,
        cited_validity=states,
    )
    return {
        "pipeline": pipeline,
        "id": q.id,
        "type": q.type,
        "question": q.question,
        "as_of": q.as_of.isoformat() if q.as_of else None,
        "history": list(q.history),
        "expected_answerable": q.answerable,
        "answerable": res.answerable,
        "answer": res.answer_text,
        "notice": notice,
        "cited_states": [s for s, _ in states],
        "citations": [passage_record(n, i) for i, n in enumerate(res.cited, start=1)],
        "retrieved": [passage_record(n, i) for i, n in enumerate(res.retrieved, start=1)],
        "scores": scores,
        "timings": {"retrieval_ms": _round(res.retrieval_ms), "total_ms": _round(res.total_ms)},
        "extra": res.extra,
        "error": error,
    }


def _failed() -> PipelineResult:
    return PipelineResult(
        retrieved=[], answer_text="", answerable=False, cited=[], retrieval_ms=None, total_ms=0.0
    )


def run_pipelines(
    questions: Sequence[Question],
    pipelines: Sequence[Pipeline],
    *,
    judge: Judge | None = None,
    judged: Sequence[str] = ("hybrid",),
    progress: bool = True,
    validity: Validity | None = None,
) -> RunResult:
    """Ask every question of every pipeline; ``judge`` (LLM faithfulness) runs on answered ``judged`` rows.

    Each question is asked on its ``as_of`` day (the assistant's clock is pinned to it, as for a user asking
    that day); ``validity`` gives the cited documents' states for "repealed cited as current"."""
    from assistant.core.validity import pinned_today

    rows: list[dict[str, Any]] = []
    bar = tqdm(
        total=len(questions) * len(pipelines), desc="eval", unit="q", disable=not progress, file=sys.stderr
    )
    with bar:
        for q in questions:
            for p in pipelines:
                bar.set_postfix_str(f"{p.name} {q.id}", refresh=False)
                try:
                    with pinned_today(q.as_of):
                        res, error = p.ask(q), None
                except Exception as exc:  # one broken question must not end the run
                    first = not any(r["error"] for r in rows)
                    logger.warning("%s failed on %s: %s", p.name, q.id, exc, exc_info=first)
                    res, error = _failed(), f"{type(exc).__name__}: {exc}"
                row = result_row(q, p.name, res, error, validity)
                if judge is not None and p.name in judged and res.answerable and not error:
                    row["faithfulness"] = judge(q, res)
                rows.append(row)
                bar.update()
    return RunResult(rows=rows, metrics=metrics_from_rows(rows), faithfulness=faithfulness_from_rows(rows))


def metrics_from_rows(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """metrics.json: ``{"questions": N, "pipelines": {name: summary with by_type}}``."""
    by_pipeline: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_pipeline.setdefault(row["pipeline"], []).append(row)
    n = len({row["id"] for row in rows})
    return {
        "questions": n,
        "pipelines": {
            name: summarize_with_types([r["type"] for r in prs], [r["scores"] for r in prs])
            for name, prs in by_pipeline.items()
        },
    }


def faithfulness_from_rows(rows: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    out: dict[str, list[float]] = {}
    for row in rows:
        if "faithfulness" in row:
            vals = out.setdefault(row["pipeline"], [])
            if row["faithfulness"] is not None:
                vals.append(float(row["faithfulness"]))
    return {name: (round(sum(v) / len(v), 4) if v else None) for name, v in out.items()}
