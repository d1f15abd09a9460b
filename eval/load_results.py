"""Results of a load run (``python -m eval load``): per-request records, the summary, the table and JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.stats import mean, percentile

MAX_ERROR_SAMPLES = 5



@dataclass
class RequestRecord:
    conversation: int
    turn: int
    qid: str
    latency_s: float
    answer: str = ""
    error: str = ""
    matches_reference: bool | None = None  # None: no reference (its reference request failed)


@dataclass
class ReindexStats:
    rounds: int = 0
    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class LoadResult:
    url: str
    launched: str  # "": a running app (--url); "own process" / "in-process": launched by the run
    conversations: int
    questions_per: int
    distinct_questions: int
    reindex: bool
    timeout_s: float
    planned: int
    records: list[RequestRecord]
    reference_seconds: float
    reference_errors: dict[str, str]
    load_seconds: float
    stopped_by_time_limit: bool
    reindex_stats: ReindexStats | None = None
    target: str = "ui"  # "ui": the Gradio chat through its queue protocol (as a page); "api": /v1/chat/completions via openai

    @property
    def errors(self) -> list[RequestRecord]:
        return [r for r in self.records if r.error]

    @property
    def mismatches(self) -> list[RequestRecord]:
        return [r for r in self.records if r.matches_reference is False]

    @property
    def all_identical(self) -> bool:
        return not self.reference_errors and all(r.matches_reference for r in self.records if not r.error)

    @property
    def ok(self) -> bool:
        """Every planned request answered, without error, identical to its single-user answer."""
        reindex_ok = self.reindex_stats is None or (self.reindex_stats.rounds > 0 and not self.reindex_stats.errors)
        return (
            len(self.records) == self.planned
            and not self.errors
            and self.all_identical
            and not self.stopped_by_time_limit
            and reindex_ok
        )

    def latency(self) -> dict[str, float | None]:
        lat = sorted(r.latency_s for r in self.records if not r.error)
        if not lat:
            return {"p50_s": None, "p95_s": None, "max_s": None, "mean_s": None}
        return {
            "p50_s": percentile(lat, 50, 3),
            "p95_s": percentile(lat, 95, 3),
            "max_s": round(lat[-1], 3),
            "mean_s": mean(lat, 3),
        }

    def summary(self) -> dict[str, Any]:
        errors = self.errors
        mism = self.mismatches
        return {
            "target": self.target,
            "url": self.url,
            "launched": self.launched or None,
            "conversations": self.conversations,
            "questions_per_conversation": self.questions_per,
            "distinct_questions": self.distinct_questions,
            "reindex": self.reindex,
            "planned_requests": self.planned,
            "total_requests": len(self.records),
            "errors": len(errors),
            "error_samples": [f"{r.qid}: {r.error}" for r in errors[:MAX_ERROR_SAMPLES]],
            "reference_errors": self.reference_errors,
            **self.latency(),
            "load_seconds": round(self.load_seconds, 2),
            "throughput_rps": round(len(self.records) / self.load_seconds, 3) if self.load_seconds else None,
            "reference_seconds": round(self.reference_seconds, 2),
            "all_identical_to_single_user": self.all_identical,
            "mismatches": len(mism),
            "mismatch_samples": [f"conv {r.conversation} turn {r.turn} {r.qid}" for r in mism[:MAX_ERROR_SAMPLES]],
            "stopped_by_time_limit": self.stopped_by_time_limit,
            "reindex_rounds": self.reindex_stats.rounds if self.reindex_stats else None,
            "reindex_seconds": [round(s, 2) for s in self.reindex_stats.seconds] if self.reindex_stats else None,
            "reindex_errors": self.reindex_stats.errors if self.reindex_stats else None,
            "ok": self.ok,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), "requests": [asdict(r) for r in self.records]}


def load_table(result: LoadResult) -> str:
    s = result.summary()

    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:.3f} s" if isinstance(v, float) else str(v)

    rows = [
        ("target", {"ui": "chat UI (Gradio queue, as a page)", "api": "/v1/chat/completions (openai client)"}.get(s["target"], s["target"])),
        ("app", f"{s['url']}" + (f" (launched, {s['launched']})" if s["launched"] else "")),
        ("load", f"{s['conversations']} conversations x {s['questions_per_conversation']} questions, "
                 f"{s['distinct_questions']} distinct" + (", re-indexing" if s["reindex"] else "")),
        ("requests", f"{s['total_requests']} of {s['planned_requests']} planned"),
        ("errors", str(s["errors"])),
        ("latency p50", fmt(s["p50_s"])),
        ("latency p95", fmt(s["p95_s"])),
        ("latency max", fmt(s["max_s"])),
        ("throughput", f"{s['throughput_rps']} req/s over {s['load_seconds']} s"),
        ("identical to single-user", f"{s['all_identical_to_single_user']} ({s['mismatches']} mismatches)"),
    ]
    if s["reindex"]:
        rows.append(("re-index rounds", f"{s['reindex_rounds']} (errors: {len(s['reindex_errors'] or [])})"))
    if s["stopped_by_time_limit"]:
        rows.append(("time limit", f"reached after {result.timeout_s:.0f} s: the run stopped early"))
    rows.append(("verdict", "OK" if s["ok"] else "FAILED"))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k.ljust(width)}  {v}" for k, v in rows]
    for sample in s["error_samples"]:
        lines.append(f"  error: {sample}")
    for qid, err in list(s["reference_errors"].items())[:MAX_ERROR_SAMPLES]:
        lines.append(f"  reference {qid}: {err}")
    for sample in s["mismatch_samples"]:
        lines.append(f"  differs: {sample}")
    for err in (s["reindex_errors"] or [])[:MAX_ERROR_SAMPLES]:
        lines.append(f"  re-index error: {err}")
    return "\n".join(lines)


def write_load(result: LoadResult, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"load-{result.target}.json"
    path.write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    return path


