"""The decisions report: Markdown tables for the console and ``decisions.md``, and ``decisions.json``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def comparisons_table(scores: Sequence[dict[str, Any]], summary: dict[str, Any]) -> str:
    head = (
        "| id | type | places (null) | filled | cell precision | cell recall | 未提及 acc | row precision "
        "| number acc | keyword recall | ms |"
    )
    lines = [head, "|" + "---|" * 11]
    for s in scores:
        lines.append(
            f"| {s['id']}{' ⚠' if s.get('error') else ''} | {s['type']} | {s['places']} ({s['null_places']}) "
            f"| {s['filled_places']} | {_fmt(s['cell_precision'])} | {_fmt(s['cell_recall'])} "
            f"| {_fmt(s['not_mentioned_accuracy'])} | {_fmt(s['row_precision'])} | {_fmt(s['number_accuracy'])} "
            f"| {_fmt(s['keyword_recall'])} | {_fmt(s.get('latency_ms'))} |"
        )
    for name in ("mean", "pooled"):
        m = summary[name]
        lines.append(
            f"| **{name}** | | | | {_fmt(m['cell_precision'])} | {_fmt(m['cell_recall'])} "
            f"| {_fmt(m['not_mentioned_accuracy'])} | {_fmt(m['row_precision'])} | {_fmt(m['number_accuracy'])} "
            f"| {_fmt(m['keyword_recall'])} | |"
        )
    return "\n".join(lines)


def profiles_table(scores: Sequence[dict[str, Any]], summary: dict[str, Any]) -> str:
    lines = [
        "| id | type | location | measures (符合/可能) | should_match covered | should_not hit | recall "
        "| precision | recall (符合) | precision (符合) | unlabelled | ms |",
        "|" + "---|" * 12,
    ]
    for s in scores:
        lines.append(
            f"| {s['id']}{' ⚠' if s.get('error') else ''} | {s['type']} | {s['location']} "
            f"| {s['measures']} ({s['measures_met']}/{s['measures_maybe']}) "
            f"| {s['should_match_covered']}/{s['should_match']} | {s['should_not_match_hit']}/{s['should_not_match']} "
            f"| {_fmt(s['recall'])} | {_fmt(s['precision'])} | {_fmt(s['recall_confirmed'])} "
            f"| {_fmt(s['precision_confirmed'])} | {s['unlabelled_measures']} | {_fmt(s.get('latency_ms'))} |"
        )
    for name in ("mean", "pooled"):
        m = summary[name]
        lines.append(
            f"| **{name}** | | | {_fmt(m['measures'])} | | | {_fmt(m['recall'])} | {_fmt(m['precision'])} "
            f"| {_fmt(m['recall_confirmed'])} | {_fmt(m['precision_confirmed'])} | | |"
        )
    return "\n".join(lines)


def _problems(scores: Sequence[dict[str, Any]], kind: str) -> list[str]:
    out = []
    for s in scores:
        if s.get("error"):
            out.append(f"- {s['id']}: error {s['error']}")
            continue
        if kind == "comparisons":
            bad = [
                f"{p['place']}: {p['status']}"
                for p in s["place_details"]
                if p["status"] not in ("supported", "未提及 (correct)")
            ]
            if bad:
                out.append(f"- {s['id']} ({s['topic']}): " + "; ".join(bad))
        else:
            if s["missed"] or s["wrongly_listed"]:
                parts = []
                if s["missed"]:
                    parts.append("missed " + " / ".join(s["missed"]))
                if s["wrongly_listed"]:
                    parts.append("wrongly listed " + " / ".join(s["wrongly_listed"]))
                out.append(f"- {s['id']} ({s['location']}): " + "; ".join(parts))
    return out


def decisions_markdown(report: dict[str, Any]) -> str:
    lines = ["# Comparison and eligibility evaluation", ""]
    comp = report.get("comparisons")
    if comp:
        lines += [
            f"## Comparisons ({comp['summary']['items']} items, {comp['file']})",
            "",
            comparisons_table(comp["items"], comp["summary"]),
            "",
            "Places not supported or wrongly filled:",
            "",
            *(_problems(comp["items"], "comparisons") or ["- none"]),
            "",
        ]
    prof = report.get("profiles")
    if prof:
        lines += [
            f"## Eligibility ({prof['summary']['profiles']} profiles, {prof['file']})",
            "",
            profiles_table(prof["items"], prof["summary"]),
            "",
            "Labels missed or wrongly listed:",
            "",
            *(_problems(prof["items"], "profiles") or ["- none"]),
            "",
        ]
    lines += [
        "Definitions: eval/decisions.py (module docstring). "
        "'mean' averages the per-item rates; 'pooled' divides the summed counts. — = nothing to score.",
        "",
    ]
    return "\n".join(lines)


def write_decisions(report: dict[str, Any], out_dir: Path) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "decisions.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), "utf-8")
    (out_dir / "decisions.md").write_text(decisions_markdown(report), "utf-8")
