"""Cross-jurisdiction comparison: one row per place (and per measure), every filled cell cited and checked.

A place whose documents say nothing on the topic gets "未提及", never a guess.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.answering import ExtractiveAnswerer, idf_from_bm25
from assistant.answers import Citation
from assistant.citing import passage_check_text
from assistant.engine import PolicyQueryEngine, build_query_engine, prepare_question
from assistant.numbers import unsupported_numbers
from assistant.query import NATIONAL, UNKNOWN
from assistant.retrieval import Filters, UnknownFilterError
from assistant.settings import Settings

NOT_MENTIONED = "未提及"


@dataclass
class ComparisonRow:
    jurisdiction: str
    text: str  # the measure as the document states it, or NOT_MENTIONED
    citation: Citation | None = None
    numbers_verified: bool = True  # every number in ``text`` occurs in the cited passage


@dataclass
class Comparison:
    topic: str
    rows: list[ComparisonRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "rows": [asdict(r) for r in self.rows]}

    def to_markdown(self) -> str:
        lines = [f"**{self.topic}**", "", "| 地区 | 规定 | 出处 |", "|---|---|---|"]
        for r in self.rows:
            source = f"[{r.citation.n}] {r.citation.label()}" if r.citation else "—"
            lines.append(f"| {r.jurisdiction} | {r.text.replace('|', '｜')} | {source.replace('|', '｜')} |")
        return "\n".join(lines)


def default_jurisdictions(engine: PolicyQueryEngine) -> list[str]:
    """The places that have documents of their own (the most specific level of each path)."""
    places = []
    for d in engine.retriever.catalog.documents:
        leaf = d.jurisdiction.split("/")[-1] if d.jurisdiction else ""
        if leaf and leaf not in (NATIONAL, UNKNOWN) and leaf not in places:
            places.append(leaf)
    return places


def compare(
    topic: str,
    jurisdictions: list[str] | None = None,
    *,
    settings: Settings | None = None,
    engine: PolicyQueryEngine | None = None,
    measures_per_place: int = 2,
) -> Comparison:
    """What each jurisdiction's documents say about ``topic``, as rows with their own citations."""
    engine = engine or build_query_engine(settings)
    topic, _ = prepare_question(topic, engine.settings)
    answerer = ExtractiveAnswerer()
    cat = engine.retriever.catalog
    idf = idf_from_bm25(cat.bm25, len(cat.node_ids))
    result = Comparison(topic=topic)
    n = 0
    for place in jurisdictions or default_jurisdictions(engine):
        try:
            retrieval = engine.retriever.retrieve_detailed(f"{place} {topic}", Filters(jurisdictions=[place]))
        except UnknownFilterError:  # no document of that place at all
            found = []
        else:
            found = answerer.supporting_sentences(
                topic, retrieval.nodes[:6], limit=measures_per_place, plan=retrieval.plan, idf=idf
            )
        if not found:
            result.rows.append(ComparisonRow(jurisdiction=place, text=NOT_MENTIONED))
            continue
        for cand in found:
            nws = retrieval.nodes[cand.passage_index - 1]
            n += 1
            ok = not unsupported_numbers(cand.text, [passage_check_text(nws)])
            result.rows.append(
                ComparisonRow(
                    jurisdiction=place,
                    text=cand.text,
                    citation=Citation.from_node(n, nws, quote=cand.text.strip("…")),
                    numbers_verified=ok,
                )
            )
    return result
