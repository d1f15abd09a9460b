"""Understanding a question before retrieval: normal form, glossary expansion, places, named documents, kind.

Nothing here is keyed to particular questions: places come from the indexed documents'
jurisdictions (and the cities their passages speak for), synonyms from ``data/glossary.toml``, the word
lists and question-kind patterns from ``data/retrieval.toml``.
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from assistant.core.lexicon import pattern, table, words
from assistant.core.text import pos_tokenizer, search_form
from assistant.retrieval.documents import Document, DocumentNames, named_documents
from assistant.retrieval.gazetteer import NATIONAL, UNKNOWN, Gazetteer, Place, short_name
from assistant.settings import Settings, get_settings

__all__ = [
    "NATIONAL",
    "UNKNOWN",
    "Gazetteer",
    "Place",
    "QueryPlan",
    "detect_kinds",
    "english_terms",
    "expand",
    "glossary",
    "plan_query",
    "pos_tags",
    "short_name",
    "unknown_places",
]

_LEADING_PUNCT = re.compile(r"^[\s，,：:]+")  # left at the start when a question's date phrase is taken out
_GENERIC_PLACES = frozenset(words("retrieval", "places.generic"))
_NOT_PLACES = frozenset(words("retrieval", "places.english_not_places"))
_PINYIN_WORD = pattern("retrieval", "places.pinyin_word")
_CAPITALISED = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-Z][a-z]{3,})\b")  # not a sentence's first word
_KIND_PATTERNS = {kind: re.compile(regex) for kind, regex in table("retrieval")["kinds"].items()}
_named_documents = named_documents  # tests and callers holding a plain list of documents


@lru_cache(maxsize=1)
def glossary() -> tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, str], ...]]:
    data = table("glossary")
    groups = tuple(tuple(g) for g in data.get("synonyms", []))
    english = tuple(sorted(data.get("english", {}).items(), key=lambda kv: -len(kv[0])))
    return groups, english


def pos_tags(text: str) -> list[tuple[str, str]]:
    """(word, jieba part-of-speech flag) pairs, with the policy dictionary."""
    return [(w.word.strip(), w.flag) for w in pos_tokenizer().cut(text, HMM=False) if w.word.strip()]


def english_place_names(text: str) -> list[str]:
    """Capitalised pinyin words inside an English question (Shenzhen, Hangzhou): likely place names."""
    out = []
    for m in _CAPITALISED.finditer(text):
        word = m.group(1)
        if word.lower() not in _NOT_PLACES and _PINYIN_WORD.fullmatch(word.lower()):
            out.append(word)
    return out


def unknown_places(text: str, gazetteer: Gazetteer, vocabulary: Container[str] = ()) -> list[str]:
    """Place names (jieba 'ns') the corpus never mentions: the answer is then 'not covered'.

    A place the documents mention in passing (长三角, 上海) is not unknown: a passage may still answer.
    """
    known = gazetteer.known
    out = []
    for w in pos_tokenizer().cut(text, HMM=False):
        word = w.word.strip()
        if not w.flag.startswith("ns") or len(word) < 2 or word in _GENERIC_PLACES:
            continue
        if word in known or short_name(word) in known or any(k in word for k in gazetteer.known_words):
            continue
        if word in vocabulary or short_name(word) in vocabulary:
            continue
        out.append(word)
    for word in english_place_names(text):
        if word.lower() not in known:
            out.append(word)
    return list(dict.fromkeys(out))


@dataclass
class QueryPlan:
    raw: str
    text: str  # search form of the question
    bm25_text: str  # text + glossary expansions + English terms rendered in Chinese
    places: list[str] = field(default_factory=list)
    named_docs: list[str] = field(default_factory=list)  # doc_ids named by title or 文号
    kinds: set[str] = field(default_factory=set)
    english: bool = False
    unknown_places: list[str] = field(default_factory=list)  # places named that the corpus does not cover
    translations: list[str] = field(default_factory=list)  # Chinese glossary terms for an English question
    as_of: date | None = None  # the date the question states ("2024年时…"), answered as of that day
    date_phrase: str = ""  # the words stating it, left out of the search text


def detect_kinds(text: str) -> set[str]:
    lower = text.lower()
    return {k for k, pat in _KIND_PATTERNS.items() if pat.search(lower)}


def english_terms(lower: str) -> list[str]:
    _, english = glossary()
    out = []
    for term, zh in english:
        if re.search(rf"(?<![a-z]){re.escape(term)}(?![a-z])", lower):
            out.append(zh)
    return out


def expand(text: str) -> list[str]:
    groups, _ = glossary()
    extra: list[str] = []
    for group in groups:
        if any(term in text for term in group):
            extra.extend(t for t in group if t not in text)
    return extra


def plan_query(
    question: str,
    gazetteer: Gazetteer,
    documents: DocumentNames | Sequence[Document],
    vocabulary: Container[str] = (),
    today: date | None = None,
    settings: Settings | None = None,
) -> QueryPlan:
    """``documents``: the build's ``DocumentNames`` (``assistant.retrieval.builds.document_names``), or a list of
    (doc_id, title, doc_number); ``today`` reads 去年时 (default: the clock)."""
    from assistant.core.dates import question_date
    from assistant.core.validity import today as clock

    text = search_form(question).strip()
    stated = question_date(text, today or clock())
    if stated is not None:  # "2024年时，温州…" searches as "温州…" on 2024-12-31
        text = _LEADING_PUNCT.sub("", text.replace(stated.phrase, " ", 1)).strip() or text
    lower = text.lower()
    latin = sum(c.isascii() and c.isalpha() for c in text)
    han = sum("\u4e00" <= c <= "\u9fff" for c in text)
    english = latin > (settings or get_settings()).retrieval.english_ratio * max(han, 1)
    extras = expand(text)
    translations = english_terms(lower) if english else []
    extras += translations + [t for zh in translations for t in expand(zh)]
    places = gazetteer.find(text)
    if isinstance(documents, DocumentNames):
        named = documents.named(text)
    else:
        named = named_documents(text, documents, gazetteer.chinese_aliases)
    plan = QueryPlan(
        raw=question,
        text=text,
        bm25_text=" ".join([text, *extras]),
        places=places,
        named_docs=named,
        kinds=detect_kinds(text),
        english=english,
        unknown_places=unknown_places(text, gazetteer, vocabulary),
        translations=translations,
        as_of=stated.day if stated else None,
        date_phrase=stated.phrase if stated else "",
    )
    if len(places) >= 2:
        plan.kinds.add("comparison")
    return plan
