"""``policy-qa compare`` and ``policy-qa match``: a table printed or written as Markdown, CSV or JSON."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Protocol

from assistant.cli.errors import UsageError
from assistant.settings import Settings


class TableResult(Protocol):
    """What ``compare`` and ``match`` return: one table, three spellings."""

    def to_dict(self) -> dict[str, object]: ...
    def to_csv(self) -> str: ...
    def to_markdown(self) -> str: ...


def emit(args: argparse.Namespace, result: TableResult) -> None:
    """Print or write a table result as Markdown, CSV (Excel-ready: BOM in files) or JSON."""
    import json

    fmt = "json" if args.json else args.format
    if fmt == "json":
        text = json.dumps(result.to_dict(), ensure_ascii=False, indent=2)
    elif fmt == "csv":
        text = result.to_csv()
    else:
        text = result.to_markdown()
    if args.output:
        path = Path(args.output)
        try:
            path.write_text(text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
        except OSError as exc:
            raise UsageError(f"无法写入 {path}：{exc.strerror or type(exc).__name__}") from None
        print(f"已写入 {path}")
    else:
        print(text)


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.decisions.comparing import compare
    from assistant.decisions.router import build_query_engine

    engine = build_query_engine(settings)
    emit(args, compare(args.topic, args.jurisdiction or None, engine=engine, as_of=args.as_of, validity=args.validity))
    return 0


def cmd_match(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.decisions.eligibility import Profile, match
    from assistant.decisions.router import build_query_engine

    if bool(args.profile) == bool(args.text):
        raise UsageError("请给出企业画像文件（profile.toml）或用 --text 描述企业，二者选一。")
    profile = Profile.from_toml(Path(args.profile)) if args.profile else args.text  # a sentence: corpus places
    engine = build_query_engine(settings)
    emit(args, match(profile, engine=engine, include_unmet=args.all, as_of=args.as_of, validity=args.validity))
    return 0
