"""Candidate sentences: every sentence of the top passages, scored, and the rule for which may answer.

A sentence scores by the question's ideas it covers (with its section heading, alone, and its whole
passage), by its passage's rank, and by hints (a figure for a number question, a department for "who").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llama_index.core.schema import NodeWithScore

from assistant.core.lexicon import pattern
from assistant.core.numbers import extract_numbers
from assistant.core.sentences import answerable_sentences
from assistant.core.text import search_form
from assistant.qa.extractive.figures import expected_unit, number_units
from assistant.qa.extractive.questions import focus_word, quoted_terms
from assistant.qa.extractive.scoring import Concept, coverage
from assistant.qa.extractive.weights import rule_weights
from assistant.retrieval.plan import QueryPlan

_DEPARTMENT_Q = pattern("language", "sentences.department_question", re.I)
_DEPARTMENT = pattern("language", "sentences.department")
_NAME_Q = pattern("language", "sentences.name_question", re.I)
_NAMED = pattern("language", "sentences.named")
_HEADING_ONLY = pattern("language", "sentences.heading_only")
_ENTITY_HINT = pattern("language", "sentences.entity_hint")
_HEADING_PREFIX = pattern("language", "sentences.heading_prefix")
CLAUSE_SPLIT = re.compile(r"(?<=[，,：:；;])")  # after each clause mark: a long sentence's clauses


@dataclass
class Candidate:
    passage_index: int  # 1-based index into passages
    text: str  # sentence (possibly trimmed), original script
    score: float
    coverage: float
    has_number: bool
    place: str = ""
    covered: set[int] = field(default_factory=set)
    sentence_coverage: float = 0.0  # sentence (+ its section heading) alone
    passage_coverage: float = 0.0
    units: set[str] = field(default_factory=set)
    quoted_ok: bool = True
    focus_ok: bool = True
    city: str = ""  # the city a national passage speaks for (NDRC practices)


def candidates(plan: QueryPlan, passages: list[NodeWithScore], concepts: list[Concept]) -> list[Candidate]:
    """Every sentence (six characters or more) of ``passages``, scored, in passage order."""
    out: list[Candidate] = []
    quoted = quoted_terms(plan.raw)
    focus = focus_word(plan.text.lower()) if not plan.english else None
    focus_concept = (
        next((c for c in concepts if any(focus in t for t in c.terms | c.partial)), None) if focus else None
    )
    for rank, nws in enumerate(passages, start=1):
        out.extend(_passage_candidates(plan, rank, nws, concepts, quoted, focus_concept))
    return out


def _passage_candidates(
    plan: QueryPlan,
    rank: int,
    nws: NodeWithScore,
    concepts: list[Concept],
    quoted: list[str],
    focus_concept: Concept | None,
) -> list[Candidate]:
    out: list[Candidate] = []
    md = nws.node.metadata
    body = nws.node.get_content()
    ctx = search_form(f"{md.get('title', '')} {md.get('section', '')} {md.get('city', '')}").lower()
    body_s = search_form(body).lower()
    p_cov, _ = coverage(ctx + body_s, concepts)
    quoted_ok = all(q in ctx + body_s for q in quoted)
    w = rule_weights().candidate
    prior = 1.0 / (1.0 + w.rank_decay * (rank - 1))
    place = place_of(md, plan.places)
    for sent in answerable_sentences(body):  # the index's sentence vectors are of exactly these
        sent_s = search_form(sent).lower()
        s_cov, hit = coverage(search_form(str(md.get("section", ""))).lower() + " " + sent_s, concepts)
        own_cov, _ = coverage(sent_s, concepts)
        bare = strip_heading(sent)
        has_num = bool(extract_numbers(bare))
        score = w.sentence * s_cov + w.own * own_cov + w.passage * p_cov + w.prior * prior
        score = _hinted(score, plan, sent, md, has_num)
        out.append(
            Candidate(
                passage_index=rank,
                text=sent,
                score=score,
                coverage=max(s_cov, w.passage_share * (s_cov + p_cov)),
                has_number=has_num,
                place=place,
                covered=hit,
                sentence_coverage=s_cov,
                passage_coverage=p_cov,
                units=number_units(bare) if has_num else set(),
                quoted_ok=quoted_ok,
                city=str(md.get("city", "")),
                focus_ok=focus_concept is None
                or focus_concept.score(search_form(str(md.get("section", ""))).lower() + " " + sent_s) >= w.focus_min,
            )
        )
    return out


def _hinted(score: float, plan: QueryPlan, sent: str, md: Mapping[str, Any], has_num: bool) -> float:
    """``score`` with the hints added in turn: a figure, an organisation or name, a bare heading, a city."""
    hint = rule_weights().hint
    if "number" in plan.kinds and has_num:
        score += hint.figure
    if "entity" in plan.kinds:
        if _ENTITY_HINT.search(sent):
            score += hint.entity
        if _DEPARTMENT_Q.search(plan.raw) and _DEPARTMENT.search(sent):
            score += hint.department
        if _NAME_Q.search(plan.raw) and _NAMED.search(sent):
            score += hint.name
    if _HEADING_ONLY.match(sent.strip()):
        score += hint.heading_only
    if "which_city" in plan.kinds and md.get("city"):
        score += hint.city
    return score


def admissible(plan: QueryPlan, cands: list[Candidate], threshold: float) -> list[Candidate]:
    """Sentences that may answer: enough of the question covered, the quoted name present,
    and for an amount/ratio/count/date question a figure of that kind stated."""
    unit = expected_unit(plan.raw) if "number" in plan.kinds else None
    out = []
    for c in cands:
        if c.coverage < threshold or not c.quoted_ok or not c.focus_ok:
            continue
        if "number" in plan.kinds and not c.has_number:
            continue
        if unit and unit not in c.units and not (unit == "money" and "percent" in c.units):
            continue
        out.append(c)
    return out


def place_of(md: Mapping[str, Any], places: list[str]) -> str:
    """The asked place a passage belongs to ("" when none): its city or a part of its jurisdiction."""
    parts = str(md.get("jurisdiction", "")).split("/")
    city = str(md.get("city", ""))
    for p in places:
        if p == city or p in parts:
            return p
    return ""


def strip_heading(sentence: str) -> str:
    return _HEADING_PREFIX.sub("", sentence, count=1)
