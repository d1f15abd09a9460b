"""The history store: answered turns, their feedback and API keys, in one SQL database.

Thread-safe: each call uses its own session from the engine's pool. SQLite allows one writer at a time,
so writes in this process queue on a lock and start with ``BEGIN IMMEDIATE`` (other processes wait up
to ``database_timeout`` for the file lock); reads never wait, WAL gives them a snapshot.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import URL, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, ProgrammingError, SQLAlchemyError
from sqlalchemy.orm import Session

from assistant.storage.database import BEGIN_OPTION, create_db_engine, redact, scrub
from assistant.storage.models import SCHEMA_VERSION, ApiKey, Base, Feedback, SchemaVersion, Turn, utcnow
from assistant.storage.records import (
    ApiKeyInfo,
    ConversationSummary,
    FeedbackRecord,
    KeyNameTakenError,
    Rating,
    StorageError,
    TurnRecord,
    UnknownTurnError,
)

logger = logging.getLogger(__name__)

KEY_PREFIX = "pqa-"
KEY_BYTES = 32
DISPLAY_PREFIX_CHARS = 8
TITLE_CHARS = 40
EXPORT_COLUMNS = (
    "id", "created_at", "conversation_id", "channel", "owner", "question", "answer", "answerable",
    "citations", "build_id", "answerer", "timings", "rating", "reason", "comment", "feedback_at",
)  # fmt: skip


def hash_key(secret: str) -> str:
    """SHA-256 of a key: the token has 256 random bits, so a plain hash cannot be brute-forced."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class History:
    """Turns, feedback and API keys in the database at ``url`` (any SQLAlchemy URL)."""

    def __init__(self, url: str | URL, timeout: float = 30.0) -> None:
        self.display_url = redact(url)
        self.engine = create_db_engine(url, timeout)
        self._url = url
        self._sqlite = self.engine.dialect.name == "sqlite"
        self._writer = self.engine.execution_options(**{BEGIN_OPTION: "BEGIN IMMEDIATE"})
        self._write_lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if self._sqlite else contextlib.nullcontext()
        )
        self.closed = False
        self._open_schema()
        logger.info("history store open: %s", self.display_url)

    # -- plumbing ---------------------------------------------------------------------------------

    def _open_schema(self) -> None:
        for attempt in (1, 2):  # two processes creating the tables at once: the loser retries once
            try:
                with self._write() as s:
                    Base.metadata.create_all(s.connection())
                    version = s.scalar(select(func.max(SchemaVersion.version)))
                    if version is None:
                        s.add(SchemaVersion(version=SCHEMA_VERSION))
                break
            except SQLAlchemyError as exc:
                if attempt == 2 or not isinstance(exc, IntegrityError | ProgrammingError):
                    self.engine.dispose()
                    raise StorageError(
                        f"无法打开历史数据库 {self.display_url}（{scrub(str(getattr(exc, 'orig', None) or exc), self._url)}）。"
                        "请检查 POLICY_QA_DATABASE_URL 与数据库服务。"
                    ) from None
        if version is not None and version > SCHEMA_VERSION:
            self.engine.dispose()
            raise StorageError(
                f"历史数据库 {self.display_url} 由更新版本的 policy-qa 创建（结构版本 {version}），请升级 policy-qa。"
            )

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        with self._write_lock, Session(self._writer, expire_on_commit=False) as session, session.begin():
            yield session

    def _read(self) -> Session:
        return Session(self.engine)

    def close(self) -> None:
        """Release the pooled connections (the next ``open_history`` opens a new store)."""
        self.closed = True
        self.engine.dispose()

    # -- turns and feedback -----------------------------------------------------------------------

    def record_turn(self, turn: TurnRecord) -> None:
        """Store one answered turn; committed when this returns. Recording an id again replaces it."""
        values = turn.model_dump()
        with self._write() as s:
            row = s.scalar(select(Turn).where(Turn.id == turn.id))
            if row is None:
                s.add(Turn(**values))
            else:
                for key, value in values.items():
                    setattr(row, key, value)

    def add_feedback(
        self, turn_id: str, rating: Rating, reason: str | None = None, comment: str | None = None
    ) -> None:
        """Rate a recorded turn; a later rating of the same turn replaces the earlier one."""
        if rating not in ("up", "down"):
            raise ValueError(f"评价只能是 up 或 down，而不是 {rating!r}")
        values = {"turn_id": turn_id, "rating": rating, "reason": reason, "comment": comment, "created_at": utcnow()}
        with self._write() as s:
            if s.scalar(select(Turn.seq).where(Turn.id == turn_id)) is None:
                raise UnknownTurnError(turn_id)
            dialect = {"sqlite": sqlite, "postgresql": postgresql}.get(s.get_bind().dialect.name)
            if dialect is None:
                s.merge(Feedback(**values))
                return
            stmt = dialect.insert(Feedback).values(**values)
            updates = {k: stmt.excluded[k] for k in ("rating", "reason", "comment", "created_at")}
            s.execute(stmt.on_conflict_do_update(index_elements=[Feedback.turn_id], set_=updates))

    def get_turn(self, turn_id: str) -> TurnRecord | None:
        with self._read() as s:
            row = s.scalar(select(Turn).where(Turn.id == turn_id))
            return _turn_record(row) if row else None

    def get_feedback(self, turn_id: str) -> FeedbackRecord | None:
        with self._read() as s:
            row = s.get(Feedback, turn_id)
            if row is None:
                return None
            return FeedbackRecord(row.turn_id, row.rating, row.reason, row.comment, row.created_at)  # type: ignore[arg-type]

    def list_conversations(self, limit: int = 50, owner: str | None = None) -> list[ConversationSummary]:
        """Past conversations, most recently active first; only ``owner``'s when given."""
        groups = select(
            Turn.conversation_id.label("cid"),
            func.max(Turn.created_at).label("updated_at"),
            func.count().label("turns"),
        ).group_by(Turn.conversation_id)
        if owner is not None:
            groups = groups.where(Turn.owner == owner)
        agg = groups.order_by(func.max(Turn.created_at).desc()).limit(limit).subquery()
        first = (
            select(Turn.question)
            .where(Turn.conversation_id == agg.c.cid)
            .order_by(Turn.created_at, Turn.seq)
            .limit(1)
            .correlate(agg)
            .scalar_subquery()
        )
        stmt = select(agg.c.cid, agg.c.updated_at, agg.c.turns, first).order_by(agg.c.updated_at.desc())
        with self._read() as s:
            return [
                ConversationSummary(id=cid, title=_title(question or ""), updated_at=updated, turns=turns)
                for cid, updated, turns, question in s.execute(stmt)
            ]

    def conversation_turns(self, conversation_id: str) -> list[TurnRecord]:
        stmt = select(Turn).where(Turn.conversation_id == conversation_id).order_by(Turn.created_at, Turn.seq)
        with self._read() as s:
            return [_turn_record(row) for row in s.scalars(stmt)]

    def export_rows(self, since: datetime | None = None, feedback: Rating | None = None) -> Iterator[dict[str, Any]]:
        """One flat dict per turn (columns ``EXPORT_COLUMNS``), oldest first; citations and timings as JSON text."""
        stmt = select(Turn, Feedback).outerjoin(Feedback, Feedback.turn_id == Turn.id).order_by(Turn.created_at, Turn.seq)
        if since is not None:
            stmt = stmt.where(Turn.created_at >= (since if since.tzinfo else since.replace(tzinfo=UTC)))
        if feedback is not None:
            stmt = stmt.where(Feedback.rating == feedback)
        with self._read() as s:
            for turn, fb in s.execute(stmt.execution_options(yield_per=500)):
                yield _export_row(turn, fb)

    # -- API keys ---------------------------------------------------------------------------------

    def create_key(self, name: str) -> tuple[str, ApiKeyInfo]:
        """A new key: the plaintext is returned once and never stored (only its SHA-256)."""
        name = name.strip()
        if not name:
            raise ValueError("密钥名称不能为空")
        secret = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
        row = ApiKey(
            id=uuid.uuid4().hex[:12], name=name, key_hash=hash_key(secret),
            prefix=secret[:DISPLAY_PREFIX_CHARS], created_at=utcnow(), revoked_at=None,
        )  # fmt: skip
        try:
            with self._write() as s:
                if s.scalar(select(ApiKey.id).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))):
                    raise KeyNameTakenError(name)
                s.add(row)
        except IntegrityError:  # another process took the name between the check and the insert
            raise KeyNameTakenError(name) from None
        return secret, _key_info(row)

    def verify_key(self, secret: str) -> ApiKeyInfo | None:
        """The active key with this secret, or None. Looked up by hash, confirmed in constant time."""
        if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
            return None
        digest = hash_key(secret)
        with self._read() as s:
            row = s.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
        if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at is not None:
            return None
        return _key_info(row)

    def list_keys(self) -> list[ApiKeyInfo]:
        with self._read() as s:
            return [_key_info(r) for r in s.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id))]

    def revoke_key(self, name_or_id: str) -> bool:
        """Revoke the active key with this name or id; False when there is none."""
        with self._write() as s:
            rows = s.scalars(
                select(ApiKey).where(
                    ApiKey.revoked_at.is_(None), (ApiKey.name == name_or_id) | (ApiKey.id == name_or_id)
                )
            ).all()
            for row in rows:
                row.revoked_at = utcnow()
            return bool(rows)


def _title(question: str) -> str:
    question = " ".join(question.split())
    return question if len(question) <= TITLE_CHARS else question[: TITLE_CHARS - 1] + "…"


def _turn_record(row: Turn) -> TurnRecord:
    return TurnRecord.model_validate({k: getattr(row, k) for k in TurnRecord.model_fields})


def _key_info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(id=row.id, name=row.name, created_at=row.created_at, revoked_at=row.revoked_at, prefix=row.prefix)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _export_row(turn: Turn, fb: Feedback | None) -> dict[str, Any]:
    return {
        "id": turn.id,
        "created_at": _iso(turn.created_at),
        "conversation_id": turn.conversation_id,
        "channel": turn.channel,
        "owner": turn.owner,
        "question": turn.question,
        "answer": turn.answer,
        "answerable": turn.answerable,
        "citations": json.dumps(turn.citations, ensure_ascii=False),
        "build_id": turn.build_id,
        "answerer": turn.answerer,
        "timings": json.dumps(turn.timings, ensure_ascii=False),
        "rating": fb.rating if fb else None,
        "reason": fb.reason if fb else None,
        "comment": fb.comment if fb else None,
        "feedback_at": _iso(fb.created_at) if fb else None,
    }
