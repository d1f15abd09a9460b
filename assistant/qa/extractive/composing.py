"""From chosen sentences to a draft answer with ``[k]`` markers: one fact, a list, one line per place,
or two documents that disagree shown side by side."""

from __future__ import annotations

import re

from llama_index.core.schema import NodeWithScore

from assistant.core.numbers import canonical_values, extract_numbers
from assistant.core.schema import Citation
from assistant.core.text import is_traditional, search_form, to_simplified, to_traditional
from assistant.qa.extractive.candidates import CLAUSE_SPLIT, Candidate
from assistant.qa.extractive.scoring import Concept, coverage
from assistant.qa.extractive.weights import rule_weights
from assistant.retrieval.plan import QueryPlan, short_name

Draft = tuple[str, dict[int, str]]  # text with [k] markers, and k -> the words of passage k it relies on


def compose(
    plan: QueryPlan, cands: list[Candidate], concepts: list[Concept], *, min_coverage: float, factoid_chars: int
) -> Draft:
    """The best sentence, and the next ones that add an idea (up to four for a list or a procedure)."""
    ranked = sorted(cands, key=lambda c: -c.score)
    best = ranked[0]
    is_list = "list" in plan.kinds or "procedure" in plan.kinds
    rules = rule_weights().answer
    limit = rules.list_sentences if is_list else rules.fact_sentences
    budget = rules.list_budget if is_list else factoid_chars + rules.fact_budget_extra
    chosen = [best]
    covered = set(best.covered)
    for c in ranked[1:]:
        if len(chosen) >= limit:
            break
        if c.score < best.score * (rules.list_ratio if is_list else rules.fact_ratio):
            break
        if c.text == best.text or any(c.text == x.text for x in chosen):
            continue
        adds = bool(c.covered - covered) or (is_list and c.coverage >= min_coverage)
        if not adds:
            continue
        chosen.append(c)
        covered |= c.covered
    pieces: list[str] = []
    quotes: dict[int, str] = {}
    used = 0
    for c in chosen:
        text = trim(c.text, concepts, factoid_chars if not is_list else 160)
        if pieces and used + len(text) > budget:
            break
        used += len(text)
        city = city_prefix(c)
        pieces.append(f"{city}{text}[{c.passage_index}]")
        quotes.setdefault(c.passage_index, text.strip("…"))
    sep = "\n" if is_list and len(pieces) > 1 else ""
    if sep:
        pieces = [f"- {p}" for p in pieces]
    return sep.join(pieces), quotes


def per_place(plan: QueryPlan, cands: list[Candidate], concepts: list[Concept], *, factoid_chars: int) -> Draft:
    """One line per asked place with its best sentence; ("", {}) when no place has one."""
    lines: list[str] = []
    quotes: dict[int, str] = {}
    for place in plan.places:
        mine = [c for c in cands if c.place == place]
        if not mine:
            lines.append(f"{place}：所收录的文件中未找到相关规定。")
            continue
        best = max(mine, key=lambda c: c.score)
        text = trim(best.text, concepts, factoid_chars)
        lines.append(f"{place}：{text}[{best.passage_index}]")
        quotes.setdefault(best.passage_index, text.strip("…"))
    if all("未找到相关规定" in line for line in lines):
        return "", {}
    return "\n".join(lines), quotes


def disagreement(
    plan: QueryPlan, cands: list[Candidate], passages: list[NodeWithScore]
) -> tuple[Candidate, Candidate] | None:
    """Two documents that both govern the asked place and state different figures for one measure.

    Same measure = the same question words covered; governing the same place = one jurisdiction
    contains the other (a city and its county, or two documents of one city), so two cities that
    simply differ are never called a disagreement.
    """
    if "number" not in plan.kinds or len(cands) < 2:
        return None
    ranked = sorted(cands, key=lambda c: -c.score)
    best = ranked[0]
    md_best = passages[best.passage_index - 1].node.metadata
    values_best = canonical_values(best.text)
    for c in ranked[1:]:
        if c.score < rule_weights().answer.disagreement * best.score:  # a rival must answer nearly as well
            break
        md = passages[c.passage_index - 1].node.metadata
        if md.get("doc_id") == md_best.get("doc_id") or c.covered != best.covered or c.city or best.city:
            continue
        a, b = str(md_best.get("jurisdiction", "")), str(md.get("jurisdiction", ""))
        if not a or not b or not (a.startswith(b) or b.startswith(a)):
            continue
        values = canonical_values(c.text)
        if values and values_best and not (values <= values_best or values_best <= values):
            return best, c
    return None


def show_both(
    draft: str,
    quotes: dict[int, str],
    pair: tuple[Candidate, Candidate],
    passages: list[NodeWithScore],
    concepts: list[Concept],
    *,
    factoid_chars: int,
) -> tuple[str, dict[int, str], str]:
    """Add the other document's statement to the answer and say, with both dates, that they differ."""
    first, other = pair
    if f"[{other.passage_index}]" not in draft:
        text = trim(other.text, concepts, factoid_chars)
        draft += f"\n另一文件的规定：{text}[{other.passage_index}]"
        quotes.setdefault(other.passage_index, text.strip("…"))
    names = []
    for c in pair:
        cite = Citation.from_node(0, passages[c.passage_index - 1])
        names.append(cite.source_head())
    notice = f"两份适用的文件对此规定不一致：{names[0]}与{names[1]}。请以较新的文件或主管部门的解释为准。"
    return draft, quotes, notice


def city_prefix(c: Candidate) -> str:
    """Name the city a practice belongs to when the sentence itself does not."""
    if not c.city or short_name(c.city) in c.text:
        return ""
    return f"{c.city}："


def trim(sentence: str, concepts: list[Concept], limit: int) -> str:
    """Keep the run of clauses that covers the question best, within ``limit`` characters."""
    sentence = sentence.strip()
    if len(sentence) <= limit:
        return sentence
    clauses = [c for c in CLAUSE_SPLIT.split(sentence) if c]
    best = (-1.0, 0, 1)
    rules = rule_weights().answer
    for i in range(len(clauses)):
        length = 0
        for j in range(i, len(clauses)):
            length += len(clauses[j])
            if length > limit and j > i:
                break
            text = search_form("".join(clauses[i : j + 1])).lower()
            cov, _ = coverage(text, concepts)
            num = rules.trim_figure_bonus if extract_numbers(text) else 0.0
            score = cov + num - rules.trim_length_penalty * length
            if score > best[0]:
                best = (score, i, j + 1)
    _, i, j = best
    text = "".join(clauses[i:j]).strip()
    text = text.rstrip("，,：:；;")
    prefix = "" if i == 0 else "…"
    suffix = "" if j == len(clauses) else "…"
    return f"{prefix}{text}{suffix}" if text else sentence[:limit]


def script(question: str, text: str) -> str:
    """Answer in the script the user asked in; the cited passages stay as written."""
    if is_traditional(question):
        return to_traditional(text)
    if re.search(r"[\u4e00-\u9fff]", question):
        return to_simplified(text)
    return text
