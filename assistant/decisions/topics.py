"""Reading a comparison question: the places it names, the topic (a table title), the question asked of
each place, and each place's own documents.

"温州、乐清对小升规企业分别怎么奖励？" -> places 温州市, 乐清市; topic "小升规企业 奖励"; each place is asked
"<place> 小升规企业怎么奖励". The words and patterns are ``data/comparison.toml``'s.
"""

from __future__ import annotations

import re

from assistant.core.lexicon import pattern, words
from assistant.core.text import search_form
from assistant.decisions.seams import RetrievingEngine
from assistant.retrieval.plan import NATIONAL, UNKNOWN, short_name
from assistant.retrieval.retriever import gazetteer_for

__all__ = ["default_jurisdictions", "own_documents", "split_topic"]

_COMPARISON_WORDS = pattern("comparison", "question.comparison_words", re.IGNORECASE)
_PLACE = "\x00"  # a place name taken out of the question
_PLACE_LIST = pattern("comparison", "question.place_list", re.IGNORECASE)
_NATIONAL_ASKED = pattern("comparison", "question.national_asked", re.IGNORECASE)
_CLAUSE_END = pattern("comparison", "question.clause_end")
_NO_TOPIC = frozenset(words("comparison", "question.no_topic"))
_QUESTION_TAIL = pattern("comparison", "question.question_tail")
_LEADING_LINKS = pattern("comparison", "question.leading_links", re.IGNORECASE)
_TRAILING_DE = pattern("comparison", "question.trailing_de")


def default_jurisdictions(engine: RetrievingEngine) -> list[str]:
    """The places that have documents of their own (the most specific level of each path)."""
    places = []
    for d in engine.retriever.catalog.documents:
        leaf = d.jurisdiction.split("/")[-1] if d.jurisdiction else ""
        if leaf and leaf not in (NATIONAL, UNKNOWN) and leaf not in places:
            places.append(leaf)
    return places


def split_topic(question: str, engine: RetrievingEngine) -> tuple[str, str, list[str]]:
    """A comparison question -> (topic, the question asked of each place, the places it names).

    The topic drops places, comparison and question words (a table title); the per-place question
    keeps 多少/哪些 so the answerer still knows an amount or a list is wanted.
    """
    gazetteer = gazetteer_for(engine.retriever.catalog)
    text = search_form(question)
    places = gazetteer.find(text)
    aliases = sorted({a for p in gazetteer.places if p.name in places for a in p.aliases}, key=len, reverse=True)
    for alias in aliases:
        pattern = rf"(?<![A-Za-z]){re.escape(alias)}(?![A-Za-z])" if alias.isascii() else re.escape(alias)
        text = re.sub(pattern, _PLACE, text, flags=re.IGNORECASE)
    if _NATIONAL_ASKED.search(text) and NATIONAL not in places:
        places.append(NATIONAL)  # "全国有哪些典型做法？" adds the national practices as a column
    text = _NATIONAL_ASKED.sub(" ", text)
    text = _PLACE_LIST.sub(" ", text)
    text = _COMPARISON_WORDS.sub(" ", text)
    clauses = [c for c in _CLAUSE_END.split(text) if c.strip()]
    # "…？温州呢？" / "…？乐清有没有相关规定？": a clause that only re-asks for places adds no topic
    kept = [c for c in clauses if _tidy(_QUESTION_TAIL.sub(" ", c)) not in _NO_TOPIC] or clauses
    asked = _tidy(" ".join(kept))
    topic = _tidy(_QUESTION_TAIL.sub(" ", " ".join(kept)))
    return (topic or question), (asked or question), places


def _tidy(text: str) -> str:
    text = _LEADING_LINKS.sub("", text.strip())
    text = _TRAILING_DE.sub("", re.sub(r"\s+", " ", text).strip(" 、,，和与及？?。"))
    return text.strip()


def own_documents(engine: RetrievingEngine, place: str) -> tuple[list[str], bool]:
    """Documents issued for ``place`` itself (else those of the places under it), and whether they are
    national documents that speak for it (an NDRC practice of that city) instead."""
    key = short_name(place)
    docs = engine.retriever.catalog.documents
    own = [d.doc_id for d in docs if d.jurisdiction and short_name(d.jurisdiction.split("/")[-1]) == key]
    if place == NATIONAL:
        return own or [d.doc_id for d in docs if d.jurisdiction == NATIONAL], False
    if own:
        return own, False
    under = [d.doc_id for d in docs if any(short_name(p) == key for p in d.jurisdiction.split("/"))]
    if under:
        return under, False
    cat = engine.retriever.catalog
    speaking = {
        n.metadata["doc_id"] for n in cat.nodes.values() if short_name(str(n.metadata.get("city", ""))) == key
    }
    return sorted(speaking), bool(speaking)
