"""``python -m eval bench``: speed and memory of the product next to a plain LlamaIndex baseline.

Each side runs in its own subprocess so peak RSS (``ru_maxrss``) is that side's alone, and both start
from an empty temp index dir with no shipped vector cache, so "cold build" includes embedding.
The baseline (default ``SentenceSplitter`` + in-memory ``VectorStoreIndex`` + the product's
extractive answerer) has no incremental indexing: its "no-change re-index" rebuilds the index, but
with the vector cache the cold build left behind, i.e. it pays for splitting and indexing only.
That favours the baseline; the product must still beat it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from time import perf_counter
from typing import Any

from assistant.settings import Settings
from eval.dataset import Question
from eval.paths import DEFAULT_QUESTIONS, EVAL_DIR, timestamp_dir
from eval.stats import percentile

SIDES = ("product", "baseline")
ROWS = (
    ("cold_build_s", "cold index build (s)"),
    ("reindex_s", "no-change re-index (s)"),
    ("retrieval_p50_ms", "warm retrieval p50 (ms)"),
    ("retrieval_p95_ms", "warm retrieval p95 (ms)"),
    ("e2e_p50_ms", "end-to-end p50 (ms)"),
    ("e2e_p95_ms", "end-to-end p95 (ms)"),
    ("peak_rss_mb", "peak RSS (MB)"),
)


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


def _timed_queries(ask: Any, questions: Sequence[Question]) -> dict[str, Any]:
    """Warm latencies: one untimed warm-up query, then each question once (single turn)."""
    ask(questions[0].question)
    retrieval, e2e = [], []
    for q in questions:
        start = perf_counter()
        r_ms = ask(q.question)
        e2e.append((perf_counter() - start) * 1000)
        if r_ms is not None:
            retrieval.append(r_ms)
    return {
        "queries": len(questions),
        "retrieval_p50_ms": percentile(retrieval, 50, 2),
        "retrieval_p95_ms": percentile(retrieval, 95, 2),
        "e2e_p50_ms": percentile(e2e, 50, 2),
        "e2e_p95_ms": percentile(e2e, 95, 2),
    }


def product_side(settings: Settings, questions: Sequence[Question]) -> dict[str, Any]:
    import assistant
    from assistant.index.build import update_index

    start = perf_counter()
    cold = update_index(settings, rebuild=True, progress=False, use_shipped_cache=False)
    out: dict[str, Any] = {"cold_build_s": round(perf_counter() - start, 2), "chunks": cold.chunks}
    start = perf_counter()
    again = update_index(settings, progress=False, use_shipped_cache=False)
    out["reindex_s"] = round(perf_counter() - start, 3)
    out["reindex_unchanged"] = again.unchanged
    engine = assistant.build_query_engine(settings=settings)
    stages: dict[str, list[float]] = {}

    def ask(text: str) -> float | None:
        timings = (engine.query(text).metadata or {}).get("timings") or {}
        for key, ms in timings.items():
            stages.setdefault(key, []).append(ms)
        return timings.get("retrieval_ms")

    out.update(_timed_queries(ask, questions))
    # Where the product's time goes (its own stage timings), to explain a slow figure above.
    out["engine_stage_p50_ms"] = {k: percentile(v[1:], 50, 2) for k, v in stages.items()}  # [0] is the warm-up
    return out


def baseline_side(settings: Settings, questions: Sequence[Question]) -> dict[str, Any]:
    from assistant.qa.extractive import ExtractiveAnswerer
    from eval.pipelines import BaselinePipeline, plain_nodes, vector_retriever

    start = perf_counter()
    nodes = plain_nodes(settings)
    vector_retriever(nodes, settings, use_shipped_cache=False)
    out: dict[str, Any] = {"cold_build_s": round(perf_counter() - start, 2), "chunks": len(nodes)}
    start = perf_counter()
    retrieve = vector_retriever(plain_nodes(settings), settings, use_shipped_cache=False)
    out["reindex_s"] = round(perf_counter() - start, 3)
    pipeline = BaselinePipeline("vector", retrieve, ExtractiveAnswerer())

    def ask(text: str) -> float | None:
        return pipeline.ask(Question(id="bench", question=text, answerable=True)).retrieval_ms

    out.update(_timed_queries(ask, questions))
    return out


def run_side(side: str, corpus_dir: Path | None, questions: Sequence[Question]) -> dict[str, Any]:
    """Measure one side in THIS process (called inside the subprocess); temp index dir, no shipped cache."""
    with tempfile.TemporaryDirectory(prefix=f"policyqa-bench-{side}-") as tmp:
        kwargs: dict[str, Any] = {"index_dir": Path(tmp) / "index", "answerer": "extractive"}
        if corpus_dir is not None:
            kwargs["corpus_dir"] = corpus_dir
        settings = Settings(**kwargs)
        result = (product_side if side == "product" else baseline_side)(settings, questions)
    result["peak_rss_mb"] = _peak_rss_mb()
    result["load_avg_1m"] = round(os.getloadavg()[0], 2)  # other work on the machine skews every figure
    return result


def spawn_side(side: str, corpus_dir: Path | None, questions_file: Path, limit: int | None) -> dict[str, Any]:
    """Run one side in a fresh interpreter and read its JSON result."""
    with tempfile.TemporaryDirectory(prefix="policyqa-bench-") as tmp:
        out_file = Path(tmp) / f"{side}.json"
        cmd = [sys.executable, "-m", "eval", "bench-side", side, "--questions", str(questions_file)]
        cmd += ["--json-out", str(out_file)]
        if corpus_dir is not None:
            cmd += ["--corpus", str(corpus_dir)]
        if limit:
            cmd += ["--limit", str(limit)]
        proc = subprocess.run(cmd, cwd=EVAL_DIR.parent, check=False)  # where `-m eval` imports this package
        if proc.returncode != 0 or not out_file.exists():
            raise RuntimeError(f"bench side '{side}' failed (exit {proc.returncode}); see its output above")
        return json.loads(out_file.read_text("utf-8"))


def ratios(product: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key, _ in ROWS:
        a, b = product.get(key), baseline.get(key)
        out[key] = round(a / b, 3) if a is not None and b else None
    return out


def bench_table(result: dict[str, Any]) -> str:
    rows = [["", "product", "baseline", "product/baseline"]]
    for key, label in ROWS:
        vals = [result["product"].get(key), result["baseline"].get(key), result["ratio"].get(key)]
        rows.append([label, *("-" if v is None else f"{v:g}" for v in vals)])
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    p, b = result["product"], result["baseline"]
    lines.append(
        f"chunks: product {p.get('chunks')}, baseline {b.get('chunks')}; queries {p.get('queries')}; "
        f"product re-index reported unchanged: {p.get('reindex_unchanged')}"
    )
    lines.append(
        f"machine load (1 min) at the end: product {p.get('load_avg_1m')}, baseline {b.get('load_avg_1m')}"
    )
    if p.get("engine_stage_p50_ms"):
        lines.append(
            "product stages p50 (ms): " + ", ".join(f"{k} {v:g}" for k, v in p["engine_stage_p50_ms"].items())
        )
    return "\n".join(lines)


def bench(
    corpus_dir: Path | None, questions_file: Path, out_dir: Path, limit: int | None = None
) -> dict[str, Any]:
    """Both sides one after the other (not in parallel: 2 cores), then ratios; writes bench.json."""
    result: dict[str, Any] = {side: spawn_side(side, corpus_dir, questions_file, limit) for side in SIDES}
    result["ratio"] = ratios(result["product"], result["baseline"])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    return result


def add_bench_parsers(sub: argparse._SubParsersAction) -> None:
    """``bench`` and the internal ``bench-side`` (one side per process, so its peak RSS is its own)."""
    b = sub.add_parser("bench", help="speed and memory: product vs plain LlamaIndex baseline")
    b.add_argument("--corpus", type=Path, help="corpus folder (default: settings)")
    b.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS, help="questions timed warm")
    b.add_argument("--limit", type=int, help="only the first N questions")
    b.add_argument("--out", type=Path, help="folder for bench.json (default eval/reports/bench-<timestamp>/)")
    b.set_defaults(func=cmd_bench)

    side = sub.add_parser("bench-side", help=argparse.SUPPRESS)  # internal: one bench side per process
    side.add_argument("side", choices=("product", "baseline"))
    side.add_argument("--corpus", type=Path)
    side.add_argument("--questions", type=Path, required=True)
    side.add_argument("--limit", type=int)
    side.add_argument("--json-out", type=Path, required=True)
    side.set_defaults(func=cmd_bench_side)


def cmd_bench(args: argparse.Namespace) -> int:
    from eval.dataset import QuestionSetError, load_questions

    try:
        load_questions(args.questions, limit=args.limit)  # fail fast, before minutes of indexing
    except QuestionSetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out_dir = args.out or timestamp_dir("bench-")
    try:
        result = bench(args.corpus, args.questions, out_dir, limit=args.limit)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(bench_table(result))
    print(f"bench.json: {out_dir / 'bench.json'}")
    return 0


def cmd_bench_side(args: argparse.Namespace) -> int:
    from eval.dataset import load_questions

    result = run_side(args.side, args.corpus, load_questions(args.questions, limit=args.limit))
    args.json_out.write_text(json.dumps(result), "utf-8")
    return 0
