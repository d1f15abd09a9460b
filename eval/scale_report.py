"""The report of ``python -m eval scale``: a table per size, log-log slopes, the #15 targets, and a PNG."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# (label, how to read it from a size's row); times in seconds unless the label says ms
METRICS: tuple[tuple[str, str], ...] = (
    ("passages", "passages"),
    ("documents", "documents"),
    ("embedder", "embedder"),
    ("cold build excl. embedding (s)", "cold.excl_embedding_s"),
    ("build per passage excl. embedding (ms)", "build_s_per_passage_excl_embedding*1000"),
    ("no-change re-index (s)", "nochange.seconds"),
    ("add one document (s)", "add.seconds"),
    ("  of which embedding (s)", "add.embed_seconds"),
    ("  passages written", "add.rows_written"),
    ("  excl. embedding (s)", "add.excl_embedding_s"),
    ("  beyond a no-change re-index (s)", "add.beyond_nochange_s"),
    ("change one document (s)", "change.seconds"),
    ("  passages written", "change.rows_written"),
    ("  beyond a no-change re-index (s)", "change.beyond_nochange_s"),
    ("remove one document (s)", "remove.seconds"),
    ("  passages written", "remove.rows_written"),
    ("files named (`policy-qa index FILE`): add one document excl. embedding (s)", "add_named.excl_embedding_s"),
    ("  change one document excl. embedding (s)", "change_named.excl_embedding_s"),
    ("  remove one document (s)", "remove_named.seconds"),
    ("reader reopen after an update (s)", "add.reopen_s"),
    ("first retrieval on the new build (s)", "add.first_query_s"),
    ("open index cold (s)", "open_s"),
    ("warm retrieval p50 (ms)", "retrieval_p50_ms"),
    ("warm retrieval p95 (ms)", "retrieval_p95_ms"),
    ("end-to-end p50 (ms)", "end_to_end_p50_ms"),
    ("end-to-end p95 (ms)", "end_to_end_p95_ms"),
    ("peak RSS, cold build alone (MB)", "cold.peak_rss_mb"),
    ("peak RSS, build process (MB)", "build_peak_rss_mb"),
    ("peak RSS, answering (MB)", "query_peak_rss_mb"),
    ("index on disk (MB)", "index_bytes/1e6"),
    ("vector cache on disk (MB)", "vector_cache_bytes/1e6"),
)
SLOPES = ("add.seconds", "add.excl_embedding_s", "change.excl_embedding_s", "add.beyond_nochange_s",
          "change.beyond_nochange_s", "add_named.excl_embedding_s", "change_named.excl_embedding_s",
          "remove_named.seconds", "remove.seconds", "nochange.seconds", "retrieval_p50_ms",
          "end_to_end_p95_ms", "query_peak_rss_mb", "index_bytes", "cold.excl_embedding_s")
# #15's targets at 100,000 passages: (what, key, limit)
TARGETS = (("warm retrieval p50 <= 80 ms", "retrieval_p50_ms", 80), ("end-to-end p95 <= 300 ms", "end_to_end_p95_ms", 300),
           ("add one document <= 10 s", "add.seconds", 10), ("no-change re-index <= 3 s", "nochange.seconds", 3),
           ("peak RSS <= 2 GB (answering)", "query_peak_rss_mb", 2048), ("peak RSS <= 2 GB (build)", "build_peak_rss_mb", 2048),
           ("peak RSS <= 2 GB (cold build alone)", "cold.peak_rss_mb", 2048))


def value(row: dict[str, Any], spec: str) -> Any:
    """``a.b`` reads nested keys; ``*k`` and ``/k`` scale the number."""
    for op in ("*", "/"):
        if op in spec:
            key, k = spec.split(op)
            v = value(row, key)
            return None if v is None else (v * float(k) if op == "*" else v / float(k))
    v: Any = row
    for part in spec.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    return v


def slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares slope of log y on log x (None with fewer than two positive points)."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x and y and x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx, my = sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return round(sum((p[0] - mx) * (p[1] - my) for p in pts) / den, 3) if den else None


def slopes(rows: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per metric: the slope over all sizes, and from 3,000 passages up (#15: update time flat there)."""
    out = {}
    for key in SLOPES:
        big = [r for r in rows if r["passages"] >= 2_500]
        out[key] = {
            "all": slope([r["passages"] for r in rows], [value(r, key) for r in rows]),
            "from_3k": slope([r["passages"] for r in big], [value(r, key) for r in big]),
        }
    return out


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"
    return "-" if v is None else str(v)


def table(rows: list[dict[str, Any]]) -> str:
    head = "| | " + " | ".join(f"{r['size']:,}" for r in rows) + " |"
    lines = [head, "|---|" + "---|" * len(rows)]
    lines += [f"| {label} | " + " | ".join(_cell(value(r, spec)) for r in rows) + " |" for label, spec in METRICS]
    return "\n".join(lines)


def markdown(result: dict[str, Any]) -> str:
    rows, model = result["sizes"], result.get("model") or {}
    parts = ["# Scale: cost by corpus size", "", table(rows), "", "## Log-log slopes (metric vs passages)", "",
             "| metric | all sizes | 3k and up |", "|---|---|---|"]
    parts += [f"| {k} | {_cell(v['all'])} | {_cell(v['from_3k'])} |" for k, v in result["slopes"].items()]
    rounds = max((int(r.get("add", {}).get("rounds", 1)) for r in rows), default=1)
    if rounds > 1:
        parts += ["", f"Each update row (no-change, add, change, remove) is the median of {rounds} rounds on the same "
                  "index, by time excluding embedding."]
    if reused := [r["size"] for r in rows if r.get("cold_from")]:
        parts += ["", f"Sizes {', '.join(f'{s:,}' for s in reused)}: the cold-build rows (its time and peak RSS) are an "
                  "earlier run's (`--cold`); the updates and queries were timed again on the index it left."]
    if model:
        parts += ["", "## The bundled model", "",
                  f"{model['embedder']}: {model['s_per_passage']} s per passage ({model['passages_per_s']} passages/s) on "
                  f"{model['sample']} passages of ~{model['mean_chars']} characters, {model['cores_busy']} of "
                  f"{model['cores']} cores busy."]
    stand_in = [r["size"] for r in rows if r["embedder"] == "stand-in"]
    if stand_in:
        parts += ["", f"Sizes {', '.join(f'{s:,}' for s in stand_in)}: passages embedded by the stand-in "
                  "(`eval.scale_corpus.StandInEmbedding`: a vector from each text's hash; questions by the model), "
                  "so dense results there are meaningless and embedding costs nothing; add the model's cost per "
                  "passage times the passages written for an update's real cost."]
    largest = max(rows, key=lambda r: r["passages"])
    if largest["passages"] >= 90_000:
        parts += ["", f"## #15 targets at {largest['passages']:,} passages", ""]
        for what, key, limit in TARGETS:
            v = value(largest, key)
            parts.append(f"- {what}: {_cell(v)} — {'met' if v is not None and v <= limit else 'NOT met'}")
        if model and largest["embedder"] != "model":  # the stand-in embeds for free: add the model's cost back
            est = value(largest, "add.excl_embedding_s") + value(largest, "add.rows_written") * model["s_per_passage"]
            parts.append(f"- add one document with the bundled model's embedding (excl. embedding + passages "
                         f"written x the model's s per passage) <= 10 s: {_cell(est)} — {'met' if est <= 10 else 'NOT met'}")
        # an update's own work: the embedding of its passages costs the same at any corpus size (model above)
        for key in ("add.excl_embedding_s", "change.excl_embedding_s", "add_named.excl_embedding_s",
                    "change_named.excl_embedding_s"):
            s = result["slopes"][key]["from_3k"]
            how = "files named" if "_named" in key else "folder rescanned"
            parts.append(f"- update time flat, {how} ({key}, slope from 3k <= 0.2): {_cell(s)} — "
                         f"{'met' if s is not None and s <= 0.2 else 'NOT met'}")
        beyond = [_cell(result["slopes"][f"{k}.beyond_nochange_s"]["from_3k"]) for k in ("add", "change")]
        parts.append(f"- not a target, for the analysis: the same slopes of what an add and a change cost beyond a "
                     f"no-change re-index (listing and stat-ing every file, reading and writing the records): "
                     f"{beyond[0]} and {beyond[1]}")
    return "\n".join(parts) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["passages"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    for key, label in (("add.seconds", "add one document"), ("change.seconds", "change one document"),
                       ("remove.seconds", "remove one document"), ("nochange.seconds", "no-change re-index"),
                       ("cold.excl_embedding_s", "cold build excl. embedding")):
        left.plot(xs, [value(r, key) for r in rows], marker="o", label=label)
    left.set(xscale="log", yscale="log", xlabel="passages", ylabel="seconds", title="index updates")
    for key, label in (("retrieval_p50_ms", "retrieval p50 (ms)"), ("end_to_end_p95_ms", "end-to-end p95 (ms)"),
                       ("query_peak_rss_mb", "peak RSS answering (MB)"), ("index_bytes/1e6", "index on disk (MB)")):
        right.plot(xs, [value(r, key) for r in rows], marker="o", label=label)
    right.set(xscale="log", yscale="log", xlabel="passages", title="queries, memory, disk")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(result: dict[str, Any], out: Path) -> str:
    """scale.json, report.md and scale.png in ``out``; the markdown."""
    result = {**result, "slopes": slopes(result["sizes"])}
    (out / "scale.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    text = markdown(result)
    (out / "report.md").write_text(text, encoding="utf-8")
    plot(result["sizes"], out / "scale.png")
    return text
