"""HTML for the chat UI: answers with linked [n] markers, and the sources panel.

Everything that comes from a document or a user is TEXT: it goes through ``esc`` before it is
placed in markup. Only the tags built here are HTML, and none of them loads anything (no <img>, no
external link). The chatbot renders its messages as HTML without Markdown (``render_markdown=False``);
the markup is still kept on one line per block, so even a Markdown renderer would treat it as a raw
HTML block and never turn ``[text](url)`` or ``![](url)`` from a question or a passage into a link
or an image.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from assistant.core.schema import RELATED_HEADING, Answer, Citation, display_date

EXTRACTIVE_LABEL = "离线摘录"
NOT_FOUND_LABEL = "未在文件中找到"
EMPTY_SOURCES = '<div class="pqa-empty">提问后，这里会显示回答所引用的文件原文。</div>'

_MARKER = re.compile(r"\[(\d{1,3})\]")
_SENTENCE_SPLIT = re.compile(r"(?<=[。；！？;!?\n])")
_EXTRA_ESCAPES = str.maketrans({"$": "&#36;", "{": "&#123;", "}": "&#125;", "`": "&#96;", "\\": "&#92;"})


def esc(text: object) -> str:
    """Escape text for HTML (also template syntax: ``${...}``, ``{{...}}``, backticks)."""
    return html.escape(str(text), quote=True).translate(_EXTRA_ESCAPES)


_LINE_BREAK = re.compile(r"\r\n|[\r\n\v\f\u2028\u2029\x85]")


def _paragraphs(escaped: str) -> str:
    """Line breaks as <br>: the block stays one line (a lone \\r also ends a Markdown line)."""
    return _LINE_BREAK.sub("<br>", escaped)


def _one_line(markup: str) -> str:
    """Any line break left in a chat message (a filter name, a notice, a table cell) becomes a space."""
    return _LINE_BREAK.sub(" ", markup)


def render_question(question: str) -> str:
    """The user's message in the chat: its literal characters, never Markdown or HTML."""
    return f'<div class="pqa-question">{_paragraphs(esc(question))}</div>'


def source_anchor(turn: int, n: int) -> str:
    """Element id of source [n] of answer number ``turn`` in the sources panel."""
    return f"pqa-src-{turn}-{n}"


def linkify_markers(escaped_text: str, turn: int, citations: Sequence[Citation] = ()) -> str:
    """Turn [n] in already-escaped text into links to the sources panel."""
    labels = {c.n: c.label() for c in citations}

    def link(m: re.Match[str]) -> str:
        n = int(m.group(1))
        if citations and n not in labels:
            return m.group(0)
        title = f' title="{esc(labels[n])}"' if n in labels else ""
        return f'<a class="pqa-cite" href="#{source_anchor(turn, n)}"{title}>[{n}]</a>'

    return _MARKER.sub(link, escaped_text)


def highlight(passage: str, quote: str) -> str:
    """Escaped passage with the quoted sentence(s) wrapped in <mark>."""
    passage, quote = passage.strip(), (quote or "").strip()
    if not quote:
        return _paragraphs(esc(passage))
    spans: list[tuple[int, int]] = []
    start = passage.find(quote)
    if start >= 0:
        spans.append((start, start + len(quote)))
    else:  # the quote may join sentences that are apart in the passage: mark each one found
        for piece in (p.strip() for p in _SENTENCE_SPLIT.split(quote)):
            if len(piece) >= 4 and (i := passage.find(piece)) >= 0:
                spans.append((i, i + len(piece)))
    out: list[str] = []
    pos = 0
    for a, b in sorted(spans):
        if a < pos:
            continue
        out.append(esc(passage[pos:a]))
        out.append(f"<mark>{esc(passage[a:b])}</mark>")
        pos = b
    out.append(esc(passage[pos:]))
    return _paragraphs("".join(out))


def filters_line(
    jurisdictions: Iterable[str], document_titles: Iterable[str], as_of: str = "", validity: str = ""
) -> str:
    """'筛选：温州市、《某文件》、日期 2024-06-30、只看现行有效', or '' without filters."""
    parts = [j.rsplit("/", 1)[-1] for j in jurisdictions]
    parts += [f"《{t}》" for t in document_titles]
    if as_of:
        parts.append(f"日期 {as_of}")
    if validity:
        parts.append(VALIDITY_TEXT.get(validity, validity))
    return f"筛选：{'、'.join(parts)}" if parts else ""


VALIDITY_TEXT = {"current": "只看现行有效", "all": "包括历史文件"}


def answerer_label(answerer: str) -> str:
    return EXTRACTIVE_LABEL if answerer in ("", "extractive") else answerer


@dataclass
class Turn:
    """One question and what the UI shows for it."""

    number: int
    question: str
    filters: str = ""
    text: str = ""  # streamed so far, replaced by Answer.text at the end
    answer: Answer | None = None
    seconds: float | None = None
    error: str = ""
    user_error: bool = False  # the question or filter was rejected: show the reason as it is
    notice: str = ""  # set by the UI on entry, e.g. the question was cut to max_question_chars
    turn_id: str = field(default_factory=lambda: f"ui-{uuid.uuid4().hex}")  # history record and feedback key
    citations: list[Citation] = field(default_factory=list)
    # (answer, its sources HTML): an answered turn's sources are rendered once, not on every later update
    sources_cache: tuple[Answer, str] | None = field(default=None, repr=False, compare=False)
    # (what the message shows, its HTML): a finished turn's message is rendered once, not on every later turn
    message_cache: tuple[tuple[object, ...], str] | None = field(default=None, repr=False, compare=False)


def render_answer(turn: Turn) -> str:
    """The assistant message of one turn; a finished one (answered or failed) is rendered once and reused."""
    if turn.answer is None and not turn.error:  # still streaming: changes with every update
        return _render_answer(turn)
    key = (turn.answer, turn.error, turn.user_error, turn.seconds, turn.filters, turn.notice, turn.number)
    cached = turn.message_cache
    if cached is not None and cached[0][0] is turn.answer and cached[0][1:] == key[1:]:  # the Answer: by identity
        return cached[1]
    html = _render_answer(turn)
    turn.message_cache = (key, html)
    return html


def _render_answer(turn: Turn) -> str:
    """The assistant message of one turn, as one line of HTML."""
    parts = ['<div class="pqa-answer">']  # the chatbot's sanitizer drops data-* attributes
    if turn.filters:
        parts.append(f'<div class="pqa-filters">{esc(turn.filters)}</div>')
    answer = turn.answer
    if turn.notice and not (answer and turn.notice in answer.notice):  # the engine may say it too: once
        parts.append(f'<div class="pqa-notice">{esc(turn.notice)}</div>')
    if turn.error:
        prefix = "" if turn.user_error else "出错了："
        parts.append(f'<div class="pqa-error">{prefix}{esc(turn.error)}</div>')
    elif answer is None:
        body = linkify_markers(_paragraphs(esc(turn.text)), turn.number)
        parts.append(f'<div class="pqa-text pqa-streaming">{body or "正在检索……"}</div>')
    else:
        if answer.notice:
            parts.append(f'<div class="pqa-notice">{esc(answer.notice)}</div>')
        if not answer.answerable:
            parts.append(f'<div class="pqa-notfound">{NOT_FOUND_LABEL}</div>')
        body = linkify_markers(_paragraphs(esc(answer.text)), turn.number, answer.citations)
        if answer.table:
            parts.append(render_table(answer.table, turn.number))
            parts.append(f'<div class="pqa-text pqa-table-text">{body}</div>')
        else:
            parts.append(f'<div class="pqa-text">{body}</div>')
        meta = [answerer_label(answer.answerer)]
        if turn.seconds is not None:
            meta.append(f"用时 {turn.seconds:.1f} 秒")
        parts.append(
            f'<div class="pqa-meta"><span>{esc(" · ".join(meta))}</span>'
            '<button type="button" class="pqa-copy">复制回答</button></div>'
        )
    parts.append("</div>")
    return _one_line("".join(parts))


def render_table(table: dict, turn: int) -> str:
    """A comparison as an HTML table: place, measure, what the document says, linked source [n]."""
    head = "".join(f"<th>{h}</th>" for h in ("地区", "措施", "金额或条件", "出处"))
    rows = []
    for r in table.get("rows", []):
        c = r.get("citation")
        if c:
            source = (
                f'<a class="pqa-cite" href="#{source_anchor(turn, int(c["n"]))}" title="{esc(c.get("title", ""))}">'
                f'[{int(c["n"])}]</a>'
            )
        else:
            source = esc(r.get("note") or "—")
        cls = "" if c else ' class="pqa-missing"'
        notes = [r["note"]] if c and r.get("note") else []
        if c and not r.get("numbers_verified", True):
            notes.append("其中的数字未能在出处原文中核对，请以原文为准")
        note = "".join(f'<div class="pqa-cell-note">{esc(n)}</div>' for n in notes)
        rows.append(
            f"<tr{cls}><td>{esc(r.get('jurisdiction', ''))}</td><td>{esc(r.get('measure') or '—')}</td>"
            f"<td>{esc(r.get('text', ''))}{note}</td><td>{source}</td></tr>"
        )
    title = f'<div class="pqa-table-title">{esc(table.get("topic", ""))}</div>' if table.get("topic") else ""
    return _one_line(
        f'<div class="pqa-table-wrap">{title}<table class="pqa-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def related_anchor(turn: int, n: int) -> str:
    """Element id of related passage n (可能相关的条款) of answer number ``turn``: apart from the [n] sources."""
    return f"pqa-rel-{turn}-{n}"


def render_citation(turn: int, c: Citation, anchor: str | None = None) -> str:
    meta = [
        f"{name}：{esc(value)}"
        for name, value in (("发文机关", c.issuer), ("文号", c.doc_number), ("日期", display_date(c.date)))
        if value
    ]
    title = f"《{esc(c.document_title())}》" if c.title else esc(c.file)
    parts = [
        f'<article class="pqa-src" id="{anchor or source_anchor(turn, c.n)}">',
        f'<div class="pqa-src-head"><span class="pqa-n">[{c.n}]</span> <span class="pqa-title">{title}</span></div>',
    ]
    if meta:
        parts.append(f'<div class="pqa-src-meta">{" · ".join(meta)}</div>')
    if path := c.clause_path():
        parts.append(f'<div class="pqa-src-section">{esc(" › ".join(path))}</div>')
    if c.validity_notice:  # expired, repealed, delegated elsewhere or unknown on the answer's date
        parts.append(f'<div class="pqa-src-validity">{esc(c.validity_notice)}</div>')
        if c.validity_evidence:
            parts.append(f'<div class="pqa-src-validity-evidence">依据原文：{esc(c.validity_evidence)}</div>')
    parts.append(f'<blockquote class="pqa-passage">{highlight(c.text, c.quote)}</blockquote></article>')
    return "".join(parts)


def render_related(turn: int, related: Sequence[Citation]) -> str:
    """A declined answer's closest passages under 可能相关的条款: not cited, but where the clause may be."""
    items = "".join(render_citation(turn, c, related_anchor(turn, c.n)) for c in related)
    return (
        f'<div class="pqa-related"><h4 class="pqa-related-title">{RELATED_HEADING}</h4>'
        f'<div class="pqa-related-note">未找到直接回答该问题的规定；以下条款与问题最接近，请自行核对。</div>{items}</div>'
    )


def _turn_sources(turn: Turn) -> str:
    cached = turn.sources_cache
    if cached is not None and cached[0] is turn.answer:
        return cached[1]
    html = _render_turn_sources(turn)
    if turn.answer is not None:
        turn.sources_cache = (turn.answer, html)
    return html


def _render_turn_sources(turn: Turn) -> str:
    answer = turn.answer
    citations = answer.citations if answer else []
    if not citations:
        if answer is not None and not answer.answerable and answer.related:
            return render_related(turn.number, answer.related)
        return '<div class="pqa-empty">本问未引用文件。</div>'
    return "".join(render_citation(turn.number, c) for c in citations)


def render_sources(turns: Sequence[Turn], keep: int = 10) -> str:
    """Sources panel: the newest answer's sources open, older ones folded."""
    done = [t for t in turns if t.answer is not None][-keep:]
    if not done:
        return EMPTY_SOURCES
    newest, older = done[-1], done[-2::-1]
    parts = ['<div class="pqa-sources">']
    parts.append(
        f'<section class="pqa-turn" id="pqa-turn-{newest.number}">'
        f'<h3 class="pqa-turn-title">第 {newest.number} 问：{esc(newest.question)}</h3>{_turn_sources(newest)}</section>'
    )
    for t in older:
        count = len(t.answer.citations) if t.answer else 0
        parts.append(
            f'<details class="pqa-turn" id="pqa-turn-{t.number}"><summary>第 {t.number} 问：{esc(t.question)}'
            f"（{count} 条来源）</summary>{_turn_sources(t)}</details>"
        )
    parts.append("</div>")
    return "".join(parts)
