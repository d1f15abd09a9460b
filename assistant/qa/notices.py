"""The visible notices of an answer given as of a date.

- per cited document: its lifecycle notice on that date ("该文件有效期至2025年12月31日（已过期）",
  "该条款的执行期限按温政发〔2023〕6号执行（未收录）"), on the citation and, once per document, in the
  answer's notice;
- a target year already past ("到2025年…" asked in 2026): the figure was a target, not a current fact;
- the date itself when it is not today (a date the question states, or one the caller chose).

Every answerer's answer passes through :func:`annotate` in the engine, so the offline and the LLM
answers (and comparison tables shown in the chat) carry the same notices.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from assistant.core.dates import display_day, target_years
from assistant.core.lexicon import table
from assistant.core.markers import strip_markers
from assistant.core.schema import Answer, Citation
from assistant.core.validity import HISTORY_STATES, AsOf, lifecycles_of, today


def doc_id_of(catalog: Any, citation: Citation) -> str:
    """The cited document's id (from the index's node; by file name for a node it does not hold)."""
    node = getattr(catalog, "nodes", {}).get(citation.node_id)
    if node is not None:
        return str(node.metadata.get("doc_id", ""))
    doc = next((d for d in getattr(catalog, "documents", []) if d.file == citation.file), None)
    return doc.doc_id if doc is not None else ""


def evidence_text(life: Any) -> str:
    """The sentence a lifecycle was read from ("" for the manifest or none)."""
    for ev in getattr(life, "evidence", ()) or ():
        if getattr(ev, "source", "") != "manifest" and getattr(ev, "text", ""):
            return str(ev.text).strip()
    return ""


def document_notice(catalog: Any, doc_id: str, title: str, day: date) -> tuple[str | None, str | None, str]:
    """(state, notice, evidence sentence) of one document on ``day``; (None, None, "") without a lifecycle."""
    life = lifecycles_of(catalog).get(doc_id)
    if life is None:
        return None, None, ""
    return life.state_on(day), life.notice(day, title) or None, evidence_text(life)


def annotate_citation(catalog: Any, citation: Citation, day: date) -> None:
    """Fill the citation's validity fields for ``day``."""
    doc_id = doc_id_of(catalog, citation)
    state, notice, evidence = document_notice(catalog, doc_id, citation.document_title(), day)
    citation.validity_state, citation.validity_notice, citation.validity_evidence = state, notice, evidence


def _titled(notice: str, title: str) -> str:
    """A document's notice as the answer shows it: named, so two documents' notices are told apart."""
    return notice if not title or title in notice else f"《{title}》：{notice}"


def citation_notices(citations: Iterable[Citation]) -> list[str]:
    """The validity notices of the cited documents, once per document, in citation order."""
    seen: dict[str, None] = {}
    for c in citations:
        if c.validity_notice:
            seen.setdefault(_titled(c.validity_notice, c.document_title()))
    return list(seen)


def target_notice(text: str, day: date) -> str:
    """"到2025年…" stated in an answer given after 2025: say it was the document's target."""
    past = [y for y in target_years(strip_markers(text)) if y < day.year]
    if not past:
        return ""
    years = "、".join(f"{y}年" for y in past)
    return f"文中“到{past[0]}年”等数字是文件设定的{years}目标，现已过期（按{display_day(day)}），不代表实际完成情况"


def date_notice(when: AsOf) -> str:
    """The date the answer is given as of, when it is not today."""
    if when.source == "today" or when.day == today():
        return ""
    said = f"（问题中的“{when.phrase.strip()}”）" if when.source == "question" and when.phrase.strip() else ""
    return f"按{display_day(when.day)}的文件状态回答{said}"


def merge(*parts: str | None) -> str:
    """Notices joined with "；", each once (a notice already contained in an earlier one is dropped)."""
    out: list[str] = []
    for part in parts:
        for piece in (part or "").split("；"):
            piece = piece.strip().rstrip("。")
            if piece and not any(piece in x for x in out):
                out.append(piece)
    return "；".join(out)


def annotate(answer: Answer, catalog: Any, when: AsOf | None) -> Answer:
    """Per-citation validity notices, and the answer notice with the documents', the target's and the date's."""
    if when is None:
        return answer
    for c in answer.citations:
        annotate_citation(catalog, c, when.day)
    answer.as_of = when.day.isoformat()
    if not answer.answerable:
        answer.notice = merge(answer.notice, date_notice(when))
        return answer
    answer.notice = merge(
        date_notice(when), answer.notice, *citation_notices(answer.citations), target_notice(answer.text, when.day)
    )
    return answer


def annotate_rows(rows: Iterable[Any], catalog: Any, when: AsOf) -> list[str]:
    """Comparison rows / eligibility measures: their citations' notices; returns the notices for the result."""
    cites = [r.citation for r in rows if getattr(r, "citation", None) is not None]
    for c in cites:
        annotate_citation(catalog, c, when.day)
    texts = " ".join(c.quote or c.text for c in cites)
    return [n for n in (date_notice(when), *citation_notices(cites), target_notice(texts, when.day)) if n]


def measure_states(catalog: Any, when: AsOf) -> dict[str, tuple[str, str]]:
    """Eligibility: doc_id -> (state, notice) of the documents whose measures may be listed on the date.

    Only documents in force (or of unknown or delegated validity, marked) unless ``validity="all"``: a firm
    cannot apply under an expired, repealed or not yet effective document."""
    out: dict[str, tuple[str, str]] = {}
    for d in getattr(catalog, "documents", []):
        state, notice, _ = document_notice(catalog, d.doc_id, d.title, when.day)
        if when.validity == "all" or state not in HISTORY_STATES:
            out[d.doc_id] = (state or "", notice or "")
    return out


_STATE_WORDS: dict[str, str] = table("language")["lapsed_states"]  # expired -> 已过期 …


def lapsed_reason(catalog: Any, doc_ids: list[str], when: AsOf) -> str:
    """Why a question about a place is declined under 只看现行有效: its documents are not in force that day."""
    titles = {d.doc_id: d.title for d in getattr(catalog, "documents", [])}
    named = []
    for doc_id in doc_ids:
        state, _, _ = document_notice(catalog, doc_id, "", when.day)
        named.append(f"《{titles.get(doc_id, doc_id)}》{_STATE_WORDS.get(state or '', '')}")
    return f"所涉文件在{display_day(when.day)}均不在有效期内：{'、'.join(named)}；如需查看，请选择“包括历史文件”"
