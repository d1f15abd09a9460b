"""The offline answerer: pick the sentences of the top passages that answer the question, cite them.

No model, no network. It scores each sentence by how much of the question's meaning it covers
(weighted by term rarity, glossary synonyms counted as one concept), prefers sentences with numbers
for amount questions, answers per place for comparisons, and declines when nothing covers enough.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from llama_index.core.schema import NodeWithScore

from assistant.answers import REFUSAL, Answer
from assistant.citing import renumber, split_sentences, verify_numbers
from assistant.numbers import extract_numbers
from assistant.query import QueryPlan, english_terms, detect_kinds, expand, glossary, short_name
from assistant.text import is_traditional, search_form, to_simplified, to_traditional, tokenize


class Answerer(Protocol):
    """One call for every answerer: question + ranked passages in, an ``Answer`` out."""

    name: str

    def answer(self, question: str, passages: list[NodeWithScore], **context: object) -> Answer: ...

    def stream(self, question: str, passages: list[NodeWithScore], **context: object) -> Iterator[str | Answer]: ...


_ENTITY_HINT = re.compile(r"局|委|办|中心|平台|银行|法院|协会|商会|联合会|部|厅|公司|基金|系统|APP|app|专窗|热线")
_CLAUSE_SPLIT = re.compile(r"(?<=[，,：:；;])")
_HEADING_PREFIX = re.compile(r"^\s*(?:[（(][一二三四五六七八九十\d]+[）)]|[一二三四五六七八九十]+、|\d+[.、．])")


@dataclass
class Concept:
    """One idea of the question; any of its terms counts (a word and its glossary synonyms)."""

    terms: set[str]
    weight: float


@dataclass
class Candidate:
    passage_index: int  # 1-based index into passages
    text: str  # sentence (possibly trimmed), original script
    score: float
    coverage: float
    has_number: bool
    place: str = ""
    covered: set[int] = field(default_factory=set)
    sentence_coverage: float = 0.0  # sentence (+ its section heading) alone
    passage_coverage: float = 0.0
    units: set[str] = field(default_factory=set)


def default_weight(term: str) -> float:
    return 1.0 + 0.3 * min(len(term), 4)


class ExtractiveAnswerer:
    """Sentence extraction with citations; the default answerer and the LLM's fallback."""

    name = "extractive"

    def __init__(
        self,
        *,
        idf: Callable[[str], float] | None = None,
        max_passages: int = 6,
        min_coverage: float = 0.5,
        factoid_chars: int = 120,
    ) -> None:
        self.idf = idf or default_weight
        self.max_passages = max_passages
        self.min_coverage = min_coverage
        self.factoid_chars = factoid_chars

    # -- public -----------------------------------------------------------------------------------

    def answer(self, question: str, passages: list[NodeWithScore], **context: object) -> Answer:
        plan = context.get("plan")
        if not isinstance(plan, QueryPlan):
            plan = _fallback_plan(question)
        unknown = plan.unknown_places
        if unknown and not plan.places:
            return refusal(f"所收录的政策文件不涉及{'、'.join(map(str, unknown))}。")
        passages = passages[: self.max_passages] if "comparison" not in plan.kinds else passages
        if not passages:
            return refusal()
        idf = context.get("idf")
        concepts = self._concepts(plan, idf if callable(idf) else None)
        if not concepts:
            return refusal()
        cands = self._candidates(plan, passages, concepts)
        if not cands:
            return refusal()
        best = max(cands, key=lambda c: c.score)
        if best.coverage < self.min_coverage:
            return refusal()
        if "comparison" in plan.kinds and len(plan.places) >= 2:
            draft, quotes = self._per_place(plan, cands, concepts)
        else:
            draft, quotes = self._compose(plan, cands, concepts)
        if not draft:
            return refusal()
        draft = self._script(question, draft)
        checked, _removed = verify_numbers(draft, passages)
        text, citations, cited = renumber(checked, passages, quotes)
        if not citations:
            return refusal()
        if plan.english:
            text = "According to the policy documents (quoted in Chinese):\n" + text
        return Answer(text=text, answerable=True, citations=citations, passages=cited, answerer=self.name)

    def stream(self, question: str, passages: list[NodeWithScore], **context: object) -> Iterator[str | Answer]:
        ans = self.answer(question, passages, **context)
        yield from re.findall(r".{1,12}", ans.text, flags=re.S)
        yield ans

    # -- scoring ----------------------------------------------------------------------------------

    def _concepts(self, plan: QueryPlan, idf: Callable[[str], float] | None = None) -> list[Concept]:
        idf = idf or self.idf
        groups, _ = glossary()
        place_terms = {t for p in plan.places for t in (p, short_name(p))}
        if plan.english:
            source = " ".join([*plan.translations, *re.findall(r"\d+(?:\.\d+)?", plan.text)])
        else:
            source = plan.text
        tokens = list(dict.fromkeys(tokenize(source)))
        concepts: list[Concept] = []
        used: set[str] = set()
        for tok in tokens:
            if tok in used or tok in place_terms or short_name(tok) in place_terms:
                continue
            terms = {tok}
            for group in groups:
                if any(tok == g or (len(tok) >= 2 and tok in g) for g in group):
                    terms |= set(group)
            used |= terms
            concepts.append(Concept(terms=terms, weight=idf(tok)))
        # subsumed tokens (jieba search mode yields 小升规 and 升规) should not double count
        return [c for c in concepts if c.weight > 0]

    def _coverage(self, text: str, concepts: list[Concept]) -> tuple[float, set[int]]:
        total = sum(c.weight for c in concepts)
        hit = {i for i, c in enumerate(concepts) if any(t in text for t in c.terms)}
        return (sum(concepts[i].weight for i in hit) / total if total else 0.0), hit

    def _candidates(self, plan: QueryPlan, passages: list[NodeWithScore], concepts: list[Concept]) -> list[Candidate]:
        out: list[Candidate] = []
        wants_number = "number" in plan.kinds
        for rank, nws in enumerate(passages, start=1):
            md = nws.node.metadata
            body = nws.node.get_content()
            ctx = search_form(f"{md.get('title', '')} {md.get('section', '')} {md.get('city', '')}").lower()
            body_s = search_form(body).lower()
            p_cov, _ = self._coverage(ctx + body_s, concepts)
            prior = 1.0 / (1.0 + 0.25 * (rank - 1))
            place = self._place_of(md, plan.places)
            for sent in split_sentences(body):
                if len(re.sub(r"\s", "", sent)) < 6:
                    continue
                sent_s = search_form(sent).lower()
                s_cov, hit = self._coverage(search_form(str(md.get("section", ""))).lower() + " " + sent_s, concepts)
                own_cov, _ = self._coverage(sent_s, concepts)
                has_num = bool(extract_numbers(_strip_heading(sent)))
                score = 0.45 * s_cov + 0.2 * own_cov + 0.2 * p_cov + 0.15 * prior
                if wants_number and has_num:
                    score += 0.12
                if "entity" in plan.kinds and _ENTITY_HINT.search(sent):
                    score += 0.06
                if "which_city" in plan.kinds and md.get("city"):
                    score += 0.05
                out.append(
                    Candidate(
                        passage_index=rank,
                        text=sent,
                        score=score,
                        coverage=max(s_cov, 0.85 * p_cov),
                        has_number=has_num,
                        place=place,
                        covered=hit,
                        sentence_coverage=s_cov,
                        passage_coverage=p_cov,
                    )
                )
        return out

    @staticmethod
    def _place_of(md: dict, places: list[str]) -> str:
        parts = str(md.get("jurisdiction", "")).split("/")
        city = str(md.get("city", ""))
        for p in places:
            if p == city or p in parts:
                return p
        return ""

    # -- composing ---------------------------------------------------------------------------------

    def _compose(self, plan: QueryPlan, cands: list[Candidate], concepts: list[Concept]) -> tuple[str, dict[int, str]]:
        ranked = sorted(cands, key=lambda c: -c.score)
        best = ranked[0]
        is_list = "list" in plan.kinds or "procedure" in plan.kinds
        limit = 4 if is_list else 2
        budget = 320 if is_list else self.factoid_chars + 40
        chosen = [best]
        covered = set(best.covered)
        for c in ranked[1:]:
            if len(chosen) >= limit:
                break
            if c.score < best.score * (0.8 if is_list else 0.9):
                break
            if c.text == best.text or any(c.text == x.text for x in chosen):
                continue
            adds = bool(c.covered - covered) or (is_list and c.coverage >= self.min_coverage)
            if not adds:
                continue
            chosen.append(c)
            covered |= c.covered
        pieces: list[str] = []
        quotes: dict[int, str] = {}
        used = 0
        for c in chosen:
            text = self._trim(c.text, concepts, self.factoid_chars if not is_list else 160)
            if pieces and used + len(text) > budget:
                break
            used += len(text)
            city = self._city_prefix(plan, c)
            pieces.append(f"{city}{text}[{c.passage_index}]")
            quotes.setdefault(c.passage_index, text.strip("…"))
        sep = "\n" if is_list and len(pieces) > 1 else ""
        if sep:
            pieces = [f"- {p}" for p in pieces]
        return sep.join(pieces), quotes

    def _per_place(
        self, plan: QueryPlan, cands: list[Candidate], concepts: list[Concept]
    ) -> tuple[str, dict[int, str]]:
        lines: list[str] = []
        quotes: dict[int, str] = {}
        for place in plan.places:
            mine = [c for c in cands if c.place == place]
            good = [c for c in mine if c.coverage >= self.min_coverage * 0.8]
            if not good:
                lines.append(f"{place}：所收录的文件中未找到相关规定。")
                continue
            best = max(good, key=lambda c: c.score)
            text = self._trim(best.text, concepts, self.factoid_chars)
            lines.append(f"{place}：{text}[{best.passage_index}]")
            quotes.setdefault(best.passage_index, text.strip("…"))
        if all("未找到相关规定" in line for line in lines):
            return "", {}
        return "\n".join(lines), quotes

    def _city_prefix(self, plan: QueryPlan, c: Candidate) -> str:
        return ""

    def _trim(self, sentence: str, concepts: list[Concept], limit: int) -> str:
        """Keep the run of clauses that covers the question best, within ``limit`` characters."""
        sentence = sentence.strip()
        if len(sentence) <= limit:
            return sentence
        clauses = [c for c in _CLAUSE_SPLIT.split(sentence) if c]
        best = (-1.0, 0, 1)
        for i in range(len(clauses)):
            length = 0
            for j in range(i, len(clauses)):
                length += len(clauses[j])
                if length > limit and j > i:
                    break
                text = search_form("".join(clauses[i : j + 1])).lower()
                cov, _ = self._coverage(text, concepts)
                num = 0.05 if extract_numbers(text) else 0.0
                score = cov + num - 0.0005 * length
                if score > best[0]:
                    best = (score, i, j + 1)
        _, i, j = best
        text = "".join(clauses[i:j]).strip()
        text = text.rstrip("，,：:；;")
        prefix = "" if i == 0 else "…"
        suffix = "" if j == len(clauses) else "…"
        return f"{prefix}{text}{suffix}" if text else sentence[:limit]

    @staticmethod
    def _script(question: str, text: str) -> str:
        """Answer in the script the user asked in; the cited passages stay as written."""
        if is_traditional(question):
            return to_traditional(text)
        if re.search(r"[\u4e00-\u9fff]", question):
            return to_simplified(text)
        return text


def _strip_heading(sentence: str) -> str:
    return _HEADING_PREFIX.sub("", sentence, count=1)


def _fallback_plan(question: str) -> QueryPlan:
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


def refusal(reason: str = "") -> Answer:
    text = REFUSAL if not reason else f"{REFUSAL}{reason}"
    return Answer(text=text, answerable=False, answerer=ExtractiveAnswerer.name)


def idf_from_bm25(bm25: object, n_docs: int) -> Callable[[str], float]:
    """Term weights from the BM25 index's document frequencies: rare words matter more."""
    vocab = getattr(bm25, "vocab_dict", {})
    indptr = getattr(bm25, "scores", {}).get("indptr")

    def weight(term: str) -> float:
        tid = vocab.get(term)
        if tid is None or indptr is None:
            return default_weight(term)
        df = max(int(indptr[tid + 1] - indptr[tid]), 1)
        return max(math.log(1 + (n_docs - df + 0.5) / (df + 0.5)), 0.2)

    return weight
