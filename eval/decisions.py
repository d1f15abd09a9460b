"""Comparison tables and eligibility checks scored against hand-labelled sets (``python -m eval decisions``).

Files (JSONL, UTF-8, one object per line; unknown fields are ignored, a malformed line fails with
file and line, like ``eval.dataset``):

- ``eval/comparisons.jsonl``: ``id``, ``question``, ``topic`` (what ``assistant.compare`` is asked),
  ``jurisdictions`` (list of places, or null = every place with documents), ``cells`` ({place: null |
  {"evidence": [...], "keywords": [...]}}; null = the place's own documents say nothing on the topic,
  the product must answer 未提及), ``type``.
- ``eval/profiles.jsonl``: ``id``, ``description``, ``profile`` (the dict given to ``assistant.match``),
  ``should_match`` / ``should_not_match`` ([{"doc": file name, "evidence": passage, "reason": ...}]), ``type``.

Matching follows EVAL_FORMAT.md: both sides through ``assistant.core.text.match_normalize`` (Traditional
-> Simplified, keep CJK ideographs and ASCII digits), then substring.

Comparison metrics, per item (a *place* = one labelled cell; rows are matched to places by name,
温州市 = 温州 = 溫州; a place may have several rows, one per measure):

- ``cell_precision`` = supported places / filled places. A place is *filled* when it has a row whose
  text is not 未提及; it is *supported* when one of its filled rows cites a passage
  (``row.citation.text``) containing at least one evidence string of that place. A filled place
  labelled null is never supported, so it lowers precision.
- ``cell_recall`` = supported places / places with a non-null label.
- ``not_mentioned_accuracy`` = null-labelled places whose rows all say 未提及 / null-labelled places
  (a place with no row at all counts as wrong).
- ``row_precision`` = supported filled rows / filled rows (stricter: every row must be on topic).
- ``number_accuracy`` = numbers stated in filled rows whose value occurs in the row's cited passage /
  numbers stated (``assistant.core.numbers``: ``extract_numbers`` for the count, ``unsupported_numbers(text,
  [passage])`` for the misses; distinct surface forms per row; a row without citation supports none).
- ``keyword_recall`` = expected keywords of non-null places found in the text of that place's filled
  rows / expected keywords.

Eligibility metrics, per profile. A returned measure is one with status 符合 or 可能符合. It *covers*
a label when its document matches (``citation.file`` or ``doc_id``, file name or stem) and the
normalised label evidence is a substring of the normalised ``measure.text`` -- only the measure's own
text, never its whole cited chunk, so one broad chunk cannot cover every label in it.

- ``recall`` = should_match labels covered / should_match labels;
- ``precision`` (labelled) = should_match covered / (should_match covered + should_not_match covered);
  returned measures that cover no label are counted (``unlabelled_measures``) but not judged;
- ``recall_confirmed`` / ``precision_confirmed``: the same with status 符合 only (what the product
  claims outright, without the 可能符合 "the profile does not say" cases);
- ``measures`` = number of measures returned.

Overall: ``mean`` = mean of the per-item rates (items where the rate exists), ``pooled`` = summed
numerators / summed denominators. A rate with nothing to average over is ``None`` (JSON null, "—"),
never 0 or 1. An item whose call raised is recorded with ``error``, scored as an empty answer in its
row, and left out of the overall figures.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eval.decisions_items import (
    Cell,
    ComparisonItem,
    DecisionSetError,
    Label,
    ProfileItem,
    load_comparisons,
    load_profiles,
    parse_comparison,
    parse_profile,
)
from eval.decisions_report import comparisons_table, decisions_markdown, profiles_table, write_decisions
from eval.decisions_score import (
    COMPARISON_RATES,
    NOT_MENTIONED,
    PROFILE_RATES,
    RETURNED_STATUSES,
    covers,
    is_filled,
    number_check,
    place_key,
    score_comparison,
    score_profile,
    summarize_comparisons,
    summarize_profiles,
)
from eval.paths import DEFAULT_COMPARISONS, DEFAULT_PROFILES, timestamp_dir

__all__ = [
    "COMPARISON_RATES",
    "NOT_MENTIONED",
    "PROFILE_RATES",
    "RETURNED_STATUSES",
    "Cell",
    "ComparisonItem",
    "DecisionSetError",
    "Label",
    "ProfileItem",
    "add_decisions_parser",
    "cmd_decisions",
    "comparisons_table",
    "covers",
    "decisions_markdown",
    "is_filled",
    "load_comparisons",
    "load_profiles",
    "number_check",
    "parse_comparison",
    "parse_profile",
    "place_key",
    "profiles_table",
    "run_comparisons",
    "run_profiles",
    "score_comparison",
    "score_profile",
    "summarize_comparisons",
    "summarize_profiles",
    "write_decisions",
]

logger = logging.getLogger(__name__)


# --- running the product -------------------------------------------------------------------------


def _timed(call: Callable[[], Any]) -> tuple[Any, float, str]:
    start = time.perf_counter()
    try:
        result, error = call(), ""
    except Exception as exc:  # one failing item costs one data point, not the run
        result, error = None, f"{type(exc).__name__}: {exc}"
        logger.warning("decisions: %s", error)
    return result, round((time.perf_counter() - start) * 1000, 1), error


def run_comparisons(
    items: Sequence[ComparisonItem], compare: Callable[..., Any], ask: str = "question"
) -> list[dict[str, Any]]:
    """``compare(question or topic, jurisdictions)`` per item (jurisdictions None = every place), scored.

    ``ask="question"`` sends what a user would type (the default: that is the chat's path);
    ``ask="topic"`` sends the short topic, as an API caller might.
    """
    scores = []
    for item in items:
        juris = list(item.jurisdictions) if item.jurisdictions is not None else None
        text = item.question if ask == "question" and item.question else item.topic
        result, ms, error = _timed(lambda text=text, juris=juris: compare(text, juris))
        score = score_comparison(item, list(getattr(result, "rows", []) or []))
        score.update(question=item.question, topic=item.topic, latency_ms=ms, error=error)
        scores.append(score)
    return scores


def run_profiles(items: Sequence[ProfileItem], match: Callable[..., Any]) -> list[dict[str, Any]]:
    """``match(profile_dict)`` per profile, scored."""
    scores = []
    for item in items:
        result, ms, error = _timed(lambda item=item: match(dict(item.profile)))
        score = score_profile(item, list(getattr(result, "measures", []) or []))
        score.update(
            description=item.description,
            location_path=getattr(result, "location_path", "") if result is not None else "",
            latency_ms=ms,
            error=error,
        )
        scores.append(score)
    return scores



# --- the command ---------------------------------------------------------------------------------


def add_decisions_parser(sub: argparse._SubParsersAction) -> None:
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
    dec.set_defaults(func=cmd_decisions)


def cmd_decisions(args: argparse.Namespace) -> int:
    """assistant.compare / assistant.match on the labelled sets; exit 2 on bad input or an unusable index."""
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
    report = _score_sets(args, comparisons, profiles, engine)
    errors = sum(1 for part in report.values() for s in part["items"] if s.get("error"))
    if errors:
        print(f"warning: {errors} item(s) raised; see 'error' in decisions.json", file=sys.stderr)
    out_dir = args.out or timestamp_dir("decisions-")
    write_decisions(report, out_dir)
    print(f"report: {out_dir}")
    return 0


def _score_sets(
    args: argparse.Namespace, comparisons: list[ComparisonItem], profiles: list[ProfileItem], engine: object
) -> dict[str, Any]:
    """Run and score the chosen sets through the public API (read from ``assistant`` at call time)."""
    import assistant

    report: dict[str, Any] = {}
    if comparisons:
        scores = run_comparisons(
            comparisons, lambda topic, juris: assistant.compare(topic, juris, engine=engine), ask=args.comparison_input
        )
        summary = summarize_comparisons(scores)
        report["comparisons"] = {"file": str(args.comparisons), "summary": summary, "items": scores}
        print(f"\ncomparisons: {len(scores)} items from {args.comparisons}")
        print(comparisons_table(scores, summary))
    if profiles:
        scores = run_profiles(profiles, lambda profile: assistant.match(profile, engine=engine))
        summary = summarize_profiles(scores)
        report["profiles"] = {"file": str(args.profiles), "summary": summary, "items": scores}
        print(f"\nprofiles: {len(scores)} from {args.profiles}")
        print(profiles_table(scores, summary))
    return report
