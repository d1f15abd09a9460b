"""Write a run's files (metrics.json, results.jsonl, report.md, PNG plots) and its console table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from eval.metrics import COUNT_KEYS, DEPTH, LOWER_IS_BETTER, METRIC_KEYS, hit_curve
from eval.runner import RunResult

WORST_SHOWN = 10


def fmt(key: str, value: Any, missing: str = "-") -> str:
    if value is None:
        return missing
    if key in COUNT_KEYS:
        return str(int(value))
    if key.endswith("_ms") or key.endswith("_p50"):
        return f"{value:.1f}" if key.endswith("_ms") else f"{value:.0f}"
    return f"{value:.3f}"


def metrics_table(summaries: dict[str, dict[str, Any]], *, markdown: bool = False) -> str:
    """Metrics as rows, pipelines as columns (14 metrics do not fit across a terminal)."""
    names = list(summaries)
    rows = [["metric", *names]]
    for key in METRIC_KEYS:
        label = f"{key} (lower better)" if key in LOWER_IS_BETTER and not markdown else key
        rows.append([label, *(fmt(key, summaries[n].get(key), "—" if markdown else "-") for n in names)])
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    )


def by_type_table(run: RunResult) -> str:
    """One markdown table, a row per (type, pipeline), every metric as a column."""
    pipes = run.metrics["pipelines"]
    counts: dict[str, set[str]] = {}
    for r in run.rows:
        counts.setdefault(r["type"], set()).add(r["id"])
    lines = [
        "| type | n | pipeline | " + " | ".join(METRIC_KEYS) + " |",
        "|---|---|---|" + "---|" * len(METRIC_KEYS),
    ]
    for t in sorted(counts):
        for name, summary in pipes.items():
            if t in summary["by_type"]:
                cells = (fmt(k, summary["by_type"][t][k], "—") for k in METRIC_KEYS)
                lines.append(f"| {t} | {len(counts[t])} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def faithfulness_line(faithfulness: dict[str, float | None]) -> str:
    if not faithfulness:
        return "faithfulness: skipped (no LLM configured)"
    return "faithfulness (LLM judge): " + ", ".join(f"{k} {fmt('f', v)}" for k, v in faithfulness.items())


def problems(row: dict[str, Any]) -> list[str]:
    """Why a question scored badly, in words a reviewer can act on."""
    s = row["scores"]
    out = []
    if row.get("error"):
        out.append(f"error: {row['error']}")
    if s["false_refusal"]:
        out.append("wrongly refused")
    if s["refusal_correct"] is False:
        out.append("answered an unanswerable question")
    if s["hit@10"] is False:
        out.append("evidence not in top 10")
    elif s["hit@5"] is False:
        out.append(f"evidence complete only at rank {s['evidence_rank']}")
    if s["missing_keywords"]:
        out.append("missing keywords: " + "、".join(s["missing_keywords"]))
    if s["citation_recall"] is False and not s["false_refusal"]:
        out.append("citations miss evidence")
    if s.get("missing_notice"):
        out.append("notice lacks: " + "、".join(s["missing_notice"]))
    if s.get("repealed_as_current"):
        out.append("cites a repealed document without saying so")
    if s["citation_precision"] is not None and s["citation_precision"] < 1:
        out.append(f"{s['cited_total'] - s['cited_relevant']}/{s['cited_total']} citations irrelevant")
    return out


def quality(row: dict[str, Any]) -> float:
    """One number to sort questions by (lower = worse): mean of the question's applicable scores."""
    s = row["scores"]
    parts = [
        s["mrr@10"],
        s["keyword_recall"],
        s["citation_recall"],
        s["citation_precision"],
        s["refusal_correct"],
        s.get("notice_correct"),
    ]
    if s["false_refusal"] is not None:
        parts.append(not s["false_refusal"])
    present = [float(p) for p in parts if p is not None]
    return sum(present) / len(present) if present else 1.0


def _short(text: str, n: int = 60) -> str:
    text = " ".join((text or "").split()).replace("|", "\\|")
    return text if len(text) <= n else text[: n - 1] + "…"


def render_markdown(run: RunResult, plots: Sequence[str]) -> str:
    m = run.metrics
    pipes = m["pipelines"]
    parts = [
        "# Evaluation report",
        "",
        f"{m['questions']} questions, pipelines: {', '.join(pipes)}. Generated {datetime.now():%Y-%m-%d %H:%M}.",
        "Definitions: eval/README.md. `—` = not defined for this subset (no question it applies to).",
        "",
        "## Overall",
        "",
        metrics_table(pipes, markdown=True),
        "",
        faithfulness_line(run.faithfulness),
        "",
        "## By type",
    ]
    parts += ["", by_type_table(run)]
    parts += ["", "## Worst questions"]
    for name in pipes:
        rows = sorted((r for r in run.rows if r["pipeline"] == name), key=lambda r: (quality(r), r["id"]))
        bad = [r for r in rows if problems(r)][:WORST_SHOWN]
        parts += ["", f"### {name}", ""]
        if not bad:
            parts.append("No question with a problem.")
            continue
        parts += ["| id | type | score | question | answer | problems |", "|---|---|---|---|---|---|"]
        parts += [
            f"| {r['id']} | {r['type']} | {quality(r):.2f} | {_short(r['question'])} | {_short(r['answer'])} "
            f"| {_short('; '.join(problems(r)), 160)} |"
            for r in bad
        ]
    if plots:
        parts += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(parts) + "\n"


def write_plots(run: RunResult, out_dir: Path) -> list[str]:
    """hit@k curves, latency distribution and per-type bars; returns the file names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pipes = list(run.metrics["pipelines"])
    by_pipe = {p: [r for r in run.rows if r["pipeline"] == p] for p in pipes}
    written = []

    fig, ax = plt.subplots(figsize=(6, 4))
    ks = list(range(1, DEPTH + 1))
    for p in pipes:
        curve = hit_curve([r["scores"] for r in by_pipe[p]])
        ax.plot(ks, [float("nan") if v is None else v for v in curve], marker="o", label=p)
    ax.set(xlabel="k", ylabel="hit@k", title="hit@k (answerable questions)", ylim=(0, 1.02), xticks=ks)
    ax.grid(alpha=0.3)
    ax.legend()
    written.append(_save(fig, out_dir / "hit_at_k.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    data = [
        [r["scores"]["latency_ms"] for r in by_pipe[p] if r["scores"]["latency_ms"] is not None]
        for p in pipes
    ]
    ax.boxplot([d or [0.0] for d in data], showfliers=True)
    ax.set_xticks(range(1, len(pipes) + 1), pipes)
    ax.set(ylabel="ms per question (end to end)", title="Latency distribution")
    ax.grid(alpha=0.3, axis="y")
    written.append(_save(fig, out_dir / "latency.png"))

    shown = ("hit@5", "keyword_recall", "citation_precision", "refusal_accuracy")
    types = sorted({t for p in pipes for t in run.metrics["pipelines"][p]["by_type"]})
    fig, axes = plt.subplots(
        len(shown), 1, figsize=(max(6, 1.2 * len(types) + 2), 2.6 * len(shown)), sharex=True
    )
    width = 0.8 / max(1, len(pipes))
    for ax, key in zip(axes, shown, strict=True):
        for i, p in enumerate(pipes):
            bt = run.metrics["pipelines"][p]["by_type"]
            vals = [bt.get(t, {}).get(key) for t in types]
            xs = [j + i * width for j in range(len(types))]
            ax.bar(xs, [float("nan") if v is None else v for v in vals], width, label=p)
        ax.set(ylabel=key, ylim=(0, 1.05))
        ax.grid(alpha=0.3, axis="y")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="upper right", ncols=len(pipes), fontsize="small")
    axes[-1].set_xticks(
        [j + width * (len(pipes) - 1) / 2 for j in range(len(types))], types, rotation=30, ha="right"
    )
    fig.suptitle("Per question type (blank = not defined)", x=0.02, ha="left")
    written.append(_save(fig, out_dir / "by_type.png"))
    return written


def _save(fig: Any, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def write_run(run: RunResult, out_dir: Path, *, plots: bool = True) -> list[Path]:
    """All files of a run into ``out_dir`` (created); returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(
        json.dumps(run.metrics, ensure_ascii=False, indent=2) + "\n", "utf-8"
    )
    with (out_dir / "results.jsonl").open("w", encoding="utf-8") as fh:
        for row in run.rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    if run.faithfulness:
        (out_dir / "faithfulness.json").write_text(json.dumps(run.faithfulness, indent=2) + "\n", "utf-8")
    names = write_plots(run, out_dir) if plots else []
    (out_dir / "report.md").write_text(render_markdown(run, names), "utf-8")
    return sorted(out_dir.iterdir())
