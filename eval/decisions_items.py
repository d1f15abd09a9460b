"""The hand-labelled decision sets (``eval/comparisons.jsonl``, ``eval/profiles.jsonl``): items and loading.

The formats are described in ``eval/decisions.py``; a malformed line fails with file and line, like
``eval.dataset``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from assistant.core.text import match_normalize
from eval.dataset import load_jsonl


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


def load_comparisons(path: Path) -> list[ComparisonItem]:
    found = load_jsonl(
        path,
        parse_comparison,
        DecisionSetError,
        missing="comparison file not found (pass --comparisons FILE)",
        empty="no comparison items",
    )
    return [item for _, item in found]


def load_profiles(path: Path) -> list[ProfileItem]:
    found = load_jsonl(
        path,
        parse_profile,
        DecisionSetError,
        missing="profile file not found (pass --profiles FILE)",
        empty="no profile items",
    )
    return [item for _, item in found]
