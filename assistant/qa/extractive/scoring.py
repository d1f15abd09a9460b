"""The question's ideas and how much of them a text covers, weighted by how rare each word is.

Glossary synonyms count as one idea; a shorter word inside a question word counts half.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.core.text import sub_words, words
from assistant.qa.extractive.questions import QUESTION_WORDS
from assistant.qa.extractive.weights import rule_weights
from assistant.retrieval.plan import QueryPlan, glossary, short_name


@dataclass
class Concept:
    """One idea of the question: any full term counts fully (a word or its glossary synonyms),
    a shorter word inside it counts half (所得税 inside 个人所得税)."""

    terms: set[str]
    weight: float
    partial: set[str] = field(default_factory=set)
    numeric: bool = False
    word: str = ""  # the question's own word (a synonym counts a little less)

    def score(self, text: str) -> float:
        w = rule_weights().coverage
        if self.word and self.word in text:
            return w.word
        if any(t in text for t in self.terms):
            return w.synonym
        if any(t in text for t in self.partial):
            return w.partial
        return 0.0


def default_weight(term: str) -> float:
    w = rule_weights().coverage
    return w.default_base + w.default_per_char * min(len(term), w.default_max_chars)


def idf_from_bm25(bm25: object, n_docs: int) -> Callable[[str], float]:
    """Term weights from the BM25 index's document frequencies: rare words matter more."""
    frequency = getattr(bm25, "document_frequency", None)
    w = rule_weights().coverage

    def weight(term: str) -> float:
        df = frequency(term) if frequency is not None else 0
        if not df:
            return w.unseen_word_weight if len(term) >= 2 else default_weight(term)  # a topic the corpus lacks
        return max(math.log(1 + (n_docs - df + 0.5) / (df + 0.5)), w.idf_floor)

    return weight


def concepts(plan: QueryPlan, idf: Callable[[str], float]) -> list[Concept]:
    """The ideas an answer must cover: the question's words without its form words and places."""
    groups, _ = glossary()
    place_terms = {t.lower() for p in plan.places for t in (p, short_name(p))}
    if plan.english:
        source = " ".join([*plan.translations, *re.findall(r"\d+(?:\.\d+)?", plan.text)])
    else:
        source = plan.text
    found: list[Concept] = []
    seen: set[str] = set()
    for word in words(source):
        if word in seen or word in QUESTION_WORDS or word in place_terms or short_name(word) in place_terms:
            continue
        if not re.search(r"[\u4e00-\u9fff0-9a-z]", word):
            continue
        numeric = bool(re.fullmatch(r"[\d.]+|[\d.]+[%万亿元年月日天个家项]+", word))
        if len(word) < 2 and not numeric:
            continue
        seen.add(word)
        terms = {word}
        for group in groups:
            if word in group:
                terms |= set(group)
        partial = {w for w in sub_words(word) if w not in QUESTION_WORDS} if len(word) >= 3 else set()
        weight = idf(word) * (rule_weights().coverage.numeric_weight if numeric else 1.0)
        found.append(Concept(terms=terms, weight=weight, partial=partial, numeric=numeric, word=word))
    return [c for c in found if c.weight > 0]


def coverage(text: str, concepts: list[Concept]) -> tuple[float, set[int]]:
    """Weighted share of the ideas ``text`` covers, and which ones (indexes into ``concepts``)."""
    total = sum(c.weight for c in concepts)
    got = 0.0
    hit: set[int] = set()
    for i, c in enumerate(concepts):
        s = c.score(text)
        if s:
            got += s * c.weight
            hit.add(i)
    return (got / total if total else 0.0), hit
