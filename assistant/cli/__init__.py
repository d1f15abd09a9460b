"""``policy-qa``: index the corpus, list chunks, ask questions, start the server (UI and API)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from assistant.server.args import add_server_arguments
from assistant.server.logs import configure_logging
from assistant.settings import Settings, get_settings, prepare_offline_environment

prepare_offline_environment()

EXIT_USAGE = 2


class UsageError(ValueError):
    """The command was called in a way it cannot serve; the message says how to call it."""


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "corpus", None):
        overrides["corpus_dir"] = Path(args.corpus)
    if getattr(args, "index_dir", None):
        overrides["index_dir"] = Path(args.index_dir)
    if getattr(args, "answerer", None):
        overrides["answerer"] = args.answerer
    base = get_settings()
    return base.model_copy(update=overrides) if overrides else base


def cmd_index(args: argparse.Namespace) -> int:
    from assistant.index.build import update_index

    settings = _settings(args)
    if not settings.corpus_dir.is_dir():
        print(f"错误：语料目录不存在：{settings.corpus_dir}", file=sys.stderr)
        return EXIT_USAGE
    report = update_index(settings, rebuild=args.rebuild, progress=not args.quiet)
    for skipped in report.skipped:
        print(f"跳过 {skipped.file}：{skipped.reason}", file=sys.stderr)
    for warning in report.warnings:
        print(f"警告 {warning}", file=sys.stderr)
    state = "无变化" if report.unchanged else "已更新"
    print(
        f"索引{state}：{report.documents} 个文件，{report.chunks} 个片段，新嵌入 {report.embedded} 个，"
        f"跳过 {len(report.skipped)} 个文件，用时 {report.seconds:.1f} 秒（{settings.index_dir}）"
    )
    if report.added or report.changed or report.removed:
        print(f"新增 {report.added or '-'}；修改 {report.changed or '-'}；删除 {report.removed or '-'}")
    return 0


def cmd_chunks(args: argparse.Namespace) -> int:
    from assistant.index.catalog import open_catalog

    cat = open_catalog(_settings(args))
    for nid in cat.node_ids:
        node = cat.nodes[nid]
        md = node.metadata
        if args.doc and args.doc not in (md["doc_id"], md["file"], md["title"]):
            continue
        if args.jsonl:
            print(json.dumps({"id": nid, "text": node.get_content(), "metadata": md}, ensure_ascii=False))
        else:
            print(f"[{nid}] {md['title']} › {md['section']} ({md['start']}-{md['end']})\n{node.get_content()}\n")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from assistant.core.schema import RELATED_HEADING
    from assistant.decisions.router import build_query_engine
    from assistant.retrieval.retriever import Filters

    settings = _settings(args)
    filters = Filters(
        jurisdictions=args.jurisdiction or [], documents=args.document or [], as_of=args.as_of, validity=args.validity
    )
    engine = build_query_engine(settings, filters=filters)
    ans, _, _ = engine.answer(args.question)
    if args.json:
        keys = ("n", "title", "doc_number", "section", "file", "start", "end", "text", "validity_notice")
        out = {
            "answer": ans.text,
            "answerable": ans.answerable,
            "answerer": ans.answerer,
            "notice": ans.notice,
            "as_of": ans.as_of,
            "citations": [{k: c.to_dict()[k] for k in keys} for c in ans.citations],
            "related": [{**{k: c.to_dict()[k] for k in keys}, "label": c.label()} for c in ans.related],
            "timings": ans.timings,
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    print(ans.text)
    if ans.notice:
        print(f"\n提示：{ans.notice}")
    if ans.citations:
        print("\n来源：")
        for c in ans.citations:
            print(f"[{c.n}] {c.label()}")
            if c.validity_notice:
                print(f"    （{c.validity_notice}）")
            if args.show_sources:
                print(f"    {c.text}\n")
    if ans.related:  # a decline still points at the closest clauses
        print(f"\n{RELATED_HEADING}：")
        for c in ans.related:
            print(f"{c.n}. {c.label()}")
            if c.validity_notice:
                print(f"    （{c.validity_notice}）")
            if args.show_sources:
                print(f"    {c.text}\n")
    return 0


def _emit(args: argparse.Namespace, result: Any) -> None:
    """Print or write a table result as Markdown, CSV (Excel-ready: BOM in files) or JSON."""
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


def cmd_compare(args: argparse.Namespace) -> int:
    from assistant.decisions.comparing import compare
    from assistant.decisions.router import build_query_engine

    engine = build_query_engine(_settings(args))
    _emit(args, compare(args.topic, args.jurisdiction or None, engine=engine, as_of=args.as_of, validity=args.validity))
    return 0


def cmd_match(args: argparse.Namespace) -> int:
    from assistant.decisions.matching import match
    from assistant.decisions.profiles import Profile
    from assistant.decisions.router import build_query_engine

    if bool(args.profile) == bool(args.text):
        raise UsageError("请给出企业画像文件（profile.toml）或用 --text 描述企业，二者选一。")
    profile = Profile.from_toml(Path(args.profile)) if args.profile else args.text  # a sentence: corpus places
    engine = build_query_engine(_settings(args))
    result = match(profile, engine=engine, include_unmet=args.all, as_of=args.as_of, validity=args.validity)
    _emit(args, result)
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    """One line per document with its lifecycle (status today, dates, what supersedes it, the source sentence)."""
    import unicodedata
    from datetime import date

    from assistant.index import lifecycles as ll
    from assistant.index.catalog import open_catalog

    def cell(value: object) -> str:  # a newline, tab or bidi control in a name must not break the one-line row
        return "".join(
            repr(c)[1:-1] if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in str(value)
        )

    cat, today = open_catalog(_settings(args)), date.today()
    docs = cat.documents
    if args.history:
        doc_id = ll.find_document([vars(d) for d in docs], args.history)
        if doc_id is None:
            raise UsageError(f"未找到文件：{args.history}（可用 doc_id、文件名、标题或文号）")
        chain = ll.version_chain(cat.lifecycles, doc_id)
        docs = [d for c in chain for d in docs if d.doc_id == c]
        rows = None if args.json else ll.history_rows(docs, today)
    else:
        rows = None if args.json else [
            (d.doc_id, d.jurisdiction, d.doc_number or "-", d.date or "-", d.chunks, d.title,
             *ll.lifecycle_cells(d.lifecycle, today))
            for d in docs
        ]
    if rows is None:
        print(json.dumps([ll.document_json(d, today) for d in docs], ensure_ascii=False, indent=2))
    for row in rows or []:
        print("\t".join(cell(f) for f in row))
    return 0


def cmd_export_cache(args: argparse.Namespace) -> int:
    """Ship the vectors of the current corpus's chunks with the corpus, so fresh clones index fast."""
    from assistant.index.build import embed_text
    from assistant.index.catalog import open_catalog
    from assistant.index.embedding import SHIPPED_CACHE_DIR, VectorCache, text_key

    settings = _settings(args)
    cat = open_catalog(settings)
    keys = {text_key(embed_text(n)) for n in cat.nodes.values()}
    path = settings.corpus_dir / SHIPPED_CACHE_DIR / f"{cat.embedder.embedder_id}.npz"
    shipped = VectorCache(path, fallbacks=[cat.embedder.cache.path])
    shipped.save(keep=keys)
    print(f"已写入 {len(keys)} 个向量到 {path}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """The server: the UI at /, the OpenAI-compatible API at /v1, docs at /docs (``ui`` is an alias)."""
    from assistant.server.run import run_from_args

    return run_from_args(args, _settings(args))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="policy-qa", description="政策问答：基于政策文件回答问题，并给出出处。")
    p.add_argument("--index-dir", help="索引目录（默认 .policy_qa 或 POLICY_QA_INDEX_DIR）")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("index", help="建立或更新索引")
    s.add_argument("--corpus", help="语料目录（默认 corpus/ 或 POLICY_QA_CORPUS_DIR）")
    s.add_argument("--rebuild", action="store_true", help="忽略已有索引，全部重建")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("chunks", help="列出已索引的片段")
    s.add_argument("--doc", help="只列出该文件（doc_id、文件名或标题）")
    s.add_argument("--jsonl", action="store_true", help="每行一个 JSON 对象")
    s.set_defaults(func=cmd_chunks)

    s = sub.add_parser("ask", help="提问")
    s.add_argument("question")
    s.add_argument("--json", action="store_true")
    s.add_argument("--jurisdiction", action="append", help="只检索该地区（可重复）")
    s.add_argument("--document", action="append", help="只检索该文件（可重复）")
    s.add_argument("--show-sources", action="store_true", help="显示引用的原文")
    s.add_argument("--answerer", choices=["auto", "extractive", "llm"])
    _date_options(s)
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("compare", help="各地对同一主题的规定对比（每格附出处）")
    s.add_argument("topic")
    s.add_argument("--jurisdiction", action="append", help="参与对比的地区（可重复；默认所有有文件的地区）")
    _table_options(s)
    _date_options(s)
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser("match", help="政策找人：列出适用于某企业的措施（逐条标明条件是否满足）")
    s.add_argument("profile", nargs="?", help="企业画像 TOML 文件（字段见 README）")
    s.add_argument("--text", help="用一句话描述企业，代替画像文件")
    s.add_argument("--all", action="store_true", help="也列出不符合条件的措施")
    _table_options(s)
    _date_options(s, match=True)
    s.set_defaults(func=cmd_match)

    s = sub.add_parser("docs", help="列出已索引的文件及其效力（状态、施行日期、有效期、被谁废止、依据）")
    s.add_argument("--history", metavar="TITLE_OR_文号", help="显示该文件的版本链（旧 → 新）")
    s.add_argument("--json", action="store_true", help="输出 JSON")
    s.set_defaults(func=cmd_docs)

    s = sub.add_parser("export-cache", help="把当前语料的向量写入 corpus/.vector_cache（随项目发布）")
    s.add_argument("--corpus")
    s.set_defaults(func=cmd_export_cache)

    for name, text in (("serve", "启动服务：网页界面 /、OpenAI 兼容接口 /v1、接口文档 /docs"), ("ui", "同 serve")):
        s = sub.add_parser(name, help=text)
        add_server_arguments(s, get_settings())
        s.set_defaults(func=cmd_serve)
    from assistant.cli.history import add_commands

    add_commands(sub)  # keys create|list|revoke, logs export
    return p


def _table_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--format", choices=["markdown", "csv", "json"], default="markdown")
    s.add_argument("--json", action="store_true", help="同 --format json")
    s.add_argument("--output", "-o", help="写入文件而不是打印（CSV 带 BOM，可直接用 Excel 打开）")


def _as_of(text: str) -> Any:
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings, verbose=args.verbose)  # secrets redacted from every record
    from assistant.decisions.profiles import ProfileError
    from assistant.index.build import EmbedderMismatchError, EmptyIndexError, IndexBusyError
    from assistant.index.layout import IndexCorruptError, IndexMissingError
    from assistant.index.store import StoreUnavailableError
    from assistant.qa.engine import InvalidQuestionError
    from assistant.retrieval.retriever import UnknownFilterError

    try:
        return args.func(args)
    except (InvalidQuestionError, UnknownFilterError, UsageError, ProfileError, EmptyIndexError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return EXIT_USAGE
    except (IndexCorruptError, IndexMissingError, EmbedderMismatchError, IndexBusyError, StoreUnavailableError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

