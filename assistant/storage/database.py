"""The store's database engine: URL from settings, SQLite set up for a threaded server, no secret in messages.

SQLite durability: WAL with ``synchronous=FULL``. In WAL mode a COMMIT returns only after the transaction
is written to the ``-wal`` file, whatever ``synchronous`` says; a killed process (``kill -9``) therefore loses
nothing that was committed, since the OS still holds those pages, and the next open replays the WAL.
``synchronous=NORMAL`` would skip the fsync at commit, so a power cut or kernel crash could lose the
last commits (the file stays consistent). FULL fsyncs the WAL at every commit: "durable when
``record_turn`` returns" then holds even across power loss, for about a millisecond per answered turn.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from assistant.settings import Settings
from assistant.storage.records import StorageError

logger = logging.getLogger(__name__)

HISTORY_FILE = "history.sqlite3"
BEGIN_OPTION = "policy_qa_begin"  # execution option: the statement a SQLite transaction starts with

_dumps = functools.partial(json.dumps, ensure_ascii=False, default=str)


def database_url(settings: Settings) -> str:
    """POLICY_QA_DATABASE_URL, or the SQLite file next to the index. Contains the password: never print it."""
    if settings.database_url is not None and settings.database_url.get_secret_value().strip():
        return settings.database_url.get_secret_value().strip()
    return f"sqlite:///{Path(settings.index_dir).resolve() / HISTORY_FILE}"


def redact(url: str | URL) -> str:
    """The URL with its password replaced by ***, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "（无法解析的数据库地址）"


def scrub(message: str, url: str | URL) -> str:
    """Remove the password from a driver's error text, in case a driver ever echoes it."""
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        return message
    return message.replace(str(password), "***") if password else message


def create_db_engine(url: str | URL, timeout: float) -> Engine:
    """An engine for ``url``; ``postgresql://`` means psycopg 3. Raises ``StorageError`` with a fix."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # the message may repeat the URL, password included
        raise StorageError(
            "POLICY_QA_DATABASE_URL 不是有效的数据库地址，应形如 postgresql+psycopg://用户:密码@主机:端口/库名"
        ) from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    common: dict[str, Any] = {"hide_parameters": True, "json_serializer": _dumps, "pool_timeout": timeout}
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed, timeout, common)
        connect_args = {"connect_timeout": max(1, int(timeout))} if parsed.get_backend_name() == "postgresql" else {}
        return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args, **common)
    except (ImportError, NoSuchModuleError) as exc:
        raise StorageError(
            f"缺少数据库驱动（{type(exc).__name__}：{scrub(str(exc), parsed)}）。"
            "PostgreSQL 请安装：pip install 'policy-qa[postgres]'"
        ) from None


def _sqlite_engine(url: URL, timeout: float, common: dict[str, Any]) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(  # SQLAlchemy's default for a SQLite file: QueuePool, a connection per thread at a time
        url,
        connect_args={"check_same_thread": False, "timeout": timeout},  # timeout = SQLite busy timeout
        **common,
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # The sqlite3 module's own transaction handling starts transactions late (at the first write), so
    # a read-then-write transaction can fail with "database is locked" without waiting. Let SQLAlchemy
    # emit BEGIN itself (see _sqlite_on_begin), as the SQLAlchemy documentation recommends.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    # Writers pass BEGIN IMMEDIATE: they take the write lock up front and wait (busy timeout) for it.
    conn.exec_driver_sql(conn.get_execution_options().get(BEGIN_OPTION, "BEGIN"))
