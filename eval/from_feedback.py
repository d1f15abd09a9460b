"""``python -m eval from-feedback``: turns users rated 👎 become draft items of a question set.

A draft item carries the question and, under ``notes``, what the assistant answered and what the user
said. A person fills in what only a person knows: ``answerable`` (left ``null``), ``evidence``,
``answer_keywords``, ``answer``, ``doc``. ``answerable`` is a required field of EVAL_FORMAT.md and the
loader accepts only true/false there, so an untouched draft is valid JSONL that ``load_questions``
refuses, naming the line: no unreviewed 👎 can slip into a scored run. Once completed it loads as is
(``notes`` and ``todo`` are extra fields, which the format says to ignore).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

DRAFT_TYPE = "from_feedback"
TODO = (
    "待人工补全：answerable 填 true/false；可回答时从原文摘录 evidence（8-60 字）、"
    "列出 answer_keywords、写出参考 answer 与 doc；完成后删除本字段"
)


def draft_items(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Draft question-set items from exported turns (``History.export_rows``), one per distinct question."""
    items: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = " ".join(row["question"].split())
        note = {
            "turn_id": row["id"],
            "asked_at": row["created_at"],
            "given_answer": row["answer"],
            "citations": json.loads(row["citations"] or "[]"),
            "reason": row.get("reason"),
            "comment": row.get("comment"),
            "build_id": row["build_id"],
            "answerer": row["answerer"],
        }
        if key in items:
            items[key]["notes"].append(note)
            continue
        items[key] = {
            "id": f"fb-{row['id']}",
            "question": row["question"],
            "answerable": None,
            "evidence": [],
            "doc": [],
            "answer": "",
            "answer_keywords": [],
            "type": DRAFT_TYPE,
            "todo": TODO,
            "notes": [note],
        }
    return list(items.values())


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("from-feedback", help="draft question-set items from answers users rated down")
    p.add_argument("--since", help="only turns asked on or after this date (YYYY-MM-DD, local time)")
    p.add_argument("--index-dir", type=Path, help="index folder holding history.sqlite3 (default: settings)")
    p.add_argument("-o", "--output", type=Path, help="JSONL file to write (default: standard output)")
    p.set_defaults(func=cmd_from_feedback)
    return p


def cmd_from_feedback(args: argparse.Namespace) -> int:
    """Exit 0 with the drafts written, 1 when the database cannot be read, 2 on bad options."""
    from sqlalchemy.exc import SQLAlchemyError

    from assistant.settings import get_settings
    from assistant.storage import StorageError, database_url, open_history, redact
    from assistant.storage.export import parse_since

    settings = get_settings()
    if args.index_dir:
        settings = settings.model_copy(update={"index_dir": args.index_dir})
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError:
        print(f"error: --since {args.since!r} is not a YYYY-MM-DD date", file=sys.stderr)
        return 2
    try:
        history = open_history(settings)
        items = draft_items(history.export_rows(since=since, feedback="down"))
    except StorageError as exc:  # its message hides the password
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"error: cannot read the history database {redact(database_url(settings))}: {type(exc).__name__}", file=sys.stderr)
        return 1
    text = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"{len(items)} draft item(s) written to {args.output}; complete the fields named in 'todo'", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0

