"""The fitted offline answerer: the rules' sentence features, weighed by a model fitted on data nobody here wrote.

The hand-set answerer sums its features with weights chosen by eye and declines below a coverage set
the same way. Here every candidate sentence gets named features (the rules' coverage, the asked-for
noun, the expected figure type, the quoted name, the passage's rank and fused score, the question's
character overlap, a year match), and a logistic regression fitted by ``python -m eval fit-answerer``
turns them into the probability that the sentence answers. The answer is the most probable sentence;
the answerer declines when that probability is below a threshold chosen on held-back data. Every
number lives in the model file (``assistant/data/answer_model.json``) with its provenance.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.schema import NodeWithScore

from assistant.core.schema import Answer
from assistant.core.text import search_form
from assistant.qa.context import AnswerContext
from assistant.qa.extractive.answerer import ExtractiveAnswerer, refusal
from assistant.qa.extractive.candidates import Candidate, admissible, candidates
from assistant.qa.extractive.composing import city_prefix, trim
from assistant.qa.extractive.figures import expected_unit

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "data" / "answer_model.json"
FEATURES = (
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
    "char_overlap",  # share of the question's character bigrams in the sentence
    "char_overlap_gap",  # how far below the question's best overlap
    "rank_prior",  # 1 / passage rank
    "fused_score",  # the passage's fused retrieval score relative to the top passage's
    "fused_raw",  # ... as it is (a near miss scores low everywhere)
    "passage_overlap",  # share of the question's character bigrams in the passage with its title
    "log_chars",
)
_YEAR = re.compile(r"(?:1[89]|20)\d{2}")
_CJK_OR_DIGIT = re.compile(r"[^\u4e00-\u9fff0-9a-z]")


@dataclass
class Scored:
    candidate: Candidate
    features: dict[str, float]
    probability: float = 0.0


@dataclass(frozen=True)
class AnswerModel:
    """A logistic regression over standardised features, read from the model file."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float  # decline below this probability of the best candidate
    second_ratio: float  # a second sentence joins when its probability is at least this share of the best
    max_chars: int  # an answer sentence longer than this is trimmed to the clauses that cover the question
    provenance: dict[str, Any]

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL) -> AnswerModel:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(
            features=tuple(data["features"]),
            mean=np.asarray(data["mean"], dtype=float),
            scale=np.asarray(data["scale"], dtype=float),
            coef=np.asarray(data["coef"], dtype=float),
            intercept=float(data["intercept"]),
            threshold=float(data["threshold"]),
            second_ratio=float(data["second_ratio"]),
            max_chars=int(data["max_chars"]),
            provenance=dict(data.get("provenance", {})),
        )

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        z = ((rows - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


@lru_cache(maxsize=4)
def load_model(path: str = str(DEFAULT_MODEL)) -> AnswerModel:
    return AnswerModel.load(Path(path))


def _bigrams(text: str) -> set[str]:
    text = _CJK_OR_DIGIT.sub("", search_form(text).lower())
    return {text[i : i + 2] for i in range(len(text) - 1)} or ({text} if text else set())


class FittedAnswerer(ExtractiveAnswerer):
    """The extractive answerer's candidates and composition, with a fitted model choosing and declining."""

    name = "extractive"  # same answerer family for clients and reports: offline, cited sentences

    def __init__(self, model: AnswerModel | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model or load_model()

    def scored(
        self, question: str, passages: list[NodeWithScore], context: AnswerContext | None = None
    ) -> list[Scored]:
        """Every candidate sentence of the top passages with its named features (no probabilities)."""
        context = context or AnswerContext()
        plan = context.plan_for(question)
        passages = passages[: self.max_passages]
        ideas = self._concepts(plan, context)
        if not passages or not any(not c.numeric for c in ideas):
            return []
        cands = candidates(plan, passages, ideas)
        if not cands:
            return []
        ok = {id(c) for c in admissible(plan, cands, self.min_coverage)}
        unit = expected_unit(plan.raw)
        q_grams = _bigrams(plan.text)
        years = set(_YEAR.findall(plan.text))
        top = max((float(p.score or 0.0) for p in passages), default=0.0) or 1.0
        best_rule = max(c.score for c in cands)
        overlaps = [len(q_grams & _bigrams(c.text)) / max(len(q_grams), 1) for c in cands]
        best_overlap = max(overlaps)
        in_passage = [
            len(q_grams & _bigrams(f"{p.node.metadata.get('title', '')} {p.node.get_content()}")) / max(len(q_grams), 1)
            for p in passages
        ]
        out = []
        for c, overlap in zip(cands, overlaps, strict=True):
            f = {
                "rule_score": c.score,
                "rule_score_gap": best_rule - c.score,
                "sentence_coverage": c.sentence_coverage,
                "passage_coverage": c.passage_coverage,
                "admissible": float(id(c) in ok),
                "focus_ok": float(c.focus_ok),
                "quoted_ok": float(c.quoted_ok),
                "unit_present": float(bool(unit) and unit in c.units),
                "unit_missing": float(bool(unit) and unit not in c.units),
                "has_number": float(c.has_number),
                "year_match": float(bool(years) and any(y in c.text for y in years)),
                "char_overlap": overlap,
                "char_overlap_gap": best_overlap - overlap,
                "rank_prior": 1.0 / c.passage_index,
                "fused_score": float(passages[c.passage_index - 1].score or 0.0) / top,
                "fused_raw": float(passages[c.passage_index - 1].score or 0.0),
                "passage_overlap": in_passage[c.passage_index - 1],
                "log_chars": math.log(1 + len(c.text)),
            }
            out.append(Scored(c, f))
        return out

    def rank(
        self, question: str, passages: list[NodeWithScore], context: AnswerContext | None = None
    ) -> list[Scored]:
        """The candidates, most probable first."""
        items = self.scored(question, passages, context)
        if not items:
            return []
        rows = np.array([[s.features[name] for name in self.model.features] for s in items], dtype=float)
        for s, p in zip(items, self.model.probabilities(rows), strict=True):
            s.probability = float(p)
        return sorted(items, key=lambda s: -s.probability)

    def answer(self, question: str, passages: list[NodeWithScore], context: AnswerContext | None = None) -> Answer:
        context = context or AnswerContext()
        plan = context.plan_for(question)
        context = replace(context, plan=plan)  # the question read once, for the rules' answer and ``rank``
        if plan.unknown_places and not plan.places:
            return refusal(f"文件不涉及{'、'.join(map(str, plan.unknown_places))}")
        if "comparison" in plan.kinds and len(plan.places) >= 2:  # per-place tables stay with the rules
            return super().answer(question, passages, context)
        ranked = self.rank(question, passages, context)
        if not ranked or ranked[0].probability < self.model.threshold:
            return refusal()
        ideas = self._concepts(plan, context)
        chosen = [ranked[0]]
        for s in ranked[1:2]:
            if s.probability >= self.model.second_ratio * ranked[0].probability and s.candidate.text != ranked[0].candidate.text:
                chosen.append(s)
        pieces, quotes = [], {}
        for s in chosen:
            c = s.candidate
            text = trim(c.text, ideas, self.model.max_chars)
            pieces.append(f"{city_prefix(c)}{text}[{c.passage_index}]")
            quotes.setdefault(c.passage_index, text.strip("…"))
        return self._finish(question, plan, "".join(pieces), quotes, passages)
