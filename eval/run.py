"""``python -m eval run``: score pipelines on a question set (or a SQuAD-style file), report, and gate.

Exit codes: 0 success, 1 the quality gate failed, 2 bad input (question file, thresholds, options).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.paths import DEFAULT_QUESTIONS, timestamp_dir

if TYPE_CHECKING:
    from assistant.settings import Settings
    from eval.dataset import Question
    from eval.pipelines import PipelineResult
    from eval.runner import Judge

logger = logging.getLogger("eval")


def add_run_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="score pipelines on a question set and write a report")
    run.add_argument(
        "--questions", type=Path, default=DEFAULT_QUESTIONS, help="JSONL in EVAL_FORMAT.md format"
    )
    run.add_argument("--corpus", type=Path, help="corpus folder (default: settings)")
    run.add_argument("--index-dir", type=Path, help="product index folder (default: settings)")
    run.add_argument(
        "--compare", help="comma-separated pipelines (default hybrid,vector,bm25; with --squad: hybrid)"
    )
    run.add_argument(
        "--answerer", choices=("extractive", "llm"), default="extractive", help="product answerer"
    )
    run.add_argument("--out", type=Path, help="report folder (default eval/reports/<timestamp>/)")
    run.add_argument("--gate", action="store_true", help="exit 1 when hybrid misses eval/thresholds.toml")
    run.add_argument(
        "--thresholds", type=Path, help="thresholds file for --gate (default eval/thresholds.toml)"
    )
    run.add_argument(
        "--limit", type=int, help="only the first N questions (--squad: a stable sample of N over all articles)"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument(
        "--squad", type=Path, help="SQuAD-style JSON: index its paragraphs (in --out) and ask its questions"
    )
    run.add_argument(
        "--split", choices=("heldout", "fit", "all"), default=None,
        help="which part: --squad by article (default heldout); a question set by source document (default all)",
    )
    run.add_argument(
        "--negatives", action="store_true", help="--squad: also ask questions with their paragraph removed"
    )
    run.set_defaults(func=cmd_run)


def make_judge(settings: Settings) -> Judge | None:
    """LLM faithfulness judge when an LLM is configured, else None (and the report says it skipped)."""
    if not settings.llm_enabled or not settings.openai_api_key:
        return None
    try:
        from assistant.qa.llm_answerer import judge_faithfulness
        from assistant.qa.llm_client import ChatClient
    except ImportError as exc:
        logger.warning("faithfulness judge unavailable (%s)", exc)
        return None
    client = ChatClient(settings)

    def judge(q: Question, res: PipelineResult) -> float | None:
        try:
            return judge_faithfulness(client, q.question, res.answer_text, res.cited)
        except Exception as exc:  # a judge failure costs one data point, not the run
            logger.warning("faithfulness judge failed on %s: %s", q.id, exc)
            return None

    return judge


def cmd_run(args: argparse.Namespace) -> int:
    from assistant.settings import Settings
    from eval.dataset import QuestionSetError, load_questions
    from eval.gate import DEFAULT_THRESHOLDS, ThresholdsError, load_thresholds

    compare = args.compare or ("hybrid" if args.squad else "hybrid,vector,bm25")
    names = [n.strip() for n in compare.split(",") if n.strip()]
    try:
        questions = [] if args.squad else load_questions(args.questions, limit=args.limit)
        if args.split in ("fit", "heldout") and not args.squad:
            from eval.squad import question_split

            questions = [q for q in questions if question_split(q) == args.split]
        args.split = args.split or "heldout"
        thresholds = load_thresholds(args.thresholds or DEFAULT_THRESHOLDS) if args.gate else {}
    except (QuestionSetError, ThresholdsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.gate and "hybrid" not in names:
        print("error: --gate checks the hybrid pipeline; include it in --compare", file=sys.stderr)
        return 2
    overrides: dict[str, Any] = {"answerer": args.answerer}
    if args.corpus:
        overrides["corpus_dir"] = args.corpus
    if args.index_dir:
        overrides["index_dir"] = args.index_dir
    settings = Settings(**overrides)
    if args.squad:
        return _run_squad(args, names, settings, thresholds)
    return _run_questions(args, questions, names, settings, thresholds)


def _run_questions(
    args: argparse.Namespace,
    questions: list[Question],
    names: list[str],
    settings: Settings,
    thresholds: dict[str, Any],
) -> int:
    """``run`` on a question set: build the pipelines, ask, write the report, print the table (and gate)."""
    from eval.pipelines import build_pipelines
    from eval.report import faithfulness_line, metrics_table, write_run
    from eval.runner import catalog_validity, run_pipelines

    print(
        f"preparing {', '.join(names)} (a cold index or baseline embeds the corpus: minutes)", file=sys.stderr
    )
    try:
        pipelines = build_pipelines(names, settings)
    except Exception as exc:  # index busy/corrupt, unreadable corpus...: the product's message names the fix
        print(f"error: cannot prepare the pipelines: {exc}", file=sys.stderr)
        return 2
    judge = make_judge(settings) if args.answerer == "llm" else None
    validity = catalog_validity(settings) if "hybrid" in names else None  # documents' lifecycles, for notices
    run = run_pipelines(questions, pipelines, judge=judge, progress=not args.no_progress, validity=validity)
    out_dir = args.out or timestamp_dir()
    write_run(run, out_dir)

    print(f"\n{run.metrics['questions']} questions from {args.questions}")
    print(metrics_table(run.metrics["pipelines"]))
    print(faithfulness_line(run.faithfulness))
    errors = sum(1 for r in run.rows if r["error"])
    if errors:
        print(
            f"warning: {errors} question/pipeline pair(s) raised; see 'error' in results.jsonl",
            file=sys.stderr,
        )
    print(f"report: {out_dir}")
    if not args.gate:
        return 0
    return gate_exit(run.metrics["pipelines"]["hybrid"], thresholds)


def gate_exit(hybrid: dict[str, Any], thresholds: dict[str, Any]) -> int:
    """Print every gate check of the hybrid figures; 1 when one fails."""
    from eval.gate import check_gate

    checks = check_gate(hybrid, thresholds)
    print("\ngate (hybrid):")
    for c in checks:
        print("  " + c.describe())
    failed = [c.metric for c in checks if not c.passed]
    if failed:
        print(f"gate FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("gate passed")
    return 0


def _run_squad(args: argparse.Namespace, names: list[str], settings: Settings, thresholds: dict[str, Any]) -> int:
    """``run --squad``: a SQuAD-style file's paragraphs become the corpus (eval/squad_run.py)."""
    from eval.squad_run import run_command

    if args.corpus:
        print("error: --squad builds its corpus from the file; drop --corpus", file=sys.stderr)
        return 2
    args.out = args.out or timestamp_dir("squad-")
    judge = make_judge(settings) if args.answerer == "llm" else None
    code, metrics = run_command(args, names, settings, judge)
    if code or not args.gate or metrics is None:
        return code
    return gate_exit(metrics["pipelines"]["hybrid"], thresholds)
