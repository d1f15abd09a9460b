"""Typed values the history store takes and returns, and its errors (messages in Chinese, no secrets)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from assistant.storage.models import utcnow

Rating = Literal["up", "down"]
Channel = Literal["api", "ui", "cli"]


class TurnRecord(BaseModel):
    """One answered question as stored: what was asked and answered, with which build, answerer and timings."""

    id: str
    conversation_id: str
    created_at: datetime = Field(default_factory=utcnow)
    channel: Channel
    question: str
    answer: str
    citations: list[dict[str, Any]] = Field(default_factory=list)
    answerable: bool
    build_id: str
    answerer: str
    timings: dict[str, float] = Field(default_factory=dict)
    owner: str | None = None


@dataclass(frozen=True)
class FeedbackRecord:
    turn_id: str
    rating: Rating
    reason: str | None
    comment: str | None
    created_at: datetime


@dataclass(frozen=True)
class ConversationSummary:
    """A past conversation for the UI's list: its first question as title, last activity, turn count."""

    id: str
    title: str
    updated_at: datetime
    turns: int


@dataclass(frozen=True)
class ApiKeyInfo:
    """What may be shown about a key: never the secret nor its hash, only the first characters."""

    id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
    prefix: str

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class StorageError(RuntimeError):
    """The database cannot be opened or used; the message names the fix and never contains a password."""


class UnknownTurnError(LookupError):
    """Feedback for a turn id the store never recorded."""

    def __init__(self, turn_id: str) -> None:
        super().__init__(f"没有编号为 {turn_id} 的回答记录")
        self.turn_id = turn_id


class KeyNameTakenError(ValueError):
    """An active key already has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"已有名为 {name} 的有效密钥；请换一个名称，或先吊销它：policy-qa keys revoke {name}"
        )
        self.name = name
