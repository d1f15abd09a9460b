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

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from statistics import fmean
from typing import Any

from assistant.core.numbers import extract_numbers, unsupported_numbers
from assistant.core.text import match_normalize, to_simplified

logger = logging.getLogger(__name__)

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


class DecisionSetError(ValueError):
    """A comparison or profile file that does not follow the format; the message names file and line."""


# --- data ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """What one place's documents say on a comparison topic: evidence passages and key facts."""

    evidence: tuple[str, ...]
    keywords: tuple[str, ...] = ()

    @cached_property
    def evidence_norm(self) -> list[str]:
        return [n for n in (match_normalize(e) for e in self.evidence) if n]

    @cached_property
    def keywords_norm(self) -> list[str]:
        return [n for n in (match_normalize(k) for k in self.keywords) if n]


@dataclass(frozen=True)
class ComparisonItem:
    id: str
    question: str
    topic: str
    jurisdictions: tuple[str, ...] | None  # None: "every place with documents" (cells name them all)
    cells: dict[str, Cell | None]  # None: the place's documents say nothing on the topic (未提及)
    type: str = "untyped"

    @property
    def places(self) -> list[str]:
        return list(self.cells)


@dataclass(frozen=True)
class Label:
    """One measure a profile should (or must not) get: the document file and a verbatim passage."""

    doc: str
    evidence: str
    reason: str = ""

    @cached_property
    def evidence_norm(self) -> str:
        return match_normalize(self.evidence)


@dataclass(frozen=True)
class ProfileItem:
    id: str
    description: str
    profile: dict[str, Any]
    should_match: tuple[Label, ...]
    should_not_match: tuple[Label, ...]
    type: str = "untyped"


# --- loading -------------------------------------------------------------------------------------


def _str_list(value: Any, name: str, *, required: bool = False) -> tuple[str, ...]:
    if value is None and not required:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"'{name}' must be a list of strings")
    return tuple(value)


def _common(obj: Any, required: tuple[str, ...]) -> tuple[str, str]:
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    for key in required:
        if key not in obj:
            raise ValueError(f"missing required field '{key}'")
    if not isinstance(obj["id"], str | int) or isinstance(obj["id"], bool):
        raise ValueError("'id' must be a string")
    qtype = obj.get("type") or "untyped"
    if not isinstance(qtype, str):
        raise ValueError("'type' must be a string")
    return str(obj["id"]), qtype


def parse_comparison(obj: Any) -> ComparisonItem:
    """One JSON object -> ``ComparisonItem``; raises ``ValueError`` describing the first problem."""
    item_id, qtype = _common(obj, ("id", "question", "topic", "cells"))
    for key in ("question", "topic"):
        if not isinstance(obj[key], str) or not obj[key].strip():
            raise ValueError(f"'{key}' must be a non-empty string")
    juris = obj.get("jurisdictions")
    if juris is not None:
        juris = _str_list(juris, "jurisdictions")
        if not juris or not all(j.strip() for j in juris):
            raise ValueError("'jurisdictions' must be null or a non-empty list of place names")
        if len(set(juris)) != len(juris):
            raise ValueError("'jurisdictions' names a place twice")
    raw_cells = obj["cells"]
    if not isinstance(raw_cells, dict) or not raw_cells:
        raise ValueError("'cells' must be an object with one entry per place")
    if juris is not None and set(raw_cells) != set(juris):
        missing = [j for j in juris if j not in raw_cells]
        extra = [c for c in raw_cells if c not in juris]
        raise ValueError(f"'cells' must name exactly the jurisdictions (missing {missing}, extra {extra})")
    cells: dict[str, Cell | None] = {}
    for place, raw in raw_cells.items():
        if raw is None:
            cells[place] = None
            continue
        if not isinstance(raw, dict):
            raise ValueError(f"cell '{place}' must be null or an object with 'evidence'")
        cell = Cell(
            evidence=_str_list(raw.get("evidence"), f"cells.{place}.evidence", required=True),
            keywords=_str_list(raw.get("keywords"), f"cells.{place}.keywords"),
        )
        if not cell.evidence_norm:
            raise ValueError(f"cell '{place}' has no evidence with CJK characters or digits")
        cells[place] = cell
    return ComparisonItem(
        id=item_id,
        question=obj["question"],
        topic=obj["topic"],
        jurisdictions=juris,
        cells=cells,
        type=qtype,
    )


def _labels(value: Any, name: str) -> tuple[Label, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError(f"'{name}' must be a list of {{doc, evidence}} objects")
    labels = []
    for i, raw in enumerate(value):
        if not isinstance(raw, dict) or not isinstance(raw.get("doc"), str) or not raw["doc"].strip():
            raise ValueError(f"'{name}[{i}]' needs a 'doc' (file name of the source document)")
        if not isinstance(raw.get("evidence"), str) or not match_normalize(raw["evidence"]):
            raise ValueError(f"'{name}[{i}]' needs an 'evidence' string with CJK characters or digits")
        reason = raw.get("reason") or ""
        if not isinstance(reason, str):
            raise ValueError(f"'{name}[{i}].reason' must be a string")
        labels.append(Label(doc=raw["doc"].strip(), evidence=raw["evidence"], reason=reason))
    return tuple(labels)


def parse_profile(obj: Any) -> ProfileItem:
    """One JSON object -> ``ProfileItem``; raises ``ValueError`` describing the first problem."""
    item_id, qtype = _common(obj, ("id", "profile"))
    if not isinstance(obj["profile"], dict) or not obj["profile"]:
        raise ValueError("'profile' must be a non-empty object (location, industry, employees, ...)")
    description = obj.get("description") or ""
    if not isinstance(description, str):
        raise ValueError("'description' must be a string")
    should = _labels(obj.get("should_match"), "should_match")
    should_not = _labels(obj.get("should_not_match"), "should_not_match")
    if not should and not should_not:
        raise ValueError("a profile needs at least one 'should_match' or 'should_not_match' label")
    return ProfileItem(
        id=item_id,
        description=description,
        profile=obj["profile"],
        should_match=should,
        should_not_match=should_not,
        type=qtype,
    )


def _load(path: Path, parse: Callable[[Any], Any], what: str, option: str) -> list[Any]:
    path = Path(path)
    if not path.is_file():
        raise DecisionSetError(f"{path}: {what} file not found (pass {option} FILE)")
    items: list[Any] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                item = parse(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DecisionSetError(
                    f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})"
                ) from exc
            except ValueError as exc:
                raise DecisionSetError(f"{path}:{lineno}: {exc}") from exc
            if item.id in seen:
                raise DecisionSetError(
                    f"{path}:{lineno}: duplicate id '{item.id}' (first on line {seen[item.id]})"
                )
            seen[item.id] = lineno
            items.append(item)
    if not items:
        raise DecisionSetError(f"{path}: no {what} items")
    return items


def load_comparisons(path: Path) -> list[ComparisonItem]:
    return _load(path, parse_comparison, "comparison", "--comparisons")


def load_profiles(path: Path) -> list[ProfileItem]:
    return _load(path, parse_profile, "profile", "--profiles")


# --- comparison scoring --------------------------------------------------------------------------


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


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _mean(values: Iterable[float | None]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return round(fmean(present), 4) if present else None


def number_check(text: str, passage: str) -> tuple[int, int]:
    """(numbers stated in ``text``, those whose value occurs in ``passage``), distinct surfaces."""
    stated = list(dict.fromkeys(extract_numbers(text)))
    if not stated:
        return 0, 0
    missing = unsupported_numbers(text, [passage]) if passage else stated
    return len(stated), len(stated) - len(missing)


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
    places: list[dict[str, Any]] = []
    filled = supported = recall_hits = 0
    null_places = null_correct = 0
    rows_filled = rows_supported = 0
    numbers_total = numbers_supported = 0
    keywords_total = keywords_found = 0
    for place, cell in item.cells.items():
        place_rows = by_place.get(place_key(place), [])
        filled_rows = [r for r in place_rows if is_filled(r)]
        row_details = []
        place_supported = False
        for r in filled_rows:
            passage = _citation_text(r)
            passage_norm = match_normalize(passage)
            ok = cell is not None and any(ev in passage_norm for ev in cell.evidence_norm)
            n_total, n_ok = number_check(r.text, passage)
            numbers_total += n_total
            numbers_supported += n_ok
            rows_filled += 1
            rows_supported += ok
            place_supported = place_supported or ok
            citation = getattr(r, "citation", None)
            row_details.append(
                {
                    "text": r.text,
                    "cited_file": getattr(citation, "file", "") if citation is not None else "",
                    "cited_section": getattr(citation, "section", "") if citation is not None else "",
                    "supported": ok,
                    "numbers": n_total,
                    "numbers_in_passage": n_ok,
                }
            )
        if filled_rows:
            filled += 1
            supported += place_supported
        if cell is None:
            null_places += 1
            said_not_mentioned = bool(place_rows) and not filled_rows
            null_correct += said_not_mentioned
            status = (
                "未提及 (correct)"
                if said_not_mentioned
                else ("filled (label: 未提及)" if filled_rows else "missing")
            )
            missing_kw: list[str] = []
        else:
            recall_hits += place_supported
            answer_norm = match_normalize(" ".join(r.text for r in filled_rows))
            found = [k for k in cell.keywords_norm if k in answer_norm]
            keywords_total += len(cell.keywords_norm)
            keywords_found += len(found)
            missing_kw = [
                k for k in cell.keywords if match_normalize(k) and match_normalize(k) not in answer_norm
            ]
            if filled_rows:
                status = "supported" if place_supported else "unsupported"
            else:
                status = "未提及 (wrong)" if place_rows else "missing"
        places.append(
            {
                "place": place,
                "label": None if cell is None else "filled",
                "status": status,
                "missing_keywords": missing_kw,
                "rows": row_details,
            }
        )
    non_null = len(item.cells) - null_places
    extra = sorted(
        {
            getattr(r, "jurisdiction", "")
            for r in rows
            if place_key(getattr(r, "jurisdiction", "")) not in labelled
        }
    )
    return {
        "id": item.id,
        "type": item.type,
        "places": len(item.cells),
        "null_places": null_places,
        "filled_places": filled,
        "supported_places": supported,
        "cell_precision": _ratio(supported, filled),
        "cell_recall": _ratio(recall_hits, non_null),
        "recall_hits": recall_hits,
        "not_mentioned_accuracy": _ratio(null_correct, null_places),
        "null_correct": null_correct,
        "rows_filled": rows_filled,
        "rows_supported": rows_supported,
        "row_precision": _ratio(rows_supported, rows_filled),
        "numbers_total": numbers_total,
        "numbers_supported": numbers_supported,
        "number_accuracy": _ratio(numbers_supported, numbers_total),
        "keywords_total": keywords_total,
        "keywords_found": keywords_found,
        "keyword_recall": _ratio(keywords_found, keywords_total),
        "extra_places": extra,
        "place_details": places,
    }


def summarize_comparisons(scores: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Overall figures: ``mean`` of the per-item rates and ``pooled`` rates over all cells/rows/numbers."""
    ok = [s for s in scores if not s.get("error")]
    pooled = {
        "cell_precision": _ratio(sum(s["supported_places"] for s in ok), sum(s["filled_places"] for s in ok)),
        "cell_recall": _ratio(
            sum(s["recall_hits"] for s in ok), sum(s["places"] - s["null_places"] for s in ok)
        ),
        "not_mentioned_accuracy": _ratio(
            sum(s["null_correct"] for s in ok), sum(s["null_places"] for s in ok)
        ),
        "row_precision": _ratio(sum(s["rows_supported"] for s in ok), sum(s["rows_filled"] for s in ok)),
        "number_accuracy": _ratio(
            sum(s["numbers_supported"] for s in ok), sum(s["numbers_total"] for s in ok)
        ),
        "keyword_recall": _ratio(sum(s["keywords_found"] for s in ok), sum(s["keywords_total"] for s in ok)),
    }
    return {
        "items": len(scores),
        "errors": len(scores) - len(ok),
        "mean": {k: _mean(s[k] for s in ok) for k in COMPARISON_RATES},
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
        "recall": _ratio(len(hit_should), len(item.should_match)),
        "precision": _ratio(len(hit_should), len(hit_should) + len(hit_not)),
        "confirmed_should_match": sure_should,
        "confirmed_should_not_match": sure_not,
        "recall_confirmed": _ratio(sure_should, len(item.should_match)),
        "precision_confirmed": _ratio(sure_should, sure_should + sure_not),
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
            **{k: _mean(s[k] for s in ok) for k in PROFILE_RATES},
            "measures": _mean(s["measures"] for s in ok),
        },
        "pooled": {
            "recall": _ratio(covered, sum(s["should_match"] for s in ok)),
            "precision": _ratio(covered, covered + wrong),
            "recall_confirmed": _ratio(sure, sum(s["should_match"] for s in ok)),
            "precision_confirmed": _ratio(sure, sure + sure_wrong),
            "measures": sum(s["measures"] for s in ok),
        },
    }


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


# --- report --------------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def comparisons_table(scores: Sequence[dict[str, Any]], summary: dict[str, Any]) -> str:
    head = (
        "| id | type | places (null) | filled | cell precision | cell recall | 未提及 acc | row precision "
        "| number acc | keyword recall | ms |"
    )
    lines = [head, "|" + "---|" * 11]
    for s in scores:
        lines.append(
            f"| {s['id']}{' ⚠' if s.get('error') else ''} | {s['type']} | {s['places']} ({s['null_places']}) "
            f"| {s['filled_places']} | {_fmt(s['cell_precision'])} | {_fmt(s['cell_recall'])} "
            f"| {_fmt(s['not_mentioned_accuracy'])} | {_fmt(s['row_precision'])} | {_fmt(s['number_accuracy'])} "
            f"| {_fmt(s['keyword_recall'])} | {_fmt(s.get('latency_ms'))} |"
        )
    for name in ("mean", "pooled"):
        m = summary[name]
        lines.append(
            f"| **{name}** | | | | {_fmt(m['cell_precision'])} | {_fmt(m['cell_recall'])} "
            f"| {_fmt(m['not_mentioned_accuracy'])} | {_fmt(m['row_precision'])} | {_fmt(m['number_accuracy'])} "
            f"| {_fmt(m['keyword_recall'])} | |"
        )
    return "\n".join(lines)


def profiles_table(scores: Sequence[dict[str, Any]], summary: dict[str, Any]) -> str:
    lines = [
        "| id | type | location | measures (符合/可能) | should_match covered | should_not hit | recall "
        "| precision | recall (符合) | precision (符合) | unlabelled | ms |",
        "|" + "---|" * 12,
    ]
    for s in scores:
        lines.append(
            f"| {s['id']}{' ⚠' if s.get('error') else ''} | {s['type']} | {s['location']} "
            f"| {s['measures']} ({s['measures_met']}/{s['measures_maybe']}) "
            f"| {s['should_match_covered']}/{s['should_match']} | {s['should_not_match_hit']}/{s['should_not_match']} "
            f"| {_fmt(s['recall'])} | {_fmt(s['precision'])} | {_fmt(s['recall_confirmed'])} "
            f"| {_fmt(s['precision_confirmed'])} | {s['unlabelled_measures']} | {_fmt(s.get('latency_ms'))} |"
        )
    for name in ("mean", "pooled"):
        m = summary[name]
        lines.append(
            f"| **{name}** | | | {_fmt(m['measures'])} | | | {_fmt(m['recall'])} | {_fmt(m['precision'])} "
            f"| {_fmt(m['recall_confirmed'])} | {_fmt(m['precision_confirmed'])} | | |"
        )
    return "\n".join(lines)


def _problems(scores: Sequence[dict[str, Any]], kind: str) -> list[str]:
    out = []
    for s in scores:
        if s.get("error"):
            out.append(f"- {s['id']}: error {s['error']}")
            continue
        if kind == "comparisons":
            bad = [
                f"{p['place']}: {p['status']}"
                for p in s["place_details"]
                if p["status"] not in ("supported", "未提及 (correct)")
            ]
            if bad:
                out.append(f"- {s['id']} ({s['topic']}): " + "; ".join(bad))
        else:
            if s["missed"] or s["wrongly_listed"]:
                parts = []
                if s["missed"]:
                    parts.append("missed " + " / ".join(s["missed"]))
                if s["wrongly_listed"]:
                    parts.append("wrongly listed " + " / ".join(s["wrongly_listed"]))
                out.append(f"- {s['id']} ({s['location']}): " + "; ".join(parts))
    return out


def decisions_markdown(report: dict[str, Any]) -> str:
    lines = ["# Comparison and eligibility evaluation", ""]
    comp = report.get("comparisons")
    if comp:
        lines += [
            f"## Comparisons ({comp['summary']['items']} items, {comp['file']})",
            "",
            comparisons_table(comp["items"], comp["summary"]),
            "",
            "Places not supported or wrongly filled:",
            "",
            *(_problems(comp["items"], "comparisons") or ["- none"]),
            "",
        ]
    prof = report.get("profiles")
    if prof:
        lines += [
            f"## Eligibility ({prof['summary']['profiles']} profiles, {prof['file']})",
            "",
            profiles_table(prof["items"], prof["summary"]),
            "",
            "Labels missed or wrongly listed:",
            "",
            *(_problems(prof["items"], "profiles") or ["- none"]),
            "",
        ]
    lines += [
        "Definitions: eval/decisions.py (module docstring). "
        "'mean' averages the per-item rates; 'pooled' divides the summed counts. — = nothing to score.",
        "",
    ]
    return "\n".join(lines)


def write_decisions(report: dict[str, Any], out_dir: Path) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "decisions.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), "utf-8")
    (out_dir / "decisions.md").write_text(decisions_markdown(report), "utf-8")
