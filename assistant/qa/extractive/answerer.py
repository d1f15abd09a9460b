"""The offline answerer: pick the sentences of the top passages that answer the question, cite them.

No model, no network. It scores each sentence by how much of the question's meaning it covers
(weighted by term rarity, glossary synonyms counted as one concept), prefers sentences with numbers
for amount questions, answers per place for comparisons, and declines when nothing covers enough.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from llama_index.core.schema import NodeWithScore

from assistant.core.schema import REFUSAL, Answer
from assistant.qa.citing import renumber, verify_numbers
from assistant.qa.context import AnswerContext
from assistant.qa.extractive.candidates import Candidate, admissible, candidates
from assistant.qa.extractive.composing import compose, disagreement, per_place, script, show_both, trim
from assistant.qa.extractive.questions import asked_words
from assistant.qa.extractive.scoring import Concept, concepts, default_weight
from assistant.qa.extractive.weights import rule_weights
from assistant.qa.extractive.years import year_mismatch, year_notice
from assistant.retrieval.plan import QueryPlan

_NO_CONTEXT = AnswerContext()


class ExtractiveAnswerer:
    """Sentence extraction with citations; the default answerer and the LLM's fallback."""

    name = "extractive"

    def __init__(
        self,
        *,
        idf: Callable[[str], float] | None = None,
        max_passages: int | None = None,
        min_coverage: float | None = None,
        factoid_chars: int | None = None,
    ) -> None:
        rules = rule_weights().answer  # unless a caller sets them (the engine: how many passages it keeps)
        self.idf = idf or default_weight
        self.max_passages = max_passages if max_passages is not None else rules.max_passages
        self.min_coverage = min_coverage if min_coverage is not None else rules.min_coverage
        self.factoid_chars = factoid_chars if factoid_chars is not None else rules.factoid_chars

    def answer(self, question: str, passages: list[NodeWithScore], context: AnswerContext | None = None) -> Answer:
        context = context or _NO_CONTEXT
        plan = context.plan_for(question)
        unknown = plan.unknown_places
        if unknown and not plan.places:
            return refusal(f"文件不涉及{'、'.join(map(str, unknown))}")
        comparing = "comparison" in plan.kinds and len(plan.places) >= 2
        passages = passages if comparing else passages[: self.max_passages]
        if not passages:
            return refusal()
        ideas = self._concepts(plan, context)
        if not any(not c.numeric for c in ideas):  # nothing but numbers (or nothing) to look for
            return refusal()
        cands = candidates(plan, passages, ideas)
        per_place_share = rule_weights().answer.comparing_coverage
        cands = admissible(plan, cands, per_place_share * self.min_coverage if comparing else self.min_coverage)
        if not cands:
            return refusal()
        notice = ""
        if comparing:
            draft, quotes = per_place(plan, cands, ideas, factoid_chars=self.factoid_chars)
        else:
            draft, quotes = compose(
                plan, cands, ideas, min_coverage=self.min_coverage, factoid_chars=self.factoid_chars
            )
            if draft and (pair := disagreement(plan, cands, passages)):
                draft, quotes, notice = show_both(
                    draft, quotes, pair, passages, ideas, factoid_chars=self.factoid_chars
                )
                if context.in_force is not None:  # which of the two is in force on the answer's date
                    doc_ids = [str(passages[c.passage_index - 1].node.metadata.get("doc_id", "")) for c in pair]
                    notice += context.in_force(doc_ids)
        if not draft:
            return refusal()
        return self._finish(question, plan, draft, quotes, passages, notice=notice, comparing=comparing)

    def stream(
        self, question: str, passages: list[NodeWithScore], context: AnswerContext | None = None
    ) -> Iterator[str | Answer]:
        ans = self.answer(question, passages, context)
        yield from re.findall(r".{1,12}", ans.text, flags=re.S)
        yield ans

    def _concepts(self, plan: QueryPlan, context: AnswerContext) -> list[Concept]:
        """The question's ideas, weighted by the index's term weights (else by this answerer's)."""
        return concepts(plan, context.idf or self.idf)

    def _finish(
        self,
        question: str,
        plan: QueryPlan,
        draft: str,
        quotes: dict[int, str],
        passages: list[NodeWithScore],
        notice: str = "",
        comparing: bool = False,
    ) -> Answer:
        """A draft with [n] markers -> the Answer: year notice, the question's script, number check, citations."""
        if not comparing and (years := year_mismatch(plan, draft)):  # never another year's figure in silence
            draft = year_notice(years, draft) + draft
        draft = script(question, draft)
        checked, _removed = verify_numbers(draft, passages)
        text, citations, cited = renumber(checked, passages, quotes)
        if not citations:
            return refusal()
        if plan.english:
            text = "According to the policy documents (quoted in Chinese):\n" + text
        return Answer(
            text=text, answerable=True, citations=citations, passages=cited, answerer=self.name, notice=notice
        )

    def supporting_sentences(
        self,
        question: str,
        passages: list[NodeWithScore],
        limit: int = 2,
        *,
        require_core: bool = False,
        plan: QueryPlan | None = None,
        idf: Callable[[str], float] | None = None,
    ) -> list[Candidate]:
        """The best sentences that answer ``question`` (admissible by the same rules as answers), one per idea.

        ``require_core``: each sentence must state the topic's rarest idea (上市 in 企业上市有什么奖励, the
        asked-for 奖励 aside, which the focus rule already demands), so a table cell never stands on a
        topic's common words alone. ``plan`` and ``idf`` as in ``AnswerContext``.
        """
        context = AnswerContext(plan=plan, idf=idf)
        plan = context.plan_for(question)
        ideas = self._concepts(plan, context)
        if not any(not c.numeric for c in ideas):
            return []
        found = admissible(plan, candidates(plan, passages, ideas), self.min_coverage)
        if require_core:
            asked = set() if plan.english else asked_words(plan.text.lower())  # 奖励 in 有什么奖励: asked, not topic
            topical = [
                i for i, c in enumerate(ideas) if not c.numeric and not any(a in t for a in asked for t in c.terms)
            ] or [i for i, c in enumerate(ideas) if not c.numeric]
            core = max(topical, key=lambda i: ideas[i].weight)
            found = [c for c in found if core in c.covered]
        ranked = sorted(found, key=lambda c: -c.score)
        chosen: list[Candidate] = []
        for c in ranked:
            if len(chosen) >= limit or (chosen and c.score < rule_weights().answer.list_ratio * chosen[0].score):
                break
            if any(c.text == x.text for x in chosen):
                continue
            if chosen and c.passage_index == chosen[0].passage_index and not c.covered - chosen[0].covered:
                continue  # the same passage saying nothing new
            chosen.append(c)
        for c in chosen:
            c.text = trim(c.text, ideas, self.factoid_chars)
        return chosen


def refusal(reason: str = "") -> Answer:
    """The offline decline, with the reason in brackets when there is one ("文件不涉及杭州")."""
    text = REFUSAL if not reason else f"{REFUSAL.rstrip('。')}（{reason}）。"
    return Answer(text=text, answerable=False, answerer=ExtractiveAnswerer.name)
