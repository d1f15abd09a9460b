"""The history store on SQLite and on a real PostgreSQL server: turns, feedback, keys, export, crash safety.

Every store test runs on both backends. The PostgreSQL server is started by the tests (initdb + pg_ctl
on 127.0.0.1, see pg_server.py); without the Debian ``postgresql`` package those tests skip, except
when CI=true, where they fail: CI must really run them.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pg_server import PgServer, find_bin_dir

from assistant.settings import PROJECT_ROOT, Settings, get_settings
from assistant.storage import (
    History,
    KeyNameTakenError,
    StorageError,
    TurnRecord,
    UnknownTurnError,
    close_all,
    open_history,
)

CHILD_TIMEOUT_S = 180


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL tests cannot run in CI: {reason} (run .ci/system-deps.sh)")
    pytest.skip(f"PostgreSQL tests skipped: {reason} (apt-get install postgresql)")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        _unavailable("no server binaries under /usr/lib/postgresql/*/bin")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("the psycopg driver is not installed (pip install -e '.[dev]')")
    server = PgServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.xdist_group("pg_server"))])  # one server
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.sqlite3'}"
    return request.getfixturevalue("pg_server").new_database()


@pytest.fixture
def history(db_url: str) -> Iterator[History]:
    store = History(db_url)
    yield store
    store.close()


def turn(i: int, conversation: str = "c1", **overrides: object) -> TurnRecord:
    values: dict[str, object] = {
        "id": f"chatcmpl-{i}",
        "conversation_id": conversation,
        "channel": "api",
        "question": f"温州对首次小升规企业奖励多少？（{i}）",
        "answer": f"奖励20万元[1]（{i}）",
        "citations": [{"n": 1, "title": "甲市促进中小企业发展若干措施", "section": "一、支持企业做大做强"}],
        "answerable": True,
        "build_id": "20250101-abc123",
        "answerer": "extractive",
        "timings": {"retrieve": 0.012, "total": 0.05},
    }
    values.update(overrides)
    return TurnRecord.model_validate(values)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


# -- turns and conversations -----------------------------------------------------------------------


def test_turns_and_conversations_round_trip(history: History) -> None:
    first = turn(1, created_at=at("2025-01-01T10:00:00"), owner="alice")
    second = turn(2, created_at=at("2025-01-01T10:01:00"), owner="alice")
    other = turn(3, "c2", created_at=at("2025-01-02T09:00:00"), question="=SUM(A1)", owner="bob")
    for t in (first, second, other):
        history.record_turn(t)

    assert history.conversation_turns("c1") == [first, second]
    assert history.get_turn("chatcmpl-3") == other
    assert history.get_turn("nope") is None
    convs = history.list_conversations()
    assert [(c.id, c.turns, c.updated_at) for c in convs] == [
        ("c2", 1, other.created_at),
        ("c1", 2, second.created_at),
    ]
    assert convs[1].title == first.question
    assert [c.id for c in history.list_conversations(owner="alice")] == ["c1"]
    assert [c.id for c in history.list_conversations(limit=1)] == ["c2"]


def test_long_title_is_truncated_and_rerecording_replaces(history: History) -> None:
    history.record_turn(turn(1, question="问" * 100))
    history.record_turn(turn(1, question="问" * 100, answer="更正后的回答"))
    (conv,) = history.list_conversations()
    assert conv.turns == 1 and conv.title.endswith("…") and len(conv.title) <= 40
    assert history.get_turn("chatcmpl-1").answer == "更正后的回答"


# -- feedback ----------------------------------------------------------------------------------------


def test_feedback_round_trip(history: History) -> None:
    history.record_turn(turn(1))
    history.add_feedback("chatcmpl-1", "up")
    assert history.get_feedback("chatcmpl-1").rating == "up"

    history.add_feedback("chatcmpl-1", "down", reason="数字错误", comment="应为30万元")
    fb = history.get_feedback("chatcmpl-1")
    assert (fb.rating, fb.reason, fb.comment) == ("down", "数字错误", "应为30万元")
    (row,) = history.export_rows()
    assert (row["rating"], row["reason"], row["comment"]) == ("down", "数字错误", "应为30万元")

    with pytest.raises(UnknownTurnError) as info:
        history.add_feedback("chatcmpl-404", "up")
    assert "chatcmpl-404" in str(info.value)
    with pytest.raises(ValueError):
        history.add_feedback("chatcmpl-1", "meh")  # type: ignore[arg-type]
    assert history.get_feedback("chatcmpl-1").rating == "down"


CHILD_WRITER = """
import sys, types
# Only the store: a bare ``assistant`` package spares the child the public API's imports (LlamaIndex, jieba),
# seconds per child that have nothing to do with what these tests check.
package = types.ModuleType("assistant")
package.__path__ = [sys.argv[3]]
sys.modules["assistant"] = package
from assistant.storage import History, TurnRecord
history = History(sys.argv[1])
big = "政策问答" * 25_000  # ~300 KB per turn: a kill most likely lands in the middle of a write
for i in range(int(sys.argv[2])):
    tid = f"child-{i}"
    history.record_turn(TurnRecord(id=tid, conversation_id="child", channel="api", question=f"问题{i}",
        answer=big, answerable=True, build_id="b1", answerer="extractive", timings={"total": 0.1}))
    history.add_feedback(tid, "down", reason="不对", comment=f"第{i}条")
    print(tid, flush=True)
"""


def _child(db_url: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD_WRITER, db_url, str(count), str(PROJECT_ROOT / "assistant")],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _assert_committed(db_url: str, ids: list[str]) -> None:
    if db_url.startswith("sqlite"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:  # opens clean, replays the WAL
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    reopened = History(db_url)
    try:
        for tid in ids:
            assert reopened.get_turn(tid) is not None, tid
            fb = reopened.get_feedback(tid)
            assert fb is not None and (fb.rating, fb.comment) == ("down", f"第{tid.split('-')[1]}条")
    finally:
        reopened.close()


def test_feedback_survives_a_restart(db_url: str) -> None:
    proc = _child(db_url, 3)
    out, err = proc.communicate(timeout=CHILD_TIMEOUT_S)
    assert proc.returncode == 0, err
    _assert_committed(db_url, out.split())


def test_kill_9_in_the_middle_of_writes_loses_no_committed_row(db_url: str) -> None:
    proc = _child(db_url, 10_000)
    printed: list[str] = []
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            printed.append(line.strip())
            if len(printed) == 15:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        rest, err = proc.communicate(timeout=CHILD_TIMEOUT_S)
    assert proc.returncode == -signal.SIGKILL, err
    printed += [line for line in rest.splitlines() if line]  # printed before the kill, still in the pipe
    assert len(printed) >= 15, err
    _assert_committed(db_url, printed)


# -- API keys ------------------------------------------------------------------------------------------


def test_keys_create_verify_revoke(history: History, db_url: str) -> None:
    secret, info = history.create_key("crm")
    assert secret.startswith("pqa-") and len(secret) > 40 and info.prefix == secret[:8] and info.active
    assert history.verify_key(secret) == info
    assert history.verify_key(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert history.verify_key("") is None
    with pytest.raises(KeyNameTakenError):
        history.create_key("crm")

    assert history.revoke_key("crm") is True
    assert history.verify_key(secret) is None
    assert history.revoke_key("crm") is False
    renewed, new_info = history.create_key("crm")  # a revoked name can be reused
    assert history.verify_key(renewed) == new_info and new_info.id != info.id
    assert history.revoke_key(new_info.id) is True
    assert [(k.name, k.active) for k in history.list_keys()] == [("crm", False), ("crm", False)]

    history.close()
    if db_url.startswith("sqlite"):
        path = Path(db_url.removeprefix("sqlite:///"))
        stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))  # db, -wal, -shm
    else:
        import psycopg

        conninfo = db_url.replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(conninfo) as conn:
            stored = repr(conn.execute("SELECT * FROM api_keys").fetchall()).encode()
    for plaintext in (secret, renewed):
        assert plaintext.encode() not in stored and plaintext[8:].encode() not in stored


# -- export --------------------------------------------------------------------------------------------


def test_export_rows_filter_by_since_and_feedback(history: History) -> None:
    history.record_turn(turn(1, created_at=at("2025-01-10T08:00:00")))
    history.record_turn(turn(2, created_at=at("2025-02-10T08:00:00")))
    history.record_turn(turn(3, created_at=at("2025-03-10T08:00:00")))
    history.add_feedback("chatcmpl-1", "down", reason="旧的")
    history.add_feedback("chatcmpl-2", "down", reason="过时", comment="文件已废止")
    history.add_feedback("chatcmpl-3", "up")

    def ids(**kw: object) -> list[str]:
        return [r["id"] for r in history.export_rows(**kw)]

    assert ids() == ["chatcmpl-1", "chatcmpl-2", "chatcmpl-3"]
    assert ids(since=at("2025-02-01T00:00:00")) == ["chatcmpl-2", "chatcmpl-3"]
    assert ids(feedback="down") == ["chatcmpl-1", "chatcmpl-2"]
    assert ids(since=at("2025-02-01T00:00:00"), feedback="down") == ["chatcmpl-2"]
    row = next(history.export_rows(feedback="up"))
    assert json.loads(row["citations"])[0]["title"] == "甲市促进中小企业发展若干措施"
    assert json.loads(row["timings"]) == {"retrieve": 0.012, "total": 0.05}
    assert row["created_at"] == "2025-03-10T08:00:00+00:00"


# -- concurrency ---------------------------------------------------------------------------------------


def test_concurrent_writers_from_threads(history: History, db_url: str) -> None:
    """8 threads write at once; two of them through a second store, like a second process would."""
    second = History(db_url)
    errors: list[BaseException] = []
    per_thread = 15

    def write(n: int) -> None:
        store = second if n < 2 else history
        try:
            for i in range(per_thread):
                tid = f"t{n}-{i}"
                store.record_turn(turn(0, f"conv-{n}", id=tid))
                store.add_feedback(tid, "down" if i % 2 else "up", reason=f"{n}-{i}")
                store.list_conversations(limit=5)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    second.close()
    assert errors == []
    rows = list(history.export_rows())
    assert len(rows) == 8 * per_thread and all(r["rating"] for r in rows)
    assert sorted(c.turns for c in history.list_conversations()) == [per_thread] * 8


# -- opening, settings and secrets ---------------------------------------------------------------------


def test_open_history_defaults_to_sqlite_in_the_index_dir(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index", database_url=None)
    store = open_history(settings)
    assert open_history(settings) is store
    store.record_turn(turn(1))
    close_all()
    assert (tmp_path / "index" / "history.sqlite3").is_file()
    with sqlite3.connect(tmp_path / "index" / "history.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
    assert open_history(settings).get_turn("chatcmpl-1") is not None
    close_all()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://policy:s3cr3t-pw@127.0.0.1:1/db",  # nothing listens on port 1
        "postgresql+psycopg://policy:s3cr3t-pw@127.0.0.1:notaport/db",
        "not a url s3cr3t-pw",
        "nosuchdb://policy:s3cr3t-pw@host/db",
    ],
)
def test_database_errors_never_show_the_password(url: str) -> None:
    settings = Settings(database_url=url)
    assert "s3cr3t-pw" not in repr(settings) and "s3cr3t-pw" not in str(settings.model_dump())
    with pytest.raises(StorageError) as info:
        History(url, timeout=5)
    assert "s3cr3t-pw" not in str(info.value) and str(info.value)


# -- command line ------------------------------------------------------------------------------------------


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Global arguments for ``assistant.cli.main``: SQLite by default in --index-dir, or the server's URL."""
    if db_url.startswith("sqlite"):
        monkeypatch.delenv("POLICY_QA_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("POLICY_QA_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield ["--index-dir", str(tmp_path)]
    close_all()
    get_settings.cache_clear()


def test_cli_keys(cli: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.cli import main

    assert main([*cli, "keys", "create", "crm"]) == 0
    out, err = capsys.readouterr()
    secret = out.strip()
    assert secret.startswith("pqa-") and "不会再次显示" in err
    assert main([*cli, "keys", "create", "crm"]) == 2
    assert "已有名为 crm" in capsys.readouterr().err

    assert main([*cli, "keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert "crm" in listing and secret[:8] in listing and secret not in listing
    store = open_history(get_settings().model_copy(update={"index_dir": Path(cli[1])}))
    assert store.verify_key(secret) is not None

    assert main([*cli, "keys", "revoke", "crm"]) == 0
    assert store.verify_key(secret) is None
    assert main([*cli, "keys", "revoke", "crm"]) == 2
    assert "没有名称或编号为 crm" in capsys.readouterr().err


def test_cli_logs_export_opens_in_pandas(cli: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    from assistant.cli import main

    store = open_history(get_settings().model_copy(update={"index_dir": Path(cli[1])}))
    store.record_turn(turn(1, created_at=at("2025-01-10T08:00:00")))
    store.record_turn(turn(2, created_at=at("2025-03-10T08:00:00"), question="=HYPERLINK(\"x\")，问"))
    store.record_turn(turn(3, created_at=at("2025-03-11T08:00:00"), answer='含"引号",逗号\n和换行'))
    store.add_feedback("chatcmpl-2", "down", reason="-公式", comment="@评论")
    store.add_feedback("chatcmpl-3", "up")

    out_jsonl, out_csv = tmp_path / "logs.jsonl", tmp_path / "logs.csv"
    assert main([*cli, "logs", "export", "--since", "2025-02-01", "--format", "jsonl", "-o", str(out_jsonl)]) == 0
    frame = pd.read_json(out_jsonl, lines=True)
    assert list(frame["id"]) == ["chatcmpl-2", "chatcmpl-3"]
    assert frame.loc[1, "answer"] == '含"引号",逗号\n和换行'

    assert main([*cli, "logs", "export", "--format", "csv", "-o", str(out_csv)]) == 0
    assert out_csv.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    frame = pd.read_csv(out_csv, encoding="utf-8-sig", keep_default_na=False)
    assert list(frame["id"]) == ["chatcmpl-1", "chatcmpl-2", "chatcmpl-3"]
    assert frame.loc[1, "question"] == "'=HYPERLINK(\"x\")，问"  # a formula stays text in a spreadsheet
    assert (frame.loc[1, "reason"], frame.loc[1, "comment"]) == ("'-公式", "'@评论")
    assert frame.loc[2, "answer"] == '含"引号",逗号\n和换行'

    capsys.readouterr()
    assert main([*cli, "logs", "export", "--feedback", "down", "--format", "jsonl"]) == 0
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == ["chatcmpl-2"]
    assert main([*cli, "logs", "export", "--since", "2025-02-30", "--format", "csv"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


# -- eval drafts from feedback --------------------------------------------------------------------------


def test_from_feedback_turns_down_votes_into_draft_items(cli: list[str], tmp_path: Path) -> None:
    from eval.__main__ import main as eval_main
    from eval.dataset import QuestionSetError, load_questions

    store = open_history(get_settings().model_copy(update={"index_dir": Path(cli[1])}))
    store.record_turn(turn(1, created_at=at("2025-01-10T08:00:00")))
    store.record_turn(turn(2, created_at=at("2025-03-10T08:00:00"), question="乐清的担保费率是多少？"))
    store.record_turn(turn(3, created_at=at("2025-03-11T08:00:00"), question="乐清的担保费率是多少？"))
    store.record_turn(turn(4, created_at=at("2025-03-12T08:00:00"), question="问得好"))
    for tid, comment in (("chatcmpl-1", "旧问题"), ("chatcmpl-2", "应为1%"), ("chatcmpl-3", "还是不对")):
        store.add_feedback(tid, "down", reason="数字错误", comment=comment)
    store.add_feedback("chatcmpl-4", "up")

    drafts = tmp_path / "drafts.jsonl"
    assert eval_main(["from-feedback", "--index-dir", cli[1], "--since", "2025-02-01", "-o", str(drafts)]) == 0
    items = [json.loads(line) for line in drafts.read_text(encoding="utf-8").splitlines()]
    assert [i["question"] for i in items] == ["乐清的担保费率是多少？"]  # the same question twice: one item
    (item,) = items
    assert item["answerable"] is None and item["evidence"] == [] and item["answer_keywords"] == []
    assert [n["comment"] for n in item["notes"]] == ["应为1%", "还是不对"]
    assert item["notes"][0]["given_answer"] == "奖励20万元[1]（2）" and item["notes"][0]["reason"] == "数字错误"

    with pytest.raises(QuestionSetError, match="answerable"):  # an unreviewed draft cannot be scored
        load_questions(drafts)
    item.update(answerable=True, evidence=["担保费率不超过1%"], answer_keywords=["1%"], answer="不超过1%")
    drafts.write_text(json.dumps(item, ensure_ascii=False) + "\n", encoding="utf-8")
    (question,) = load_questions(drafts)
    assert question.answerable and question.keywords_norm == ["1"] and question.type == "from_feedback"
