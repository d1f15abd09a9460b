"""``policy-qa keys create|list|revoke`` and ``policy-qa logs export``: the store from the command line.

Errors follow the other commands: a usage problem raises ``UsageError`` (exit 2); a database that cannot be reached
prints its address without the password and exits 1.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from assistant.cli.errors import UsageError
from assistant.settings import Settings
from assistant.storage.database import database_url, redact, scrub
from assistant.storage.records import StorageError

if TYPE_CHECKING:
    from assistant.storage import History

Handler = Callable[[argparse.Namespace, Settings], int]


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``keys`` and ``logs`` to policy-qa's subcommands."""
    keys = subparsers.add_parser("keys", help="管理 API 密钥（数据库只保存哈希）")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    s = ksub.add_parser("create", help="新建密钥（只显示这一次）")
    s.add_argument("name", help="密钥名称，例如使用方或系统名")
    s.set_defaults(func=cmd_keys_create)
    s = ksub.add_parser("list", help="列出密钥（名称、前缀、创建与吊销时间）")
    s.set_defaults(func=cmd_keys_list)
    s = ksub.add_parser("revoke", help="吊销密钥")
    s.add_argument("name_or_id", help="密钥名称或编号")
    s.set_defaults(func=cmd_keys_revoke)

    logs = subparsers.add_parser("logs", help="问答记录与评价")
    lsub = logs.add_subparsers(dest="logs_command", required=True)
    s = lsub.add_parser("export", help="导出问答记录（含评价）为 JSONL 或 CSV")
    s.add_argument("--since", help="只导出该日期（YYYY-MM-DD，本机时区）及之后的记录")
    s.add_argument("--feedback", choices=["up", "down"], help="只导出得到该评价的回答")
    s.add_argument("--format", choices=["jsonl", "csv"], required=True)
    s.add_argument("--output", "-o", help="写入文件而不是打印（CSV 带 BOM，可直接用 Excel 打开）")
    s.set_defaults(func=cmd_logs_export)


def _handled(func: Handler) -> Handler:
    """Database failures become one line naming the database (password hidden), exit 1."""

    @functools.wraps(func)
    def run(args: argparse.Namespace, settings: Settings) -> int:
        url = database_url(settings)
        try:
            return func(args, settings)
        except StorageError as exc:
            print(f"错误：{exc}", file=sys.stderr)
        except SQLAlchemyError as exc:
            detail = scrub(str(getattr(exc, "orig", None) or type(exc).__name__), url)
            print(f"错误：历史数据库 {redact(url)} 操作失败（{detail}）", file=sys.stderr)
        return 1

    return run


def _history(settings: Settings) -> History:
    from assistant.storage import open_history

    return open_history(settings)


@_handled
def cmd_keys_create(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.storage.records import KeyNameTakenError

    try:
        secret, info = _history(settings).create_key(args.name)
    except (KeyNameTakenError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    print(f"已创建密钥 {info.name}（编号 {info.id}）。请立即保存，它不会再次显示（数据库只保存其哈希）：", file=sys.stderr)
    print(secret)
    return 0


@_handled
def cmd_keys_list(args: argparse.Namespace, settings: Settings) -> int:
    keys = _history(settings).list_keys()
    if not keys:
        print("还没有密钥。用 policy-qa keys create 名称 新建。")
        return 0
    print("编号\t名称\t前缀\t创建时间\t吊销时间")
    for k in keys:
        revoked = f"{k.revoked_at:%Y-%m-%d %H:%M} UTC" if k.revoked_at else "-"
        print(f"{k.id}\t{k.name}\t{k.prefix}…\t{k.created_at:%Y-%m-%d %H:%M} UTC\t{revoked}")
    return 0


@_handled
def cmd_keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    if not _history(settings).revoke_key(args.name_or_id):
        raise UsageError(f"没有名称或编号为 {args.name_or_id} 的有效密钥；用 policy-qa keys list 查看")
    print(f"已吊销密钥 {args.name_or_id}")
    return 0


@_handled
def cmd_logs_export(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.storage.export import WRITERS, parse_since

    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    rows = _history(settings).export_rows(since=since, feedback=args.feedback)
    write = WRITERS[args.format]
    if not args.output:
        write(rows, sys.stdout)
        return 0
    path = Path(args.output)
    try:
        with path.open("w", encoding="utf-8-sig" if args.format == "csv" else "utf-8", newline="") as out:
            count = write(rows, out)
    except OSError as exc:
        raise UsageError(f"无法写入 {path}：{exc.strerror or type(exc).__name__}") from None
    print(f"已导出 {count} 条记录到 {path}", file=sys.stderr)
    return 0
