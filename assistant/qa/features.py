"""Named features of each candidate answer for the fitted answerer (``assistant.qa.fitted``).

A candidate is a sentence of the top passages or, for a sentence longer than the answer limit, a
window of its consecutive clauses within that limit (the answer is then the window, not a guess at
which clauses to keep). Each gets the rules' own judgement as features, the question's e5 similarity
to the sentence (from the index's sentence vectors; NaN when there are none: the model then imputes
its training mean, i.e. the feature says nothing), a BM25 of the question's words among the
candidates, the heading's overlap with the question, the neighbours' signals, a year match and
conflict, and each signal's gap to the question's best candidate; then ``feature_align``'s question-to-
candidate alignment, asked-kind and rank features.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from llama_index.core.schema import NodeWithScore

from assistant.core.text import search_form, tokenize
from assistant.qa.extractive.candidates import CLAUSE_SPLIT, Candidate
from assistant.qa.extractive.scoring import Concept, coverage
from assistant.qa.feature_align import ALIGN_FEATURES, RANK_FEATURES, extend

BASE_FEATURES = (
    "rule_score",  # the hand-set answerer's own score of the sentence
    "rule_score_gap",  # how far below the question's best rule score
    "sentence_coverage",  # question concepts (glossary synonyms counted) in the sentence + its heading
    "passage_coverage",  # ... in the whole passage with its title
    "admissible",  # the rules would accept it (coverage, quoted name, asked-for noun, figure type)
    "focus_ok",  # the asked-for noun is present
    "quoted_ok",  # every quoted name is present
    "unit_present",  # the question expects a figure type and the sentence states one
    "unit_missing",  # the question expects a figure type and the sentence states none
    "has_number",
    "year_match",  # a year the question names is in the sentence
    "year_conflict",  # the question names a year, the sentence names only others
    "char_overlap",  # share of the question's character bigrams in the candidate
    "char_overlap_gap",  # how far below the question's best overlap
    "rank_prior",  # 1 / passage rank
    "fused_score",  # the passage's fused retrieval score relative to the top passage's
    "fused_raw",  # ... as it is (a near miss scores low everywhere)
    "passage_overlap",  # share of the question's character bigrams in the passage with its title
    "log_chars",
    "e5_sim",  # cosine of the question ("query: ") and the sentence ("passage: "), same embedder as the index
    "e5_sim_gap",  # how far below the question's most similar sentence
    "e5_top",  # the most similar sentence of all candidates
    "bm25",  # BM25 of the question's words in the candidate, among the candidates, relative to the best
    "heading_overlap",  # share of the question's character bigrams in the section heading
    "adjacent_overlap",  # the better neighbouring sentence's char_overlap (the answer often follows the cue)
    "adjacent_e5",  # ... its e5 similarity
    "is_window",  # a clause window of a long sentence, not a whole sentence
    "window_share",  # the window's share of its sentence
)
FEATURES = (*BASE_FEATURES, *ALIGN_FEATURES, *RANK_FEATURES)  # the last two: ``feature_align``
_YEAR = re.compile(r"(?:1[89]|20)\d{2}")
_CJK_OR_DIGIT = re.compile(r"[^\u4e00-\u9fff0-9a-z]")


@dataclass
class Scored:
    candidate: Candidate
    features: dict[str, float]
    sentence: str = ""  # the whole sentence a clause window was cut from (the candidate's text otherwise)
    probability: float = 0.0


@dataclass(frozen=True)
class Inputs:
    """What scoring a question's candidates needs besides the candidates."""

    question: str  # the plan's search text
    unit: str | None  # the kind of figure the question asks for
    passages: Sequence[NodeWithScore]
    admissible: set[tuple[int, str]]  # (passage index, sentence) the rules accept
    similarity: dict[tuple[int, str], float] | None  # (passage index, sentence) -> e5 cosine; None: unknown
    max_chars: int  # clause windows are cut for sentences longer than this
    bm25_k1: float
    bm25_b: float
    raw: str = ""  # the question as asked (its question words tell the kind of answer); ``question`` if empty


def bigrams(text: str) -> set[str]:
    text = _CJK_OR_DIGIT.sub("", search_form(text).lower())
    return {text[i : i + 2] for i in range(len(text) - 1)} or ({text} if text else set())


def clause_windows(sentence: str, limit: int) -> list[str]:
    """For a sentence longer than ``limit``: the maximal runs of consecutive clauses within it (a run
    inside the one before it is left out); none for a shorter sentence."""
    sentence = sentence.strip()
    if len(sentence) <= limit:
        return []
    clauses = [c for c in CLAUSE_SPLIT.split(sentence) if c]
    out: list[str] = []
    last_end = 0
    for i in range(len(clauses)):
        text, j = clauses[i], i + 1
        while j < len(clauses) and len(text) + len(clauses[j]) <= limit:
            text += clauses[j]
            j += 1
        text = text.strip().rstrip("，,：:；;")
        if j > last_end and 0 < len(text) <= limit:
            out.append(text)
            last_end = j
    return out


def with_windows(cands: list[Candidate], concepts: list[Concept], limit: int) -> list[tuple[Candidate, str]]:
    """(candidate, its sentence) for every sentence and every clause window of a long one."""
    out: list[tuple[Candidate, str]] = []
    for c in cands:
        out.append((c, c.text))
        if len(c.text) <= limit:
            continue
        for w in clause_windows(c.text, limit):
            cov, hit = coverage(search_form(w).lower(), concepts)
            out.append((replace(c, text=w, sentence_coverage=cov, covered=hit), c.text))
    return out


def bm25(question: str, texts: Sequence[str], k1: float, b: float) -> np.ndarray:
    """BM25 of the question's jieba words (as the sparse leg cuts them) in each text, among these texts.

    The texts are matched by substring, not re-segmented: segmenting ~60 sentences per question would
    cost tens of milliseconds.
    """
    terms = list(dict.fromkeys(t for t in tokenize(question) if len(t) >= 2 or t.isdigit()))
    forms = [search_form(t).lower() for t in texts]
    if not terms or not forms:
        return np.zeros(len(texts))
    tf = np.array([[f.count(t) for t in terms] for f in forms], dtype=float)
    n = len(forms)
    df = (tf > 0).sum(axis=0)
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
    lengths = np.array([max(len(f), 1) for f in forms], dtype=float)
    norm = k1 * (1 - b + b * lengths / lengths.mean())
    return ((tf * (k1 + 1)) / (tf + norm[:, None]) * idf).sum(axis=1)


def score(items: list[tuple[Candidate, str]], x: Inputs) -> list[Scored]:
    """Every candidate with its named features (``FEATURES``), no probabilities yet."""
    q_grams = bigrams(x.question)
    years = set(_YEAR.findall(x.question))
    top = max((float(p.score or 0.0) for p in x.passages), default=0.0) or 1.0
    overlaps = [len(q_grams & bigrams(c.text)) / max(len(q_grams), 1) for c, _ in items]
    sims = [np.nan if x.similarity is None else x.similarity.get((c.passage_index, s), np.nan) for c, s in items]
    known = [v for v in sims if not math.isnan(v)]
    best_sim = max(known) if known else np.nan
    lexical = bm25(x.question, [c.text for c, _ in items], x.bm25_k1, x.bm25_b)
    lexical = lexical / (lexical.max() or 1.0)
    neighbours = _neighbours(items, overlaps, sims)
    in_passage = [len(q_grams & bigrams(f"{p.node.metadata.get('title', '')} {p.node.get_content()}"))
                  / max(len(q_grams), 1) for p in x.passages]
    best_rule, best_overlap = max(c.score for c, _ in items), max(overlaps)
    out = []
    for k, (c, sentence) in enumerate(items):
        passage = x.passages[c.passage_index - 1]
        stated = set(_YEAR.findall(c.text))
        heading = str(passage.node.metadata.get("section", ""))
        f = {
            "rule_score": c.score,
            "rule_score_gap": best_rule - c.score,
            "sentence_coverage": c.sentence_coverage,
            "passage_coverage": c.passage_coverage,
            "admissible": float((c.passage_index, sentence) in x.admissible),
            "focus_ok": float(c.focus_ok),
            "quoted_ok": float(c.quoted_ok),
            "unit_present": float(bool(x.unit) and x.unit in c.units),
            "unit_missing": float(bool(x.unit) and x.unit not in c.units),
            "has_number": float(c.has_number),
            "year_match": float(bool(years & stated)),
            "year_conflict": float(bool(years) and bool(stated) and not years & stated),
            "char_overlap": overlaps[k],
            "char_overlap_gap": best_overlap - overlaps[k],
            "rank_prior": 1.0 / c.passage_index,
            "fused_score": float(passage.score or 0.0) / top,
            "fused_raw": float(passage.score or 0.0),
            "passage_overlap": in_passage[c.passage_index - 1],
            "log_chars": math.log(1 + len(c.text)),
            "e5_sim": sims[k],
            "e5_sim_gap": best_sim - sims[k],
            "e5_top": np.nan if math.isnan(sims[k]) else float(sims[k] >= best_sim),
            "bm25": float(lexical[k]),
            "heading_overlap": len(q_grams & bigrams(heading)) / max(len(q_grams), 1) if heading else 0.0,
            "adjacent_overlap": neighbours[sentence][0],
            "adjacent_e5": neighbours[sentence][1],
            "is_window": float(c.text != sentence),
            "window_share": len(c.text) / max(len(sentence), 1),
        }
        out.append(Scored(c, f, sentence))
    extend(x.raw or x.question, [s.candidate.text for s in out], [s.sentence for s in out],
           [s.candidate.passage_index for s in out], [s.features for s in out])
    return out


def _neighbours(items: list[tuple[Candidate, str]], overlaps: list[float], sims: list[float]
                ) -> dict[str, tuple[float, float]]:
    """Sentence -> (best char overlap, best e5 similarity) of the sentences just before and after it."""
    order = [(c.passage_index, s, overlaps[k], sims[k]) for k, (c, s) in enumerate(items) if c.text == s]
    out: dict[str, tuple[float, float]] = {}
    for i, (p, s, _, _) in enumerate(order):
        near = [order[j] for j in (i - 1, i + 1) if 0 <= j < len(order) and order[j][0] == p]
        ov = max((n[2] for n in near), default=0.0)
        e5 = [n[3] for n in near if not math.isnan(n[3])]
        prev = out.get(s, (0.0, np.nan))
        out[s] = (max(ov, prev[0]), max(e5, default=prev[1]))
    for _, s in items:
        out.setdefault(s, (0.0, np.nan))
    return out
