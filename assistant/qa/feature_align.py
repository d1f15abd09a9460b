"""Question-to-candidate alignment features of the fitted answerer, from strings only.

The answer sentence of a reading-comprehension question usually repeats the question's rare words close
together and adds what the question leaves out: the asked-for date, number, person, place or name. So each
candidate gets, on the search form (Traditional read as Simplified) with the question words dropped
(``data/answer_types.toml``):

- the IDF-weighted share of the question's characters and character bigrams it holds, with IDF among all
  the question's candidate sentences (a word every retrieved sentence has weighs nothing) and among its
  own passage's sentences, and of the bigrams its passage's first sentence lacks (that sentence names the
  topic; the answer to "X的花期" is often a later sentence that never repeats X);
- the longest run of the question it repeats, and how tightly its matched runs sit (density of the span);
- whether the part it does not share with the question holds a token of the asked kind;
- its rank among the question's candidates by each of these and by the other features' main signals
  (relative values carry across paragraphs where absolute ones do not).

The fitting re-scores its cached records with ``extend`` (``eval/fit_answerer.py``), so a change here
needs no re-indexing; the answerer calls it through ``features.score``.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Sequence

from assistant.core.lexicon import pattern, table, words
from assistant.core.text import search_form

ALIGN_FEATURES = (
    "q_char_cover",  # IDF-weighted share of the question's content characters in the candidate
    "q_bigram_cover",  # ... of its character bigrams
    "q_bigram_cover_gap",  # how far below the question's best candidate
    "q_char_local",  # as q_char_cover, IDF among the sentences of the candidate's own passage: the subject every
    "q_bigram_local",  # sentence of the passage repeats weighs little, the asked predicate (首次出现, 墓碑上刻) much
    "beyond_lead",  # ... of the bigrams its passage's first sentence lacks: the asked predicate, not the topic
    "is_lead",  # the candidate is (a window of) its passage's first sentence, which names the topic
    "lcs_share",  # the longest run of the question's content repeated in the candidate, over its length
    "match_density",  # matched characters over the span from the first to the last matched run
    "rest_share",  # share of the candidate's characters the question does not repeat
    "type_in_rest",  # the question asks for a kind of answer and the unmatched part holds a token of it
    "type_missing",  # it asks for a kind and the candidate holds none outside the matched part
)
RANKED = ("e5_sim", "bm25", "char_overlap", "rule_score", "q_bigram_cover", "q_char_cover", "lcs_share",
          "q_bigram_local")
RANK_FEATURES = tuple(f"rank_{n}" for n in RANKED)  # 1 / (1 + rank among the question's candidates)
_KEEP = re.compile(r"[^\u3400-\u9fff0-9a-z]+")
_MIN_RUN = int(table("answer_types")["question"]["min_run"])  # shorter: a shared character, not a phrase
_ASKED = {k: pattern("answer_types", f"asked.{k}") for k in table("answer_types")["asked"]}  # in order
_STATED = {k: pattern("answer_types", f"stated.{k}") for k in table("answer_types")["stated"]}
_QUESTION_WORDS = tuple(sorted(words("answer_types", "question.words"), key=len, reverse=True))


def asked_kind(question: str) -> str | None:
    """The kind of answer the question word asks for (date, number, person, place, reason, name), or None."""
    q = search_form(question).lower()
    return next((k for k, asked in _ASKED.items() if asked.search(q)), None)


def content_runs(question: str) -> list[str]:
    """The question's runs of content characters: search form, question words and punctuation cut out."""
    q = search_form(question).lower()
    for w in _QUESTION_WORDS:  # longest first: 为什么 before 什么
        q = q.replace(w, "|")
    return [r for r in _KEEP.sub("|", q).split("|") if r]


def _grams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _matched(runs: list[str], form: str) -> tuple[int, list[tuple[int, int]]]:
    """(longest repeated run, the candidate's spans covered by maximal repeated runs of >= ``_MIN_RUN``)."""
    longest, spans = 0, []
    for run in runs:
        i = 0
        while i < len(run):
            j = i
            while j < len(run) and run[i : j + 1] in form:
                j += 1
            longest = max(longest, j - i)
            if j - i >= _MIN_RUN:
                at = form.find(run[i:j])
                spans.append((at, at + j - i))
            i = max(j, i + 1)
    return longest, spans


def _idf(units: Sequence[set[str]], keys: set[str]) -> dict[str, float]:
    n = len(units)
    return {k: math.log((n + 1) / (sum(k in u for u in units) + 0.5)) for k in sorted(keys)}  # fixed sum order


def _cover(idf: dict[str, float], have: set[str]) -> float:
    return sum(v for k, v in idf.items() if k in have) / (sum(idf.values()) or 1.0)


def align(question: str, texts: Sequence[str], sentences: Sequence[str], groups: Sequence[int]
          ) -> list[dict[str, float]]:
    """``ALIGN_FEATURES`` of each candidate text; ``sentences`` (one per text) are the IDF's documents,
    ``groups`` (one per text) the passage each comes from."""
    runs = content_runs(question)
    kind = asked_kind(question)
    stated = _STATED.get(kind) if kind else None
    forms = {t: _KEEP.sub("|", search_form(t).lower()) for t in {*texts, *sentences}}
    chars = {c for r in runs for c in r}
    grams = {g for r in runs for g in _grams(r)}
    docs = [forms[s] for s in dict.fromkeys(sentences)]
    idf_c = _idf([set(d) for d in docs], chars)
    idf_g = _idf([_grams(d) for d in docs], grams)
    local: dict[int, tuple[dict[str, float], dict[str, float]]] = {}
    for g in set(groups):
        mine = [forms[s] for s in dict.fromkeys(s for s, h in zip(sentences, groups, strict=True) if h == g)]
        local[g] = (_idf([set(d) for d in mine], chars), _idf([_grams(d) for d in mine], grams))
    q_len = max((len(r) for r in runs), default=1)
    out = []
    lead = {g: s for g, s in reversed(list(zip(groups, sentences, strict=True)))}
    beyond = {g: {k: v for k, v in local[g][1].items() if k not in _grams(forms[lead[g]])} for g in local}
    for t, g, sentence in zip(texts, groups, sentences, strict=True):
        form = forms[t]
        have_c, have_g = set(form), _grams(form)
        longest, spans = _matched(runs, form)
        mask = [False] * len(form)
        for a, b in spans:
            mask[a:b] = [True] * (b - a)
        rest = "".join("|" if m else ch for ch, m in zip(form, mask, strict=True))
        size = sum(ch != "|" for ch in form) or 1
        first, last = min((a for a, _ in spans), default=0), max((b for _, b in spans), default=0)
        in_rest = bool(stated and stated.search(rest))
        out.append({
            "q_char_cover": _cover(idf_c, have_c),
            "q_bigram_cover": _cover(idf_g, have_g),
            "q_char_local": _cover(local[g][0], have_c),
            "q_bigram_local": _cover(local[g][1], have_g),
            "beyond_lead": _cover(beyond[g], have_g) if beyond[g] else 0.0,
            "is_lead": float(sentence == lead[g]),
            "lcs_share": longest / q_len,
            "match_density": sum(mask) / (last - first) if last > first else 0.0,
            "rest_share": sum(ch != "|" for ch in rest) / size,
            "type_in_rest": float(in_rest),
            "type_missing": float(bool(kind) and not in_rest),
        })
    best = max((f["q_bigram_cover"] for f in out), default=0.0)
    for f in out:
        f["q_bigram_cover_gap"] = best - f["q_bigram_cover"]
    return out


def ranks(rows: Sequence[dict[str, float]], names: Sequence[str], prefix: str) -> None:
    """Add ``<prefix><name>``: 1 / (1 + the number of ``rows`` scoring strictly higher on ``name``)."""
    for name in names:
        values = [r.get(name, math.nan) for r in rows]
        known = sorted(v for v in values if v is not None and not math.isnan(v))
        for r, v in zip(rows, values, strict=True):
            r[f"{prefix}{name}"] = (math.nan if v is None or math.isnan(v)
                                    else 1.0 / (1 + len(known) - bisect_right(known, v)))


def extend(question: str, texts: Sequence[str], sentences: Sequence[str], groups: Sequence[int],
           rows: Sequence[dict[str, float]]) -> None:
    """Add the alignment and rank features to each candidate's feature row (in place)."""
    for row, extra in zip(rows, align(question, texts, sentences, groups), strict=True):
        row.update(extra)
    ranks(rows, RANKED, "rank_")
