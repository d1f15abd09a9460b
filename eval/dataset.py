"""Question sets in the EVAL_FORMAT.md JSONL format, read strictly enough to catch typos early.

Any user-supplied set must load, so unknown fields are ignored; a malformed line fails with its line
number, because a silently skipped question would change every rate without anyone noticing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, TypeVar

from assistant.core.text import match_normalize

logger = logging.getLogger(__name__)


class _Item(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_Item)


class QuestionSetError(ValueError):
    """A question file that does not follow EVAL_FORMAT.md; the message names file and line."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answerable: bool
    evidence: tuple[str, ...] = ()
    answer_keywords: tuple[str, ...] = ()
    type: str = "untyped"
    doc: tuple[str, ...] = ()
    answer: str = ""
    history: tuple[str, ...] = ()  # previous user turns of a follow-up question (optional extra field)
    keywords_any: bool = False  # optional `keywords_match: "any"`: alternatives (several gold answers)
    as_of: date | None = None  # optional: the day the question is asked on (default: the day of the run)
    expect_notice: tuple[str, ...] = ()  # optional: facts the answer's validity notice must contain

    @cached_property
    def evidence_norm(self) -> list[str]:
        """Normalised evidence; strings that normalise to nothing would match anything, so they are dropped."""
        return [n for n in (match_normalize(e) for e in self.evidence) if n]

    @cached_property
    def keywords_norm(self) -> list[str]:
        return [n for n in (match_normalize(k) for k in self.answer_keywords) if n]

    @cached_property
    def notice_norm(self) -> list[str]:
        return [n for n in (match_normalize(k) for k in self.expect_notice) if n]


def _str_list(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"'{name}' must be a list of strings")
    return tuple(value)


def _as_of(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError("'as_of' must be a date string YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'as_of' must be a date YYYY-MM-DD, got {value[:20]!r}") from None


def parse_question(obj: Any) -> Question:
    """One JSON object -> ``Question``; raises ``ValueError`` describing the first problem."""
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    for key in ("id", "question", "answerable"):
        if key not in obj:
            raise ValueError(f"missing required field '{key}'")
    if not isinstance(obj["id"], str | int) or isinstance(obj["id"], bool):
        raise ValueError("'id' must be a string")
    if not isinstance(obj["question"], str) or not obj["question"].strip():
        raise ValueError("'question' must be a non-empty string")
    if not isinstance(obj["answerable"], bool):
        raise ValueError("'answerable' must be true or false")
    qtype = obj.get("type") or "untyped"
    if not isinstance(qtype, str):
        raise ValueError("'type' must be a string")
    answer = obj.get("answer") or ""
    if not isinstance(answer, str):
        raise ValueError("'answer' must be a string")
    match = obj.get("keywords_match") or "all"
    if match not in ("all", "any"):
        raise ValueError("'keywords_match' must be \"all\" or \"any\"")
    return Question(
        as_of=_as_of(obj.get("as_of")),
        expect_notice=_str_list(obj.get("expect_notice"), "expect_notice"),
        id=str(obj["id"]),
        question=obj["question"],
        answerable=obj["answerable"],
        evidence=_str_list(obj.get("evidence"), "evidence"),
        answer_keywords=_str_list(obj.get("answer_keywords"), "answer_keywords"),
        type=qtype,
        doc=_str_list(obj.get("doc"), "doc"),
        answer=answer,
        history=_str_list(obj.get("history"), "history"),
        keywords_any=match == "any",
    )


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with Path(path).open(encoding="utf-8-sig") as fh:  # a BOM (Windows editors) is not part of line 1
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                yield lineno, line


def read_jsonl(path: Path) -> Iterator[Any]:
    """The objects of a JSONL file we wrote ourselves (blank lines skipped; bad JSON raises as it is)."""
    for _, line in _lines(path):
        yield json.loads(line)


def load_jsonl(
    path: Path, parse: Callable[[Any], T], error: type[ValueError], *, missing: str, empty: str
) -> list[tuple[int, T]]:
    """A hand-written JSONL set, strictly: each line through ``parse``, ids unique, at least one item.

    Every problem raises ``error`` naming the file and line, because a silently skipped item would change
    every rate; ``missing`` / ``empty`` end the message for a file that is absent or holds no item.
    Returns ``(line number, item)`` pairs (items have an ``id``).
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {missing}")
    items: list[tuple[int, T]] = []
    seen: dict[str, int] = {}
    for lineno, line in _lines(path):
        try:
            item = parse(json.loads(line))
        except json.JSONDecodeError as exc:
            raise error(f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from exc
        except ValueError as exc:
            raise error(f"{path}:{lineno}: {exc}") from exc
        if item.id in seen:
            raise error(f"{path}:{lineno}: duplicate id '{item.id}' (first on line {seen[item.id]})")
        seen[item.id] = lineno
        items.append((lineno, item))
    if not items:
        raise error(f"{path}: {empty}")
    return items


def load_questions(path: Path, limit: int | None = None) -> list[Question]:
    """Read a JSONL question set; blank lines are skipped, ids must be unique."""
    found = load_jsonl(
        path,
        parse_question,
        QuestionSetError,
        missing="question file not found (pass --questions FILE)",
        empty="no questions",
    )
    for lineno, q in found:
        _warn_unscorable(q, Path(path), lineno)
    questions = [q for _, q in found]
    return questions[:limit] if limit else questions


def _warn_unscorable(q: Question, path: Path, lineno: int) -> None:
    if q.answerable and not q.evidence_norm:
        logger.warning(
            "%s:%d: answerable question %s has no usable evidence; retrieval skips it", path, lineno, q.id
        )
    dropped = len(q.evidence) - len(q.evidence_norm) + len(q.answer_keywords) - len(q.keywords_norm)
    if dropped:
        logger.warning(
            "%s:%d: %d evidence/keyword string(s) of %s have no CJK or digits and are ignored",
            path,
            lineno,
            dropped,
            q.id,
        )
