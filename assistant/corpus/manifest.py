"""``manifest.toml``: per-file metadata and lifecycle keys that beat what a document's text states.

A corpus maintainer fixes a wrong title, issuer or validity here rather than in the source file, so a
bad lifecycle value is reported as a ``LoadError`` naming the key and the expected form.
"""

from __future__ import annotations

import logging
import tomllib
from datetime import date
from pathlib import Path

from assistant.corpus.lifecycle import STATUSES

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.toml"
# Optional lifecycle keys of a manifest table (assistant/corpus/lifecycle.py); they beat what the text states.
LIFECYCLE_FIELDS = ("status", "effective_from", "expires_on", "supersedes", "superseded_by")


class LoadError(Exception):
    """A file that cannot become a document; ``reason`` says why in a sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_manifest(corpus_dir: Path) -> dict[str, dict[str, str]]:
    """``manifest.toml``: one table per file name with title/issuer/jurisdiction/doc_number/date."""
    path = Path(corpus_dir) / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        logger.warning("ignoring unreadable %s: %s", path, exc)
        return {}
    return {
        name: {k: v if k in LIFECYCLE_FIELDS else str(v) for k, v in table.items()}
        for name, table in data.items()
        if isinstance(table, dict)
    }


def manifest_lifecycle(entry: dict) -> dict[str, str | list[str]]:
    """The lifecycle keys of a manifest table, checked: a bad value skips the file with a reason to fix."""
    out: dict[str, str | list[str]] = {}
    for key in LIFECYCLE_FIELDS:
        value = entry.get(key)
        if value in (None, "", []):
            continue
        if key == "status":
            if value not in STATUSES:
                raise LoadError(f"manifest.toml 中 status = {value!r} 无效，应为 {'/'.join(STATUSES)} 之一")
            out[key] = str(value)
        elif key in ("effective_from", "expires_on"):
            out[key] = _manifest_date(key, value)
        else:
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
                raise LoadError(f"manifest.toml 中 {key} 应为文号或标题的列表，例如 {key} = [\"X政发〔2020〕1号\"]")
            out[key] = [v.strip() for v in items]
    return out


def _manifest_date(key: str, value: object) -> str:
    if isinstance(value, date):  # an unquoted TOML date
        return value.isoformat()[:10]
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise LoadError(f"manifest.toml 中 {key} = {value!r} 不是有效日期，应写作 YYYY-MM-DD（如 2024-01-01）") from None
