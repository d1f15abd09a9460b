"""One load run against one target: single-user references first, then N concurrent conversations.

A target is a ``Conversation`` factory (``eval.load_ui`` drives the chat UI, ``eval.load_api`` the /v1 API):
one conversation per worker thread, asked its questions in order; every answer is compared with the
single-user answer to the same question, character for character.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from assistant.settings import Settings
from eval.load_results import LoadResult, ReindexStats, RequestRecord

if TYPE_CHECKING:
    from eval.dataset import Question


SERVER_STOP_TIMEOUT_S = 30.0


def _settings_json(settings: Settings) -> str:
    """The settings as JSON with their secrets in clear (``Settings(**json.loads(...))`` rebuilds them)."""
    from pydantic import SecretStr

    data = settings.model_dump(mode="json")
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            data[name] = value.get_secret_value()
    return json.dumps(data)


@contextmanager
def served_apart(settings: Settings) -> Iterator[str]:
    """The app of ``assistant.server.serving(settings)`` in its own interpreter for the block; yields its URL.

    As in production, the server has a GIL of its own: the driver's threads (16 gradio_client or openai
    clients with their stream readers) do not take turns with it. The child gets ``settings`` on its stdin
    (secrets never on a command line) and stops when its stdin closes."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "eval.load_run"],
            cwd=Path(__file__).resolve().parent.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(_settings_json(settings) + "\n")
            proc.stdin.flush()
            url = proc.stdout.readline().strip()  # the child prints its URL once it serves
            if not url.startswith("http://"):
                proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
                log.seek(0)
                raise RuntimeError(f"the app did not start (exit {proc.returncode}):\n{log.read()[-2000:]!r}")
            yield url
        finally:
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _serve_until_stdin_closes() -> None:
    """The child of ``served_apart``: settings from stdin, the URL to stdout, serve until stdin closes."""
    from assistant.server import serving

    settings = Settings(**json.loads(sys.stdin.readline()))
    with serving(settings) as url:
        print(url, flush=True)
        sys.stdin.read()


class Conversation(Protocol):
    """One session of a target: questions asked in order share it; ``reset`` starts a fresh one."""

    def ask(self, question: str, timeout_s: float) -> str: ...
    def reset(self) -> None: ...


@dataclass
class RunSpec:
    url: str
    launched: str  # "": a running app; "own process" / "in-process": launched by the run
    settings: Settings
    pool: list[Question]  # distinct questions (references)
    plan: list[list[Question]]  # each conversation's questions
    reindex: bool
    timeout_s: float
    request_timeout_s: float
    target: str = "ui"


def error_text(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def _reindex_loop(settings: Settings, stop: threading.Event, stats: ReindexStats) -> None:
    """Rebuild the index again and again until ``stop`` (at least once): the product switches builds atomically."""
    from assistant.index.build import update_index

    while True:
        started = time.perf_counter()
        try:
            update_index(settings, rebuild=True, progress=False)
            stats.rounds += 1
        except Exception as exc:  # reported, and it fails the run
            stats.errors.append(error_text(exc))
        stats.seconds.append(time.perf_counter() - started)
        if stop.wait(0.2):
            return


def _references(
    spec: RunSpec, new: Callable[[], Conversation], remaining: Callable[[], float]
) -> tuple[dict[str, str], dict[str, str]]:
    """Each distinct question alone, in a fresh session, one after another."""
    references: dict[str, str] = {}
    errors: dict[str, str] = {}
    conv = new()
    for q in spec.pool:
        if remaining() <= 0:
            errors[q.id] = "not asked: time limit reached"
            continue
        conv.reset()
        try:
            references[q.id] = conv.ask(q.question, min(spec.request_timeout_s, max(remaining(), 1.0)))
        except Exception as exc:
            errors[q.id] = error_text(exc)
    return references, errors


def _converse(
    spec: RunSpec,
    new: Callable[[], Conversation],
    remaining: Callable[[], float],
    references: dict[str, str],
) -> tuple[list[RequestRecord], bool]:
    """Every conversation at once, one thread each; (records, stopped by the time limit)."""
    lock = threading.Lock()
    records: list[RequestRecord] = []
    stopped = threading.Event()

    def converse(c: int) -> None:
        conv = new()
        for i, q in enumerate(spec.plan[c]):
            if remaining() <= 0:
                stopped.set()
                return
            started = time.perf_counter()
            rec = RequestRecord(conversation=c, turn=i, qid=q.id, latency_s=0.0)
            try:
                rec.answer = conv.ask(q.question, min(spec.request_timeout_s, max(remaining(), 1.0)))
            except Exception as exc:
                rec.error = error_text(exc)
            rec.latency_s = time.perf_counter() - started
            if not rec.error and q.id in references:
                rec.matches_reference = rec.answer == references[q.id]
            with lock:
                records.append(rec)

    with ThreadPoolExecutor(max_workers=len(spec.plan), thread_name_prefix="load-conv") as executor:
        for fut in [executor.submit(converse, c) for c in range(len(spec.plan))]:
            try:
                fut.result()
            except Exception as exc:  # a client that could not even connect
                with lock:
                    records.append(RequestRecord(-1, -1, "-", 0.0, error=error_text(exc)))
    records.sort(key=lambda r: (r.conversation, r.turn))
    return records, stopped.is_set()


def run_target(spec: RunSpec, new: Callable[[], Conversation], say: Callable[[str], None]) -> LoadResult:
    """References, then the load (with a re-indexing thread when asked); bounded by ``spec.timeout_s``."""
    deadline = time.monotonic() + spec.timeout_s

    def remaining() -> float:
        return deadline - time.monotonic()

    say(f"[{spec.target}] reference answers: {len(spec.pool)} distinct questions, sequentially ...")
    t0 = time.perf_counter()
    references, reference_errors = _references(spec, new, remaining)
    reference_seconds = time.perf_counter() - t0

    stats = ReindexStats() if spec.reindex else None
    stop = threading.Event()
    reindexer = None
    if stats is not None:  # same index dir: the app sees each new build
        reindexer = threading.Thread(
            target=_reindex_loop, args=(spec.settings.model_copy(), stop, stats), name="load-reindex", daemon=True
        )
    say(
        f"[{spec.target}] load: {len(spec.plan)} conversations x {len(spec.plan[0])} questions"
        + (" while re-indexing" if spec.reindex else "")
    )
    t1 = time.perf_counter()
    if reindexer is not None:
        reindexer.start()
    try:
        records, stopped = _converse(spec, new, remaining, references)
    finally:
        load_seconds = time.perf_counter() - t1
        stop.set()
        if reindexer is not None:
            reindexer.join(timeout=max(remaining(), 0) + 120)
    return LoadResult(
        url=spec.url,
        launched=spec.launched,
        conversations=len(spec.plan),
        questions_per=len(spec.plan[0]),
        distinct_questions=len(spec.pool),
        reindex=spec.reindex,
        timeout_s=spec.timeout_s,
        planned=sum(len(p) for p in spec.plan),
        records=records,
        reference_seconds=reference_seconds,
        reference_errors=reference_errors,
        load_seconds=load_seconds,
        stopped_by_time_limit=stopped or any(v.startswith("not asked") for v in reference_errors.values()),
        reindex_stats=stats,
        target=spec.target,
    )


if __name__ == "__main__":
    _serve_until_stdin_closes()
