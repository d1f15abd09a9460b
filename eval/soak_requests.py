"""The soak's requests (``python -m eval soak``, ``eval.soak``): the clients, the hostile inputs, the plan.

Each request is a ``Probe``: it sends one request and returns its outcome as text ("<status> <body>" for HTTP,
"ok <outputs>" for a UI call; the runner turns an exception into "error <message>"). The request counts as
handled when a regex matches that outcome from the start: a refusal's status and code, the app's message,
or (for inputs the app accepts) what must not be in the answer.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.settings import Settings, prepare_offline_environment

prepare_offline_environment()

from eval.dataset import read_jsonl  # noqa: E402
from eval.load import select_questions  # noqa: E402
from eval.load_api import ApiConversation  # noqa: E402
from eval.load_ui import ask_once  # noqa: E402
from eval.paths import DEFAULT_PROFILES, DEFAULT_QUESTIONS  # noqa: E402

USER = "soak"
TURNS_PER_SESSION = 5  # a normal conversation asks this many questions, then a fresh session starts
MATCH_EVERY = 10  # every 10th normal request is a 政策找人 run (UI and /v1/match in turn)
MD_ATTACK = "[点此领取补贴](http://evil.example/x) ![](http://evil.example/p.png)"
HYPERLINK = '=HYPERLINK("http://x","点击")'
QUESTION = "温州对首次小升规企业奖励多少？"
JSON = {"content-type": "application/json"}


def match_form(description: str, industry: str = "") -> tuple[Any, ...]:
    """The 政策找人 form in ``/match``'s order: description, place, industry, numbers, grades, boxes, options."""
    return (description, None, industry, None, None, None, "未知", [], [], "未知", False, False)


class Worker:
    """One client's connections: a logged-in gradio_client, an OpenAI-style conversation, an httpx client."""

    def __init__(self, url: str, auth: tuple[str, str], settings: Settings) -> None:
        import httpx
        from gradio_client import Client

        self.url, self.settings, self.turns, self.since = url, settings, 0, time.time()
        self.ui = Client(url, auth=auth, verbose=False, download_files=False)
        self.api = ApiConversation(url)
        self.http = httpx.Client(base_url=url, cookies=self.ui.cookies)

    def next_turn(self) -> None:
        if self.turns % TURNS_PER_SESSION == 0:
            self.ui.reset_session()
            self.api.reset()
        self.turns += 1

    def call(self, api_name: str, args: tuple[Any, ...], timeout: float) -> Any:
        """One UI endpoint call in a session of its own (hostile input stays out of normal conversations)."""
        self.ui.reset_session()
        self.turns = 0
        job = self.ui.submit(*args, api_name=api_name)
        try:
            return job.result(timeout=timeout)
        except TimeoutError:
            job.cancel()
            raise


Probe = Callable[[Worker, float], str]  # sends a request; its outcome as text: "<status> <body>", "ok ...", "error ..."


def _body(question: str) -> bytes:
    return json.dumps({"model": "policy-qa", "messages": [{"role": "user", "content": question}]}, ensure_ascii=False).encode()


def http(method: str, path: str, **kw: Any) -> Probe:
    def probe(w: Worker, timeout: float) -> str:
        args = {**kw, "content": kw["content"]()} if callable(kw.get("content")) else kw
        r = w.http.request(method, path, timeout=timeout, **args)
        return f"{r.status_code} {r.text}"

    return probe


def ui(api_name: str, *args: Any) -> Probe:
    """A UI endpoint call; a refusal raises (AppError, or HTTPStatusError from the edge): "error ..." then."""
    return lambda w, timeout: "ok " + " ".join(map(str, w.call(api_name, args, timeout)))


def capped(question: str) -> Probe:
    """A long question through UI /chat: answered, and the sources panel shows it cut to max_question_chars."""

    def probe(w: Worker, timeout: float) -> str:
        answer, sources = w.call("/chat", (question, [], []), timeout)[:2]
        cut = question[: w.settings.max_question_chars + 1] not in sources
        return f"{'capped' if cut else 'NOT capped'} ({len(sources)} chars of sources): {answer}"

    return probe


def csv_export(w: Worker, timeout: float) -> str:
    """A 政策找人 run whose profile text starts with a formula, and its CSV download."""
    out = w.call("/match", match_form(f"{HYPERLINK}乐清的一家制造业企业", HYPERLINK), timeout)
    text = w.http.get(out[2]["value"]["url"], timeout=timeout).text
    cells = [c for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for c in row]
    formulas = [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    return f"{len(formulas)} formula cells of {len(cells)} {formulas[:2]}, HYPERLINK as text: {'HYPERLINK' in text}"


def exports(w: Worker, timeout: float) -> str:
    """One more 政策找人 run with files; then the export folders written since the soak began."""
    out = w.call("/match", match_form("乐清的一家制造业企业，120人，专精特新"), timeout)
    kept, keep = temp_usage(w.since)["export_folders_since_start"], w.settings.export_keep
    return f"{'within' if kept <= keep and 'pqa-matches' in out[0] else 'OVER'} export_keep: {kept} of {keep} folders"


def wrong_logins(w: Worker, timeout: float) -> str:
    """``login_max_failures`` + 1 wrong passwords in a row: refused (400), and throttled (429) by the last."""
    data = {"username": USER, "password": "wrong"}
    return " ".join(str(w.http.post("login", data=data, timeout=timeout).status_code) for _ in range(w.settings.login_max_failures + 1))


@lru_cache(maxsize=1)
def _thirty_mb() -> bytes:
    return b'{"data": ["' + b"x" * 30_000_000 + b'"], "fn_index": 0, "session_hash": "soak"}'


TOO_LONG, UNREADABLE = r"^ok .*企业描述过长", r"^error .*没有识别到可以检索的文字"
ONE_MB, NEAR_CAP = QUESTION + "长" * 1_000_000, QUESTION + "长" * 250_000  # 3 MB and 0.75 MB of UTF-8
CHAT = "v1/chat/completions"
NO_OUTSIDE = r"^ok (?!.*(<img|(src|href)=[\"']?https?://evil))"
# (name as "finding:what", the request, a regex its outcome must match from the start)
HOSTILE: list[tuple[str, Probe, str]] = [
    ("1:ui-match-12k-digits", ui("/match", *match_form("1" * 12000)), TOO_LONG),
    ("1:api-match-12k-digits", http("POST", "v1/match", json={"text": "1" * 12000}), "^400 .*input_too_long"),
    ("2:ui-chat-20k-yi", capped("一" * 20000), "^capped .*: ."),
    ("2:api-chat-20k-yi", http("POST", CHAT, content=_body("一" * 20000), headers=JSON), "^400 .*question_too_long"),
    ("2:ui-chat-20k-comma", ui("/chat", "、" * 20000, [], []), UNREADABLE),
    ("2:api-chat-20k-comma", http("POST", CHAT, content=_body("、" * 20000), headers=JSON), "^400 .*question_too_long"),
    ("2:ui-match-20k-yi", ui("/match", *match_form("一" * 20000)), TOO_LONG),
    ("2:api-match-20k-yi", http("POST", "v1/match", json={"text": "一" * 20000}), "^400 .*input_too_long"),
    ("2:ui-match-20k-comma", ui("/match", *match_form("、" * 20000)), TOO_LONG),
    ("2:api-match-20k-comma", http("POST", "v1/match", json={"text": "、" * 20000}), "^400 .*input_too_long"),
    ("6:ui-chat-markdown", ui("/chat", f"{MD_ATTACK} {QUESTION}", [], []), NO_OUTSIDE),
    ("6:api-chat-markdown", http("POST", CHAT, content=_body(f"{MD_ATTACK} {QUESTION}"), headers=JSON), "^200 (?!.*evil)"),
    ("6:deep-link-save", http("GET", "gradio_api/deep_link", params={"session_hash": "soak"}), "^404 "),
    ("6:deep-link-open", http("GET", "", params={"deep_link": "0123abcd"}), "^200 "),  # the plain page
    ("7:ui-match-exports", exports, "^within"),
    ("8:ui-match-hyperlink-csv", csv_export, "^0 formula cells .*as text: True"),
    ("8:ui-chat-hyperlink", ui("/chat", HYPERLINK + QUESTION, [], []), "^ok ."),
    ("8:api-chat-hyperlink", http("POST", CHAT, content=_body(HYPERLINK + QUESTION), headers=JSON), "^200 .*chat.completion"),
    ("8:api-match-hyperlink", http("POST", "v1/match", json={"text": HYPERLINK + "乐清的一家制造业企业"}), '^200 .*"measures"'),
    ("9:wrong-logins", wrong_logins, "^((400|429) )*429$"),
    ("9:host-evil-ui", http("GET", "", headers={"Host": "evil.example"}), "^400 .*host_not_allowed"),
    ("9:host-evil-api", http("GET", "v1/models", headers={"Host": "evil.example"}), "^400 .*host_not_allowed"),
    ("9:cross-origin-upload", http("POST", "gradio_api/upload", files={"files": ("a.txt", b"x", "text/plain")},
                                   headers={"Origin": "http://evil.example"}), "^403 .*origin_not_allowed"),
    ("10:ui-chat-1m-chars", ui("/chat", ONE_MB, [], []), "^error .*413"),
    ("10:api-chat-1m-chars", http("POST", CHAT, content=_body(ONE_MB), headers=JSON), "^413 .*request_too_large"),
    ("10:ui-chat-750kb", capped(NEAR_CAP), "^capped .*: ."),
    ("10:api-chat-750kb", http("POST", CHAT, content=_body(NEAR_CAP), headers=JSON), "^400 .*question_too_long"),
    ("10:ui-body-30mb", http("POST", "gradio_api/queue/join", content=_thirty_mb, headers=JSON), "^413 .*request_too_large"),
    ("10:api-body-30mb", http("POST", CHAT, content=_thirty_mb, headers=JSON), "^413 .*request_too_large"),
]  # fmt: skip
NORMAL_OK = {"ui-chat": "^ok .", "api-chat": "^ok .", "ui-match": "^ok .*pqa-matches", "api-match": '^200 .*"measures"'}


def normal(kind: str, item: Any) -> Probe:
    """A question through UI /chat or /v1 chat, or a labelled profile through UI /match or /v1/match."""

    def probe(w: Worker, timeout: float) -> str:
        if kind in ("ui-chat", "api-chat"):
            w.next_turn()
            ask = (lambda q, t: ask_once(w.ui, q, t)) if kind == "ui-chat" else w.api.ask
            return "ok " + ask(item.question, timeout)
        if kind == "ui-match":
            return "ok " + w.ui.submit(*match_form(item["description"]), api_name="/match").result(timeout=timeout)[0]
        r = w.http.post("v1/match", json={"profile": item["profile"]}, timeout=timeout)
        return f"{r.status_code} {r.text}"

    return probe


def plan(total: int, hostile: int, questions_path: Path = DEFAULT_QUESTIONS) -> list[tuple[str, str, Probe, str]]:
    """``total`` requests as (group, name, probe, expected outcome): ``hostile`` of them spread evenly."""
    from eval.dataset import load_questions

    if total < 1 or not 0 <= hostile <= total:
        raise ValueError("--requests must be positive and --hostile between 0 and --requests")
    n_normal = total - hostile
    questions = select_questions(load_questions(questions_path), 1, max(1, n_normal))[1][0]
    profiles = list(read_jsonl(DEFAULT_PROFILES))
    items: list[tuple[str, str, Probe, str]] = []
    n = {"hostile": 0, "normal": 0, "chat": 0, "match": 0}
    for i in range(total):
        if (i + 1) * hostile // total > i * hostile // total:
            items.append(("hostile", *HOSTILE[n["hostile"] % len(HOSTILE)]))
            n["hostile"] += 1
            continue
        if n["normal"] % MATCH_EVERY == MATCH_EVERY - 1:
            kind, item = ("ui-match", "api-match")[n["match"] % 2], profiles[n["match"] % len(profiles)]
            n["match"] += 1
        else:
            kind, item = ("ui-chat", "api-chat")[n["chat"] % 2], questions[n["chat"]]
            n["chat"] += 1
        n["normal"] += 1
        items.append(("normal", kind, normal(kind, item), NORMAL_OK[kind]))
    return items


# -- what the app leaves on disk ------------------------------------------------------------------------


def _stat(path: Path, field: str = "st_size") -> float:
    """A file's size (a folder's: its files' total) or another stat field; 0 for what vanished meanwhile."""
    try:
        if field == "st_size" and path.is_dir():
            return sum(_stat(f) for f in path.rglob("*") if f.is_file())
        return getattr(path.stat(), field)
    except (FileNotFoundError, NotADirectoryError):
        return 0


def temp_usage(since: float = 0.0) -> dict[str, Any]:
    """What the app writes to: Gradio's cache (with the 政策找人 exports) and ``policy-qa-*`` in the temp dir.

    ``export_folders_since_start``: export folders last written at or after ``since`` (the soak's own)."""
    from gradio.utils import get_upload_folder

    from assistant.ui.exports import EXPORTS_FOLDER, ExportStore

    tmp, cache = Path(tempfile.gettempdir()), Path(get_upload_folder())
    own, folders = list(tmp.glob("policy-qa-*")), ExportStore(cache / EXPORTS_FOLDER, 1, 0).folders()
    return {
        "temp_dir": str(tmp), "policy_qa_entries": len(own), "policy_qa_bytes": int(sum(map(_stat, own))),
        "gradio_cache": str(cache), "gradio_cache_bytes": int(_stat(cache)), "export_folders": len(folders),
        "exports_bytes": int(sum(map(_stat, folders))),
        "export_folders_since_start": sum(since > 0 and _stat(f, "st_mtime") >= since for f in folders),
    }  # fmt: skip
