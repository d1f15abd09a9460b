"""``python -m eval diff RUN_A RUN_B``: which questions changed answer, citations or scores between runs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from eval.dataset import read_jsonl
from eval.metrics import K_VALUES, METRIC_KEYS

# Per-question scores worth reporting; latency changes on every run and would drown the signal.
COMPARED_SCORES = (
    "evidence_rank",
    *(f"hit@{k}" for k in K_VALUES),
    "mrr@10",
    "keyword_recall",
    "citation_recall",
    "citation_precision",
    "refusal_correct",
    "false_refusal",
)


def load_rows(run_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    path = Path(run_dir)
    path = path / "results.jsonl" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no results.jsonl (pass a report dir written by `python -m eval run`)"
        )
    return {(row["pipeline"], row["id"]): row for row in read_jsonl(path)}


def _cites(row: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["id"], c["text"]) for c in row.get("citations", [])]


def _short(text: str, n: int = 80) -> str:
    text = " ".join((text or "").split())
    return repr(text if len(text) <= n else text[: n - 1] + "…")


def row_changes(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Human lines describing how one question's outcome moved from run A to run B."""
    out = []
    if a["answerable"] != b["answerable"]:
        out.append(f"answerable: {a['answerable']} -> {b['answerable']}")
    if a["answer"] != b["answer"]:
        out.append(f"answer: {_short(a['answer'])} -> {_short(b['answer'])}")
    if _cites(a) != _cites(b):
        ids_a = [c[0] for c in _cites(a)]
        ids_b = [c[0] for c in _cites(b)]
        note = "" if ids_a != ids_b else " (same ids, passage text changed)"
        out.append(f"citations: {ids_a} -> {ids_b}{note}")
    for key in COMPARED_SCORES:
        va, vb = a["scores"].get(key), b["scores"].get(key)
        if va != vb:
            out.append(f"{key}: {_fmt(va)} -> {_fmt(vb)}")
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


def diff_runs(run_a: Path, run_b: Path) -> tuple[str, int]:
    """The diff as text, and how many (pipeline, question) pairs changed or exist in one run only."""
    rows_a, rows_b = load_rows(run_a), load_rows(run_b)
    lines: list[str] = []
    one_sided: dict[tuple[str, str], list[str]] = {}
    changed = 0
    for key in sorted(rows_a.keys() | rows_b.keys()):
        pipeline, qid = key
        if key not in rows_a or key not in rows_b:
            one_sided.setdefault((pipeline, "A" if key in rows_a else "B"), []).append(qid)
            changed += 1
            continue
        changes = row_changes(rows_a[key], rows_b[key])
        if changes:
            changed += 1
            lines.append(f"{pipeline} {qid} [{rows_b[key]['type']}] {_short(rows_b[key]['question'], 40)}")
            lines += [f"    {c}" for c in changes]
    for (pipeline, side), ids in sorted(one_sided.items()):
        shown = ", ".join(ids[:10]) + (f" … (+{len(ids) - 10})" if len(ids) > 10 else "")
        lines.append(f"{pipeline}: {len(ids)} question(s) only in {side}: {shown}")
    lines.append(f"{changed} of {len(rows_a.keys() | rows_b.keys())} question/pipeline pairs changed.")
    lines += _metric_deltas(Path(run_a), Path(run_b))
    return "\n".join(lines), changed


def _metric_deltas(run_a: Path, run_b: Path) -> list[str]:
    try:
        ma = json.loads((run_a / "metrics.json").read_text("utf-8"))["pipelines"]
        mb = json.loads((run_b / "metrics.json").read_text("utf-8"))["pipelines"]
    except (OSError, ValueError, KeyError):
        return []
    out = []
    for name in sorted(ma.keys() & mb.keys()):
        moved = [
            f"{k} {_fmt(ma[name].get(k))} -> {_fmt(mb[name].get(k))}"
            for k in METRIC_KEYS
            if ma[name].get(k) != mb[name].get(k) and not k.endswith("_ms")
        ]
        if moved:
            out.append(f"{name} overall: " + "; ".join(moved))
    return out


def add_diff_parser(sub: argparse._SubParsersAction) -> None:
    diff = sub.add_parser("diff", help="questions whose answer, citations or scores changed between two runs")
    diff.add_argument("run_a", type=Path)
    diff.add_argument("run_b", type=Path)
    diff.set_defaults(func=cmd_diff)


def cmd_diff(args: argparse.Namespace) -> int:
    try:
        text, _ = diff_runs(args.run_a, args.run_b)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text)
    return 0
