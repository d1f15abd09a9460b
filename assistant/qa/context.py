"""The answerer seam: what every answerer is given besides the passages, and the one call it answers.

The engine knows more about a question than its text: the retrieval's reading of it (places, kinds, the
date phrase taken out), the index's term weights, and which document is in force on the answer's date.
``AnswerContext`` carries that, typed; an answerer called without it (a baseline, a unit test) reads the
question itself (``plan_without_index``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from llama_index.core.schema import NodeWithScore

from assistant.core.schema import Answer
from assistant.core.text import search_form
from assistant.retrieval.plan import QueryPlan, detect_kinds, english_terms, expand


@dataclass(frozen=True)
class AnswerContext:
    """The engine's knowledge of a question, for the answerer."""

    plan: QueryPlan | None = None  # the retrieval's plan; None: read the question here (``plan_for``)
    idf: Callable[[str], float] | None = None  # the index's term weights: rare words matter more
    # doc_ids -> which of two disagreeing documents is in force on the answer's date ("" when none is known)
    in_force: Callable[[list[str]], str] | None = None
    # passages -> {(1-based passage index, sentence): e5 similarity to the question} from the index's
    # sentence vectors (``assistant.index.sentences``); None when the build has none
    similarity: Callable[[list[NodeWithScore]], dict[tuple[int, str], float]] | None = None

    def plan_for(self, question: str) -> QueryPlan:
        """The retrieval's plan, or ``question`` read without an index (``plan_without_index``)."""
        return self.plan if self.plan is not None else plan_without_index(question)


def plan_without_index(question: str) -> QueryPlan:
    """``question`` read with no index behind it: its search text, kinds, language and glossary terms.

    Not ``plan_query`` with an empty index: that one takes a stated date ("2024年时") out of the text and
    counts every place name as one the corpus lacks, which changes the answers of callers without a plan
    (the eval baselines, unit tests).
    """
    text = search_form(question)
    lower = text.lower()
    english = sum(c.isascii() and c.isalpha() for c in text) > 2 * max(sum("\u4e00" <= c <= "\u9fff" for c in text), 1)
    translations = english_terms(lower) if english else []
    extras = expand(text) + translations
    return QueryPlan(
        raw=question,
        text=text,
        bm25_text=" ".join([text, *extras]),
        kinds=detect_kinds(lower),
        english=english,
        translations=translations,
    )


class Answerer(Protocol):
    """One call for every answerer: question + ranked passages in, an ``Answer`` out."""

    name: str

    def answer(self, question: str, passages: list[NodeWithScore], context: AnswerContext | None = None) -> Answer: ...

    def stream(
        self, question: str, passages: list[NodeWithScore], context: AnswerContext | None = None
    ) -> Iterator[str | Answer]: ...
