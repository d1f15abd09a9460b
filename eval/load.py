"""Load test: N concurrent conversations x M questions through the chat UI and/or the /v1 API, on loopback.

    python -m eval load [--target ui|api|both] [--url URL] [--conversations 16] [--questions-per 10]
                        [--reindex] [--timeout-s 600]

Without ``--url`` the app (UI at ``/``, API at ``/v1``) is launched in its own process (``eval.load_run.served_apart``)
on a free loopback port (the real engine, current settings) and stopped at the end; ``--in-process`` launches it
in this process instead, where the driver's client threads compete with the server for one GIL (the UI's
gradio_client costs several ms of CPU per question, which then shows up as server latency). Per target, each distinct question is first asked
once, alone and in a fresh session, to get its single-user reference answer; then the conversations run
concurrently and every answer is compared with its reference, character for character. Target ``ui`` drives
the Gradio chat through ``gradio_client``, ``api`` drives ``/v1/chat/completions`` through the ``openai``
client (``eval.load_ui``, ``eval.load_api``). With ``--reindex`` a background thread rebuilds the index
(``update_index(rebuild=True)``) over and over while the load runs: answers must not change and no request
may fail. Bounded: at most N x M requests per target, and nothing new is sent after ``--timeout-s``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from assistant.settings import Settings, get_settings, prepare_offline_environment

prepare_offline_environment()

from eval.load_results import (  # noqa: E402 - re-exported: callers import them from eval.load
    LoadResult,
    ReindexStats,
    RequestRecord,
    load_table,
    percentile,
    write_load,
)
from eval.load_run import Conversation, RunSpec, run_target  # noqa: E402
from eval.paths import DEFAULT_QUESTIONS, timestamp_dir  # noqa: E402

if TYPE_CHECKING:
    from eval.dataset import Question

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_DISTINCT = 40
UNANSWERABLE_SHARE = 0.25
TARGETS = ("ui", "api")

__all__ = [
    "TARGETS",
    "LoadConfigError",
    "LoadResult",
    "ReindexStats",
    "RequestRecord",
    "add_load_parser",
    "check_loopback_url",
    "cmd_load",
    "launched_app",
    "load_table",
    "main",
    "percentile",
    "run_load",
    "run_loads",
    "select_questions",
    "write_load",
]

# Openings and endings the chat engine treats as follow-ups (assistant.qa.engine._FOLLOWUP): such a question
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


def launched_app(settings: Settings, in_process: bool = False) -> Any:
    """The app (chat UI at ``/``, API at ``/v1``) on a free loopback port for the block; yields its URL.

    Default: in its own process (``eval.load_run.served_apart``), as browsers and clients are in production."""
    if in_process:
        from assistant.server import serving

        return serving(settings)
    from eval.load_run import served_apart

    return served_apart(settings)


def conversation_factory(target: str, url: str) -> Callable[[], Conversation]:
    """New sessions of ``target`` ("ui" or "api") on the app at ``url``."""
    if target == "ui":
        from eval.load_ui import UiConversation

        return lambda: UiConversation(url)
    if target == "api":
        from eval.load_api import ApiConversation

        return lambda: ApiConversation(url)
    raise LoadConfigError(f"unknown target {target!r}: ui, api or both")


# -- the run ------------------------------------------------------------------------------------------


def run_loads(
    url: str | None = None,
    *,
    targets: tuple[str, ...] = ("ui",),
    settings: Settings | None = None,
    conversations: int = 16,
    questions_per: int = 10,
    reindex: bool = False,
    timeout_s: float = 600.0,
    questions_path: Path = DEFAULT_QUESTIONS,
    distinct: int | None = None,
    request_timeout_s: float = 180.0,
    log: Callable[[str], None] | None = None,
    in_process: bool = False,
) -> list[LoadResult]:
    """One load run per target, one after another, against one app (launched when ``url`` is None: in its own
    process, or in this one with ``in_process``)."""
    if conversations < 1 or questions_per < 1 or timeout_s <= 0:
        raise LoadConfigError("--conversations, --questions-per and --timeout-s must be positive")
    if not targets or any(t not in TARGETS for t in targets):
        raise LoadConfigError(f"--target must be one of ui, api, both; got {targets!r}")
    if url is not None:
        url = check_loopback_url(url)
    from eval.dataset import load_questions

    settings = settings or get_settings()
    say = log or (lambda _msg: None)
    pool, plan = select_questions(load_questions(questions_path), conversations, questions_per, distinct)

    def run_all(app_url: str, launched: str) -> list[LoadResult]:
        return [
            run_target(
                RunSpec(app_url, launched, settings, pool, plan, reindex, timeout_s, request_timeout_s, target),
                conversation_factory(target, app_url),
                say,
            )
            for target in targets
        ]

    if url is None:
        how = "in-process" if in_process else "own process"
        say(f"launching the app ({how}) on loopback ...")
        with launched_app(settings, in_process) as own_url:
            return run_all(own_url, how)
    return run_all(url, "")


def run_load(url: str | None = None, *, target: str = "ui", **kwargs: Any) -> LoadResult:
    """The load run of one target (see ``run_loads``)."""
    return run_loads(url, targets=(target,), **kwargs)[0]


# -- command line (``python -m eval load``) --------------------------------------------------------------


def add_load_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("load", help="concurrent conversations against the chat UI and/or the /v1 API on loopback")
    p.add_argument("--target", choices=("ui", "api", "both"), default="ui", help="what to drive (default ui)")
    p.add_argument("--url", help="running app (loopback only); default: launch one in its own process")
    p.add_argument(
        "--in-process", action="store_true", help="launch the app in this process (shares the GIL with the driver)"
    )
    p.add_argument("--conversations", type=int, default=16, help="concurrent conversations (default 16)")
    p.add_argument("--questions-per", type=int, default=10, help="questions per conversation (default 10)")
    p.add_argument("--distinct", type=int, help=f"distinct questions (default {DEFAULT_DISTINCT})")
    p.add_argument("--reindex", action="store_true", help="rebuild the index in a background thread meanwhile")
    p.add_argument("--timeout-s", type=float, default=600.0, help="per target: stop sending after this many seconds")
    p.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS, help="question set (JSONL)")
    p.add_argument("--corpus", type=Path, help="corpus folder (default: settings)")
    p.add_argument("--index-dir", type=Path, help="index folder (default: settings)")
    p.add_argument("--out", type=Path, help="folder for load-<target>.json (default eval/reports/load-<timestamp>/)")
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
        results = run_loads(
            args.url,
            targets=TARGETS if args.target == "both" else (args.target,),
            settings=settings,
            conversations=args.conversations,
            questions_per=args.questions_per,
            reindex=args.reindex,
            timeout_s=args.timeout_s,
            questions_path=args.questions,
            distinct=args.distinct,
            log=lambda msg: print(msg, file=sys.stderr, flush=True),
            in_process=args.in_process,
        )
    except (LoadConfigError, QuestionSetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out_dir = args.out or timestamp_dir("load-")
    for result in results:
        path = write_load(result, out_dir)
        print(load_table(result))
        print(f"{path.name}: {path}\n")
    return 0 if all(r.ok for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.load")
    add_load_parser(ap.add_subparsers(dest="command", required=True))
    return cmd_load(ap.parse_args(["load", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    sys.exit(main())
