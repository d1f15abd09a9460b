"""The rules answerer's hand-set numbers, read once from ``assistant/data/rules_answerer.toml``."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources

from pydantic import BaseModel, ConfigDict


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CoverageWeights(_Table):
    word: float
    synonym: float
    partial: float
    numeric_weight: float
    unseen_word_weight: float
    idf_floor: float
    default_base: float
    default_per_char: float
    default_max_chars: int


class CandidateWeights(_Table):
    sentence: float
    own: float
    passage: float
    prior: float
    rank_decay: float
    passage_share: float
    focus_min: float


class HintWeights(_Table):
    figure: float
    entity: float
    department: float
    name: float
    heading_only: float
    city: float


class AnswerRules(_Table):
    max_passages: int
    min_coverage: float
    comparing_coverage: float
    factoid_chars: int
    fact_sentences: int
    list_sentences: int
    fact_budget_extra: int
    list_budget: int
    fact_ratio: float
    list_ratio: float
    disagreement: float
    trim_figure_bonus: float
    trim_length_penalty: float


class RuleWeights(_Table):
    coverage: CoverageWeights
    candidate: CandidateWeights
    hint: HintWeights
    answer: AnswerRules


@lru_cache(maxsize=1)
def rule_weights() -> RuleWeights:
    """The file, validated (a missing or misspelt key fails at start-up, not mid-answer)."""
    text = resources.files("assistant").joinpath("data", "rules_answerer.toml").read_text(encoding="utf-8")
    return RuleWeights.model_validate(tomllib.loads(text))
