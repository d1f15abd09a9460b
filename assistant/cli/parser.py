"""The ``policy-qa`` argument parser: every subcommand, its options and the handler it runs.

A handler is ``func(args, settings) -> exit code``; ``settings`` already carries the command's overrides.
"""

from __future__ import annotations

import argparse
from datetime import date

from assistant.cli import commands, tables
from assistant.cli.history import add_commands
from assistant.server.args import add_server_arguments
from assistant.settings import Settings


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    """The parser; ``settings`` gives the server options' defaults (host, port, auth)."""
    p = argparse.ArgumentParser(prog="policy-qa", description="政策问答：基于政策文件回答问题，并给出出处。")
    p.add_argument("--index-dir", help="索引目录（默认 .policy_qa 或 POLICY_QA_INDEX_DIR）")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    _corpus_commands(sub)
    _question_commands(sub)
    for name, text in (("serve", "启动服务：网页界面 /、OpenAI 兼容接口 /v1、接口文档 /docs"), ("ui", "同 serve")):
        s = sub.add_parser(name, help=text)
        add_server_arguments(s, settings)
        s.set_defaults(func=commands.cmd_serve)
    add_commands(sub)  # keys create|list|revoke, logs export
    return p


def _corpus_commands(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("index", help="建立或更新索引")
    s.add_argument("--corpus", help="语料目录（默认 corpus/ 或 POLICY_QA_CORPUS_DIR）")
    s.add_argument("--rebuild", action="store_true", help="忽略已有索引，全部重建")
    s.add_argument("--quiet", action="store_true")
    s.add_argument("files", nargs="*", metavar="FILE",
                   help="只更新这些文件（新增、修改或已删除的文件，不再扫描整个目录）；省略时检查整个语料目录")
    s.set_defaults(func=commands.cmd_index)

    s = sub.add_parser("chunks", help="列出已索引的片段")
    s.add_argument("--doc", help="只列出该文件（doc_id、文件名或标题）")
    s.add_argument("--jsonl", action="store_true", help="每行一个 JSON 对象")
    s.set_defaults(func=commands.cmd_chunks)


def _question_commands(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("ask", help="提问")
    s.add_argument("question")
    s.add_argument("--json", action="store_true")
    s.add_argument("--jurisdiction", action="append", help="只检索该地区（可重复）")
    s.add_argument("--document", action="append", help="只检索该文件（可重复）")
    s.add_argument("--show-sources", action="store_true", help="显示引用的原文")
    s.add_argument("--answerer", choices=["auto", "extractive", "llm"])
    _date_options(s)
    s.set_defaults(func=commands.cmd_ask)

    s = sub.add_parser("compare", help="各地对同一主题的规定对比（每格附出处）")
    s.add_argument("topic")
    s.add_argument("--jurisdiction", action="append", help="参与对比的地区（可重复；默认所有有文件的地区）")
    _table_options(s)
    _date_options(s)
    s.set_defaults(func=tables.cmd_compare)

    s = sub.add_parser("match", help="政策找人：列出适用于某企业的措施（逐条标明条件是否满足）")
    s.add_argument("profile", nargs="?", help="企业画像 TOML 文件（字段见 README）")
    s.add_argument("--text", help="用一句话描述企业，代替画像文件")
    s.add_argument("--all", action="store_true", help="也列出不符合条件的措施")
    _table_options(s)
    _date_options(s, match=True)
    s.set_defaults(func=tables.cmd_match)

    s = sub.add_parser("docs", help="列出已索引的文件及其效力（状态、施行日期、有效期、被谁废止、依据）")
    s.add_argument("--history", metavar="TITLE_OR_文号", help="显示该文件的版本链（旧 → 新）")
    s.add_argument("--json", action="store_true", help="输出 JSON")
    s.set_defaults(func=commands.cmd_docs)

    s = sub.add_parser("export-cache", help="把当前语料的向量写入 corpus/.vector_cache（随项目发布）")
    s.add_argument("--corpus")
    s.set_defaults(func=commands.cmd_export_cache)


def _table_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--format", choices=["markdown", "csv", "json"], default="markdown")
    s.add_argument("--json", action="store_true", help="同 --format json")
    s.add_argument("--output", "-o", help="写入文件而不是打印（CSV 带 BOM，可直接用 Excel 打开）")


def _as_of(text: str) -> date | None:
    from assistant.core.validity import InvalidDateError, parse_date

    try:
        return parse_date(text)
    except InvalidDateError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _date_options(s: argparse.ArgumentParser, *, match: bool = False) -> None:
    """--as-of and 只看现行有效 / 包括历史文件 (default: see ``assistant.core.validity``)."""
    s.add_argument("--as-of", type=_as_of, metavar="YYYY-MM-DD", help="按该日期的文件状态回答（默认今天）")
    group = s.add_mutually_exclusive_group()
    default = "（默认）" if match else ""
    group.add_argument(
        "--current-only", dest="validity", action="store_const", const="current",
        help=f"只看现行有效：不用已过期、已废止或尚未施行的文件{default}",
    )  # fmt: skip
    group.add_argument(
        "--include-history", dest="validity", action="store_const", const="all",
        help="包括历史文件：也用不在有效期内的文件（排在现行文件之后，并注明）",
    )  # fmt: skip
