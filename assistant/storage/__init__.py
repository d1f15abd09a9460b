"""History of answered turns, user feedback and API keys (SQLAlchemy: SQLite by default, or PostgreSQL).

    from assistant.storage import open_history, TurnRecord
    history = open_history(settings)          # one store per database URL per process
    history.record_turn(TurnRecord(...))
    history.add_feedback(turn_id, "down", reason="数字不对")
"""

from __future__ import annotations

import threading

from assistant.settings import Settings, get_settings
from assistant.storage.database import database_url, redact
from assistant.storage.history import EXPORT_COLUMNS, KEY_PREFIX, History
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

__all__ = [
    "EXPORT_COLUMNS",
    "KEY_PREFIX",
    "ApiKeyInfo",
    "ConversationSummary",
    "FeedbackRecord",
    "History",
    "KeyNameTakenError",
    "Rating",
    "StorageError",
    "TurnRecord",
    "UnknownTurnError",
    "close_all",
    "database_url",
    "open_history",
    "redact",
]

_lock = threading.Lock()
_stores: dict[str, History] = {}


def open_history(settings: Settings | None = None) -> History:
    """The process's store for the settings' database (opened, and its tables created, on first use)."""
    settings = settings or get_settings()
    url = database_url(settings)
    with _lock:
        history = _stores.get(url)
        if history is None or history.closed:
            history = _stores[url] = History(url, timeout=settings.database_timeout)
        return history


def close_all() -> None:
    """Close every store ``open_history`` opened (app shutdown, tests)."""
    with _lock:
        for history in _stores.values():
            history.close()
        _stores.clear()
