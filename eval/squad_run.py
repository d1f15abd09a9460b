"""``eval run --squad``: index a SQuAD-style set's paragraphs (and its negatives corpus), ask, report.

The set itself (loading, the article split, negatives, corpus files) is ``eval/squad.py``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import TYPE_CHECKING, Any

from eval.dataset import Question
from eval.squad import (
    FIT_SHARE,
    REMOVED,
    SEED,
    Paragraph,
    SquadError,
    load_squad,
    negatives,
    question_record,
    sample,
    seed_vectors,
    select,
    write_corpus,
)
from eval.stats import mean

if TYPE_CHECKING:
    from assistant.settings import Settings


@dataclass
class SquadPart:  # one corpus of a run and the questions asked of it
    name: str  # "main" or "negatives"
    corpus_dir: Path
    index_dir: Path
    paragraphs: list[Paragraph]
    questions: list[Question]


def plan(path: Path, out_dir: Path, *, split: str, limit: int | None, with_negatives: bool,
         index_dir: Path | None = None) -> list[SquadPart]:
    """Write the corpus (and the negatives corpus) under ``out_dir``; return what to index and ask."""
    chosen = select(load_squad(path), split)
    if not chosen:
        raise SquadError(f"{path}: no article in the {split!r} part")
    index_dir = index_dir or out_dir / "index"
    parts = [SquadPart("main", out_dir / "corpus", index_dir, chosen,
                       sample([q for p in chosen for q in p.questions], limit))]
    if with_negatives:
        kept, negs = negatives(chosen)
        if kept and negs:
            parts.append(SquadPart("negatives", out_dir / "corpus-negatives",
                                   index_dir.with_name(index_dir.name + "-negatives"), kept, sample(negs, limit)))
    for part in parts:
        write_corpus(part.paragraphs, part.corpus_dir)
    with (out_dir / "questions.jsonl").open("w", encoding="utf-8") as fh:
        for part in parts:
            fh.writelines(json.dumps(question_record(q), ensure_ascii=False) + "\n" for q in part.questions)
    return parts


def run_parts(parts: Sequence[SquadPart], base: Settings, build: Callable[[Settings], Sequence[Any]],
              ask: Callable[[list[Question], Sequence[Any]], Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Index and ask each part in turn; the result rows of all parts and the index figures per part."""
    from assistant.index.build import update_index

    rows: list[dict[str, Any]] = []
    indexes: dict[str, Any] = {}
    for i, part in enumerate(parts):
        if i:  # seed the negatives index's vector cache with the main one's: its chunks are a subset
            seed_vectors(parts[0].index_dir, part.index_dir)
        settings = base.model_copy(update={"corpus_dir": part.corpus_dir, "index_dir": part.index_dir})
        report = update_index(settings, progress=False)
        indexes[part.name] = {"paragraphs": len(part.paragraphs), "chunks": report.chunks,
                              "embedded": report.embedded, "index_seconds": round(report.seconds, 1),
                              "questions": len(part.questions)}
        rows.extend(ask(part.questions, build(settings)).rows)
    return rows, indexes


def run_command(args: Any, names: Sequence[str], base: Settings, judge: Any) -> tuple[int, dict[str, Any] | None]:
    """``eval run --squad``: plan, index, ask, write the usual report plus ``squad.json``; (exit code, metrics)."""
    from eval.pipelines import build_pipelines
    from eval.report import faithfulness_line, metrics_table, write_run
    from eval.runner import RunResult, faithfulness_from_rows, metrics_from_rows, run_pipelines

    out_dir = args.out
    try:
        parts = plan(args.squad, out_dir, split=args.split, limit=args.limit,
                     with_negatives=args.negatives, index_dir=args.index_dir)
    except SquadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2, None
    print(f"indexing {len(parts[0].paragraphs)} paragraphs of {args.squad} ({args.split}); a cold index embeds "
          "them (~0.25 s each)", file=sys.stderr)
    try:
        rows, indexes = run_parts(parts, base, lambda s: build_pipelines(names, s),
                                  lambda qs, ps: run_pipelines(qs, ps, judge=judge, progress=not args.no_progress))
    except Exception as exc:  # index busy, unknown pipeline...: the product's message names the fix
        print(f"error: cannot prepare the pipelines: {exc}", file=sys.stderr)
        return 2, None
    run = RunResult(rows=rows, metrics=metrics_from_rows(rows), faithfulness=faithfulness_from_rows(rows))
    write_run(run, out_dir)
    figures = {name: headline(rows, name) for name in names}
    summary = {"file": str(args.squad), "split": args.split, "seed": SEED, "fit_share": FIT_SHARE,
               "limit": args.limit, "indexes": indexes, "headline": figures}
    (out_dir / "squad.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"\n{run.metrics['questions']} questions from {args.squad} ({args.split})")
    print(metrics_table(run.metrics["pipelines"]))
    print(faithfulness_line(run.faithfulness))
    print("\n".join(headline_line(name, h) for name, h in figures.items()))
    errors = sum(1 for r in rows if r["error"])
    if errors:
        print(f"warning: {errors} question/pipeline pair(s) raised; see 'error' in results.jsonl", file=sys.stderr)
    print(f"report: {out_dir}")
    return 0, run.metrics


def headline(rows: Sequence[dict[str, Any]], pipeline: str) -> dict[str, Any]:
    """The figures of the reading-comprehension targets for one pipeline (median over answered questions)."""
    mine = [r for r in rows if r["pipeline"] == pipeline]
    answerable = [r for r in mine if r["expected_answerable"]]
    negs = [r for r in mine if not r["expected_answerable"]]
    recall = [r["scores"]["keyword_recall"] for r in answerable if r["scores"]["keyword_recall"] is not None]
    lengths = [r["scores"]["answer_chars"] for r in answerable if r["answerable"]]

    def declined(group: Sequence[dict[str, Any]]) -> float | None:
        return round(sum(not r["answerable"] for r in group) / len(group), 4) if group else None

    return {
        "answerable": len(answerable),
        "keyword_recall": mean(recall),
        "wrongly_declined": declined(answerable),
        "answer_chars_median": median(lengths) if lengths else None,
        "negatives": len(negs),
        "declined_on_negatives": declined(negs),
        "declined_on_strict_negatives": declined([r for r in negs if r["type"] == REMOVED]),
    }


def headline_line(name: str, h: dict[str, Any]) -> str:
    def f(v: Any, spec: str = ".3f") -> str:
        return "-" if v is None else format(v, spec)

    return (
        f"{name}: keyword recall {f(h['keyword_recall'])} (n={h['answerable']}), wrongly declined "
        f"{f(h['wrongly_declined'])}, median answer {f(h['answer_chars_median'], '.0f')} chars, declined on "
        f"negatives {f(h['declined_on_negatives'])} (n={h['negatives']}; strict {f(h['declined_on_strict_negatives'])})"
    )
