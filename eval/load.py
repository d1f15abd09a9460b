"""Load test of the chat UI: N concurrent conversations x M questions through ``gradio_client`` on loopback.

    python -m eval load [--url URL] [--conversations 16] [--questions-per 10] [--reindex] [--timeout-s 600]

Without ``--url`` the app is launched in this process on a free loopback port (the real engine, current
settings) and closed at the end. Each distinct question is first asked once, alone and in a fresh session,
to get its single-user reference answer; then the conversations run concurrently and every answer is
compared with its reference, character for character. With ``--reindex`` a background thread rebuilds the
index (``update_index(rebuild=True)``) over and over while the load runs: answers must not change and no
request may fail. Bounded: at most N x M requests, and nothing new is sent after ``--timeout-s``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from assistant.settings import PROJECT_ROOT, Settings, get_settings, prepare_offline_environment

prepare_offline_environment()

if TYPE_CHECKING:
    from eval.dataset import Question

DEFAULT_QUESTIONS = PROJECT_ROOT / "eval" / "questions.jsonl"
REPORTS_DIR = PROJECT_ROOT / "eval" / "reports"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_DISTINCT = 40
UNANSWERABLE_SHARE = 0.25
MAX_ERROR_SAMPLES = 5

# Openings and endings the chat engine treats as follow-ups (assistant.engine._FOLLOWUP): such a question
# is rewritten from the previous turn, so its answer inside a conversation legitimately differs from the
# single-user one. The load test asks standalone questions only.
_FOLLOWUP_LIKE = re.compile(
    r"^(那|那么|那末|还有|另外|此外|再|同样|它|他们|它们|其|这个|这些|该|上述|对于|关于|and\b|what about|how about)"
    r"|呢[？?]?$",
    re.IGNORECASE,
)


class LoadConfigError(ValueError):
    """Bad options (a non-loopback URL, non-positive counts); the message says which."""


# -- options ------------------------------------------------------------------------------------------


def check_loopback_url(url: str) -> str:
    """The URL with a trailing slash; refuses any host that is not 127.0.0.1, localhost or ::1."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise LoadConfigError(f"--url must be http(s)://127.0.0.1:PORT/, got {url!r}")
    host = (parts.hostname or "").lower()
    if host not in LOOPBACK_HOSTS:
        raise LoadConfigError(f"refusing non-loopback host {host or '(none)'!r}: only 127.0.0.1, localhost, ::1")
    return url if url.endswith("/") else url + "/"


def is_standalone(q: Question) -> bool:
    text = q.question.strip()
    return not q.history and len(text) >= 6 and not _FOLLOWUP_LIKE.search(text)


def _spread(items: list[Question], n: int) -> list[Question]:
    """``n`` items evenly spaced over ``items`` (deterministic, covers every question type)."""
    if n >= len(items):
        return list(items)
    return [items[(i * len(items)) // n] for i in range(n)]


def select_questions(
    questions: list[Question], conversations: int, questions_per: int, distinct: int | None = None
) -> tuple[list[Question], list[list[Question]]]:
    """(distinct questions, each conversation's questions): standalone ones, answerable and unanswerable mixed."""
    pool = [q for q in questions if is_standalone(q)]
    if not pool:
        raise LoadConfigError("no standalone questions in the question set")
    wanted = min(distinct or DEFAULT_DISTINCT, conversations * questions_per, len(pool))
    answerable = [q for q in pool if q.answerable]
    unanswerable = [q for q in pool if not q.answerable]
    n_un = min(len(unanswerable), max(1 if unanswerable else 0, round(wanted * UNANSWERABLE_SHARE)))
    n_ans = min(len(answerable), wanted - n_un)
    n_un = min(len(unanswerable), wanted - n_ans)
    a, u = _spread(answerable, n_ans), _spread(unanswerable, n_un)
    mixed: list[Question] = []
    while a or u:  # three answerable, then one unanswerable
        for _ in range(3):
            if a:
                mixed.append(a.pop(0))
        if u:
            mixed.append(u.pop(0))
    plan = [
        [mixed[(c * questions_per + i) % len(mixed)] for i in range(questions_per)] for c in range(conversations)
    ]
    return mixed, plan


# -- the app ------------------------------------------------------------------------------------------


def launched_app(settings: Settings) -> Any:
    """The real chat UI on a free loopback port for the duration of the block; yields its URL."""
    from assistant.ui_app import serving

    return serving(settings)


def _client(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False)


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def ask_once(client: Any, question: str, timeout_s: float) -> str:
    """One ``/chat`` call; the final answer text. Raises on an app error or after ``timeout_s``."""
    job = client.submit(question, [], [], api_name="/chat")
    try:
        result = job.result(timeout=timeout_s)
    except TimeoutError:
        job.cancel()
        raise TimeoutError(f"no answer within {timeout_s:.0f} s") from None
    return result[0] if isinstance(result, list | tuple) else str(result)


# -- results ------------------------------------------------------------------------------------------


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
    launched: bool
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
            "p50_s": round(percentile(lat, 50), 3),
            "p95_s": round(percentile(lat, 95), 3),
            "max_s": round(lat[-1], 3),
            "mean_s": round(statistics.fmean(lat), 3),
        }

    def summary(self) -> dict[str, Any]:
        errors = self.errors
        mism = self.mismatches
        return {
            "url": self.url,
            "launched_in_process": self.launched,
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


def percentile(sorted_values: list[float], p: float) -> float:
    """Linear-interpolated percentile of already sorted values."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    k = (len(sorted_values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


# -- the run ------------------------------------------------------------------------------------------


def _reindex_loop(settings: Settings, stop: threading.Event, stats: ReindexStats) -> None:
    """Rebuild the index again and again until ``stop`` (at least once): the product switches builds atomically."""
    from assistant.indexing import update_index

    while True:
        started = time.perf_counter()
        try:
            update_index(settings, rebuild=True, progress=False)
            stats.rounds += 1
        except Exception as exc:  # reported, and it fails the run
            stats.errors.append(_error_text(exc))
        stats.seconds.append(time.perf_counter() - started)
        if stop.wait(0.2):
            return


def run_load(
    url: str | None = None,
    *,
    settings: Settings | None = None,
    conversations: int = 16,
    questions_per: int = 10,
    reindex: bool = False,
    timeout_s: float = 600.0,
    questions_path: Path = DEFAULT_QUESTIONS,
    distinct: int | None = None,
    request_timeout_s: float = 180.0,
    log: Callable[[str], None] | None = None,
) -> LoadResult:
    """Run the load test (launching the app in-process when ``url`` is None) and return what happened."""
    if conversations < 1 or questions_per < 1 or timeout_s <= 0:
        raise LoadConfigError("--conversations, --questions-per and --timeout-s must be positive")
    if url is not None:
        url = check_loopback_url(url)
    from eval.dataset import load_questions

    settings = settings or get_settings()
    say = log or (lambda _msg: None)
    pool, plan = select_questions(load_questions(questions_path), conversations, questions_per, distinct)
    deadline = time.monotonic() + timeout_s

    if url is None:
        say("launching the app in-process on loopback ...")
        with launched_app(settings) as own_url:
            return _run(own_url, True, settings, pool, plan, reindex, timeout_s, deadline, request_timeout_s, say)
    return _run(url, False, settings, pool, plan, reindex, timeout_s, deadline, request_timeout_s, say)


def _run(
    url: str,
    launched: bool,
    settings: Settings,
    pool: list[Question],
    plan: list[list[Question]],
    reindex: bool,
    timeout_s: float,
    deadline: float,
    request_timeout_s: float,
    say: Callable[[str], None],
) -> LoadResult:
    def remaining() -> float:
        return deadline - time.monotonic()

    # 1. single-user references: each distinct question alone, in a fresh session, one after another
    say(f"reference answers: {len(pool)} distinct questions, sequentially ...")
    references: dict[str, str] = {}
    reference_errors: dict[str, str] = {}
    t0 = time.perf_counter()
    client = _client(url)
    for q in pool:
        if remaining() <= 0:
            reference_errors[q.id] = "not asked: time limit reached"
            continue
        client.reset_session()
        try:
            references[q.id] = ask_once(client, q.question, min(request_timeout_s, max(remaining(), 1.0)))
        except Exception as exc:
            reference_errors[q.id] = _error_text(exc)
    reference_seconds = time.perf_counter() - t0

    # 2. the load: one client (= one session, one conversation) per worker
    stats: ReindexStats | None = None
    stop = threading.Event()
    reindexer: threading.Thread | None = None
    if reindex:
        stats = ReindexStats()
        reindex_settings = settings.model_copy()  # same index dir: the app sees each new build
        reindexer = threading.Thread(
            target=_reindex_loop, args=(reindex_settings, stop, stats), name="load-reindex", daemon=True
        )
    lock = threading.Lock()
    records: list[RequestRecord] = []
    stopped = threading.Event()

    def converse(c: int) -> None:
        conv_client = _client(url)
        for i, q in enumerate(plan[c]):
            if remaining() <= 0:
                stopped.set()
                return
            started = time.perf_counter()
            rec = RequestRecord(conversation=c, turn=i, qid=q.id, latency_s=0.0)
            try:
                rec.answer = ask_once(conv_client, q.question, min(request_timeout_s, max(remaining(), 1.0)))
            except Exception as exc:
                rec.error = _error_text(exc)
            rec.latency_s = time.perf_counter() - started
            if not rec.error and q.id in references:
                rec.matches_reference = rec.answer == references[q.id]
            with lock:
                records.append(rec)

    say(f"load: {len(plan)} conversations x {len(plan[0])} questions" + (" while re-indexing" if reindex else ""))
    t1 = time.perf_counter()
    if reindexer is not None:
        reindexer.start()
    try:
        with ThreadPoolExecutor(max_workers=len(plan), thread_name_prefix="load-conv") as pool_exec:
            for fut in [pool_exec.submit(converse, c) for c in range(len(plan))]:
                try:
                    fut.result()
                except Exception as exc:  # a client that could not even connect
                    with lock:
                        records.append(RequestRecord(-1, -1, "-", 0.0, error=_error_text(exc)))
    finally:
        load_seconds = time.perf_counter() - t1
        stop.set()
        if reindexer is not None:
            reindexer.join(timeout=max(remaining(), 0) + 120)

    records.sort(key=lambda r: (r.conversation, r.turn))
    return LoadResult(
        url=url,
        launched=launched,
        conversations=len(plan),
        questions_per=len(plan[0]),
        distinct_questions=len(pool),
        reindex=reindex,
        timeout_s=timeout_s,
        planned=sum(len(p) for p in plan),
        records=records,
        reference_seconds=reference_seconds,
        reference_errors=reference_errors,
        load_seconds=load_seconds,
        stopped_by_time_limit=stopped.is_set() or any(v.startswith("not asked") for v in reference_errors.values()),
        reindex_stats=stats,
    )


# -- output -------------------------------------------------------------------------------------------


def load_table(result: LoadResult) -> str:
    s = result.summary()

    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:.3f} s" if isinstance(v, float) else str(v)

    rows = [
        ("app", f"{s['url']}" + (" (launched in-process)" if s["launched_in_process"] else "")),
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
    path = out_dir / "load.json"
    path.write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    return path


# -- command line (``python -m eval load``) --------------------------------------------------------------


def add_load_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("load", help="concurrent conversations against the chat UI on loopback")
    p.add_argument("--url", help="running app (loopback only); default: launch one in-process")
    p.add_argument("--conversations", type=int, default=16, help="concurrent conversations (default 16)")
    p.add_argument("--questions-per", type=int, default=10, help="questions per conversation (default 10)")
    p.add_argument("--distinct", type=int, help=f"distinct questions (default {DEFAULT_DISTINCT})")
    p.add_argument("--reindex", action="store_true", help="rebuild the index in a background thread meanwhile")
    p.add_argument("--timeout-s", type=float, default=600.0, help="stop sending after this many seconds")
    p.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS, help="question set (JSONL)")
    p.add_argument("--corpus", type=Path, help="corpus folder (default: settings)")
    p.add_argument("--index-dir", type=Path, help="index folder (default: settings)")
    p.add_argument("--out", type=Path, help="folder for load.json (default eval/reports/load-<timestamp>/)")
    p.set_defaults(func=cmd_load)
    return p


def cmd_load(args: argparse.Namespace) -> int:
    """Exit 0 when every request succeeded with the single-user answer, 1 otherwise, 2 on bad options."""
    from eval.dataset import QuestionSetError

    overrides: dict[str, Any] = {}
    if args.corpus:
        overrides["corpus_dir"] = args.corpus
    if args.index_dir:
        overrides["index_dir"] = args.index_dir
    base = get_settings()
    settings = base.model_copy(update=overrides) if overrides else base
    try:
        result = run_load(
            args.url,
            settings=settings,
            conversations=args.conversations,
            questions_per=args.questions_per,
            reindex=args.reindex,
            timeout_s=args.timeout_s,
            questions_path=args.questions,
            distinct=args.distinct,
            log=lambda msg: print(msg, file=sys.stderr, flush=True),
        )
    except (LoadConfigError, QuestionSetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out_dir = args.out or REPORTS_DIR / f"load-{datetime.now():%Y%m%d-%H%M%S}"
    path = write_load(result, out_dir)
    print(load_table(result))
    print(f"load.json: {path}")
    return 0 if result.ok else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.load")
    add_load_parser(ap.add_subparsers(dest="command", required=True))
    return cmd_load(ap.parse_args(["load", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    sys.exit(main())
