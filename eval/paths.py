"""Where the harness finds its labelled sets and writes its reports: beside this package, not the cwd.

Paths are taken from the ``eval`` package itself rather than the repository root, so the harness finds its
files wherever the checkout (or an installed copy) lives.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

EVAL_DIR = Path(__file__).resolve().parent
DEFAULT_QUESTIONS = EVAL_DIR / "questions.jsonl"
DEFAULT_COMPARISONS = EVAL_DIR / "comparisons.jsonl"
DEFAULT_PROFILES = EVAL_DIR / "profiles.jsonl"
REPORTS_DIR = EVAL_DIR / "reports"


def timestamp_dir(prefix: str = "") -> Path:
    """A new report folder under ``eval/reports``: ``<prefix><YYYYmmdd-HHMMSS>``."""
    return REPORTS_DIR / f"{prefix}{datetime.now():%Y%m%d-%H%M%S}"
