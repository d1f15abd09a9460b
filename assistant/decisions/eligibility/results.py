"""The results of the eligibility check: each measure with its conditions checked, and the whole list.

Status words (符合 / 可能符合 / 不符合), scope words (本地 / 上级 / 全国典型做法) and the three condition states
(met / not_met / unknown) are the public vocabulary of a result; Markdown and CSV are its two renderings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.core.schema import Citation
from assistant.core.tables import csv_text, md_text
from assistant.decisions.eligibility.profile import Profile

__all__ = [
    "EXAMPLE",
    "FITS",
    "LOCAL",
    "MAY_FIT",
    "MET",
    "NOT_MET",
    "NO_FIT",
    "PARENT",
    "UNKNOWN_STATUS",
    "ConditionCheck",
    "MatchResult",
    "MeasureMatch",
]

MET, NOT_MET, UNKNOWN_STATUS = "met", "not_met", "unknown"
FITS, MAY_FIT, NO_FIT = "符合", "可能符合", "不符合"
LOCAL, PARENT, EXAMPLE = "本地", "上级", "全国典型做法"
_MARK = {MET: "✓", NOT_MET: "✗", UNKNOWN_STATUS: "?"}


@dataclass
class ConditionCheck:
    kind: str  # "qualification" | "size" | "revenue" | "employees" | "age" | "tax_credit" | "plan" | ...
    text: str  # the condition as the document words it, e.g. "首次“小升规”"
    status: str  # "met" | "not_met" | "unknown"
    reason: str  # Chinese, short: why

    def label(self) -> str:
        return f"{_MARK.get(self.status, '?')} {self.text}"


@dataclass
class MeasureMatch:
    measure_id: str  # stable: f"{doc_id}:{start}-{end}" (offsets in the cleaned document)
    title: str  # short name: the item heading / 重点工作 / practice name (city)
    text: str  # the measure sentence(s), verbatim from the chunk
    doc_id: str
    doc_title: str
    jurisdiction: str
    date: str
    scope: str  # "本地" | "上级" | "全国典型做法"
    status: str  # "符合" | "可能符合" | "不符合"
    conditions: list[ConditionCheck]
    benefit: str  # amount / ratio / form; "" when the text names no concrete benefit
    department: str  # 责任单位 / 牵头单位 where the document names one, else ""
    citation: Citation  # quote == text
    validity: str = ""  # the document's state on the date (Lifecycle.state_on), "" without a lifecycle
    validity_notice: str = ""  # e.g. 该条款的执行期限按温政发〔2023〕6号执行（未收录）; "" when in force

    def conditions_text(self, sep: str = "；") -> str:
        return sep.join(f"{c.label()}（{c.reason}）" for c in self.conditions)


@dataclass
class MatchResult:
    profile: Profile
    location_path: str  # resolved jurisdiction path, e.g. "浙江省/温州市/乐清市" ("" when unknown)
    measures: list[MeasureMatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    as_of: str = ""  # YYYY-MM-DD: only measures of documents in force on that day (unless 包括历史文件)

    def counts(self) -> dict[str, int]:
        out = {FITS: 0, MAY_FIT: 0, NO_FIT: 0}
        for m in self.measures:
            out[m.status] = out.get(m.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile.to_dict(),
            "location_path": self.location_path,
            "counts": self.counts(),
            "measures": [asdict(m) for m in self.measures],
            "notes": list(self.notes),
            "as_of": self.as_of,
        }

    def to_markdown(self) -> str:
        """A readable Chinese list: one block per measure with ✓/✗/? conditions, benefit, department, source.

        Every value is HTML-escaped (``md_text``): document or profile text never runs as markup."""
        counts = self.counts()
        lines = [f"**企业画像**：{md_text(self.profile.describe())}"]
        if self.location_path:
            lines.append(f"**所在地**：{md_text(self.location_path)}")
        summary = f"共 {len(self.measures)} 条措施：符合 {counts[FITS]} 条，可能符合 {counts[MAY_FIT]} 条"
        if counts[NO_FIT]:
            summary += f"，不符合 {counts[NO_FIT]} 条"
        lines += ["", summary + "。"]
        lines += [f"> {md_text(note)}" for note in self.notes]
        if not self.measures:
            lines += ["", "没有找到适用的措施。"]
        for i, m in enumerate(self.measures, start=1):
            head = f"【{m.status}】{m.title}（{m.scope} · {m.jurisdiction}）"
            lines += ["", f"### {i}. {md_text(head)}"]
            lines.append(f"- 措施：{md_text(m.text)}")
            if m.conditions:
                lines.append("- 条件：")
                lines += [f"  - {md_text(f'{c.label()}（{c.reason}）')}" for c in m.conditions]
            lines.append(f"- 优惠：{md_text(m.benefit or '原文未写明具体金额或比例')}")
            if m.validity_notice:
                lines.append(f"- 有效期：{md_text(m.validity_notice)}")
            if m.department:
                lines.append(f"- 责任单位：{md_text(m.department)}")
            lines.append(f"- 出处：[{m.citation.n}] {md_text(m.citation.label())}")
        return "\n".join(lines)

    def to_csv(self) -> str:
        """CSV text for Excel (formula-like cells escaped; the caller adds a BOM when writing a file)."""
        header = ["序号", "状态", "范围", "措施", "条件", "优惠", "责任单位", "地区", "文件", "出处", "原文", "措施编号", "有效期"]
        rows = [
            [
                i,
                m.status,
                m.scope,
                m.title,
                m.conditions_text("\n"),
                m.benefit,
                m.department,
                m.jurisdiction,
                m.doc_title,
                m.citation.label(),
                m.text,
                m.measure_id,
                m.validity_notice,
            ]
            for i, m in enumerate(self.measures, start=1)
        ]
        return csv_text(header, rows)
