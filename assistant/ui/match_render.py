"""HTML of the "政策找人" results: one card per measure, its conditions marked ✓ / ✗ / ? for the profile.

Rendering follows ``ui.render``: everything from a document or a user goes through ``esc``.
"""

from __future__ import annotations

from assistant.core.schema import Citation
from assistant.decisions.eligibility import EXAMPLE, FITS, MAY_FIT, MatchResult, MeasureMatch
from assistant.ui.render import esc, highlight

EMPTY_MATCHES = '<div class="pqa-empty">填写企业情况后点击“查找适用措施”。</div>'
_STATUS_CLASS = {FITS: "pqa-fit", MAY_FIT: "pqa-mayfit"}
_MARK_CLASS = {"met": "pqa-met", "not_met": "pqa-notmet", "unknown": "pqa-unknown"}
_MARK = {"met": "✓", "not_met": "✗", "unknown": "?"}


def _citation_block(c: Citation) -> str:
    return (
        f'<details><summary>[{c.n}] {esc(c.label())}</summary>'
        f'<blockquote class="pqa-passage">{highlight(c.text, c.quote)}</blockquote></details>'
    )


def render_measure(i: int, m: MeasureMatch) -> str:
    conds = "".join(
        f'<li class="{_MARK_CLASS.get(c.status, "")}">{_MARK.get(c.status, "?")} {esc(c.text)}'
        f'<span class="pqa-match-meta">（{esc(c.reason)}）</span></li>'
        for c in m.conditions
    )
    meta = [f"范围：{esc(m.scope)} · {esc(m.jurisdiction)}"]
    if m.department:
        meta.append(f"责任单位：{esc(m.department)}")
    benefit = esc(m.benefit) if m.benefit else "原文未写明具体金额或比例"
    validity = f'<div class="pqa-src-validity">有效期：{esc(m.validity_notice)}</div>' if m.validity_notice else ""
    return (
        f'<article class="pqa-match {_STATUS_CLASS.get(m.status, "")}">'
        f'<h4><span class="pqa-status">{esc(m.status)}</span>{i}. {esc(m.title)}</h4>'
        f'<div class="pqa-match-meta">{" · ".join(meta)}</div>{validity}'
        f"<div><b>优惠：</b>{benefit}</div>"
        f'<ul class="pqa-conds">{conds}</ul>'
        f"<div>{esc(m.text)}</div>{_citation_block(m.citation)}</article>"
    )


# Groups in the order shown, and whether they start open: what surely applies first, then what may.
GROUPS = (
    ("符合", True),
    ("可能符合：本地和上级文件", True),
    ("可能符合：全国典型做法（其他城市的经验，仅供参考）", False),
    ("不符合", False),
)


def _group(m: MeasureMatch) -> str:
    if m.status == FITS:
        return GROUPS[0][0]
    if m.status == MAY_FIT:
        return GROUPS[2][0] if m.scope == EXAMPLE else GROUPS[1][0]
    return GROUPS[3][0]


def render_matches(result: MatchResult) -> str:
    counts = result.counts()
    head = [f'<div class="pqa-match-summary"><b>企业画像：</b>{esc(result.profile.describe())}']
    if result.location_path:
        head.append(f"<br><b>所在地：</b>{esc(result.location_path)}")
    head.append(
        f"<br>共 {len(result.measures)} 条措施：符合 {counts.get(FITS, 0)} 条，可能符合 {counts.get(MAY_FIT, 0)} 条。"
        "✓ 满足 · ✗ 不满足 · ? 画像未说明</div>"
    )
    notes = "".join(f'<div class="pqa-match-note">{esc(n)}</div>' for n in result.notes)
    if not result.measures:
        return "".join(head) + notes + '<div class="pqa-empty">没有找到适用的措施。</div>'
    groups: dict[str, list[tuple[int, MeasureMatch]]] = {}
    for i, m in enumerate(result.measures, start=1):
        groups.setdefault(_group(m), []).append((i, m))
    body = []
    for name, is_open in GROUPS:
        items = groups.get(name, [])
        if items:
            cards = "".join(render_measure(i, m) for i, m in items)
            body.append(
                f'<details class="pqa-group"{" open" if is_open else ""}><summary>{esc(name)}（{len(items)} 条）'
                f"</summary>{cards}</details>"
            )
    return f'<div class="pqa-matches">{"".join(head)}{notes}{"".join(body)}</div>'


def render_error(message: str) -> str:
    return f'<div class="pqa-error">{esc(message)}</div>'
