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

from assistant.core.markers import MARKER
from assistant.core.numbers import extract_numbers, unsupported_numbers
from assistant.core.schema import Answer, Citation
from assistant.core.tables import csv_text, md_cell
from assistant.core.text import is_traditional, to_simplified, to_traditional
from assistant.core.validity import Validity, resolve
from assistant.decisions.seams import AnsweringEngine, RetrievingEngine
from assistant.decisions.titles import measure_title
from assistant.decisions.topics import default_jurisdictions, own_documents, split_topic
from assistant.qa.citing import cited_markers, passage_check_text, split_sentences, unsupported_reason
from assistant.qa.context import AnswerContext
from assistant.qa.engine import build_query_engine, prepare_question
from assistant.qa.extractive import ExtractiveAnswerer, idf_from_bm25, refusal
from assistant.qa.notices import annotate_rows, merge
from assistant.retrieval.plan import short_name
from assistant.retrieval.retriever import Filters, Retrieval
from assistant.settings import Settings

NOT_MENTIONED = "未提及"
CELL_MIN_COVERAGE = 0.44  # a cell answers for one place, so its place name is not asked of the sentence
NO_DOCUMENTS = "语料中没有该地区的文件"
PRACTICE_NOTE = "该地没有本地文件，此为全国典型做法中该地的做法"



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


def _row(place: str, text: str, nws: NodeWithScore, n: int) -> ComparisonRow:
    citation = Citation.from_node(n, nws, quote=MARKER.sub("", text).strip("…"))
    return ComparisonRow(
        jurisdiction=place,
        text=text,
        measure=measure_title(nws.node.metadata, nws.node.get_content(), nws.node.get_content().find(citation.quote)),
        amounts=extract_numbers(text),
        citation=citation,
        numbers_verified=not unsupported_numbers(text, [passage_check_text(nws)]),
    )


def _extractive_cells(
    engine: RetrievingEngine, question: str, retrieval: Retrieval, limit: int
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
    engine: AnsweringEngine, question: str, retrieval: Retrieval, limit: int
) -> tuple[list[tuple[str, NodeWithScore]] | None, str, str]:
    """Cells drafted by the LLM answerer: one per sentence that the one passage the cell cites supports
    (``unsupported_reason``, as for every LLM sentence). ``None`` when no LLM cell holds, or the model
    failed and the answer is the offline one: the caller then uses the offline cells."""
    cat = engine.retriever.catalog
    ans = engine.answerer.answer(
        question, retrieval.nodes, AnswerContext(plan=retrieval.plan, idf=idf_from_bm25(cat.bm25, len(cat.node_ids)))
    )
    if ans.answerer != engine.answerer.name:  # the offline fallback answered
        return None, ans.answerer, ans.notice
    if not ans.answerable:  # the model found nothing for this place
        return [], ans.answerer, ans.notice
    cells: list[tuple[str, NodeWithScore]] = []
    for sentence in split_sentences(ans.text):
        text = MARKER.sub("", sentence).strip(" -\n")
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


def _cells(
    engine: AnsweringEngine,
    place: str,
    question: str,
    retrieval: Retrieval,
    limit: int,
    result: Comparison,
    notices: list[str],
) -> list[tuple[str, NodeWithScore]]:
    """One place's cells: the LLM's verified cells when an LLM is configured (its name goes on ``result``,
    its notice into ``notices``), else, or when none of them holds, the offline ones."""
    cells: list[tuple[str, NodeWithScore]] | None = None
    if engine.settings.llm_enabled:
        cells, answerer, notice = _llm_cells(engine, question, retrieval, limit)
        if cells is not None:  # the model's verdict for this place: its verified cells, or none
            result.answerer = answerer
        elif not notice:
            notice = f"大模型对{place}的回答无法在来源中核实，已改用离线摘录。"
        if notice and notice not in notices:
            notices.append(notice)
    if cells is None:
        cells = _extractive_cells(engine, question, retrieval, limit)
    return cells


def compare(
    topic: str,
    jurisdictions: list[str] | None = None,
    *,
    settings: Settings | None = None,
    engine: AnsweringEngine | None = None,
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
    notices: list[str] = []
    when = resolve(as_of, validity)
    n = 0
    for place in places:
        docs, by_city = own_documents(engine, place)
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
        cells = _cells(engine, place, question, retrieval, measures_per_place, result, notices)
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
