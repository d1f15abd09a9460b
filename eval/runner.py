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
from typing import Any

from llama_index.core.schema import NodeWithScore
from tqdm import tqdm

from eval.dataset import Question
from eval.metrics import node_text, score_question, summarize_with_types
from eval.pipelines import Pipeline, PipelineResult

logger = logging.getLogger(__name__)

# judge(question, result) -> faithfulness in 0..1, or None when it cannot judge.
Judge = Callable[[Question, PipelineResult], float | None]


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


def result_row(q: Question, pipeline: str, res: PipelineResult, error: str | None = None) -> dict[str, Any]:
    scores = score_question(
        q,
        retrieved=res.retrieved,
        answer_text=res.answer_text,
        answerable=res.answerable,
        cited=res.cited,
        retrieval_ms=None if error else _round(res.retrieval_ms),
        total_ms=None if error else _round(res.total_ms),
    )
    return {
        "pipeline": pipeline,
        "id": q.id,
        "type": q.type,
        "question": q.question,
        "history": list(q.history),
        "expected_answerable": q.answerable,
        "answerable": res.answerable,
        "answer": res.answer_text,
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
) -> RunResult:
    """Ask every question of every pipeline; ``judge`` (LLM faithfulness) runs on answered ``judged`` rows."""
    rows: list[dict[str, Any]] = []
    bar = tqdm(
        total=len(questions) * len(pipelines), desc="eval", unit="q", disable=not progress, file=sys.stderr
    )
    with bar:
        for q in questions:
            for p in pipelines:
                bar.set_postfix_str(f"{p.name} {q.id}", refresh=False)
                try:
                    res, error = p.ask(q), None
                except Exception as exc:  # one broken question must not end the run
                    first = not any(r["error"] for r in rows)
                    logger.warning("%s failed on %s: %s", p.name, q.id, exc, exc_info=first)
                    res, error = _failed(), f"{type(exc).__name__}: {exc}"
                row = result_row(q, p.name, res, error)
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
