"""Which sentences of a chunk are measures, and where each measure starts and ends.

A measure grants something to enterprises (``grants``) and is not a target or a statistic; a target appended
to it is cut off, a continuation sentence ("连续3年的,再给予…") joins the one before, a list sentence whose
clauses each name their own beneficiary is split into one measure per clause, and in the collection of typical
practices each practice is one measure (the sentence that states it).
"""

from __future__ import annotations

import re

from assistant.core.lexicon import pattern, table
from assistant.core.text import search_form
from assistant.decisions.eligibility.grants import clauses, grants
from assistant.decisions.eligibility.vocabulary import vocabulary
from assistant.decisions.titles import NUMBERING
from assistant.qa.citing import split_sentences

__all__ = ["LABEL", "is_measure", "measure_spans"]

_EXCLUDE = tuple(re.compile(p) for p in vocabulary().measures["exclude_patterns"])  # targets, statistics
_CONTINUATION = tuple(vocabulary().measures["continuation"])
_CONTINUATION_MAX = int(table("eligibility")["measure_text"]["continuation_max"])
LABEL = pattern("eligibility", "measure_text.label")  # "全市目标：", "落实举措：" before the measure
_DEPARTMENT_TAIL = pattern("eligibility", "measure_text.department_tail")  # "（责任单位：市经信局）"
_TARGET = pattern("eligibility", "measure_text.target")
_PRACTICE_SKIP = pattern("eligibility", "measure_text.practice_skip")


def is_measure(s: str) -> bool:
    """A sentence (Simplified) that grants something to enterprises and is not a target or a statistic."""
    body = LABEL.sub("", s)
    if any(p.search(body) for p in _EXCLUDE):
        return False
    return any(g.who != "other" for g in grants(body))


def _sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of a chunk text, verbatim."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for sent in split_sentences(text):
        start = text.find(sent, cursor)
        if start < 0:
            continue
        spans.append((start, start + len(sent)))
        cursor = start + len(sent)
    return spans


def _segments(s: str) -> list[tuple[int, int]]:
    """Parts of a measure sentence that are measures of their own.

    A list sentence ("小规模纳税人减免增值税，小微企业减按25%…，个体工商户减半征收…") grants different things to
    different firms: each clause that names its own beneficiary starts a measure. Otherwise the sentence is one.
    """
    starts = sorted({g.clause[0] for g in grants(s) if g.who != "other" and g.own_entity})
    if len(starts) < 2:
        return [(0, len(s))]
    bounds = [0, *starts[1:], len(s)]
    return [
        (a, b - 1 if i < len(bounds) - 2 else b) for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False))
    ]


def _is_heading_sentence(sentence: str, section: str) -> bool:
    """The item's own title line ("18.降低制度性交易成本。"), which repeats the section heading."""
    body = sentence.strip().rstrip("。.")
    return bool(NUMBERING.match(body)) and len(body) <= 40 and body in section


def _target_cut(simp: str) -> int:
    """Where a target or outlook appended to a measure starts ("…进行培育,到2025年力争新增20家…"): the first
    clause that states one and grants nothing."""
    for a, b in clauses(simp)[1:]:
        if a > 1 and _TARGET.search(simp, a, b):
            if not any(g.who != "other" for g in grants(simp[a:])):
                return a - 1
            break
    return len(simp)


def _practice_lead(sentence: str, city: str, after_label: bool) -> bool:
    """The sentence that states a practice ("青岛市：创新专利权质押保险贷款。"): each practice is a measure of
    the typical-practice collection, even when it names no grant word."""
    body = search_form(LABEL.sub("", sentence)).strip()
    if not body or _PRACTICE_SKIP.match(body):
        return False
    return after_label or bool(LABEL.match(sentence)) or bool(city and body.startswith(city + "："))


def measure_spans(text: str, section: str, city: str = "", practice: bool = False) -> list[tuple[int, int]]:
    """Measure spans of a chunk: measure sentences (or their self-contained parts), a continuation joined;
    in a typical-practice chunk only the sentence stating the practice (an example is one practice)."""
    runs: list[tuple[int, int]] = []
    prev_end = -1
    lead_open = practice  # the practice's own sentence is still to come
    after_label = False
    for start, end in _sentences(text):
        sentence = text[start:end]
        simp = search_form(sentence)
        cut = _target_cut(simp) if len(simp) == len(sentence) else len(simp)
        lead = lead_open and _practice_lead(sentence, city, after_label)
        after_label = bool(LABEL.fullmatch(sentence.strip()))
        if lead:
            lead_open = False
        elif practice:  # one measure per practice: the sentence that states it
            continue
        if _is_heading_sentence(sentence, section) or not (lead or is_measure(simp[:cut])):
            prev_end = -1
            continue
        label = LABEL.match(sentence)
        a = label.end() if label else 0
        tail = _DEPARTMENT_TAIL.search(sentence, a)
        b = min(tail.start() if tail else len(sentence), cut)
        b = a + len(sentence[a:b].rstrip("，,；; "))
        if lead:  # one practice, one measure (its clauses are not separate grants)
            runs.append((start + a, start + b))
            prev_end = end
            continue
        parts = _segments(simp[a:b]) if len(simp) == len(sentence) else [(0, b - a)]
        if len(parts) == 1 and runs and prev_end == start and simp.startswith(_CONTINUATION):
            if len(text[runs[-1][0] : start + b]) < _CONTINUATION_MAX:
                runs[-1] = (runs[-1][0], start + b)
                prev_end = end
                continue
        for pa, pb in parts:
            piece = (start + a + pa, start + a + pb)
            if piece[1] > piece[0] and is_measure(search_form(text[piece[0] : piece[1]])):
                runs.append(piece)
        prev_end = end
    return runs
