"""Scoring ``assistant.compare`` rows and ``assistant.match`` measures against the labelled sets.

Every figure is defined in ``eval/decisions.py``'s docstring; rows and measures are read by attribute
(``jurisdiction``, ``text``, ``citation``; ``status``, ``doc_id``), so hand-made stand-ins score the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.core.numbers import extract_numbers, unsupported_numbers
from assistant.core.text import match_normalize, to_simplified
from eval.decisions_items import Cell, ComparisonItem, Label, ProfileItem
from eval.stats import mean, ratio

NOT_MENTIONED = "未提及"  # what a comparison row says for a place whose documents are silent
RETURNED_STATUSES = ("符合", "可能符合")  # a measure with one of these is "listed" for the profile

COMPARISON_RATES = (
    "cell_precision",
    "cell_recall",
    "not_mentioned_accuracy",
    "row_precision",
    "number_accuracy",
    "keyword_recall",
)
PROFILE_RATES = ("recall", "precision", "recall_confirmed", "precision_confirmed")



def place_key(name: str) -> str:
    """温州市 / 溫州 / 温州 -> 温州: rows and labels are matched on this."""
    name = to_simplified((name or "").strip())
    for suffix in ("特别行政区", "自治州", "地区", "省", "市", "县", "区"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def _citation_text(row: Any) -> str:
    citation = getattr(row, "citation", None)
    return (getattr(citation, "text", "") or "") if citation is not None else ""


def is_filled(row: Any) -> bool:
    """A row that states something (anything but 未提及 / empty)."""
    text = (getattr(row, "text", "") or "").strip()
    return bool(text) and match_normalize(text) != match_normalize(NOT_MENTIONED)


def number_check(text: str, passage: str) -> tuple[int, int]:
    """(numbers stated in ``text``, those whose value occurs in ``passage``), distinct surfaces."""
    stated = list(dict.fromkeys(extract_numbers(text)))
    if not stated:
        return 0, 0
    missing = unsupported_numbers(text, [passage]) if passage else stated
    return len(stated), len(stated) - len(missing)


@dataclass
class _Tally:
    """What one comparison item's places add up to: places, rows, numbers and keywords counted."""

    filled: int = 0
    supported: int = 0
    recall_hits: int = 0
    null_places: int = 0
    null_correct: int = 0
    rows_filled: int = 0
    rows_supported: int = 0
    numbers_total: int = 0
    numbers_supported: int = 0
    keywords_total: int = 0
    keywords_found: int = 0


def _score_row(row: Any, cell: Cell | None, tally: _Tally) -> dict[str, Any]:
    """One filled row: whether its cited passage holds the place's evidence, and its numbers."""
    passage = _citation_text(row)
    passage_norm = match_normalize(passage)
    ok = cell is not None and any(ev in passage_norm for ev in cell.evidence_norm)
    n_total, n_ok = number_check(row.text, passage)
    tally.numbers_total += n_total
    tally.numbers_supported += n_ok
    tally.rows_filled += 1
    tally.rows_supported += ok
    citation = getattr(row, "citation", None)
    return {
        "text": row.text,
        "cited_file": getattr(citation, "file", "") if citation is not None else "",
        "cited_section": getattr(citation, "section", "") if citation is not None else "",
        "supported": ok,
        "numbers": n_total,
        "numbers_in_passage": n_ok,
    }


def _score_place(place: str, cell: Cell | None, place_rows: list[Any], tally: _Tally) -> dict[str, Any]:
    """One labelled place: its rows scored, its status, and the expected keywords its rows miss."""
    filled_rows = [r for r in place_rows if is_filled(r)]
    row_details = [_score_row(r, cell, tally) for r in filled_rows]
    place_supported = any(d["supported"] for d in row_details)
    if filled_rows:
        tally.filled += 1
        tally.supported += place_supported
    missing_kw: list[str] = []
    if cell is None:
        tally.null_places += 1
        said_not_mentioned = bool(place_rows) and not filled_rows
        tally.null_correct += said_not_mentioned
        status = (
            "未提及 (correct)" if said_not_mentioned else ("filled (label: 未提及)" if filled_rows else "missing")
        )
    else:
        tally.recall_hits += place_supported
        answer_norm = match_normalize(" ".join(r.text for r in filled_rows))
        tally.keywords_total += len(cell.keywords_norm)
        tally.keywords_found += sum(k in answer_norm for k in cell.keywords_norm)
        missing_kw = [k for k in cell.keywords if match_normalize(k) and match_normalize(k) not in answer_norm]
        if filled_rows:
            status = "supported" if place_supported else "unsupported"
        else:
            status = "未提及 (wrong)" if place_rows else "missing"
    return {
        "place": place,
        "label": None if cell is None else "filled",
        "status": status,
        "missing_keywords": missing_kw,
        "rows": row_details,
    }


def score_comparison(item: ComparisonItem, rows: Sequence[Any]) -> dict[str, Any]:
    """Per-item figures for one ``Comparison`` (rows with jurisdiction, text, citation.text).

    A place is *filled* when it has a row that is not 未提及, and *supported* when one of its filled
    rows cites a passage containing one of the place's evidence strings (a place labelled null can
    never be supported). Rows for places the item does not label are listed, not scored.
    """
    by_place: dict[str, list[Any]] = {}
    for row in rows:
        by_place.setdefault(place_key(getattr(row, "jurisdiction", "")), []).append(row)
    labelled = {place_key(p) for p in item.places}
    t = _Tally()
    places = [_score_place(place, cell, by_place.get(place_key(place), []), t) for place, cell in item.cells.items()]
    extra = sorted(
        {getattr(r, "jurisdiction", "") for r in rows if place_key(getattr(r, "jurisdiction", "")) not in labelled}
    )
    return {
        "id": item.id,
        "type": item.type,
        "places": len(item.cells),
        "null_places": t.null_places,
        "filled_places": t.filled,
        "supported_places": t.supported,
        "cell_precision": ratio(t.supported, t.filled),
        "cell_recall": ratio(t.recall_hits, len(item.cells) - t.null_places),
        "recall_hits": t.recall_hits,
        "not_mentioned_accuracy": ratio(t.null_correct, t.null_places),
        "null_correct": t.null_correct,
        "rows_filled": t.rows_filled,
        "rows_supported": t.rows_supported,
        "row_precision": ratio(t.rows_supported, t.rows_filled),
        "numbers_total": t.numbers_total,
        "numbers_supported": t.numbers_supported,
        "number_accuracy": ratio(t.numbers_supported, t.numbers_total),
        "keywords_total": t.keywords_total,
        "keywords_found": t.keywords_found,
        "keyword_recall": ratio(t.keywords_found, t.keywords_total),
        "extra_places": extra,
        "place_details": places,
    }


def summarize_comparisons(scores: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Overall figures: ``mean`` of the per-item rates and ``pooled`` rates over all cells/rows/numbers."""
    ok = [s for s in scores if not s.get("error")]
    pooled = {
        "cell_precision": ratio(sum(s["supported_places"] for s in ok), sum(s["filled_places"] for s in ok)),
        "cell_recall": ratio(
            sum(s["recall_hits"] for s in ok), sum(s["places"] - s["null_places"] for s in ok)
        ),
        "not_mentioned_accuracy": ratio(
            sum(s["null_correct"] for s in ok), sum(s["null_places"] for s in ok)
        ),
        "row_precision": ratio(sum(s["rows_supported"] for s in ok), sum(s["rows_filled"] for s in ok)),
        "number_accuracy": ratio(
            sum(s["numbers_supported"] for s in ok), sum(s["numbers_total"] for s in ok)
        ),
        "keyword_recall": ratio(sum(s["keywords_found"] for s in ok), sum(s["keywords_total"] for s in ok)),
    }
    return {
        "items": len(scores),
        "errors": len(scores) - len(ok),
        "mean": {k: mean(s[k] for s in ok) for k in COMPARISON_RATES},
        "pooled": pooled,
    }


# --- eligibility scoring -------------------------------------------------------------------------


def _measure_files(measure: Any) -> set[str]:
    """Names under which a measure's document can be labelled: file name, file stem, doc_id."""
    names = set()
    citation = getattr(measure, "citation", None)
    file = getattr(citation, "file", "") if citation is not None else ""
    for value in (file, getattr(measure, "doc_id", "")):
        if value:
            names.add(str(value))
            names.add(Path(str(value)).stem)
    return names


def covers(measure: Any, label: Label) -> bool:
    """The measure is the labelled one: same document, and the label's passage lies in ``measure.text``.

    Only ``measure.text`` (the measure's own sentences) is searched, never the cited chunk: a chunk
    holds many measures, so matching on it would let one broad hit cover every label of the chunk.
    """
    if label.doc not in _measure_files(measure) and Path(label.doc).stem not in _measure_files(measure):
        return False
    return bool(label.evidence_norm) and label.evidence_norm in match_normalize(getattr(measure, "text", ""))


def score_profile(item: ProfileItem, measures: Sequence[Any]) -> dict[str, Any]:
    """Per-profile figures for one ``MatchResult.measures`` (status, text, doc_id, citation.file)."""
    listed = [m for m in measures if getattr(m, "status", "") in RETURNED_STATUSES]
    hit_should = [lb for lb in item.should_match if any(covers(m, lb) for m in listed)]
    hit_not = [lb for lb in item.should_not_match if any(covers(m, lb) for m in listed)]
    confirmed = [m for m in listed if getattr(m, "status", "") == RETURNED_STATUSES[0]]
    sure_should = sum(any(covers(m, lb) for m in confirmed) for lb in item.should_match)
    sure_not = sum(any(covers(m, lb) for m in confirmed) for lb in item.should_not_match)
    labels = [*item.should_match, *item.should_not_match]
    unlabelled = [m for m in listed if not any(covers(m, lb) for lb in labels)]
    return {
        "id": item.id,
        "type": item.type,
        "location": str(item.profile.get("location", "")),
        "measures": len(listed),
        "measures_met": sum(getattr(m, "status", "") == "符合" for m in listed),
        "measures_maybe": sum(getattr(m, "status", "") == "可能符合" for m in listed),
        "unlabelled_measures": len(unlabelled),
        "should_match": len(item.should_match),
        "should_match_covered": len(hit_should),
        "should_not_match": len(item.should_not_match),
        "should_not_match_hit": len(hit_not),
        "recall": ratio(len(hit_should), len(item.should_match)),
        "precision": ratio(len(hit_should), len(hit_should) + len(hit_not)),
        "confirmed_should_match": sure_should,
        "confirmed_should_not_match": sure_not,
        "recall_confirmed": ratio(sure_should, len(item.should_match)),
        "precision_confirmed": ratio(sure_should, sure_should + sure_not),
        "missed": [lb.evidence for lb in item.should_match if lb not in hit_should],
        "wrongly_listed": [lb.evidence for lb in hit_not],
    }


def summarize_profiles(scores: Sequence[dict[str, Any]]) -> dict[str, Any]:
    ok = [s for s in scores if not s.get("error")]
    covered = sum(s["should_match_covered"] for s in ok)
    wrong = sum(s["should_not_match_hit"] for s in ok)
    sure = sum(s["confirmed_should_match"] for s in ok)
    sure_wrong = sum(s["confirmed_should_not_match"] for s in ok)
    return {
        "profiles": len(scores),
        "errors": len(scores) - len(ok),
        "mean": {
            **{k: mean(s[k] for s in ok) for k in PROFILE_RATES},
            "measures": mean(s["measures"] for s in ok),
        },
        "pooled": {
            "recall": ratio(covered, sum(s["should_match"] for s in ok)),
            "precision": ratio(covered, covered + wrong),
            "recall_confirmed": ratio(sure, sum(s["should_match"] for s in ok)),
            "precision_confirmed": ratio(sure, sure + sure_wrong),
            "measures": sum(s["measures"] for s in ok),
        },
    }

