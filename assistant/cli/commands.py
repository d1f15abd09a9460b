"""``policy-qa index|chunks|ask|docs|export-cache|serve``: each ``cmd_*(args, settings)`` returns the exit code.

Heavy libraries load inside the handlers, so ``policy-qa --help`` stays quick.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from assistant.cli.errors import EXIT_USAGE, UsageError
from assistant.core.schema import Citation
from assistant.settings import Settings

ASK_KEYS = ("n", "title", "doc_number", "section", "file", "start", "end", "text", "validity_notice")


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.index.build import update_index
    from assistant.index.named import NamedFileError

    if not settings.corpus_dir.is_dir():
        print(f"错误：语料目录不存在：{settings.corpus_dir}", file=sys.stderr)
        return EXIT_USAGE
    if args.rebuild and args.files:
        print("错误：--rebuild 会重建整个索引，不能与文件列表同时使用。", file=sys.stderr)
        return EXIT_USAGE
    try:
        report = update_index(settings, rebuild=args.rebuild, progress=not args.quiet, paths=args.files or None)
    except NamedFileError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return EXIT_USAGE
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


def cmd_chunks(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.index.catalog import open_catalog

    cat = open_catalog(settings)
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


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.core.schema import RELATED_HEADING
    from assistant.decisions.router import build_query_engine
    from assistant.retrieval.retriever import Filters

    filters = Filters(
        jurisdictions=args.jurisdiction or [], documents=args.document or [], as_of=args.as_of, validity=args.validity
    )
    engine = build_query_engine(settings, filters=filters)
    ans, _, _ = engine.answer(args.question)
    if args.json:
        out = {
            "answer": ans.text,
            "answerable": ans.answerable,
            "answerer": ans.answerer,
            "notice": ans.notice,
            "as_of": ans.as_of,
            "citations": [{k: c.to_dict()[k] for k in ASK_KEYS} for c in ans.citations],
            "related": [{**{k: c.to_dict()[k] for k in ASK_KEYS}, "label": c.label()} for c in ans.related],
            "timings": ans.timings,
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    print(ans.text)
    if ans.notice:
        print(f"\n提示：{ans.notice}")
    if ans.citations:
        print("\n来源：")
        _print_passages(ans.citations, "[{n}] ", args.show_sources)
    if ans.related:  # a decline still points at the closest clauses
        print(f"\n{RELATED_HEADING}：")
        _print_passages(ans.related, "{n}. ", args.show_sources)
    return 0


def _print_passages(citations: Sequence[Citation], number: str, show_sources: bool) -> None:
    for c in citations:
        print(number.format(n=c.n) + c.label())
        if c.validity_notice:
            print(f"    （{c.validity_notice}）")
        if show_sources:
            print(f"    {c.text}\n")


def _cell(value: object) -> str:
    """A newline, tab or bidi control in a name must not break the one-line row."""
    import unicodedata

    return "".join(repr(c)[1:-1] if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in str(value))


def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    """One line per document with its lifecycle (status today, dates, what supersedes it, the source sentence)."""
    from datetime import date

    from assistant.index import lifecycles as ll
    from assistant.index.catalog import open_catalog

    cat, today = open_catalog(settings), date.today()
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
        ]  # fmt: skip
    if rows is None:
        print(json.dumps([ll.document_json(d, today) for d in docs], ensure_ascii=False, indent=2))
    for row in rows or []:
        print("\t".join(_cell(f) for f in row))
    return 0


def cmd_export_cache(args: argparse.Namespace, settings: Settings) -> int:
    """Ship the vectors of the current corpus's chunks with the corpus, so fresh clones index fast."""
    from assistant.index.build import embed_text
    from assistant.index.catalog import open_catalog
    from assistant.index.embedding import SHIPPED_CACHE_DIR, VectorCache, text_key
    from assistant.index.sentences import sentence_keys

    cat = open_catalog(settings)
    keys = {text_key(embed_text(n)) for n in cat.nodes.values()} | sentence_keys(cat.nodes.values())
    path = settings.corpus_dir / SHIPPED_CACHE_DIR / f"{cat.embedder.embedder_id}.npz"
    shipped = VectorCache(path, fallbacks=[cat.embedder.cache.path])
    shipped.save(keep=keys)
    print(f"已写入 {len(keys)} 个向量到 {path}")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """The server: the UI at /, the OpenAI-compatible API at /v1, docs at /docs (``ui`` is an alias)."""
    from assistant.server.run import run_from_args

    return run_from_args(args, settings)
