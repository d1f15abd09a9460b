"""Logging set-up shared by the CLI and the server, with secrets redacted from every record.

Libraries log URLs and headers at DEBUG (the ``openai`` client logs ``http://user:pass@host/...``), so a
filter on the root handlers rewrites each record before any handler formats it. The rules are data:
``assistant/data/log_redactions.toml``.
"""

from __future__ import annotations

import logging
import re
import tomllib
from functools import lru_cache
from pathlib import Path

from assistant.settings import Settings

REDACTIONS_FILE = Path(__file__).resolve().parent.parent / "data" / "log_redactions.toml"
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


@lru_cache(maxsize=1)
def _rules() -> tuple[tuple[re.Pattern[str], str], ...]:
    data = tomllib.loads(REDACTIONS_FILE.read_text(encoding="utf-8"))
    return tuple((re.compile(rule["pattern"]), rule["replacement"]) for rule in data["redact"])


def redact(text: str) -> str:
    """``text`` with URL credentials, authorization headers, bearer tokens and API keys replaced by ``***``."""
    for pattern, replacement in _rules():
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (with its args merged in), traceback and stack text through ``redact``."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler's own error path
            return True
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def configure_logging(settings: Settings, verbose: bool = False) -> int:
    """Root logging for the CLI and the server (level from settings, INFO with ``verbose``); returns the level.

    Every root handler gets the redacting filter, so records from any library are cleaned.
    """
    level = logging.INFO if verbose else getattr(logging, settings.log_level.upper(), logging.WARNING)
    logging.basicConfig(level=level, format=LOG_FORMAT)
    root = logging.getLogger()
    root.setLevel(level)
    for handler in root.handlers:
        handler.setLevel(level)  # bm25s sets DEBUG on its own logger when imported
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    return level
