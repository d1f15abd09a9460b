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
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.schema import NodeWithScore

from assistant.core.schema import Answer
from assistant.qa.context import AnswerContext
from assistant.qa.extractive.answerer import ExtractiveAnswerer, refusal
from assistant.qa.extractive.candidates import admissible, candidates
from assistant.qa.extractive.composing import city_prefix, trim
from assistant.qa.extractive.figures import expected_unit
from assistant.qa.features import FEATURES, Inputs, Scored, score, with_windows

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "data" / "answer_model.json"


@dataclass(frozen=True)
class AnswerModel:
    """A logistic regression over standardised features, read from the model file.

    A feature that is missing for a candidate (NaN: no sentence vectors in the index) takes the training
    mean, so it adds nothing to the score.
    """

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float  # decline below this probability of the best candidate
    second_ratio: float  # a second sentence joins when its probability is at least this share of the best
    max_chars: int  # an answer longer than this is trimmed; longer sentences also get clause windows
    provenance: dict[str, Any]
    windows: bool = False  # clause windows of long sentences are candidates
    bm25_k1: float = 1.5
    bm25_b: float = 0.75
    # rules first: when the rules have an admissible sentence and the model gives their best one at least
    # this probability, the rules' answer stands (None: the model alone)
    agree: float | None = None

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
            windows=bool(data.get("windows", False)),
            bm25_k1=float(data.get("bm25_k1", 1.5)),
            bm25_b=float(data.get("bm25_b", 0.75)),
            agree=None if data.get("agree") is None else float(data["agree"]),
        )

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        rows = np.where(np.isnan(rows), self.mean, rows)
        z = ((rows - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


@lru_cache(maxsize=4)
def load_model(path: str = str(DEFAULT_MODEL)) -> AnswerModel:
    return AnswerModel.load(Path(path))


__all__ = ["DEFAULT_MODEL", "FEATURES", "AnswerModel", "FittedAnswerer", "Scored", "load_model"]


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
        ok = {(c.passage_index, c.text) for c in admissible(plan, cands, self.min_coverage)}
        m = self.model
        items = with_windows(cands, ideas, m.max_chars) if m.windows else [(c, c.text) for c in cands]
        similarity = context.similarity(passages) if context.similarity is not None else None
        inputs = Inputs(plan.text, expected_unit(plan.raw), passages, ok, similarity, m.max_chars, m.bm25_k1, m.bm25_b,
                        plan.raw)
        return score(items, inputs)

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
        if self._rules_agree(ranked):
            return super().answer(question, passages, context)
        if not ranked or ranked[0].probability < self.model.threshold:
            return refusal()
        ideas = self._concepts(plan, context)
        chosen = [ranked[0]]
        for s in ranked[1:2]:
            best, other = ranked[0].candidate.text, s.candidate.text
            if s.probability >= self.model.second_ratio * ranked[0].probability and other not in best and best not in other:
                chosen.append(s)  # a second piece, never one inside the other
        pieces, quotes = [], {}
        for s in chosen:
            c = s.candidate
            text = trim(c.text, ideas, self.model.max_chars)
            pieces.append(f"{city_prefix(c)}{text}[{c.passage_index}]")
            quotes.setdefault(c.passage_index, text.strip("…"))
        return self._finish(question, plan, "".join(pieces), quotes, passages)

    def _rules_agree(self, ranked: list[Scored]) -> bool:
        """The rules have an admissible sentence and the model finds their best one probable enough."""
        if self.model.agree is None:
            return False
        ok = [s for s in ranked if s.features["admissible"] and s.candidate.text == s.sentence]
        return bool(ok) and max(ok, key=lambda s: s.features["rule_score"]).probability >= self.model.agree
