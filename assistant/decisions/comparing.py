"""Cross-jurisdiction comparison: one row per place and measure, every filled cell cited and checked.

A cell holds what one place's own documents say (a county's documents are not its city's), filled
by the extractive answerer offline or by the configured LLM; either way every number in the cell is
checked against the passage the cell cites. An LLM cell is kept only when that passage supports it
(``citing.unsupported_reason``); a place none of whose LLM cells holds gets its offline cells. A place
whose documents say nothing gets "未提及".
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any

from llama_index.core.schema import NodeWithScore

from assistant.core.numbers import extract_numbers, unsupported_numbers
from assistant.core.schema import Answer, Citation
from assistant.core.tables import csv_text, md_cell
from assistant.core.text import is_traditional, search_form, to_simplified, to_traditional
from assistant.core.validity import Validity, resolve
from assistant.decisions.measures import measure_title
from assistant.qa.citing import cited_markers, passage_check_text, split_sentences, unsupported_reason
from assistant.qa.engine import PolicyQueryEngine, build_query_engine, prepare_question
from assistant.qa.extractive import ExtractiveAnswerer, idf_from_bm25, refusal
from assistant.qa.notices import annotate_rows, merge
from assistant.retrieval.plan import NATIONAL, UNKNOWN, short_name
from assistant.retrieval.retriever import Filters, Retrieval, gazetteer_for
from assistant.settings import Settings

NOT_MENTIONED = "未提及"
CELL_MIN_COVERAGE = 0.44  # a cell answers for one place, so its place name is not asked of the sentence
NO_DOCUMENTS = "语料中没有该地区的文件"
PRACTICE_NOTE = "该地没有本地文件，此为全国典型做法中该地的做法"
_COMPARISON_WORDS = re.compile(
    r"分别|各自|各地|各城市|各市|哪些城市|哪个城市|有什么不同|有何不同|有什么区别|有何区别|区别|差异|对比|比较|相比|异同"
    r"|\b(?:compare[ds]?|comparison|differences?|differ|versus|vs\.?|respectively|each city|between)\b",
    re.IGNORECASE,
)
_PLACE = "\x00"
_PLACE_LIST = re.compile(r"\x00(?:\s*(?:,|、|，|和|与|及|以及|and|&)?\s*\x00)*", re.IGNORECASE)
_NATIONAL_ASKED = re.compile(r"(?:全国|国家)?(?:有哪些|有什么|的)?(?:典型做法|典型经验)|全国|national (?:typical )?practices?", re.I)
_CLAUSE_END = re.compile(r"[？?。！!；;]")
_NO_TOPIC = frozenset({"", "相关规定", "规定", "政策", "措施", "做法", "呢", "也", "再看看", "看看", "and"})
_QUESTION_TAIL = re.compile(
    r"(?:上|方面)?(?:有没有|有什么|有哪些|有何|是什么|是多少|是?怎么|是?如何|是?怎样|什么|多少|哪些)(?:相关)?(?:规定|政策)?"
    r"|[吗呢？?]"
)
_MARKER = re.compile(r"\[\d+\]")


@dataclass
class ComparisonRow:
    jurisdiction: str
    text: str  # the measure as the document states it, or NOT_MENTIONED
    measure: str = ""  # short name: the item heading the passage sits under
    amounts: list[str] = field(default_factory=list)  # figures with units in ``text``
    citation: Citation | None = None
    numbers_verified: bool = True  # every number in ``text`` occurs in the cited passage
    note: str = ""  # e.g. NO_DOCUMENTS


@dataclass
class Comparison:
    topic: str
    rows: list[ComparisonRow] = field(default_factory=list)
    answerer: str = "extractive"
    notice: str = ""
    as_of: str = ""  # YYYY-MM-DD the cells were read as of
    _passages: list[NodeWithScore] = field(default_factory=list, repr=False, compare=False)  # cited, in [n] order

    @property
    def citations(self) -> list[Citation]:
        return [r.citation for r in self.rows if r.citation]

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "answerer": self.answerer,
            "notice": self.notice,
            "as_of": self.as_of,
            "rows": [asdict(r) for r in self.rows],
        }

    def to_answer(self, question: str = "") -> Answer:
        """The table as a chat answer: a line per row with its [n], the table itself in ``Answer.table``."""
        filled = [r for r in self.rows if r.citation]
        if not filled:
            return refusal()
        lines = []
        for r in self.rows:
            lines.append(f"{r.jurisdiction}：{r.text}" + (f"[{r.citation.n}]" if r.citation else ""))
        text = "\n".join(lines)
        if is_traditional(question):
            text = to_traditional(text)
        elif re.search(r"[\u4e00-\u9fff]", question):
            text = to_simplified(text)
        elif question:
            text = "Comparison from the policy documents (quoted in Chinese):\n" + text
        return Answer(
            text=text,
            answerable=True,
            citations=[r.citation for r in filled],
            passages=list(self._passages),
            answerer=self.answerer,
            notice=self.notice,
            table=self.to_dict(),
        )

    def to_markdown(self) -> str:
        lines = [f"**{self.topic}**", "", "| 地区 | 措施 | 金额或条件 | 出处 |", "|---|---|---|---|"]
        for r in self.rows:
            source = f"[{r.citation.n}] {r.citation.label()}" if r.citation else (r.note or "—")
            cells = [r.jurisdiction, r.measure or "—", r.text, source]
            lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
        if self.notice:  # the documents' validity on the date, a past target year
            lines += ["", f"> 提示：{md_cell(self.notice)}"]
        return "\n".join(lines)

    def to_csv(self) -> str:
        """CSV text for Excel (formula-like cells escaped); the caller adds a BOM when writing a file."""
        rows = []
        for r in self.rows:
            c = r.citation
            rows.append(
                [r.jurisdiction, r.measure, r.text, "；".join(r.amounts), c.label() if c else r.note, c.text if c else "",
                 (c.validity_notice or "") if c else ""]
            )  # fmt: skip
        return csv_text(["地区", "措施", "金额或条件", "数字", "出处", "原文段落", "有效期提示"], rows)


def default_jurisdictions(engine: PolicyQueryEngine) -> list[str]:
    """The places that have documents of their own (the most specific level of each path)."""
    places = []
    for d in engine.retriever.catalog.documents:
        leaf = d.jurisdiction.split("/")[-1] if d.jurisdiction else ""
        if leaf and leaf not in (NATIONAL, UNKNOWN) and leaf not in places:
            places.append(leaf)
    return places


def split_topic(question: str, engine: PolicyQueryEngine) -> tuple[str, str, list[str]]:
    """A comparison question -> (topic, the question asked of each place, the places it names).

    The topic drops places, comparison and question words (a table title); the per-place question
    keeps 多少/哪些 so the answerer still knows an amount or a list is wanted.
    """
    gazetteer = gazetteer_for(engine.retriever.catalog)
    text = search_form(question)
    places = gazetteer.find(text)
    aliases = sorted({a for p in gazetteer.places if p.name in places for a in p.aliases}, key=len, reverse=True)
    for alias in aliases:
        pattern = rf"(?<![A-Za-z]){re.escape(alias)}(?![A-Za-z])" if alias.isascii() else re.escape(alias)
        text = re.sub(pattern, _PLACE, text, flags=re.IGNORECASE)
    if _NATIONAL_ASKED.search(text) and NATIONAL not in places:
        places.append(NATIONAL)  # "全国有哪些典型做法？" adds the national practices as a column
    text = _NATIONAL_ASKED.sub(" ", text)
    text = _PLACE_LIST.sub(" ", text)
    text = _COMPARISON_WORDS.sub(" ", text)
    clauses = [c for c in _CLAUSE_END.split(text) if c.strip()]
    # "…？温州呢？" / "…？乐清有没有相关规定？": a clause that only re-asks for places adds no topic
    kept = [c for c in clauses if _tidy(_QUESTION_TAIL.sub(" ", c)) not in _NO_TOPIC] or clauses
    asked = _tidy(" ".join(kept))
    topic = _tidy(_QUESTION_TAIL.sub(" ", " ".join(kept)))
    return (topic or question), (asked or question), places


def _tidy(text: str) -> str:
    text = re.sub(r"^\s*(?:(?:on|in|for|of|对|在|和|与|的)\s*)+", "", text.strip(), flags=re.IGNORECASE)
    text = re.sub(r"\s+的$", "", re.sub(r"\s+", " ", text).strip(" 、,，和与及？?。"))
    return text.strip()


def _own_documents(engine: PolicyQueryEngine, place: str) -> tuple[list[str], bool]:
    """Documents issued for ``place`` itself (else those of the places under it), and whether they are
    national documents that speak for it (an NDRC practice of that city) instead."""
    key = short_name(place)
    docs = engine.retriever.catalog.documents
    own = [d.doc_id for d in docs if d.jurisdiction and short_name(d.jurisdiction.split("/")[-1]) == key]
    if place == NATIONAL:
        return own or [d.doc_id for d in docs if d.jurisdiction == NATIONAL], False
    if own:
        return own, False
    under = [d.doc_id for d in docs if any(short_name(p) == key for p in d.jurisdiction.split("/"))]
    if under:
        return under, False
    cat = engine.retriever.catalog
    speaking = {
        n.metadata["doc_id"] for n in cat.nodes.values() if short_name(str(n.metadata.get("city", ""))) == key
    }
    return sorted(speaking), bool(speaking)


def _row(place: str, text: str, nws: NodeWithScore, n: int) -> ComparisonRow:
    citation = Citation.from_node(n, nws, quote=_MARKER.sub("", text).strip("…"))
    return ComparisonRow(
        jurisdiction=place,
        text=text,
        measure=measure_title(nws.node.metadata, nws.node.get_content(), nws.node.get_content().find(citation.quote)),
        amounts=extract_numbers(text),
        citation=citation,
        numbers_verified=not unsupported_numbers(text, [passage_check_text(nws)]),
    )


def _extractive_cells(
    engine: PolicyQueryEngine, question: str, retrieval: Retrieval, limit: int
) -> list[tuple[str, NodeWithScore]]:
    """Sentences stating the topic's core idea; a figure of the asked kind preferred, not required
    (降低担保费率 is still that city's rule on guarantee fees)."""
    cat = engine.retriever.catalog
    answerer = ExtractiveAnswerer(min_coverage=CELL_MIN_COVERAGE)
    plans = [retrieval.plan]
    if "number" in retrieval.plan.kinds:
        plans.append(replace(retrieval.plan, kinds=retrieval.plan.kinds - {"number"}))
    for plan in plans:
        found = answerer.supporting_sentences(
            question,
            retrieval.nodes[:6],
            limit=limit,
            require_core=True,
            plan=plan,
            idf=idf_from_bm25(cat.bm25, len(cat.node_ids)),
        )
        if found:
            return [(c.text, retrieval.nodes[c.passage_index - 1]) for c in found]
    return []


def _llm_cells(
    engine: PolicyQueryEngine, question: str, retrieval: Retrieval, limit: int
) -> tuple[list[tuple[str, NodeWithScore]] | None, str, str]:
    """Cells drafted by the LLM answerer: one per sentence that the one passage the cell cites supports
    (``unsupported_reason``, as for every LLM sentence). ``None`` when no LLM cell holds, or the model
    failed and the answer is the offline one: the caller then uses the offline cells."""
    cat = engine.retriever.catalog
    ans = engine.answerer.answer(
        question, retrieval.nodes, plan=retrieval.plan, idf=idf_from_bm25(cat.bm25, len(cat.node_ids))
    )
    if ans.answerer != engine.answerer.name:  # the offline fallback answered
        return None, ans.answerer, ans.notice
    if not ans.answerable:  # the model found nothing for this place
        return [], ans.answerer, ans.notice
    cells: list[tuple[str, NodeWithScore]] = []
    for sentence in split_sentences(ans.text):
        text = _MARKER.sub("", sentence).strip(" -\n")
        markers = [m for m in cited_markers(sentence) if 0 < m <= len(ans.passages)]
        backing = [m for m in markers if _supports(text, ans.passages[m - 1], engine.settings)]
        if text and backing:  # the cell cites the first passage that supports it on its own
            cells.append((text, ans.passages[backing[0] - 1]))
        if len(cells) >= limit:
            break
    if not cells:
        return None, ans.answerer, ""
    return cells, ans.answerer, ans.notice


def _supports(text: str, nws: NodeWithScore, settings: Settings) -> bool:
    return not unsupported_reason(text, [passage_check_text(nws)], settings.llm_min_support)


def compare(
    topic: str,
    jurisdictions: list[str] | None = None,
    *,
    settings: Settings | None = None,
    engine: PolicyQueryEngine | None = None,
    measures_per_place: int = 2,
    as_of: date | None = None,
    validity: Validity | None = None,
) -> Comparison:
    """What each jurisdiction's own documents say about ``topic``, as rows with their own citations.

    ``topic`` may be a whole question ("温州、乐清对小升规企业分别怎么奖励？"): the places it names are
    compared when ``jurisdictions`` is not given, else every place that has documents. Each cell comes from
    the documents that count on ``as_of`` (default today; a date the topic states wins) under ``validity``
    (``Filters.validity``), so a place's cell is the version in force on that date.
    """
    engine = engine or build_query_engine(settings)
    topic, _ = prepare_question(topic, engine.settings)
    core, asked, named = split_topic(topic, engine)
    places = list(jurisdictions or named or default_jurisdictions(engine))
    result = Comparison(topic=core)
    use_llm = engine.settings.llm_enabled
    notices: list[str] = []
    when = resolve(as_of, validity)
    n = 0
    for place in places:
        docs, by_city = _own_documents(engine, place)
        if not docs:
            result.rows.append(ComparisonRow(jurisdiction=place, text=NOT_MENTIONED, note=NO_DOCUMENTS))
            continue
        question = f"{place} {asked}"
        retrieval = engine.retriever.retrieve_detailed(
            question, Filters(documents=docs, as_of=as_of, validity=validity)
        )
        when = retrieval.when or when
        if by_city:  # only the national practices that speak for this place
            key = short_name(place)
            kept = [n for n in retrieval.nodes if short_name(str(n.node.metadata.get("city", ""))) == key]
            retrieval = replace(retrieval, nodes=kept)
        cells: list[tuple[str, NodeWithScore]] | None = None
        if use_llm:
            cells, answerer, notice = _llm_cells(engine, question, retrieval, measures_per_place)
            if cells is not None:  # the model's verdict for this place: its verified cells, or none
                result.answerer = answerer
            elif not notice:
                notice = f"大模型对{place}的回答无法在来源中核实，已改用离线摘录。"
            if notice and notice not in notices:
                notices.append(notice)
        if cells is None:
            cells = _extractive_cells(engine, question, retrieval, measures_per_place)
        if not cells:
            result.rows.append(ComparisonRow(jurisdiction=place, text=NOT_MENTIONED))
            continue
        for text, nws in cells:
            n += 1
            row = _row(place, text, nws, n)
            row.note = PRACTICE_NOTE if by_city else ""
            result.rows.append(row)
            result._passages.append(nws)
    result.as_of = when.day.isoformat()
    result.notice = merge(*notices, *annotate_rows(result.rows, engine.retriever.catalog, when))
    return result
