"""Soak: a bounded mix of normal and hostile requests through the UI and the /v1 API of one server, on loopback.

    python -m eval soak [--requests 200] [--hostile 50] [--concurrency 8] [--out DIR]
                        [--timeout-s 900] [--request-timeout-s 60] [--export-keep 5]

The whole app (UI behind a password, so logins are exercised, and ``/v1``) runs in this process on a free
loopback port over the default index (updated first). After one untimed warm-up request of each normal kind,
the requests go out ``--concurrency`` at a time: the hostile ones (``eval.soak_requests.HOSTILE``, the issue's
findings 1, 2, 6-10) spread evenly among normal ones (real questions through UI ``/chat`` and
``/v1/chat/completions`` in turn, every ``MATCH_EVERY``-th a 政策找人 run with a labelled profile). Each request
has a client timeout; nothing is sent after ``--timeout-s``. Reported: normal latency (p50/p95/max, how many
over 1 s), whether each hostile request got its expected handling, and the temp dirs the app writes to
(Gradio's cache with the 政策找人 exports, ``policy-qa-*`` in the temp dir) before and after. Exit 1 when a
normal request failed or a hostile one was not handled as expected; latency is reported, never judged.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from assistant.settings import Settings, get_settings, prepare_offline_environment

prepare_offline_environment()

from eval.load_run import error_text  # noqa: E402
from eval.paths import DEFAULT_QUESTIONS, timestamp_dir  # noqa: E402
from eval.soak_requests import HOSTILE, MATCH_EVERY, USER, Probe, Worker, plan, temp_usage  # noqa: E402
from eval.stats import percentile  # noqa: E402

SLOW_S = 1.0  # the bar for a normal request: reported, never asserted
EXPORT_KEEP = 5  # below the run's 政策找人 runs with files (about 13 at 200/50), so old exports get pruned
__all__ = ["HOSTILE", "add_soak_parser", "cmd_soak", "plan", "run_soak", "soak_table", "summarize", "temp_usage"]


# -- the run ------------------------------------------------------------------------------------------------


def _timed(i: int, group: str, name: str, probe: Probe, expect: str, w: Worker, timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        outcome = probe(w, timeout) if timeout > 0 else "not sent: --timeout-s reached"
    except Exception as exc:
        outcome = "error " + error_text(exc)
    took, ok = time.perf_counter() - started, re.match(expect, outcome, re.DOTALL) is not None
    return {"index": i, "group": group, "name": name, "latency_s": round(took, 4), "ok": ok, "outcome": outcome[:200]}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_soak(
    settings: Settings,
    requests: int = 200,
    hostile: int = 50,
    concurrency: int = 8,
    timeout_s: float = 900.0,
    request_timeout_s: float = 60.0,
    questions_path: Path = DEFAULT_QUESTIONS,
) -> dict[str, Any]:
    """Launch the app with a UI password, warm it up, send the plan, and summarise (see the module doc)."""
    from assistant.server import serving

    items = plan(requests, hostile, questions_path)
    warm_up = {name: (probe, ok) for _, name, probe, ok in reversed(plan(MATCH_EVERY * 2, 0, questions_path))}
    auth = (USER, secrets.token_urlsafe(12))
    before, since, load_start = temp_usage(), time.time(), _load()
    with serving(settings, auth=auth) as url:
        workers = [Worker(url, auth, settings) for _ in range(max(1, concurrency))]  # all log in before any attack
        t0 = time.perf_counter()
        warm = [_timed(-1, "warm-up", n, p, ok, workers[0], request_timeout_s) for n, (p, ok) in warm_up.items()]
        t1 = time.perf_counter()
        deadline = time.monotonic() + timeout_s
        idle: queue.Queue[Worker] = queue.Queue()
        for w in workers:
            idle.put(w)

        def one(i: int, item: tuple[str, str, Probe, str]) -> dict[str, Any]:
            w = idle.get()  # as many threads as workers: never waits
            try:
                return _timed(i, *item, w, min(request_timeout_s, deadline - time.monotonic()))
            finally:
                idle.put(w)

        with ThreadPoolExecutor(max_workers=len(workers), thread_name_prefix="soak") as pool:
            records = list(pool.map(lambda a: one(*a), enumerate(items)))
        seconds, after = time.perf_counter() - t1, temp_usage(since)
        for w in workers:
            w.http.close()
            w.ui.close()
    return {
        **summarize(records, warm),
        "warmup_s": round(t1 - t0, 2),
        "seconds": round(seconds, 2),
        "concurrency": len(workers),
        "export_keep": settings.export_keep,
        "load_average": {"start": load_start, "end": _load()},
        "temp": {"before": before, "after": after, "after_shutdown": temp_usage(since)},
        "records": records,
    }


def summarize(records: list[dict[str, Any]], warm: list[dict[str, Any]]) -> dict[str, Any]:
    """Latency of the normal requests that succeeded; the failures; per request name: count, ok, max."""
    lat = sorted(r["latency_s"] for r in records if r["group"] == "normal" and r["ok"])
    bad = {g: [f"#{r['index']} {r['name']}: {r['outcome']}" for r in records + warm if r["group"] == g and not r["ok"]]
           for g in ("normal", "hostile", "warm-up")}  # fmt: skip
    by_name: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(r["name"] for r in records):
        mine = [r for r in records if r["name"] == name]
        took = sorted(r["latency_s"] for r in mine)
        by_name[name] = {"group": mine[0]["group"], "count": len(mine), "ok": sum(r["ok"] for r in mine),
                         "p50_s": percentile(took, 50, 3), "p95_s": percentile(took, 95, 3),
                         "max_s": took[-1]}  # fmt: skip
    return {
        "requests": len(records), "normal": len(lat) + len(bad["normal"]), "hostile": len(records) - len(lat) - len(bad["normal"]),
        "normal_failed": bad["normal"], "hostile_not_handled": bad["hostile"], "warmup_failed": bad["warm-up"],
        "p50_s": percentile(lat, 50, 3), "p95_s": percentile(lat, 95, 3),
        "max_s": round(lat[-1], 3) if lat else None, "over_1s": sum(x > SLOW_S for x in lat), "by_name": by_name,
        "ok": not any(bad.values()),
    }  # fmt: skip


def soak_table(s: dict[str, Any]) -> str:
    lines = [f"{'request':28} {'count':>5} {'ok':>4} {'p50':>9} {'p95':>9} {'max':>9}"]
    for name, e in sorted(s["by_name"].items(), key=lambda kv: (kv[1]["group"] == "hostile", kv[0])):
        took = " ".join(f"{e[k]:>8.3f}s" for k in ("p50_s", "p95_s", "max_s"))
        lines.append(f"{name:28} {e['count']:>5} {e['ok']:>4} {took}")
    mb = {k: {f: f"{v / 1_048_576:.2f} MB" for f, v in t.items() if f.endswith("bytes")} for k, t in s["temp"].items()}
    b, a, z, t = mb["before"], mb["after"], mb["after_shutdown"], s["temp"]
    lines += [
        f"\nrequests     {s['requests']} ({s['normal']} normal, {s['hostile']} hostile), concurrency {s['concurrency']}, "
        f"{s['seconds']} s after a {s['warmup_s']} s warm-up",
        f"load average {s['load_average']['start']} at the start, {s['load_average']['end']} at the end",
        f"normal       p50 {s['p50_s']} s, p95 {s['p95_s']} s, max {s['max_s']} s, over {SLOW_S:.0f} s: {s['over_1s']}, "
        f"failed: {len(s['normal_failed'])}",
        f"hostile      handled as expected: {s['hostile'] - len(s['hostile_not_handled'])} of {s['hostile']}",
        f"gradio cache {b['gradio_cache_bytes']} -> {a['gradio_cache_bytes']} (after shutdown {z['gradio_cache_bytes']}), "
        f"{t['after']['gradio_cache']}; exports {b['exports_bytes']} -> {a['exports_bytes']}, "
        f"folders {t['before']['export_folders']} -> {t['after']['export_folders']} (export_keep {s['export_keep']})",
        f"temp dir     policy-qa-*: {t['before']['policy_qa_entries']} entries {b['policy_qa_bytes']} -> "
        f"{t['after']['policy_qa_entries']} entries {a['policy_qa_bytes']}, {t['after']['temp_dir']}",
        f"verdict      {'OK' if s['ok'] else 'FAILED'}",
    ]  # fmt: skip
    bad = [("normal failed", s["normal_failed"]), ("not handled", s["hostile_not_handled"]), ("warm-up", s["warmup_failed"])]
    return "\n".join(lines + [f"  {label}: {x}" for label, xs in bad for x in xs[:10]])


# -- command line (``python -m eval soak``) -------------------------------------------------------------------


def add_soak_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("soak", help="bounded mix of normal and hostile requests through the UI and /v1 on loopback")
    p.add_argument("--requests", type=int, default=200, help="requests in all (default 200)")
    p.add_argument("--hostile", type=int, default=50, help="of which hostile (default 50)")
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight at once (default 8)")
    p.add_argument("--timeout-s", type=float, default=900.0, help="nothing is sent after this many seconds")
    p.add_argument("--request-timeout-s", type=float, default=60.0, help="client timeout of each request")
    p.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS, help="question set (JSONL)")
    p.add_argument(
        "--export-keep", type=int, default=EXPORT_KEEP, help=f"export_keep for the run (default {EXPORT_KEEP})"
    )
    p.add_argument("--out", type=Path, help="folder for soak.json (default eval/reports/soak-<timestamp>/)")
    p.set_defaults(func=cmd_soak)
    return p


def cmd_soak(args: argparse.Namespace) -> int:
    """Exit 0 when every normal request succeeded and every hostile one was handled, 1 otherwise, 2 on bad options."""
    import assistant
    from eval.dataset import QuestionSetError

    try:
        if args.export_keep < 1:
            raise ValueError("--export-keep must be at least 1")
        plan(args.requests, args.hostile, args.questions)  # bad options fail before the index and the server
    except (ValueError, QuestionSetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("updating the index, then launching the app on loopback ...", file=sys.stderr, flush=True)
    settings = get_settings()
    assistant.ensure_index(settings)
    settings = settings.model_copy(update={"export_keep": args.export_keep})
    result = run_soak(settings, args.requests, args.hostile, args.concurrency, args.timeout_s,
                      args.request_timeout_s, args.questions)  # fmt: skip
    out = (args.out or timestamp_dir("soak-")) / "soak.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"{soak_table(result)}\nsoak.json: {out}")
    return 0 if result["ok"] else 1
