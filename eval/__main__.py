"""Command line of the evaluation harness: ``python -m eval run|bench|diff|load|decisions``.

Exit codes: 0 success, 1 the quality gate failed, 2 bad input (question file, thresholds, options).
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.settings import PROJECT_ROOT, prepare_offline_environment

prepare_offline_environment()

if TYPE_CHECKING:
    from assistant.settings import Settings
    from eval.dataset import Question
    from eval.pipelines import PipelineResult
    from eval.runner import Judge

logger = logging.getLogger("eval")

DEFAULT_QUESTIONS = PROJECT_ROOT / "eval" / "questions.jsonl"
REPORTS_DIR = PROJECT_ROOT / "eval" / "reports"
DEFAULT_COMPARISONS = PROJECT_ROOT / "eval" / "comparisons.jsonl"
DEFAULT_PROFILES = PROJECT_ROOT / "eval" / "profiles.jsonl"


def _timestamp_dir(prefix: str = "") -> Path:
    return REPORTS_DIR / f"{prefix}{datetime.now():%Y%m%d-%H%M%S}"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m eval", description="Evaluate Policy QA on a question set.")
    sub = ap.add_subparsers(dest="command", required=True)

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
        "--split", choices=("heldout", "fit", "all"), default="heldout", help="--squad: which articles"
    )
    run.add_argument(
        "--negatives", action="store_true", help="--squad: also ask questions with their paragraph removed"
    )

    bench = sub.add_parser("bench", help="speed and memory: product vs plain LlamaIndex baseline")
    bench.add_argument("--corpus", type=Path, help="corpus folder (default: settings)")
    bench.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS, help="questions timed warm")
    bench.add_argument("--limit", type=int, help="only the first N questions")
    bench.add_argument(
        "--out", type=Path, help="folder for bench.json (default eval/reports/bench-<timestamp>/)"
    )

    side = sub.add_parser("bench-side", help=argparse.SUPPRESS)  # internal: one bench side per process
    side.add_argument("side", choices=("product", "baseline"))
    side.add_argument("--corpus", type=Path)
    side.add_argument("--questions", type=Path, required=True)
    side.add_argument("--limit", type=int)
    side.add_argument("--json-out", type=Path, required=True)

    diff = sub.add_parser("diff", help="questions whose answer, citations or scores changed between two runs")
    diff.add_argument("run_a", type=Path)
    diff.add_argument("run_b", type=Path)

    dec = sub.add_parser(
        "decisions", help="score comparison tables and eligibility checks on the hand-labelled sets"
    )
    dec.add_argument("--comparisons", type=Path, default=DEFAULT_COMPARISONS, help="comparison items (JSONL)")
    dec.add_argument("--profiles", type=Path, default=DEFAULT_PROFILES, help="labelled profiles (JSONL)")
    dec.add_argument("--only", choices=("comparisons", "profiles"), help="score one of the two sets")
    dec.add_argument("--corpus", type=Path, help="corpus folder (default: settings)")
    dec.add_argument("--index-dir", type=Path, help="product index folder (default: settings)")
    dec.add_argument("--out", type=Path, help="report folder (default eval/reports/decisions-<timestamp>/)")
    dec.add_argument(
        "--comparison-input",
        choices=["question", "topic"],
        default="question",
        help="send each comparison item's question (as typed by a user) or its short topic to compare()",
    )

    from eval.load import add_load_parser

    add_load_parser(sub)  # python -m eval load: concurrent conversations against the chat UI and/or /v1
    from eval.from_feedback import add_parser as add_from_feedback_parser

    add_from_feedback_parser(sub)  # python -m eval from-feedback: drafts from answers rated down
    from eval.coverage import add_coverage_parser

    add_coverage_parser(sub)  # python -m eval coverage: share of each document's sentences in some chunk
    from eval.soak import add_soak_parser

    add_soak_parser(sub)  # python -m eval soak: normal and hostile requests through the UI and /v1 on loopback
    from eval.fit_answerer import add_parser as add_fit_answerer_parser

    add_fit_answerer_parser(sub)  # python -m eval fit-answerer: the offline answer model from reading-comprehension data
    return ap


def _make_judge(settings: Settings) -> Judge | None:
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
    from eval.report import faithfulness_line, metrics_table, write_run

    compare = args.compare or ("hybrid" if args.squad else "hybrid,vector,bm25")
    names = [n.strip() for n in compare.split(",") if n.strip()]
    try:
        questions = [] if args.squad else load_questions(args.questions, limit=args.limit)
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

    from eval.pipelines import build_pipelines
    from eval.runner import run_pipelines

    print(
        f"preparing {', '.join(names)} (a cold index or baseline embeds the corpus: minutes)", file=sys.stderr
    )
    try:
        pipelines = build_pipelines(names, settings)
    except Exception as exc:  # index busy/corrupt, unreadable corpus...: the product's message names the fix
        print(f"error: cannot prepare the pipelines: {exc}", file=sys.stderr)
        return 2
    judge = _make_judge(settings) if args.answerer == "llm" else None
    from eval.runner import catalog_validity

    validity = catalog_validity(settings) if "hybrid" in names else None  # documents' lifecycles, for notices
    run = run_pipelines(questions, pipelines, judge=judge, progress=not args.no_progress, validity=validity)
    out_dir = args.out or _timestamp_dir()
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
    return _gate_exit(run.metrics["pipelines"]["hybrid"], thresholds)


def _gate_exit(hybrid: dict[str, Any], thresholds: dict[str, Any]) -> int:
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
    """``run --squad``: a SQuAD-style file's paragraphs become the corpus (eval/squad.py)."""
    from eval.squad import run_command

    if args.corpus:
        print("error: --squad builds its corpus from the file; drop --corpus", file=sys.stderr)
        return 2
    args.out = args.out or _timestamp_dir("squad-")
    judge = _make_judge(settings) if args.answerer == "llm" else None
    code, metrics = run_command(args, names, settings, judge)
    if code or not args.gate or metrics is None:
        return code
    return _gate_exit(metrics["pipelines"]["hybrid"], thresholds)


def cmd_bench(args: argparse.Namespace) -> int:
    from eval.bench import bench, bench_table
    from eval.dataset import QuestionSetError, load_questions

    try:
        load_questions(args.questions, limit=args.limit)  # fail fast, before minutes of indexing
    except QuestionSetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out_dir = args.out or _timestamp_dir("bench-")
    try:
        result = bench(args.corpus, args.questions, out_dir, limit=args.limit)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(bench_table(result))
    print(f"bench.json: {out_dir / 'bench.json'}")
    return 0


def cmd_bench_side(args: argparse.Namespace) -> int:
    import json

    from eval.bench import run_side
    from eval.dataset import load_questions

    result = run_side(args.side, args.corpus, load_questions(args.questions, limit=args.limit))
    args.json_out.write_text(json.dumps(result), "utf-8")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from eval.diff import diff_runs

    try:
        text, _ = diff_runs(args.run_a, args.run_b)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text)
    return 0


def cmd_decisions(args: argparse.Namespace) -> int:
    """assistant.compare / assistant.match on the labelled sets; exit 2 on bad input or an unusable index."""
    from eval.decisions import (
        DecisionSetError,
        comparisons_table,
        load_comparisons,
        load_profiles,
        profiles_table,
        run_comparisons,
        run_profiles,
        summarize_comparisons,
        summarize_profiles,
        write_decisions,
    )

    want_comp, want_prof = args.only in (None, "comparisons"), args.only in (None, "profiles")
    try:
        comparisons = load_comparisons(args.comparisons) if want_comp else []
        profiles = load_profiles(args.profiles) if want_prof else []
    except DecisionSetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    import assistant
    from assistant.settings import Settings

    overrides: dict[str, Any] = {}
    if args.corpus:
        overrides["corpus_dir"] = args.corpus
    if args.index_dir:
        overrides["index_dir"] = args.index_dir
    settings = Settings(**overrides)
    print("preparing the index (a cold index embeds the corpus: minutes)", file=sys.stderr)
    try:
        engine = assistant.build_query_engine(settings)
    except Exception as exc:  # index busy/corrupt, unreadable corpus...: the product's message names the fix
        print(f"error: cannot prepare the engine: {exc}", file=sys.stderr)
        return 2

    report: dict[str, Any] = {}
    if want_comp:
        scores = run_comparisons(
            comparisons, lambda topic, juris: assistant.compare(topic, juris, engine=engine), ask=args.comparison_input
        )
        summary = summarize_comparisons(scores)
        report["comparisons"] = {"file": str(args.comparisons), "summary": summary, "items": scores}
        print(f"\ncomparisons: {len(scores)} items from {args.comparisons}")
        print(comparisons_table(scores, summary))
    if want_prof:
        scores = run_profiles(profiles, lambda profile: assistant.match(profile, engine=engine))
        summary = summarize_profiles(scores)
        report["profiles"] = {"file": str(args.profiles), "summary": summary, "items": scores}
        print(f"\nprofiles: {len(scores)} from {args.profiles}")
        print(profiles_table(scores, summary))
    errors = sum(1 for part in report.values() for s in part["items"] if s.get("error"))
    if errors:
        print(f"warning: {errors} item(s) raised; see 'error' in decisions.json", file=sys.stderr)
    out_dir = args.out or _timestamp_dir("decisions-")
    write_decisions(report, out_dir)
    print(f"report: {out_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)  # on the handler: bm25s sets DEBUG on its own logger at import
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    if args.command in ("load", "from-feedback", "coverage", "soak", "fit-answerer"):
        return args.func(args)
    handler = {
        "run": cmd_run,
        "bench": cmd_bench,
        "bench-side": cmd_bench_side,
        "diff": cmd_diff,
        "decisions": cmd_decisions,
    }[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
