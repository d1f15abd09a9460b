"""Answers as of a date: the clock, the date a search is made on, and which documents it may use then.

Every question is answered as of one date: the date the question states ("2024年时…"), else the date the
caller gives (``Filters.as_of``, ``--as-of``, the API's ``as_of``, the UI's date field), else today from
:func:`today`, the one clock of the project (tests and the evaluation pin it).

Which documents a search uses on that date (``Filters.validity``):

- ``None`` (default, "现行版本"): every document, except a version whose successor or predecessor in the
  corpus is the one in force on that date. An expired or silent document without a newer version keeps
  answering, with its notice: the corpus's own documents (targets 到2025年, validity mostly unknown or
  delegated) would otherwise fall silent, while a repealed version would mislead without one.
- ``"current"`` (只看现行有效): only documents neither expired, repealed nor not yet in force on that date.
- ``"all"`` (包括历史文件): every document; those not in force on the date rank after the ones in force.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol

Validity = Literal["current", "all"]
HISTORY_STATES = frozenset({"expired", "repealed", "not_yet"})  # not in force on the date
VALIDITY_LABELS = {None: "现行版本", "current": "只看现行有效", "all": "包括历史文件"}


class InvalidDateError(ValueError):
    """A date a user gave that is not YYYY-MM-DD; the message says how to write it."""


class LifecycleLike(Protocol):
    """What this module reads of ``assistant.corpus.lifecycle.Lifecycle`` (tests may hand in their own)."""

    def state_on(self, as_of: date) -> str: ...
    def notice(self, as_of: date, title: str) -> str | None: ...


# -- the clock --------------------------------------------------------------------------------------------

_clock: Callable[[], date] = date.today
_pinned: ContextVar[date | None] = ContextVar("policy_qa_today", default=None)


def today() -> date:
    """Today, as the assistant sees it: a pinned day (``pinned_today``), else the clock (``set_clock``)."""
    return _pinned.get() or _clock()


def set_clock(clock: Callable[[], date] | None) -> None:
    """Replace the clock for the whole process (tests); None restores ``date.today``."""
    global _clock
    _clock = clock or date.today


@contextlib.contextmanager
def pinned_today(day: date | None) -> Iterator[None]:
    """Within the block, in this thread, today is ``day`` (None: no change). The evaluation asks each
    question on its own ``as_of``."""
    token = _pinned.set(day) if day is not None else None
    try:
        yield
    finally:
        if token is not None:
            _pinned.reset(token)


def parse_date(value: object) -> date | None:
    """``YYYY-MM-DD`` (or a ``date``) -> date; None/"" -> None; anything else -> ``InvalidDateError``."""
    if value is None or isinstance(value, date):
        return value  # type: ignore[return-value]
    text = str(value).strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        shown = text[:40]
        raise InvalidDateError(f"日期“{shown}”无效，请写成 YYYY-MM-DD，例如 2025-06-30。") from None


def parse_validity(value: object) -> Validity | None:
    """"current" / "all" (or the Chinese labels) -> the mode; None/"" -> default; else ValueError."""
    if value in (None, ""):
        return None
    for mode, label in VALIDITY_LABELS.items():
        if value in (mode, label):
            return mode  # type: ignore[return-value]
    raise ValueError(f"validity 只能是 current（只看现行有效）或 all（包括历史文件），收到“{str(value)[:40]}”。")


@dataclass(frozen=True)
class AsOf:
    """The date a search is made on, where it came from, and which documents it may use."""

    day: date
    validity: Validity | None = None
    source: Literal["today", "filter", "question"] = "today"
    phrase: str = ""  # the question's own words for the date, when it states one

    def label(self) -> str:
        return VALIDITY_LABELS[self.validity]


def resolve(as_of: date | None, validity: Validity | None, question_day: date | None = None, phrase: str = "") -> AsOf:
    """The question's own date wins over the caller's, which wins over today."""
    if question_day is not None:
        return AsOf(question_day, validity, "question", phrase)
    if as_of is not None:
        return AsOf(as_of, validity, "filter")
    return AsOf(today(), validity, "today")


# -- documents on a date ----------------------------------------------------------------------------------


def lifecycles_of(catalog: Any) -> dict[str, LifecycleLike]:
    """``Catalog.lifecycles`` ({} for a catalog without them: every document then counts as in force)."""
    return getattr(catalog, "lifecycles", None) or {}


def state_of(catalog: Any, doc_id: str, day: date) -> str | None:
    """The document's state on ``day`` (``Lifecycle.state_on``), None when it has no lifecycle."""
    life = lifecycles_of(catalog).get(doc_id)
    return life.state_on(day) if life is not None else None


def version_links(catalog: Any) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(successors, predecessors) by doc_id: the corpus documents that repeal each one, and those it repeals
    (``Lifecycle.repealed_by`` / ``replaces``, linked when the build opened)."""
    succ: dict[str, set[str]] = {}
    pred: dict[str, set[str]] = {}
    for doc_id, life in lifecycles_of(catalog).items():
        succ[doc_id] = {link.new_id for link in getattr(life, "repealed_by", ())}
        pred[doc_id] = {link.old_id for link in getattr(life, "replaces", ())}
    return succ, pred


def _standing(state: str | None) -> bool:
    """In force, or not known to be otherwise (delegated, unknown, no lifecycle)."""
    return state not in HISTORY_STATES


def allowed_documents(catalog: Any, when: AsOf) -> set[str] | None:
    """Doc ids a search may use on ``when`` (None = all of them)."""
    lives = lifecycles_of(catalog)
    if not lives or when.validity == "all":
        return None
    states = {d.doc_id: state_of(catalog, d.doc_id, when.day) for d in catalog.documents}
    if when.validity == "current":
        return {d for d, s in states.items() if _standing(s)}
    succ, pred = version_links(catalog)
    out = set()
    for doc_id, state in states.items():
        if state == "repealed" and any(_standing(states.get(s)) for s in succ.get(doc_id, ())):
            continue  # an older version: its successor answers
        if state == "not_yet" and any(_standing(states.get(p)) for p in pred.get(doc_id, ())):
            continue  # a newer version not yet in force: its predecessor answers
        out.add(doc_id)
    return out


def history_documents(catalog: Any, when: AsOf) -> set[str]:
    """With 包括历史文件: the documents not in force on the date (they rank after those in force)."""
    if when.validity != "all":
        return set()
    return {d.doc_id for d in catalog.documents if state_of(catalog, d.doc_id, when.day) in HISTORY_STATES}


def in_force_verdict(catalog: Any, doc_ids: list[str], day: date) -> str:
    """For documents that disagree: which one is in force on ``day`` ("" when none is known not to be); what
    happened to the others is in their own notices."""
    docs = {d.doc_id: d for d in getattr(catalog, "documents", [])}
    states = {d: state_of(catalog, d, day) for d in doc_ids if d in docs}
    if not any(s in HISTORY_STATES for s in states.values()):
        return ""
    when = f"{day.year}年{day.month}月{day.day}日"
    live = [f"《{docs[d].title}》" for d, s in states.items() if _standing(s)]
    if not live:
        return f"截至{when}，这些文件均不在有效期内。"
    return f"截至{when}，现行有效的是{'、'.join(live)}。"
